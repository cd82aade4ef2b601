"""Where a profile's samples went, by pipeline stage: `python -m bench.stacks PROFILE.txt`.

Reads py-spy's raw (collapsed) output, e.g. of
`py-spy record --gil --format raw -o small.txt -- python -m bench --scenario small`
(`--gil`: only samples of the thread holding the GIL, i.e. where the interpreter's one core
goes), and charges each sample to the first stage below whose function is on its stack.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

# (stage, function names): the first match on a stack wins, so specific entries come first.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("profiles: prepare (read person, badges; compose)", ("prepare_person",)),
    ("profiles: commit (people, recipients)", ("commit_people", "RecipientStore.record")),
    ("profiles: unresolved emails", ("explain_email",)),
    ("profiles: Graph client", ("write_person", "GraphClient.", "WritePacer.", "BatchWriter.")),
    # Before the stages' own handlers, which call it around their work.
    ("step bookkeeping (leases, steps)", ("begin_step", "StepRun.")),
    ("profiles: other", ("compose_batch", "handle_profiles")),
    (
        "pages: compare/write badge rows",
        ("BadgeStore.compare", "BadgeStore.write", "BadgeStore.upsert"),
    ),
    ("pages: expiry index", ("ExpiryStore.track",)),
    ("pages: remember recipients", ("CrawlSetStore.add_emails",)),
    ("pages: moved badges", ("_moved", "BadgeStore.delete")),
    ("pages: fetch and parse", ("badge_page", "parse_badge")),
    ("pages: other", ("store_pages", "handle_page")),
    ("plan", ("handle_plan",)),
    ("start: directory and page count", ("handle_start",)),
    ("finish", ("handle_finish",)),
    ("local dispatcher (queue polling)", ("LocalDispatcher.", "run_until")),
    ("benchmark's own instruments", ("PeakSampler.", "RequestCounters.", "benchmark")),
)
AZURE_SDK = "core/pipeline/"


def stage_of(frames: Sequence[str]) -> str:
    """The stage a stack is charged to (`other` when no stage's function is on it)."""
    for stage, names in STAGES:
        if any(name in frame for frame in frames for name in names):
            return stage
    return "other"


def summarise(lines: Iterable[str]) -> tuple[Counter[str], int, int]:
    """Samples per stage, all samples, and samples inside the Azure SDK's HTTP pipeline."""
    stages: Counter[str] = Counter()
    total = in_sdk = 0
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = stack.split(";")
        total += samples
        stages[stage_of(frames)] += samples
        if any(AZURE_SDK in frame for frame in frames):
            in_sdk += samples
    return stages, total, in_sdk


def main(argv: Sequence[str]) -> int:
    """Print the share of samples per stage."""
    if len(argv) != 1:
        sys.stderr.write("usage: python -m bench.stacks PROFILE.txt\n")
        return 2
    with Path(argv[0]).open(encoding="utf-8") as lines:
        stages, total, in_sdk = summarise(lines)
    if not total:
        sys.stderr.write("no samples\n")
        return 1
    for stage, samples in stages.most_common():
        sys.stdout.write(f"{100 * samples / total:5.1f}%  {stage}\n")
    sys.stdout.write(f"{100 * in_sdk / total:5.1f}%  of all: inside the Azure SDK's pipeline\n")
    sys.stdout.write(f"{total} samples\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
