"""Figures of the evaluation chapters: ROC curves, score distributions, thresholds and their intervals.

Every helper takes ``ax=`` (a new figure when None) and returns the axes (scikit-image's
``plot_matched_features(..., ax=ax)``), so notebooks compose them freely.

Example:
    >>> import numpy as np
    >>> ax = plot_roc_curves({"toy": (np.array([0.9, 0.2, 0.6, 0.1]), np.array([1, 1, 0, 0]), "higher")})
    >>> ax.get_xlabel()
    'false accept rate (FPR)'
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Tuple

import numpy as np

from drugsim.evaluation.metrics import roc_auc, roc_curve


def _axes(ax, figsize=(5.5, 4.5)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_roc_curves(curves: Mapping[str, Tuple[Any, Any, str]], *, ax=None, title: Optional[str] = None):
    """ROC curves of several methods on one axes, AUC in the legend.

    Args:
        curves: ``{method name: (scores, labels, direction)}``.
        ax: matplotlib axes (created when None).
        title: optional title.
    """
    ax = _axes(ax)
    for name, (scores, labels, direction) in curves.items():
        fpr, tpr, _ = roc_curve(scores, labels, direction=direction)
        auc = roc_auc(scores, labels, direction=direction)
        ax.plot(fpr, tpr, drawstyle="steps-post", lw=1.6, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":", label="chance")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("false accept rate (FPR)")
    ax.set_ylabel("true accept rate (TPR)")
    ax.set_aspect("equal")
    ax.legend(fontsize="small", loc="lower right")
    if title:
        ax.set_title(title)
    return ax


def plot_score_distributions(
    scores,
    labels,
    *,
    thresholds: Optional[Mapping[str, float]] = None,
    ax=None,
    title: Optional[str] = None,
    bins: int = 30,
):
    """Histograms of positive and negative pair scores, with vertical lines at named thresholds.

    Args:
        scores, labels: (N,) scores on the method's scale and 0/1 labels.
        thresholds: ``{rule: threshold}`` drawn as vertical lines.
    """
    ax = _axes(ax, figsize=(6, 3.5))
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    edges = np.histogram_bin_edges(scores, bins=bins)
    ax.hist(scores[labels == 1], bins=edges, alpha=0.55, label="positive pairs", color="tab:green")
    ax.hist(scores[labels == 0], bins=edges, alpha=0.55, label="negative pairs", color="tab:red")
    styles = ("-", "--", "-.", ":", (0, (5, 1)))
    for index, (rule, value) in enumerate((thresholds or {}).items()):
        if value is None or not np.isfinite(value):
            continue
        ax.axvline(value, color="black", lw=1.0, ls=styles[index % len(styles)], label=f"{rule} {value:.4g}")
    ax.set_xlabel("score")
    ax.set_ylabel("pairs")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_threshold_comparison(
    accuracy_by_rule: Mapping[str, Mapping[str, Optional[float]]],
    *,
    ax=None,
    rules: Optional[Sequence[str]] = None,
    title: Optional[str] = None,
):
    """Grouped bars: test accuracy of each method at each rule's threshold.

    Args:
        accuracy_by_rule: ``{method: {rule: accuracy}}`` (e.g. each result's ``accuracy_by_rule``, or a
            table with the paper's test-fitted midpoint under a separate key).
        rules: which rules, in order (default: those of the first method).
    """
    ax = _axes(ax, figsize=(7, 3.8))
    methods = list(accuracy_by_rule)
    if not methods:
        return ax
    rules = list(rules or accuracy_by_rule[methods[0]])
    width = 0.8 / max(len(rules), 1)
    x = np.arange(len(methods))
    for index, rule in enumerate(rules):
        values = [accuracy_by_rule[m].get(rule) for m in methods]
        heights = [np.nan if v is None else v for v in values]
        ax.bar(x + (index - (len(rules) - 1) / 2) * width, heights, width, label=rule)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_xticks(x)
    ax.set_xticklabels(methods, rotation=30, ha="right")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize="small", ncol=min(len(rules), 3))
    if title:
        ax.set_title(title)
    return ax


def plot_intervals(
    values: Mapping[str, Tuple[float, float, float]],
    *,
    ax=None,
    xlabel: str = "accuracy",
    title: Optional[str] = None,
):
    """Forest plot: a point and its interval per row (e.g. accuracy with its 95 % bootstrap interval).

    Args:
        values: ``{row label: (estimate, low, high)}``, drawn top to bottom in order.
    """
    ax = _axes(ax, figsize=(5.5, 0.35 * max(len(values), 3) + 1))
    names = list(values)
    y = np.arange(len(names))[::-1]
    for row, name in zip(y, names):
        estimate, low, high = values[name]
        if low is not None and high is not None:
            ax.plot([low, high], [row, row], color="tab:blue", lw=2)
        ax.plot([estimate], [row], "o", color="tab:blue")
    ax.set_yticks(y)
    ax.set_yticklabels(names)
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    return ax
