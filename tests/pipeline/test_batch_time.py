"""A profile batch's time: what it hands to its next message when its time is up."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

from credly_connector.pipeline.messages import PROFILES, ProfileMessage, decode
from credly_connector.pipeline.profiles import compose_batch
from credly_connector.rules.identity import DirectoryIndex
from credly_connector.runtime import build_context
from credly_connector.stores.steps import StepStatus
from tests.pipeline.conftest import Pipeline


def _unresolved_email(pipeline: Pipeline, version: str) -> str:
    """A recipient email of the organisation that resolves to no single user."""
    index = pipeline.ctx.directory_index(version)
    emails = sorted(
        badge.recipient_email.strip().lower()
        for badges in pipeline.world.credly.badges.values()
        for badge in badges.values()
    )
    return next(email for email in emails if index.resolve(email).user is None)


def test_a_batch_out_of_time_leaves_explaining_its_emails_to_its_next_message(
    make_pipeline,
) -> None:
    # Given a crawled organisation, a person with an item, and an email that resolves to
    # nobody whose decisions are not recorded yet
    pipeline: Pipeline = make_pipeline(badges=240, seed=65)
    crawled = pipeline.crawl("full")
    assert crawled.succeeded
    assert crawled.record is not None
    record = crawled.record
    user_id = next(iter(pipeline.stored()))
    email = _unresolved_email(pipeline, record.directory_version)
    explained = pipeline.ctx.recipients.get(email)
    assert explained is not None
    assert explained.decisions
    assert explained.user_id is None
    pipeline.ctx.recipients.record_many([dataclasses.replace(explained, decisions={})])
    assert pipeline.ctx.recipients.get(email) is None

    # When a message of a batch with no time of its own recomposes the person
    pipeline.ctx.options = dataclasses.replace(pipeline.ctx.options, batch_s=0.0)
    message = ProfileMessage(record.crawl_id, 1, (user_id,), (email,))
    first = asyncio.run(compose_batch(pipeline.ctx, record, message))

    # Then it leaves the email to a message of the same batch, with nobody to recompose,
    # and has not explained it
    assert first.status == StepStatus.PENDING
    rest = decode(PROFILES, first.message, ProfileMessage)
    assert rest == ProfileMessage(record.crawl_id, 1, (), (email,))
    assert pipeline.ctx.recipients.get(email) is None

    # And that message, still with no time, explains it as the crawl had
    last = asyncio.run(compose_batch(pipeline.ctx, record, rest))
    assert last.status == StepStatus.DONE
    assert last.message == ""
    assert pipeline.ctx.recipients.get(email) == explained
    assert sum(last.reasons.values()) == len(explained.decisions) - list(
        explained.decisions.values()
    ).count(None)


def test_batches_starting_together_on_an_instance_share_one_directory_index(
    make_pipeline,
) -> None:
    # Given a crawled organisation and an instance that has not built its index yet
    pipeline: Pipeline = make_pipeline(badges=120, seed=66)
    crawled = pipeline.crawl("full")
    assert crawled.succeeded
    assert crawled.record is not None
    version = crawled.record.directory_version
    ctx = build_context(pipeline.settings)

    # When several batches ask for it at the same moment
    start = threading.Barrier(6)

    def ask(_: int) -> DirectoryIndex:
        start.wait()
        return ctx.directory_index(version)

    with ThreadPoolExecutor(6) as pool:
        indexes = list(pool.map(ask, range(6)))

    # Then one index was built, for every user of the directory, and all of them use it
    assert len({id(index) for index in indexes}) == 1
    assert len(indexes[0]) == len(pipeline.ctx.directory.users()) > 0
