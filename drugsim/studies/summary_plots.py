"""The summary's accuracy chart as a dot-and-interval plot: one row per method, grouped by family.

Each row is a method this run measured: a dot at its test accuracy, a line over its interval, and the paper's
number as an open diamond where the paper has one. Rows are grouped by method family (histograms, hashes,
keypoints, Siamese networks...), families separated by a thin line and named on the left, so which dot
answers which question reads at a glance; only accuracies (comparable rows) share the axis.

The summary chapter (``drugsim.studies.summary``) builds the rows; this module only draws them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: The keys of one row.
ROW_KEYS = ("method", "family", "accuracy", "ci_low", "ci_high", "paper_value")


def _value(row: Mapping[str, Any], key: str) -> float | None:
    value = row.get(key)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def plot_layout(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """Rows grouped by family, in the order families first appear, rows kept in their given order.

    >>> [(f, [r["method"] for r in rs]) for f, rs in plot_layout([
    ...     {"method": "orb", "family": "keypoints"}, {"method": "phash", "family": "hashes"},
    ...     {"method": "sift", "family": "keypoints"}])]
    [('keypoints', ['orb', 'sift']), ('hashes', ['phash'])]
    """
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row.get("family", "")), []).append(row)
    return list(groups.items())


def plot_accuracy_intervals(rows: Sequence[Mapping[str, Any]], *, ax: Any = None, title: str = "") -> Any:
    """Draw ``rows`` (keys :data:`ROW_KEYS`; accuracies as fractions) and return the axes.

    Args:
        rows: one per method: ``method``, ``family``, ``accuracy``, ``ci_low``, ``ci_high`` (this run) and
            ``paper_value`` (the paper's accuracy, or ``None``).
        ax: the axes to draw on (a new figure when ``None``).
        title: an optional title.
    """
    import matplotlib.pyplot as plt

    groups = plot_layout(rows)
    n_rows = sum(len(members) for _, members in groups)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.32 * n_rows + 1.2))
    y, labels, ticks = 0, [], []
    ours_drawn = paper_drawn = False
    for group_index, (family, members) in enumerate(groups):
        if group_index:
            ax.axhline(y - 0.5, color="0.85", linewidth=0.8)
        ax.text(-0.01, y - 0.45, family, transform=ax.get_yaxis_transform(), ha="right", va="bottom",
                fontsize=8, fontweight="bold", color="0.3")
        for row in members:
            accuracy, low, high = (_value(row, k) for k in ("accuracy", "ci_low", "ci_high"))
            if low is not None and high is not None:
                ax.hlines(y, 100 * low, 100 * high, color="C0", linewidth=2)
            if accuracy is not None:
                ax.plot(100 * accuracy, y, "o", color="C0", label=None if ours_drawn else "this run (95 % interval)")
                ours_drawn = True
            paper_value = _value(row, "paper_value")
            if paper_value is not None:
                ax.plot(100 * paper_value, y, "D", markerfacecolor="none", markeredgecolor="C3",
                        label=None if paper_drawn else "the paper")
                paper_drawn = True
            labels.append(str(row.get("method", "")))
            ticks.append(y)
            y += 1
        y += 0.6
    ax.set_yticks(ticks)
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("test accuracy (%)")
    ax.set_xlim(0, 100)
    ax.grid(axis="x", color="0.92")
    if title:
        ax.set_title(title)
    if ours_drawn or paper_drawn:
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    return ax
