"""Figures of the classical chapters: a pair's histograms (Fig. 2), a pair's keypoint matches (Figs. 6-7),
and score distributions of positive vs negative pairs.

Every helper takes ``ax=`` (a new figure is made when it is None) and returns the axes, as
``skimage.feature.plot_matched_features`` does.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Tuple

import numpy as np

from drugsim.classical.histogram import grey_histogram
from drugsim.classical.keypoints import KeypointMethod


def _axes(ax: Any, figsize: Tuple[float, float] = (6.0, 3.5)) -> Any:
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_image_pair(
    image_a: np.ndarray, image_b: np.ndarray, *, ax: Any = None, titles: Sequence[str] = ("A", "B")
) -> Any:
    """Two photos side by side on one axes (the paper's Fig. 1), each scaled to the same height."""
    import cv2

    height = min(image_a.shape[0], image_b.shape[0], 320)
    resized = [
        cv2.resize(
            img, (max(1, round(img.shape[1] * height / img.shape[0])), height), interpolation=cv2.INTER_AREA
        )
        for img in (image_a, image_b)
    ]
    resized = [np.repeat(img[:, :, None], 3, axis=2) if img.ndim == 2 else img for img in resized]
    gap = np.full((height, 8, 3), 255, np.uint8)
    ax = _axes(ax, figsize=(7.0, 3.5))
    ax.imshow(np.concatenate([resized[0], gap, resized[1]], axis=1))
    ax.set_title(f"{titles[0]}  |  {titles[1]}", fontsize=9)
    ax.set_axis_off()
    return ax


def plot_histogram_pair(
    image_a: np.ndarray, image_b: np.ndarray, *, ax: Any = None, bins: int = 256,
    labels: Sequence[str] = ("image A", "image B"),
) -> Any:
    """Grey histograms of two images on one axes (the paper's Fig. 2), as fractions of pixels."""
    ax = _axes(ax)
    centres = np.arange(bins) * (256.0 / bins)
    for image, label in zip((image_a, image_b), labels):
        ax.plot(centres, grey_histogram(image, bins=bins, normalisation="l1"), label=label, linewidth=1.2)
    ax.set_xlim(0, 255)
    ax.set_xlabel("grey level")
    ax.set_ylabel("fraction of pixels")
    ax.legend(frameon=False)
    return ax


def draw_matches(
    image_a: np.ndarray, image_b: np.ndarray, method: KeypointMethod, *, max_lines: Optional[int] = None
) -> Tuple[np.ndarray, dict]:
    """Side-by-side RGB drawing of the kept matches of ``method`` (as the paper's Figs. 6-7).

    Returns:
        (canvas (H, W, 3) uint8, counts) with counts ``keypoints_a``, ``keypoints_b``, ``matches``.
    """
    import cv2

    feature_a, feature_b = method.describe(image_a), method.describe(image_b)
    matches = method.match(feature_a, feature_b)
    grey_a, _ = method.prepare(image_a)
    grey_b, _ = method.prepare(image_b)
    shown = matches if max_lines is None else matches[np.argsort(matches[:, 2])[:max_lines]]
    dmatches = [cv2.DMatch(int(i), int(j), float(d)) for i, j, d in shown]
    canvas = cv2.drawMatches(
        cv2.cvtColor(grey_a, cv2.COLOR_GRAY2RGB),
        feature_a.cv_keypoints(),
        cv2.cvtColor(grey_b, cv2.COLOR_GRAY2RGB),
        feature_b.cv_keypoints(),
        dmatches,
        None,
        flags=cv2.DrawMatchesFlags_NOT_DRAW_SINGLE_POINTS,
    )
    counts = {"keypoints_a": len(feature_a), "keypoints_b": len(feature_b), "matches": len(matches)}
    return canvas, counts


def plot_matches(
    image_a: np.ndarray, image_b: np.ndarray, method: KeypointMethod, *, ax: Any = None,
    max_lines: Optional[int] = None,
) -> Any:
    """Draw a pair's keypoint matches (Figs. 6-7) with the counts in the title; returns the axes."""
    canvas, counts = draw_matches(image_a, image_b, method, max_lines=max_lines)
    ax = _axes(ax, figsize=(8.0, 4.0))
    ax.imshow(canvas)
    ax.set_title(
        f"{method.name} ({method.match_filter}): {counts['matches']} matches "
        f"({counts['keypoints_a']} and {counts['keypoints_b']} keypoints)"
    )
    ax.set_axis_off()
    return ax


def plot_score_distribution(
    scores: np.ndarray,
    labels: np.ndarray,
    *,
    ax: Any = None,
    title: str = "",
    threshold: Optional[float] = None,
    direction: str = "higher",
) -> Any:
    """Histogram of scores of positive vs negative pairs (seaborn), with the threshold as a line."""
    import pandas as pd
    import seaborn as sns

    ax = _axes(ax, figsize=(4.0, 3.0))
    frame = pd.DataFrame(
        {
            "score": np.asarray(scores, dtype=float),
            "pair": np.where(np.asarray(labels) == 1, "positive", "negative"),
        }
    )
    sns.histplot(
        data=frame,
        x="score",
        hue="pair",
        hue_order=["positive", "negative"],
        stat="density",
        common_norm=False,
        element="step",
        bins=30,
        ax=ax,
    )
    if ax.get_legend() is not None:
        sns.move_legend(ax, "best", fontsize=7, title=None, frameon=False)
    if threshold is not None and np.isfinite(threshold):
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1)
    arrow = "higher = similar" if direction == "higher" else "lower = similar"
    ax.set_title(f"{title} ({arrow})" if title else arrow, fontsize=9)
    return ax


def plot_score_distributions(
    results: Mapping[str, Mapping[str, Any]], *, ncols: int = 4, panel_size: Tuple[float, float] = (3.2, 2.6)
) -> Any:
    """One :func:`plot_score_distribution` panel per method; returns the figure.

    Args:
        results: method name -> {"scores", "labels", optional "threshold", "direction"}.
    """
    import matplotlib.pyplot as plt

    names = list(results)
    nrows = max(1, int(np.ceil(len(names) / ncols)))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows), squeeze=False
    )
    for ax, name in zip(axes.ravel(), names):
        entry = results[name]
        plot_score_distribution(
            entry["scores"],
            entry["labels"],
            ax=ax,
            title=name,
            threshold=entry.get("threshold"),
            direction=entry.get("direction", "higher"),
        )
    for ax in axes.ravel()[len(names) :]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig
