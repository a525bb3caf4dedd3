"""The robustness chapter (notebook 10) around :mod:`drugsim.evaluation.robustness`: where its real photos
are, its tables and heat maps, and the numbers and sentences it glues.

Example:
    >>> result = {"conditions": ["clean", "blur"], "accuracy": {"orb": {"clean": 0.9, "blur": 0.7}}}
    >>> accuracy_drop(result)["orb"]["blur"] < 0
    True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from drugsim.errors import ConfigError, DatasetError
from drugsim.evaluation.robustness import CONDITIONS


def glue_paper_augmentation() -> dict[str, Any]:
    """Glue the paper's training augmentation the chapter compares with (section 4.1.3) and return it.

    Keys: ``robust_paper_brightness`` (its brightness factors, ``"0.5 to 1.5"``) and ``robust_paper_rotation``
    (the largest rotation in degrees, a number).
    """
    from drugsim import paper
    from drugsim.report import glue

    augmentation = paper.TRAINING["augmentation"]
    values: dict[str, Any] = {
        "robust_paper_brightness": " to ".join(f"{v:g}" for v in augmentation["brightness"]),
        "robust_paper_rotation": max(augmentation["rotation"]),
    }
    for key, value in values.items():
        glue(key, value)
    return values


def real_photo_root(photos_dir: Any = "", *, dataset: str = "", data_dir: Any = "") -> Any | None:
    """Where the real photos of part (b) are: ``photos_dir`` when given, the dataset itself when it is the
    Grocery photos, else ``$DRUGSIM_GROCERY_ROOT`` when set; None when there are none (part (b) skipped).

    Raises:
        DatasetError: ``photos_dir`` is given but is not a folder.
    """
    if photos_dir:
        if not Path(photos_dir).is_dir():
            raise DatasetError(f"photos_dir {photos_dir}: no such folder (expected a folder of photos)")
        return Path(photos_dir)
    if dataset == "grocery" and data_dir and Path(data_dir).is_dir():
        return Path(data_dir)
    env = os.environ.get("DRUGSIM_GROCERY_ROOT", "")
    return Path(env) if env and Path(env).is_dir() else None


# ------------------------------------------------------------------------------------------ reporting


def robustness_table(result: dict[str, Any], *, metric: str = "accuracy"):
    """DataFrame method x condition of ``metric`` (``"accuracy"`` or ``"roc_auc"``), conditions in order."""
    import pandas as pd

    if metric not in ("accuracy", "roc_auc", "positive_mean", "negative_mean"):
        raise ConfigError(
            f"metric {metric!r} is not supported. Try accuracy, roc_auc, positive_mean, negative_mean"
        )
    table = pd.DataFrame(result[metric]).T
    return table[[c for c in result["conditions"] if c in table.columns]]


def plot_robustness(
    table,
    *,
    ax: Any | None = None,
    title: str | None = None,
    vmin: float = 0.5,
    vmax: float = 1.0,
    cmap: str = "RdYlGn",
):
    """Heat map of a method x condition table (e.g. accuracy), each cell annotated. Returns the axis."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 0.9 * table.shape[1], 0.8 + 0.42 * table.shape[0]))
    values = table.to_numpy(dtype=float)
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    labels = {c.name: c.label for c in CONDITIONS}
    ax.set_xticks(range(table.shape[1]), [labels.get(c, c) for c in table.columns], rotation=35, ha="right")
    ax.set_yticks(range(table.shape[0]), list(table.index))
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=8)
    ax.figure.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
    if title:
        ax.set_title(title)
    return ax


def accuracy_drop(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Accuracy under each condition minus the clean accuracy, per method (negative = the change hurts)."""
    drops: dict[str, dict[str, float]] = {}
    for name, row in result["accuracy"].items():
        clean = row.get("clean")
        drops[name] = {
            c: (v - clean if clean is not None else float("nan")) for c, v in row.items() if c != "clean"
        }
    return drops


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    """Mean accuracy over methods per condition, and the worst condition (not clean)."""
    table = robustness_table(result)
    means = table.mean(axis=0)
    changed = means.drop("clean", errors="ignore")
    worst = str(changed.idxmin()) if len(changed) else "clean"
    return {"means": means, "worst": worst}


def glue_robustness(synthetic: dict[str, Any], photos: dict[str, Any] | None = None) -> dict[str, str]:
    """Glue every number the robustness chapter quotes (:func:`drugsim.report.glue`) and return them.

    Keys ``robust_rule``, ``robust_{source}_n_pairs``, ``robust_{source}_worst_condition``,
    ``robust_{source}_worst_accuracy``, ``robust_{source}_clean_accuracy`` (means over methods),
    ``robust_{source}_{method}_{condition}`` (accuracy) with source ``synthetic`` or ``photos``, and
    ``robust_photos_note`` (one sentence, also when no real photos were available).
    """
    from drugsim.report import glue

    values: dict[str, str] = {"robust_rule": synthetic["threshold_rule"]}
    labels = {c.name: c.label for c in CONDITIONS}
    for source, result in (("synthetic", synthetic), ("photos", photos)):
        if result is None:
            continue
        summary = _summary(result)
        values[f"robust_{source}_n_pairs"] = str(result["n_pairs_per_condition"])
        values[f"robust_{source}_worst_condition"] = labels.get(summary["worst"], summary["worst"])
        values[f"robust_{source}_worst_accuracy"] = f"{summary['means'][summary['worst']]:.3f}"
        values[f"robust_{source}_clean_accuracy"] = f"{summary['means'].get('clean', float('nan')):.3f}"
        for method, row in result["accuracy"].items():
            for cond, value in row.items():
                values[f"robust_{source}_{method}_{cond}"] = f"{value:.3f}"
    if photos is None:
        values["robust_photos_note"] = (
            "No real photos were available in this run (set DRUGSIM_GROCERY_ROOT or "
            "the photos_dir parameter), so only the synthetic map is shown."
        )
    else:
        values["robust_photos_note"] = (
            f"On {values['robust_photos_n_pairs']} pairs of real photos per condition the change that hurts "
            f"most is {values['robust_photos_worst_condition']} (mean accuracy over methods "
            f"{values['robust_photos_worst_accuracy']} against "
            f"{values['robust_photos_clean_accuracy']} clean)."
        )
    for key, value in values.items():
        glue(key, value)
    return values
