"""The benchmark's scenarios: organisation size, Graph write limits and the crawls to run."""

from __future__ import annotations

from dataclasses import dataclass

FULL = "full"
INCREMENTAL = "incremental"

CREDLY_PAGE_LATENCY_S = 0.1
"""Every Credly API answer takes this long (the issue's 100 ms per page)."""
GRAPH_LATENCY_S = 0.03
"""Every Graph answer takes this long (the issue's 30 ms per request)."""


@dataclass(frozen=True)
class CrawlStep:
    """One crawl of a scenario.

    Attributes:
        label: How the crawl is named in the results (`full`, `incremental-1%`...).
        kind: `full` or `incremental`.
        change_fraction: Share of the organisation's badges changed at Credly before it.
        clock_ahead_h: How far the connector's clock runs ahead of the real one during the
            crawl. Incremental crawls run as an hourly timer would, so the 15-minute overlap
            of the watermark does not read the previous crawl's changes again.
    """

    label: str
    kind: str
    change_fraction: float = 0.0
    clock_ahead_h: float = 0.0


@dataclass(frozen=True)
class Run:
    """Crawls against one fresh stack (a new world, connection and storage prefix)."""

    write_limit: float
    crawls: tuple[CrawlStep, ...]


@dataclass(frozen=True)
class Scenario:
    """A named benchmark: one organisation size, one or more runs."""

    name: str
    badges: int
    runs: tuple[Run, ...]
    seed: int = 6


THREE_CRAWLS = (
    CrawlStep("full", FULL),
    CrawlStep("incremental-1%", INCREMENTAL, change_fraction=0.01, clock_ahead_h=1.0),
    CrawlStep("incremental-0", INCREMENTAL, clock_ahead_h=2.0),
)

LIMITS = (25.0, 100.0, 400.0)
"""The write limits of the `limits` scenario (50/s is `small`'s)."""

SCENARIOS: dict[str, Scenario] = {
    "small": Scenario("small", 10_000, (Run(50.0, THREE_CRAWLS),)),
    "large": Scenario("large", 100_000, (Run(200.0, THREE_CRAWLS),)),
    "limits": Scenario(
        "limits",
        10_000,
        tuple(
            Run(limit, (CrawlStep(f"full@{limit:g}/s", FULL),)) for limit in (25.0, 100.0, 400.0)
        ),
    ),
}


def tiny(badges: int = 300, write_limit: float = 50.0) -> Scenario:
    """A few hundred badges through the same three crawls (the benchmark's own tests)."""
    return Scenario("tiny", badges, (Run(write_limit, THREE_CRAWLS),))
