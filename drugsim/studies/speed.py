"""The speed chapter (notebook 12) around the timing core: its tables, the numbers and sentences it glues,
its figure, and the README's speed table.

The measurements are :func:`drugsim.evaluation.timing.bench_methods` (per pair, engine, limit); the methods
timed come from :func:`drugsim.studies.models.build_methods`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from drugsim.evaluation.timing import LIMIT_TARGET, SPEEDUP_TARGETS
from drugsim.hardware import hardware_sentence


def target_sentence(targets: dict[str, float] | None = None) -> str:
    """Issue 7's speedup targets in words, e.g. ``"sift 5 times, orb 5 times"`` (default: every target).

    Example:
        >>> target_sentence({"sift": 5.0, "ahash": 20.0})
        'sift 5 times, ahash 20 times'
    """
    targets = SPEEDUP_TARGETS if targets is None else targets
    return ", ".join(f"{name} {factor:g} times" for name, factor in targets.items())


def glue_targets(*, prefix: str = "speed") -> dict[str, Any]:
    """Glue what the chapter says before it measures: the paper's timing hardware and issue 7's targets.

    Keys: ``{prefix}_paper_hardware``, ``{prefix}_limit_target`` (a number), ``{prefix}_target_sentence``.
    """
    from drugsim import paper
    from drugsim.report import glue

    values: dict[str, Any] = {
        f"{prefix}_paper_hardware": paper.HARDWARE["timing"],
        f"{prefix}_limit_target": LIMIT_TARGET,
        f"{prefix}_target_sentence": target_sentence(),
    }
    for key, value in values.items():
        glue(key, value)
    return values

def glue_speed(result: dict[str, Any], *, prefix: str = "speed") -> dict[str, str]:
    """Glue every number the speed chapter quotes (via :func:`drugsim.report.glue`) and return them.

    Keys: ``{prefix}_n_pairs``, ``{prefix}_n_images``, ``{prefix}_n_pairs_per_pair``, ``{prefix}_hardware``
    (:func:`drugsim.hardware.hardware_sentence` of the machine that timed),
    ``{prefix}_targets_held`` / ``_targets_total``, and per method ``{prefix}_{method}_{per_pair,engine,
    limit}`` (pairs/s), ``_speedup``, ``_engine_over_limit``, ``_cache_mib``, ``_paper`` (pairs/s in
    the paper, when it gives one).
    """
    from drugsim.report import glue

    table = speed_table(result)
    rows = result["methods"].values()
    values: dict[str, str] = {
        f"{prefix}_n_pairs": f"{result['n_pairs']:,}",
        f"{prefix}_n_images": f"{result['n_images']:,}",
        f"{prefix}_n_pairs_per_pair": f"{min(row['n_pairs_per_pair'] for row in rows):,}",
        f"{prefix}_hardware": hardware_sentence(result["hardware"]),
        f"{prefix}_max_cache_mib": f"{max(r['feature_cache_bytes'] for r in rows) / 2**20:.1f}",
    }
    held = total = 0
    for name, row in result["methods"].items():
        key = f"{prefix}_{name}"
        values[f"{key}_per_pair"] = f"{row['per_pair_pairs_per_second']:,.1f}"
        values[f"{key}_engine"] = f"{row['engine_pairs_per_second']:,.0f}"
        values[f"{key}_limit"] = f"{row['limit_pairs_per_second']:,.0f}"
        values[f"{key}_speedup"] = f"{row['speedup']:.1f}"
        values[f"{key}_engine_over_limit"] = f"{row['engine_over_limit']:.2f}"
        values[f"{key}_cache_mib"] = f"{row['feature_cache_bytes'] / 2**20:.2f}"
        paper_rate = table.loc[name, "paper pairs/s"]
        if paper_rate == paper_rate and paper_rate is not None:  # not NaN
            values[f"{key}_paper"] = f"{paper_rate:.2f}"
        for ok in (row["targets"]["speedup_ok"], row["targets"]["engine_over_limit_ok"]):
            if ok is not None:
                total += 1
                held += int(ok)
    values[f"{prefix}_targets_held"] = str(held)
    values[f"{prefix}_targets_total"] = str(total)
    for key, value in values.items():
        glue(key, value)
    return values


def speed_table(result: dict[str, Any]):
    """A DataFrame: per-pair, engine and limit pairs/s with ratios, next to the paper's pairs/s."""
    import pandas as pd

    from drugsim import paper

    paper_rates = {name: row["pairs_per_second"] for name, row in paper.TABLE7.items()}
    for name, row in paper.TABLE8.items():
        paper_rates[f"{name} (Table 8)"] = row["pairs_per_second"]
    siamese_paper = {
        "siamese-improved": paper.TABLE9["resnet18-improved"]["pairs_per_second"],
        "siamese-classic": paper.TABLE9["resnet18-classic"]["pairs_per_second"],
    }
    rows = []
    for name, row in result["methods"].items():
        rows.append(
            {
                "method": name,
                "paper pairs/s": paper_rates.get(name, siamese_paper.get(name)),
                "per-pair pairs/s": row["per_pair_pairs_per_second"],
                "engine pairs/s": row["engine_pairs_per_second"],
                "speedup": row["speedup"],
                "limit pairs/s": row["limit_pairs_per_second"],
                "engine/limit time": row["engine_over_limit"],
                "feature cache MiB": row["feature_cache_bytes"] / 1024**2,
            }
        )
    return pd.DataFrame(rows).set_index("method")


def markdown_speed_table(result: dict[str, Any]) -> str:
    """The speed table as Markdown (for benchmarks/README.md), with each target's verdict."""
    lines = [
        "| method | paper pairs/s | per-pair pairs/s | engine pairs/s | speedup (target) | limit pairs/s | "
        "engine time / limit | feature cache |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    table = speed_table(result)
    for name, row in result["methods"].items():
        target = row["targets"]["speedup"]
        verdict = (
            "" if target is None else f" ({target:.0f}x {'ok' if row['targets']['speedup_ok'] else 'missed'})"
        )
        paper_rate = table.loc[name, "paper pairs/s"]
        paper_text = "" if paper_rate != paper_rate or paper_rate is None else f"{paper_rate:.2f}"
        limit_verdict = "ok" if row["targets"]["engine_over_limit_ok"] else "missed"
        lines.append(
            f"| {name} | {paper_text} | {row['per_pair_pairs_per_second']:,.1f} | "
            f"{row['engine_pairs_per_second']:,.0f} | {row['speedup']:.1f}x{verdict} | "
            f"{row['limit_pairs_per_second']:,.0f} | {row['engine_over_limit']:.2f} ({limit_verdict}) | "
            f"{row['feature_cache_bytes'] / 2**20:.2f} MiB |"
        )
    return "\n".join(lines)



def plot_speed(result: dict[str, Any], *, ax: Any | None = None):
    """Bars of pairs/s per method: paper's way, engine, limit (log scale). Returns the axis."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.8))
    names = list(result["methods"])
    x = np.arange(len(names))
    width = 0.27
    for offset, key, label in (
        (-width, "per_pair_pairs_per_second", "per pair (paper's way)"),
        (0.0, "engine_pairs_per_second", "engine"),
        (width, "limit_pairs_per_second", "limit"),
    ):
        ax.bar(x + offset, [result["methods"][n][key] for n in names], width, label=label)
    ax.set_xticks(x, names, rotation=40, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("pairs per second")
    ax.legend(fontsize=8)
    return ax
