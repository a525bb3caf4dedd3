"""Figures of the data chapter: sample grids like the paper's Fig. 11, feature-rich vs feature-poor faces,
and pair-list composition. Every helper takes ``ax=`` (or ``axes=``) and returns it."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from drugsim.data.records import FACES, ImageRecord
from drugsim.errors import DatasetError
from drugsim.io import read_image


def _tile(path, size: int) -> np.ndarray:
    import cv2

    image = read_image(path)
    h, w = image.shape[:2]
    scale = size / max(h, w)
    image = cv2.resize(image, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    canvas = np.full((size, size, 3), 255, np.uint8)
    y, x = (size - image.shape[0]) // 2, (size - image.shape[1]) // 2
    canvas[y:y + image.shape[0], x:x + image.shape[1]] = image
    return canvas


def sample_grid(records: Sequence[ImageRecord], *, n_rows: int = 4, n_cols: int = 6, tile: int = 128,
                seed: int = 0):
    """Pick a Fig. 11-like grid: one row per class; columns are faces when known, else photos.

    Returns:
        (image (rows*tile, cols*tile, 3) uint8, row labels, column labels).
    """
    if not records:
        raise DatasetError("no images to show")
    rng = np.random.default_rng(seed)
    labels = sorted({r.label for r in records})
    chosen = [labels[i] for i in sorted(rng.choice(len(labels), min(n_rows, len(labels)), replace=False))]
    faces_known = all(r.face is not None for r in records)
    columns = list(FACES[:n_cols]) if faces_known else [f"photo {i + 1}" for i in range(n_cols)]
    rows = []
    for label in chosen:
        members = sorted((r for r in records if r.label == label), key=lambda r: str(r.path))
        row = []
        for c, column in enumerate(columns):
            pool = [r for r in members if r.face == column] if faces_known else members[c::n_cols]
            row.append(_tile(pool[int(rng.integers(len(pool)))].path, tile) if pool
                       else np.full((tile, tile, 3), 255, np.uint8))
        rows.append(np.hstack(row))
    return np.vstack(rows), chosen, columns


def plot_sample_grid(records: Sequence[ImageRecord], *, ax=None, n_rows: int = 4, n_cols: int = 6,
                     tile: int = 128, seed: int = 0):
    """Show :func:`sample_grid` with class names on the left and faces on top (the paper's Fig. 11)."""
    import matplotlib.pyplot as plt

    grid, row_labels, col_labels = sample_grid(records, n_rows=n_rows, n_cols=n_cols, tile=tile, seed=seed)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * len(col_labels), 1.6 * len(row_labels)))
    ax.imshow(grid)
    ax.set_xticks([tile * (i + 0.5) for i in range(len(col_labels))], col_labels)
    ax.set_yticks([tile * (i + 0.5) for i in range(len(row_labels))], row_labels)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ax


def plot_feature_examples(records: Sequence[ImageRecord], *, axes=None, n: int = 4, tile: int = 160,
                          seed: int = 0):
    """Two rows: ``n`` feature-rich photos (flag 1) above ``n`` feature-poor ones (flag 0).

    Raises:
        DatasetError: the records carry no feature flags (Grocery photos, plain folders).
    """
    import matplotlib.pyplot as plt

    rich = [r for r in records if r.feature_rich is True]
    poor = [r for r in records if r.feature_rich is False]
    if not rich or not poor:
        raise DatasetError("feature flags unknown or one-sided: need photos flagged 1 and 0 (paper naming)")
    rng = np.random.default_rng(seed)
    if axes is None:
        _, axes = plt.subplots(2, n, figsize=(2.0 * n, 4.2))
    for row, (pool, title) in enumerate(((rich, "feature-rich (flag 1)"), (poor, "feature-poor (flag 0)"))):
        picks = rng.choice(len(pool), min(n, len(pool)), replace=False)
        for col in range(n):
            ax = axes[row][col]
            ax.axis("off")
            if col < len(picks):
                record = pool[int(picks[col])]
                ax.imshow(_tile(record.path, tile))
                ax.set_title(f"{record.label} {record.face or ''}".strip(), fontsize=8)
        axes[row][0].text(-0.08, 0.5, title, transform=axes[row][0].transAxes, rotation=90, va="center",
                          ha="right", fontsize=9)
    return axes


def plot_pair_composition(stats: Mapping[str, Mapping[str, int]], *, ax=None):
    """Stacked bars: positives, intra-class and inter-class negatives for each pair list (e.g. per algorithm)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    names = list(stats)
    bottom = np.zeros(len(names))
    for key, colour in (("positives", "#4c72b0"), ("intra_class_negatives", "#dd8452"),
                        ("inter_class_negatives", "#55a868")):
        values = np.array([stats[n][key] for n in names], float)
        ax.bar(names, values, bottom=bottom, label=key.replace("_", " "), color=colour)
        bottom += values
    ax.set_ylabel("pairs")
    ax.legend(fontsize=8)
    return ax

