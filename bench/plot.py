"""The PNG of a scenario: item writes per second over each crawl's time, with the limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt

# Stages shaded behind the writes, so a gap in the writes can be read against its stage.
STAGE_COLOURS = {"start": "#dddddd", "pages": "#cfe2f3", "plan": "#fff2cc"}


def plot_scenario(name: str, crawls: list[dict[str, Any]], out_dir: Path) -> Path:
    """Write `NAME.png` into `out_dir`: one panel per crawl; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(
        len(crawls), 1, figsize=(10, 2.8 * len(crawls)), squeeze=False, constrained_layout=True
    )
    for axis, crawl in zip(axes[:, 0], crawls, strict=True):
        details = crawl["details"]
        writes = details["writes_per_s"]
        throttles = details["throttles_per_s"]
        seconds = list(range(len(writes)))
        for stage, colour in STAGE_COLOURS.items():
            window = details["stage_windows_s"].get(stage)
            if window:
                axis.axvspan(window[0], window[1], color=colour, alpha=0.6, label=stage)
        axis.step(seconds, writes, where="post", color="#1f77b4", label="item writes/s")
        if any(throttles):
            axis.step(seconds, throttles, where="post", color="#d62728", label="429/s")
        limit = crawl["graph_write_limit_per_s"]
        axis.axhline(limit, color="black", linestyle="--", linewidth=1, label=f"limit {limit:g}/s")
        axis.set_title(
            f"{name} / {details['label']}: {crawl['graph_writes']} writes in "
            f"{crawl['wall_s']:.1f} s, efficiency {crawl['efficiency']:.2f}"
        )
        axis.set_xlabel("seconds since the crawl was requested")
        axis.set_ylabel("per second")
        axis.set_ylim(0, max([limit, *writes, *throttles]) * 1.15)
        axis.legend(loc="upper right", fontsize="small")
    path = out_dir / f"{name}.png"
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
