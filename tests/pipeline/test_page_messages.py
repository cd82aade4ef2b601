"""Page messages name a run of pages: older messages of one page still read, bad runs refused."""

from __future__ import annotations

import json

import pytest

from credly_connector.errors import BadDataError
from credly_connector.pipeline.messages import (
    MAX_PAGES_PER_MESSAGE,
    PAGES,
    PageMessage,
    decode,
    encode,
)


def test_a_message_of_two_pages_round_trips_and_names_both() -> None:
    message = PageMessage("c1", 3, 2)

    decoded = decode(PAGES, encode(message), PageMessage)

    assert decoded == message
    assert list(decoded.numbers) == [3, 4]


def test_a_message_without_a_count_is_one_page() -> None:
    # a message queued before page messages named several pages
    decoded = decode(PAGES, json.dumps({"crawl_id": "c1", "page": 7}), PageMessage)

    assert list(decoded.numbers) == [7]


@pytest.mark.parametrize("count", [0, -1, MAX_PAGES_PER_MESSAGE + 1])
def test_a_count_outside_the_range_is_a_malformed_message(count: int) -> None:
    body = json.dumps({"crawl_id": "c1", "page": 1, "count": count})

    with pytest.raises(BadDataError, match="malformed pages message: count"):
        decode(PAGES, body, PageMessage)
