"""Chapter 06, the feature-face classifier (Table 6, Fig. 10): score the trained classifier on the test
drugs' photos, set it beside the paper's Table 6 and show example faces with the classifier's call.

Training (or reusing) the classifier is :func:`drugsim.deep.train_or_reuse.train_or_reuse_classifier`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from drugsim import paper
from drugsim.data.records import ImageRecord


def classifier_row(trained: Mapping[str, Any], test_records: Sequence[ImageRecord], *,
                   device: str | None = None) -> dict[str, Any]:
    """Table 6: train and test accuracy and images/s of the feature-face classifier."""
    from drugsim.deep.classifier import FeatureFacePredictor, evaluate_classifier

    predictor = FeatureFacePredictor(trained["checkpoint"], device=device)
    test = evaluate_classifier(predictor, test_records)
    return {"train_accuracy": trained["results"].get("train_accuracy"), "test_accuracy": test["accuracy"],
            "images_per_second": test["images_per_second"], "n_test_images": test["n_images"],
            "feature_rich_share": test["feature_rich_share"], "train_seconds": trained["train_seconds"],
            "epochs": len(trained["history"])}


def table6_frame(row: Mapping[str, Any]):
    import pandas as pd

    return pd.DataFrame({
        "ours": [row["train_accuracy"], row["test_accuracy"], row["images_per_second"]],
        "paper": [paper.TABLE6_CLASSIFIER["train_accuracy"], paper.TABLE6_CLASSIFIER["test_accuracy"],
                  paper.TABLE6_CLASSIFIER["images_per_second"]],
    }, index=["train accuracy", "test accuracy", "images/s"])


def plot_feature_examples(records: Sequence[ImageRecord], *, n: int = 4, predictions: Mapping[Path, bool] | None
                          = None, seed: int = 0, axes=None):
    """Fig. 10: ``n`` feature-rich and ``n`` feature-poor faces (top and bottom row), with the classifier's
    call in each title when ``predictions`` are given. Returns the axes."""
    import matplotlib.pyplot as plt

    from drugsim.deep.classifier import feature_labels
    from drugsim.io import read_image

    paths, labels = feature_labels(records)
    rng = np.random.default_rng(seed)
    if axes is None:
        _, axes = plt.subplots(2, n, figsize=(2.2 * n, 4.6))
    axes = np.asarray(axes).reshape(2, n)
    for row, flag in enumerate((1, 0)):
        options = [p for p, v in zip(paths, labels) if v == flag]
        chosen = rng.choice(len(options), size=min(n, len(options)), replace=False) if options else []
        for col in range(n):
            ax = axes[row, col]
            ax.axis("off")
            if col < len(chosen):
                path = options[int(chosen[col])]
                ax.imshow(read_image(path))
                title = "feature-rich" if flag else "feature-poor"
                if predictions is not None and path in predictions:
                    title += f"\nclassifier: {'rich' if predictions[path] else 'poor'}"
                ax.set_title(title, fontsize=9)
    return axes


def classifier_glue(row: Mapping[str, Any]) -> dict[str, Any]:
    """``classifier_<metric>`` of the Table 6 row and the number of test images."""
    values: dict[str, Any] = {f"classifier_{key}": round(float(row[key]), 4) for key in
                              ("train_accuracy", "test_accuracy", "images_per_second", "feature_rich_share",
                               "train_seconds")}
    values["classifier_n_test_images"] = row["n_test_images"]
    return values
