"""Chapter 08, companion methods that need no training on drug pairs (CNN features, SSIM, pixel distance):
each scored through the evaluation engine on the same test pairs, with a threshold fitted on validation
pairs, and the sentences the chapter glues."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from drugsim.data.records import Pair
from drugsim.report import slug


def evaluate_methods_table(methods: Mapping[str, Any], test_pairs: Sequence[Pair], val_pairs: Sequence[Pair], *,
                           threshold_rule: str = "midpoint", n_boot: int = 200, seed: int = 0,
                           cache_dir: str | Path | None = None, n_jobs: int | None = None
                           ) -> list[dict[str, Any]]:
    """Table 7/8-style rows for ``{label: method}`` through the evaluation engine: positive and negative
    means, accuracy at a threshold fitted on the validation pairs, ROC AUC and pairs/s."""
    from drugsim.evaluation.evaluate import evaluate_method

    rows = []
    for label, method in methods.items():
        result, _ = evaluate_method(method, test_pairs, val_pairs=val_pairs, threshold_rule=threshold_rule,
                                    progress=False, n_boot=n_boot, seed=seed, cache_dir=cache_dir, n_jobs=n_jobs)
        rows.append({"label": label, "method": method.name, "direction": method.direction,
                     "positive_mean": result["positive_mean"], "negative_mean": result["negative_mean"],
                     "threshold": result["threshold"], "threshold_fitted_on": result["threshold_fitted_on"],
                     "accuracy": result["accuracy"], "ci_unit": result["ci_unit"],
                     "accuracy_ci95": result["ci95"].get("accuracy"), "roc_auc": result["roc_auc"],
                     "pairs_per_second": result["pairs_per_second"], "n_pairs": result["n_pairs"],
                     "config": method.config()})
    return rows


def companion_methods(names: Sequence[str], *, device: str | None = None, compare_random: bool = True,
                      siamese_checkpoint: str | Path | None = None) -> dict[str, Any]:
    """The companion methods by label; CNN methods also with random weights (to show what ImageNet
    pretraining buys) and, given a Siamese checkpoint, with that network's trained backbone."""
    from drugsim.methods import create_method

    methods: dict[str, Any] = {}
    for name in names:
        if name.startswith("cnn-"):
            methods[f"{name} (EfficientNet-Lite0, ImageNet)"] = create_method(name, device=device)
            if compare_random:
                methods[f"{name} (EfficientNet-Lite0, random)"] = create_method(name, weights="random",
                                                                                device=device)
            if siamese_checkpoint and Path(siamese_checkpoint).is_file():
                methods[f"{name} ({Path(siamese_checkpoint).stem} backbone)"] = create_method(
                    name, model=str(siamese_checkpoint), device=device)
        else:
            methods[name] = create_method(name)
    return methods


def companion_frame(rows: Sequence[Mapping[str, Any]]):
    import pandas as pd

    keys = ("positive_mean", "negative_mean", "threshold", "threshold_fitted_on", "accuracy", "roc_auc",
            "pairs_per_second")
    return pd.DataFrame([{"method": row["label"], **{k: row[k] for k in keys}} for row in rows]).set_index("method")


def siamese_sentence(trained: Sequence[str], dataset: str) -> str:
    """What the Siamese chapter trained on these photos (``trained``: model names), for the chapter's close.

    Example:
        >>> siamese_sentence([], "synthetic")[:38]
        'no Siamese network was trained on thes'
    """
    return (f"the Siamese chapter trained {len(trained)} networks on the training drugs of these {dataset} photos "
            f"({', '.join(trained)}), whereas ImageNet features need no training on them at all." if trained else
            f"no Siamese network was trained on these {dataset} photos in this run, so ImageNet features are the "
            "strongest method here that needs no training.")


def companion_glue(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``companion_<label>_<metric>`` for every row, and ``companion_pretrained_gain``: the ROC AUC of
    cosine similarity on ImageNet features minus that on random features (NaN without the random row)."""
    values: dict[str, Any] = {}
    for row in rows:
        for key in ("accuracy", "roc_auc", "pairs_per_second", "positive_mean", "negative_mean"):
            values[f"companion_{slug(row['label'])}_{key}"] = round(float(row[key]), 4)
    pretrained = {r["label"]: r for r in rows}
    values["companion_pretrained_gain"] = round(
        pretrained["cnn-cosine (EfficientNet-Lite0, ImageNet)"]["roc_auc"]
        - pretrained.get("cnn-cosine (EfficientNet-Lite0, random)", {"roc_auc": float("nan")})["roc_auc"], 4)
    return values
