"""The deep chapters' experiments as functions, so the notebooks stay thin (Tables 6, 9, 10, companions).

Models are trained into ``<work_dir>/models/siamese`` and ``<work_dir>/models/classifier`` and reused
when a checkpoint there was trained with the same settings on the same pairs (a fingerprint of both is
stored in the checkpoint); anything else retrains.

Example:
    >>> split_model_name("resnet18-improved")
    ('resnet18', 'improved')
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from drugsim import paper
from drugsim.data.records import ImageRecord, Pair
from drugsim.errors import ConfigError, DrugsimError


def slug(text: str) -> str:
    """A glue-key-safe name: ``"cnn-cosine (EfficientNet-Lite0, ImageNet)"`` -> ``"cnn_cosine_efficientnet_lite0_imagenet"``."""
    import re

    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _fingerprint(config: Dict[str, Any], items: Sequence[Any]) -> str:
    # Where a model trained (device, loader workers) does not change what it is.
    from drugsim.deep.training import TRAINING_REVISION

    config = {k: v for k, v in config.items() if k not in ("device", "num_workers", "amp")}
    config["training_revision"] = TRAINING_REVISION
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    for item in items:
        digest.update(repr(item).encode())
    return digest.hexdigest()[:20]


def _pair_key(pair: Pair) -> Tuple[str, str, int]:
    return (str(pair.path_a), str(pair.path_b), int(pair.label))


# --------------------------------------------------------------------------------------- training


#: Tags a model name may carry between its backbone and its variant, and the settings they stand for.
NAME_TAGS = {"imagenet": {"weights": "imagenet"}, "frozen": {"freeze_backbone": True},
             "partial": {"partial_fine_tune": True}}


def parse_model_name(name: str) -> Tuple[str, str, Dict[str, Any]]:
    """``<backbone>[-imagenet][-frozen|-partial]-<variant>`` -> backbone, variant and the settings the tags fix.

    ``imagenet``: start from ImageNet weights; ``frozen``: train only the improved head on a fixed backbone;
    ``partial``: fine-tune EfficientNet-Lite0's last blocks on cached features (:mod:`drugsim.deep.transfer`).

    Example:
        >>> parse_model_name("efficientnet-lite0-imagenet-frozen-improved")
        ('efficientnet-lite0', 'improved', {'weights': 'imagenet', 'freeze_backbone': True})
    """
    rest, _, variant = name.rpartition("-")
    if not rest or variant not in ("improved", "classic", "triplet"):
        raise ConfigError(f"model name {name!r} should be <backbone>[-imagenet][-frozen|-partial]-"
                          f"<improved|classic|triplet>, "
                          f"e.g. resnet18-improved or efficientnet-lite0-imagenet-frozen-improved")
    found = []
    for tag in reversed(list(NAME_TAGS)):  # tags appear in NAME_TAGS order; peel them off the end
        if rest.endswith(f"-{tag}"):
            rest = rest[: -len(tag) - 1]
            found.append(tag)
    return rest, variant, {key: value for tag in NAME_TAGS if tag in found for key, value in NAME_TAGS[tag].items()}


def split_model_name(name: str) -> Tuple[str, str]:
    """``"resnet18-improved"`` -> ``("resnet18", "improved")``; backbone names may hold dashes."""
    backbone, variant, _ = parse_model_name(name)
    return backbone, variant


def train_or_reuse_siamese(name: str, profile: str, train_pairs: Sequence[Pair], val_pairs: Sequence[Pair], *,
                           models_dir: str | Path, progress: bool = False, file_stem: Optional[str] = None,
                           **overrides: Any) -> Dict[str, Any]:
    """Train ``<backbone>-<variant>`` with the ``profile`` settings, or reuse the checkpoint of the same run.

    Tags in the name (:func:`parse_model_name`) override ``overrides``: ``efficientnet-lite0-imagenet-frozen-
    improved`` starts from ImageNet weights and trains only its head, whatever ``weights`` the notebook passes.
    ``file_stem`` names the checkpoint (default: ``name``), for several settings of one model.

    Returns:
        ``{"name", "checkpoint", "reused", "train_seconds", "history", "results", "config", "weights"}``.
    """
    from drugsim.deep.checkpoints import load_checkpoint
    from drugsim.deep.config import siamese_config
    from drugsim.deep.training import train_siamese

    backbone, variant, fixed = parse_model_name(name)
    config = siamese_config(profile, **{**overrides, "variant": variant, "backbone": backbone, **fixed})
    fingerprint = _fingerprint(config.to_dict(), [_pair_key(p) for p in list(train_pairs) + list(val_pairs)])
    out = Path(models_dir) / f"{file_stem or name}.pt"
    reused = False
    if out.is_file():
        try:
            payload = load_checkpoint(out, kind="siamese")
            reused = payload.get("fingerprint") == fingerprint
        except DrugsimError:  # an unreadable old file is simply retrained
            reused = False
    if not reused:
        train_siamese(config, train_pairs, val_pairs, out=out, progress=progress,
                      extra={"fingerprint": fingerprint})
        payload = load_checkpoint(out, kind="siamese")
    return {"name": name, "checkpoint": out, "reused": reused, "train_seconds": float(payload["train_seconds"]),
            "train_cpu_seconds": payload.get("train_cpu_seconds"), "history": payload["history"],
            "results": payload.get("results", {}), "config": payload["config"], "weights": payload.get("weights")}


def train_or_reuse_classifier(profile: str, train_records: Sequence[ImageRecord], val_records: Sequence[ImageRecord],
                              *, models_dir: str | Path, progress: bool = False, name: str = "classifier",
                              **overrides: Any) -> Dict[str, Any]:
    """Train the feature-face classifier with the ``profile`` settings, or reuse the same run's checkpoint."""
    from drugsim.deep.checkpoints import load_checkpoint
    from drugsim.deep.classifier import train_classifier
    from drugsim.deep.config import classifier_config

    config = classifier_config(profile, **overrides)
    fingerprint = _fingerprint(config.to_dict(), [(str(r.path), r.feature_rich) for r in
                                                  list(train_records) + list(val_records)])
    out = Path(models_dir) / f"{name}.pt"
    reused = False
    if out.is_file():
        try:
            reused = load_checkpoint(out, kind="classifier").get("fingerprint") == fingerprint
        except DrugsimError:
            reused = False
    if not reused:
        train_classifier(config, train_records, val_records, out=out, progress=progress,
                         extra={"fingerprint": fingerprint})
    payload = load_checkpoint(out, kind="classifier")
    return {"name": name, "checkpoint": out, "reused": reused, "train_seconds": float(payload["train_seconds"]),
            "history": payload["history"], "results": payload.get("results", {}), "config": payload["config"]}


# ------------------------------------------------------------------------------------- evaluation


def evaluate_siamese(trained: Mapping[str, Any], test_pairs: Sequence[Pair], val_pairs: Sequence[Pair],
                     train_pairs: Sequence[Pair], *, threshold_rule: str = "midpoint", device: Optional[str] = None,
                     n_boot: int = 200, seed: int = 0) -> Dict[str, Any]:
    """One Table 9 row: train and test accuracy, pairs/s, through the evaluation engine.

    The headline threshold is fitted on the validation drugs (``threshold_rule``); the accuracy at the
    paper's fixed 0.8 is reported beside it.
    """
    from drugsim.evaluation.evaluate import evaluate_method
    from drugsim.evaluation.metrics import accuracy
    from drugsim.methods import create_method

    _, variant = split_model_name(trained["name"])
    method = create_method(f"siamese-{variant}", model=str(trained["checkpoint"]), device=device)
    test, test_scores = evaluate_method(method, test_pairs, val_pairs=val_pairs, threshold_rule=threshold_rule,
                                        progress=False, n_boot=n_boot, seed=seed)
    train, train_scores = evaluate_method(method, train_pairs, threshold=test["threshold"],
                                          threshold_source="val", progress=False, n_boot=50, seed=seed)
    labels = [p.label for p in test_pairs]
    return {
        "model": trained["name"],
        "train_accuracy": train["accuracy"],
        "test_accuracy": test["accuracy"],
        "test_accuracy_ci95": test["ci95"].get("accuracy"),
        "test_accuracy_at_paper_threshold": accuracy(test_scores, labels, method.threshold,
                                                     direction=method.direction),
        "train_accuracy_at_paper_threshold": accuracy(train_scores, [p.label for p in train_pairs], method.threshold,
                                                      direction=method.direction),
        "threshold": test["threshold"],
        "threshold_fitted_on": test["threshold_fitted_on"],
        "ci_unit": test["ci_unit"],
        "roc_auc": test["roc_auc"],
        "pairs_per_second": test["pairs_per_second"],
        "positive_mean": test["positive_mean"],
        "negative_mean": test["negative_mean"],
        "n_test_pairs": test["n_pairs"],
        "train_seconds": trained["train_seconds"],
        "train_cpu_seconds": trained.get("train_cpu_seconds"),
        "epochs": len(trained["history"]),
        "weights": trained.get("weights"),
        "reused": trained["reused"],
    }


def table9_frame(rows: Sequence[Mapping[str, Any]]):
    """Our rows beside the paper's Table 9 (paper columns empty where the paper has no such model)."""
    import pandas as pd

    frame = pd.DataFrame([{
        "model": row["model"],
        "train acc": row["train_accuracy"],
        "test acc": row["test_accuracy"],
        "threshold fitted on": row["threshold_fitted_on"],
        "test acc @0.8": row["test_accuracy_at_paper_threshold"],
        "ROC AUC": row["roc_auc"],
        "pairs/s": row["pairs_per_second"],
        "paper train acc": paper.TABLE9.get(row["model"], {}).get("train_accuracy"),
        "paper test acc": paper.TABLE9.get(row["model"], {}).get("test_accuracy"),
        "paper pairs/s": paper.TABLE9.get(row["model"], {}).get("pairs_per_second"),
    } for row in rows])
    return frame.set_index("model")


def plot_histories(histories: Mapping[str, Sequence[Mapping[str, float]]], *, axes=None,
                   accuracy_title: str = "Validation accuracy at threshold 0.8"):
    """Per epoch, one line per model: training loss, validation accuracy and validation ROC AUC
    (threshold-free: short runs often stay on one side of the paper's fixed threshold). Returns the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(13, 3.5))
    loss_ax, acc_ax, auc_ax = axes
    for name, history in histories.items():
        epochs = [row["epoch"] for row in history]
        loss_ax.plot(epochs, [row["train_loss"] for row in history], marker="o", label=name)
        acc_ax.plot(epochs, [row["val_accuracy"] for row in history], marker="o", label=name)
        auc_ax.plot(epochs, [row.get("val_auc", float("nan")) for row in history], marker="o", label=name)
    loss_ax.set(xlabel="epoch", ylabel="training loss", title="Loss (each model's own loss)", yscale="log")
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy", title=accuracy_title, ylim=(0, 1.02))
    auc_ax.set(xlabel="epoch", ylabel="validation ROC AUC", title="Validation ROC AUC", ylim=(0, 1.02))
    auc_ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    auc_ax.legend(fontsize="small")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return axes


#: The transfer-learning ablation: what each ingredient of the partial fine-tuning recipe adds.
#: (label, model name, settings beyond the profile's); ``image_size`` None = the profile's.
TRANSFER_ABLATION = (
    ("frozen backbone, head only, 1 view", "efficientnet-lite0-imagenet-frozen-improved", {"frozen_views": 1}),
    ("partial fine-tune, 1 view", "efficientnet-lite0-imagenet-partial-improved", {"frozen_views": 1}),
    ("partial fine-tune, 3 views", "efficientnet-lite0-imagenet-partial-improved", {"frozen_views": 3}),
)


def transfer_ablation(profile: str, pairs: Mapping[str, Sequence[Pair]], *, test_pairs: Sequence[Pair],
                      models_dir: str | Path, image_sizes: Sequence[int], n_train_pairs: Optional[int] = None,
                      epochs: Optional[int] = None, rows: Sequence[Tuple[str, str, Dict[str, Any]]] = TRANSFER_ABLATION,
                      threshold_rule: str = "midpoint", device: Optional[str] = None, n_boot: int = 100,
                      seed: int = 0) -> List[Dict[str, Any]]:
    """Train and score each ablation row at each input size, all at one (possibly reduced) budget.

    Every row sees the same training pairs (``n_train_pairs``: a seeded sample, None = all), the same
    validation pairs (threshold fitted there) and the same test pairs; ``epochs`` (None = the profile's)
    applies to the fine-tuned rows. Models go to ``models_dir`` under
    names that hold the settings, and are reused when the same run was trained before.

    Returns:
        One row per (setting, size): ``setting, model, image_size, frozen_views, test_accuracy, roc_auc,
        threshold, train_seconds, feature_cache_seconds, n_train_pairs, epochs, reused``.
    """
    from drugsim.evaluation.evaluate import evaluate_method
    from drugsim.data.protocol import sample_pairs as protocol_sample_pairs
    from drugsim.methods import create_method

    if not image_sizes:
        raise ConfigError("transfer_ablation needs at least one image size")
    train_pairs = protocol_sample_pairs(pairs["train"], n_train_pairs or 0, seed=seed)
    out = []
    for size in image_sizes:
        for label, name, settings in rows:
            partial = parse_model_name(name)[2].get("partial_fine_tune", False)
            # The frozen head keeps its profile's epochs: they cost seconds once the features are cached.
            values = {"image_size": int(size), "epochs": epochs if partial else None, "seed": seed, **settings}
            stem = f"ablation-{slug(label)}-{int(size)}px-{len(train_pairs)}pairs"
            trained = train_or_reuse_siamese(name, profile, train_pairs, pairs["val"], models_dir=models_dir,
                                             device=device, file_stem=stem, **values)
            method = create_method("siamese-improved", model=str(trained["checkpoint"]), device=device)
            result, _ = evaluate_method(method, test_pairs, val_pairs=pairs["val"], threshold_rule=threshold_rule,
                                        progress=False, n_boot=n_boot, seed=seed)
            out.append({"setting": label, "model": name, "image_size": int(size),
                        "frozen_views": int(trained["config"]["frozen_views"]),
                        "test_accuracy": result["accuracy"], "roc_auc": result["roc_auc"],
                        "threshold": result["threshold"], "threshold_fitted_on": result["threshold_fitted_on"],
                        "train_seconds": trained["train_seconds"],
                        "feature_cache_seconds": trained["results"].get("feature_cache_seconds"),
                        "n_train_pairs": len(train_pairs), "epochs": len(trained["history"]),
                        "reused": trained["reused"]})
    return out


def ablation_frame(rows: Sequence[Mapping[str, Any]]):
    """The ablation rows as a table: setting and input size, then test accuracy, ROC AUC and seconds."""
    import pandas as pd

    frame = pd.DataFrame([{
        "setting": row["setting"], "input px": row["image_size"], "training pairs": row["n_train_pairs"],
        "epochs": row["epochs"], "test acc": row["test_accuracy"], "ROC AUC": row["roc_auc"],
        "train s": row["train_seconds"], "of which feature cache s": row["feature_cache_seconds"],
    } for row in rows])
    return frame.set_index(["setting", "input px"])


def seed_study(names: Sequence[str], profile: str, pairs: Mapping[str, Sequence[Pair]], *, seeds: Sequence[int],
               models_dir: str | Path, seeds_dir: str | Path, base_seed: int = 0, test_pairs: Sequence[Pair],
               threshold_rule: str = "midpoint", device: Optional[str] = None, n_boot: int = 100,
               **overrides: Any) -> List[Dict[str, Any]]:
    """Train every model of ``names`` once per seed and score each on the same test pairs.

    The seed changes what training draws at random (initial weights, the pairs sampled, augmentation,
    batch order); the data split and the pair lists stay fixed, so the spread is the training's own.
    ``base_seed``'s models are those of ``models_dir`` (reused when already trained there); the others go
    to ``seeds_dir/seed<k>``, where no other chapter looks for models.

    Returns:
        One row per (model, seed): ``model, seed, test_accuracy, roc_auc, threshold, train_seconds, reused``.
    """
    from drugsim.evaluation.evaluate import evaluate_method
    from drugsim.methods import create_method

    if not seeds:
        raise ConfigError("seed_study needs at least one seed")
    rows = []
    for name in names:
        _, variant = split_model_name(name)
        for run_seed in seeds:
            folder = Path(models_dir) if run_seed == base_seed else Path(seeds_dir) / f"seed{run_seed}"
            trained = train_or_reuse_siamese(name, profile, pairs["train"], pairs["val"], models_dir=folder,
                                             device=device, seed=run_seed, **overrides)
            method = create_method(f"siamese-{variant}", model=str(trained["checkpoint"]), device=device)
            result, _ = evaluate_method(method, test_pairs, val_pairs=pairs["val"], threshold_rule=threshold_rule,
                                        progress=False, n_boot=n_boot, seed=run_seed)
            rows.append({"model": name, "seed": int(run_seed), "test_accuracy": result["accuracy"],
                         "roc_auc": result["roc_auc"], "threshold": result["threshold"],
                         "threshold_fitted_on": result["threshold_fitted_on"], "train_seconds": trained["train_seconds"], "reused": trained["reused"]})
    return rows


def seed_summary(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str] = ("test_accuracy", "roc_auc")
                 ) -> Dict[str, Dict[str, Dict[str, Any]]]:
    """``{model: {metric: summarise_seeds(values)}}``: mean, sample standard deviation, range over seeds."""
    from drugsim.evaluation.bootstrap import summarise_seeds

    models = list(dict.fromkeys(row["model"] for row in rows))
    return {model: {metric: summarise_seeds([row[metric] for row in rows if row["model"] == model])
                    for metric in metrics} for model in models}


def seed_frame(summary: Mapping[str, Mapping[str, Mapping[str, Any]]],
               rows: Sequence[Mapping[str, Any]] | None = None):
    """One row per model: seeds, where the thresholds were fitted (from :func:`seed_study`'s ``rows``,
    when given), then mean, sd, min and max of test accuracy and ROC AUC."""
    import pandas as pd

    records = []
    for model, metrics in summary.items():
        record: Dict[str, Any] = {"model": model, "seeds": next(iter(metrics.values()))["n"]}
        if rows is not None:
            record["threshold fitted on"] = "/".join(sorted({str(r["threshold_fitted_on"]) for r in rows
                                                              if r["model"] == model}))
        for metric, label in (("test_accuracy", "test acc"), ("roc_auc", "ROC AUC")):
            stats = metrics[metric]
            record.update({f"{label} mean": stats["mean"], f"{label} sd": stats["std"],
                           f"{label} min": stats["min"], f"{label} max": stats["max"]})
        records.append(record)
    return pd.DataFrame(records).set_index("model")


def plot_seed_spread(rows: Sequence[Mapping[str, Any]], *, ax=None):
    """Test accuracy of every seed (dots) and the mean (bar) per model; the paper's one run as a cross."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    models = list(dict.fromkeys(row["model"] for row in rows))
    for position, model in enumerate(models):
        values = [row["test_accuracy"] for row in rows if row["model"] == model]
        ax.scatter([position] * len(values), values, color="tab:blue", zorder=3,
                   label="one training seed" if position == 0 else None)
        ax.hlines(float(np.mean(values)), position - 0.25, position + 0.25, color="tab:blue", lw=2,
                  label="mean over seeds" if position == 0 else None)
        reported = paper.TABLE9.get(model, {}).get("test_accuracy")
        if reported is not None:
            ax.scatter([position], [reported], marker="x", color="tab:red", zorder=3,
                       label="paper (one run)" if "paper (one run)" not in ax.get_legend_handles_labels()[1] else None)
    ax.set_xticks(range(len(models)), models, rotation=15, ha="right", fontsize="small")
    ax.set(ylabel="test accuracy", ylim=(0, 1.02), title="Spread over training seeds")
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.legend(fontsize="small", loc="lower right")
    return ax


def classifier_row(trained: Mapping[str, Any], test_records: Sequence[ImageRecord], *,
                   device: Optional[str] = None) -> Dict[str, Any]:
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


def plot_feature_examples(records: Sequence[ImageRecord], *, n: int = 4, predictions: Optional[Mapping[Path, bool]]
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


def evaluate_methods_table(methods: Mapping[str, Any], test_pairs: Sequence[Pair], val_pairs: Sequence[Pair], *,
                           threshold_rule: str = "midpoint", n_boot: int = 200, seed: int = 0,
                           cache_dir: Optional[str | Path] = None, n_jobs: Optional[int] = None
                           ) -> List[Dict[str, Any]]:
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


def companion_methods(names: Sequence[str], *, device: Optional[str] = None, compare_random: bool = True,
                      siamese_checkpoint: Optional[str | Path] = None) -> Dict[str, Any]:
    """The companion methods by label; CNN methods also with random weights (to show what ImageNet
    pretraining buys) and, given a Siamese checkpoint, with that network's trained backbone."""
    from drugsim.methods import create_method

    methods: Dict[str, Any] = {}
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


def combined_rows(classifier_checkpoint: str | Path, methods: Mapping[str, Any], test_pairs: Sequence[Pair],
                  val_pairs: Sequence[Pair], *, device: Optional[str] = None, threshold_rule: str = "midpoint",
                  seed: int = 0) -> List[Dict[str, Any]]:
    """Table 10: each method alone and behind the feature-face classifier, on the same pairs."""
    from drugsim.deep.classifier import FeatureFacePredictor
    from drugsim.deep.combined import run_combined
    from drugsim.evaluation.evaluate import evaluate_method

    predictor = FeatureFacePredictor(classifier_checkpoint, device=device)
    rows: List[Dict[str, Any]] = []
    for label, method in methods.items():
        alone, _ = evaluate_method(method, test_pairs, val_pairs=val_pairs, threshold_rule=threshold_rule,
                                   progress=False, n_boot=200, seed=seed)
        combined = run_combined(method, test_pairs, classifier=predictor, val_pairs=val_pairs,
                                threshold_rule=threshold_rule, seed=seed)
        rows.append({"pipeline": label, "method": method.name,
                     "threshold_fitted_on_alone": alone["threshold_fitted_on"],
                     "threshold_fitted_on_combined": combined["threshold_fitted_on"],
                     "val_filtered": combined["val_filtered"], "accuracy_alone": alone["accuracy"],
                     "pairs_per_second_alone": alone["pairs_per_second"], "accuracy_combined": combined["accuracy"],
                     "pairs_per_second_combined": combined["pairs_per_second"],
                     "skipped_share": combined["skipped_share"], "n_pairs": combined["n_pairs"],
                     "n_compared": combined["n_compared"]})
    return rows



def table10_frame(rows: Sequence[Mapping[str, Any]]):
    """Our combined rows beside the paper's Table 10 (matched on the Siamese model's name)."""
    import pandas as pd

    def paper_row(label: str) -> Dict[str, Any]:
        return paper.TABLE10.get(f"resnet18-classifier+{label}", {})

    return pd.DataFrame([{
        "pipeline": f"classifier + {row['pipeline']}",
        "threshold fitted on": "/".join(sorted({row["threshold_fitted_on_alone"],
                                                row["threshold_fitted_on_combined"]})),
        "accuracy alone": row["accuracy_alone"], "accuracy combined": row["accuracy_combined"],
        "skipped": row["skipped_share"], "pairs/s alone": row["pairs_per_second_alone"],
        "pairs/s combined": row["pairs_per_second_combined"],
        "paper accuracy combined": paper_row(row["pipeline"]).get("test_accuracy"),
        "paper pairs/s combined": paper_row(row["pipeline"]).get("pairs_per_second"),
    } for row in rows]).set_index("pipeline")
