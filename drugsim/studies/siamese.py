"""Chapter 05, Siamese networks (Table 9): score the trained networks, the transfer-learning ablation, the
seed study, and the sentences and step counts the chapter glues.

Training (or reusing) each network is :func:`drugsim.deep.train_or_reuse.train_or_reuse_siamese`; the
seed study and the ablation cost nothing when the chapter's parameters skip them
(:func:`seed_study_skip_reason`, :func:`ablation_sizes`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from drugsim import paper
from drugsim.data.records import Pair
from drugsim.deep.train_or_reuse import (
    parse_model_name,
    split_model_name,
    train_or_reuse_siamese,
)
from drugsim.errors import ConfigError
from drugsim.report import slug
from drugsim.studies.seeds import (  # noqa: F401 - chapter 05 reads one study module
    paper_gap_list,
    paper_gaps,
    plot_seed_spread,
    plot_skipped,
    seed_frame,
    seed_glue,
    seed_models,
    seed_noise_sentence,
    seed_requests,
    seed_study,
    seed_study_skip_reason,
    seed_summary,
)


def evaluate_siamese(trained: Mapping[str, Any], test_pairs: Sequence[Pair], val_pairs: Sequence[Pair],
                     train_pairs: Sequence[Pair], *, threshold_rule: str = "midpoint", device: str | None = None,
                     n_boot: int = 200, seed: int = 0, scores_dir: str | Path | None = None,
                     full_test: Sequence[Pair] | None = None, test_pairs_sha256: str | None = None) -> dict[str, Any]:
    """One Table 9 row: train and test accuracy, pairs/s, through the evaluation engine.

    The headline threshold is fitted on the validation pairs (``threshold_rule``); the accuracy at the
    paper's fixed 0.8 is reported beside it. With ``scores_dir`` (the run's folder), the network's test scores
    and validation-fitted decision are kept for the summary's paired comparisons
    (:mod:`drugsim.evaluation.score_store`; ``test_pairs`` must then be a sample of ``full_test``).
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
    if scores_dir is not None:
        from drugsim.evaluation.engine import pair_classes
        from drugsim.evaluation.score_store import pair_indices, save_method_scores

        save_method_scores(
            scores_dir, method=trained["name"], family="siamese", in_paper=trained["name"] in paper.TABLE9,
            direction=method.direction, threshold=float(test["threshold"]), threshold_rule=str(test["threshold_rule"]),
            val_accuracy=float(test["val_accuracy"]), val_roc_auc=float(test["val_roc_auc"]),
            test_pair_indices=pair_indices(test_pairs, full_test if full_test is not None else test_pairs),
            test_scores=test_scores, test_labels=labels, test_classes=pair_classes(test_pairs),
            test_pairs_sha256=str(test_pairs_sha256))
    return {
        "model": trained["name"],
        "train_accuracy": train["accuracy"],
        "test_accuracy": test["accuracy"],
        "test_accuracy_ci95": test["ci95"].get("accuracy"),
        "test_accuracy_at_paper_threshold": accuracy(test_scores, labels, method.threshold,
                                                     direction=method.direction),
        "train_accuracy_at_paper_threshold": accuracy(train_scores, [p.label for p in train_pairs], method.threshold,
                                                      direction=method.direction),
        "val_accuracy": test["val_accuracy"],
        "val_roc_auc": test["val_roc_auc"],
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


def network_requests(names: Sequence[str], profile: str, pairs: Mapping[str, Sequence[Pair]], *, seed: int,
                     models_dir: str | Path, **overrides: Any) -> list[dict[str, Any]]:
    """The chapter's training runs as :func:`drugsim.deep.train_or_reuse.train_or_reuse_many` requests, one per
    network of ``names``, each trained with the notebook's ``seed`` (a run with another seed trains other networks)."""
    return [{"name": name, "profile": profile, "train_pairs": pairs["train"], "val_pairs": pairs["val"],
             "models_dir": Path(models_dir), "seed": int(seed), **overrides} for name in names]


def evaluate_many(trained: Sequence[Mapping[str, Any]], test_pairs: Sequence[Pair], val_pairs: Sequence[Pair],
                  train_pairs: Sequence[Pair], *, workers: int = 1, **options: Any) -> list[dict[str, Any]]:
    """:func:`evaluate_siamese` of each trained model, up to ``workers`` at once in worker processes
    (:func:`drugsim.parallel.run_in_processes`); rows in the order of ``trained``. Each worker's pairs/s is
    then measured on its share of the cores."""
    from drugsim.parallel import run_in_processes

    calls = [{"trained": dict(t), "test_pairs": list(test_pairs), "val_pairs": list(val_pairs),
              "train_pairs": list(train_pairs), **options} for t in trained]
    return run_in_processes(evaluate_siamese, calls, workers=workers)


def table9_frame(rows: Sequence[Mapping[str, Any]], *, paper_rows: bool = True):
    """Our rows beside the paper's Table 9 (paper columns empty where the paper has no such model).

    ``paper_rows``: also list the paper's rows this run did not train (their columns of ours empty), so the
    table always holds the whole of the paper's Table 9.
    """
    import pandas as pd

    missing = untrained_paper_rows(rows) if paper_rows else []
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
    } for row in rows] + [{
        "model": name, "paper train acc": paper.TABLE9[name]["train_accuracy"],
        "paper test acc": paper.TABLE9[name]["test_accuracy"],
        "paper pairs/s": paper.TABLE9[name]["pairs_per_second"],
    } for name in missing])
    return frame.set_index("model")


def untrained_paper_rows(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The paper's Table 9 rows this run did not train (e.g. VGG16 in ``quick``), in the paper's order."""
    return [name for name in paper.TABLE9 if name not in {row["model"] for row in rows}]


def _fitted_text(fitted_on: Any) -> str:
    if fitted_on == "test":
        return "threshold fitted on the test pairs: the paper's protocol"
    return f"threshold fitted on {fitted_on}"


def recorded_sentence(recorded) -> str:
    """What the recorded Table 9 rows (:func:`drugsim.studies.recorded_runs.recorded_table`) show: how many,
    and each row's test accuracy beside the paper's; or that none was recorded on this kind of data."""
    if recorded is None or len(recorded) == 0:
        return "No run on this kind of data has been recorded yet."
    clauses = []
    for r in recorded.to_dict("records"):
        paper_text = "" if r["paper"] is None or r["paper"] != r["paper"] else f" (paper: {r['paper']:.4g})"
        differs = r.get("vs this run")
        where = "" if not differs or differs == "same test pairs" else f"; not this run's test pairs: {differs}"
        clauses.append(f"{r['model']} with {r['weights']} weights reaches {r['test accuracy']:.4g} in {r['run']} "
                       f"({_fitted_text(r['threshold fitted on'])}{where}){paper_text}")
    return f"{len(recorded)} recorded result(s): " + "; ".join(clauses) + "."


#: What each ingredient of the CPU transfer recipe adds, read off the run's own Table 9 rows: each step
#: changes one thing against the step before (the first step changes backbone and training together).
INGREDIENT_STEPS = (
    ("the paper's recipe at this budget: ResNet18, random weights, trained end to end", "resnet18-improved"),
    ("EfficientNet-Lite0, random weights, frozen; only the improved head trains",
     "efficientnet-lite0-frozen-improved"),
    ("+ ImageNet weights (still frozen, head only)", "efficientnet-lite0-imagenet-frozen-improved"),
    ("+ fine-tuning blocks 11-15 and the head convolution on cached features of plain and augmented views",
     "efficientnet-lite0-imagenet-partial-improved"),
)


def ingredient_rows(rows: Sequence[Mapping[str, Any]],
                    steps: Sequence[tuple[str, str]] = INGREDIENT_STEPS) -> list[dict[str, Any]]:
    """The steps of ``steps`` this run trained, each with its test accuracy, ROC AUC, training seconds and the
    change in test accuracy and ROC AUC from the previous step it trained (None for the first).

    Example:
        >>> r = [{"model": "a", "test_accuracy": 0.5, "roc_auc": 0.5, "train_seconds": 1.0},
        ...      {"model": "b", "test_accuracy": 0.9, "roc_auc": 0.95, "train_seconds": 9.0}]
        >>> [(x["step"], x["test_accuracy_gain"]) for x in ingredient_rows(r, [("A", "a"), ("B", "b")])]
        [('A', None), ('B', 0.4)]
    """
    by_model = {row["model"]: row for row in rows}
    out: list[dict[str, Any]] = []
    for label, model in steps:
        if model not in by_model:
            continue
        row, before = by_model[model], out[-1] if out else None
        out.append({"step": label, "model": model, "test_accuracy": float(row["test_accuracy"]),
                    "roc_auc": float(row["roc_auc"]), "train_seconds": float(row["train_seconds"]),
                    "test_accuracy_gain": None if before is None else round(float(row["test_accuracy"])
                                                                            - before["test_accuracy"], 4),
                    "roc_auc_gain": None if before is None else round(float(row["roc_auc"]) - before["roc_auc"], 4)})
    return out


def ingredient_frame(steps: Sequence[Mapping[str, Any]]):
    """:func:`ingredient_rows` as a table, one row per step."""
    import pandas as pd

    return pd.DataFrame([{"step": s["step"], "model": s["model"], "test acc": s["test_accuracy"],
                          "change in test acc": s["test_accuracy_gain"], "ROC AUC": s["roc_auc"],
                          "change in ROC AUC": s["roc_auc_gain"], "train s": s["train_seconds"]}
                         for s in steps]).set_index("step")


def ingredient_sentence(steps: Sequence[Mapping[str, Any]]) -> str:
    """What the steps show, from their numbers: which step adds most test accuracy, and where the last lands.

    Example:
        >>> ingredient_sentence([{"step": "A", "test_accuracy": 0.5, "test_accuracy_gain": None},
        ...                      {"step": "B", "test_accuracy": 0.9, "test_accuracy_gain": 0.4}])
        'The largest step is B (+0.4 test accuracy); the last step reaches 0.9.'
    """
    gains = [s for s in steps if s["test_accuracy_gain"] is not None]
    if not gains:
        return "This run trained fewer than two of the steps, so it cannot say what each adds."
    largest = max(gains, key=lambda s: s["test_accuracy_gain"])
    return (f"The largest step is {largest['step']} ({largest['test_accuracy_gain']:+.4g} test accuracy); "
            f"the last step reaches {steps[-1]['test_accuracy']:.4g}.")


#: The transfer-learning ablation: what each ingredient of the partial fine-tuning recipe adds.
#: (label, model name, settings beyond the profile's); ``image_size`` None = the profile's.
TRANSFER_ABLATION = (
    ("frozen backbone, head only, 1 view", "efficientnet-lite0-imagenet-frozen-improved", {"frozen_views": 1}),
    ("partial fine-tune, 1 view", "efficientnet-lite0-imagenet-partial-improved", {"frozen_views": 1}),
    ("partial fine-tune, 3 views", "efficientnet-lite0-imagenet-partial-improved", {"frozen_views": 3}),
)


def transfer_ablation(profile: str, pairs: Mapping[str, Sequence[Pair]], *, test_pairs: Sequence[Pair],
                      models_dir: str | Path, image_sizes: Sequence[int], n_train_pairs: int | None = None,
                      epochs: int | None = None, rows: Sequence[tuple[str, str, dict[str, Any]]] = TRANSFER_ABLATION,
                      threshold_rule: str = "midpoint", device: str | None = None, n_boot: int = 100,
                      seed: int = 0, data_kind: str = "synthetic") -> list[dict[str, Any]]:
    """Train and score each ablation row at each input size, all at one (possibly reduced) budget.

    Every row sees the same training pairs (``n_train_pairs``: a seeded sample, None = all), the same
    validation pairs (threshold fitted there) and the same test pairs; ``epochs`` (None = the profile's)
    applies to the fine-tuned rows. Models go to ``models_dir`` under
    names that hold the settings, and are reused when the same run was trained before.

    Returns:
        One row per (setting, size): ``setting, model, image_size, frozen_views, test_accuracy, roc_auc,
        threshold, train_seconds, feature_cache_seconds, n_train_pairs, epochs, reused``.
    """
    from drugsim.data.protocol import sample_pairs as protocol_sample_pairs
    from drugsim.evaluation.evaluate import evaluate_method
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
                                             device=device, file_stem=stem, data_kind=data_kind, **values)
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


def chosen_by_validation(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The row with the highest validation ROC-AUC (None when no row has one): the run's network, chosen
    before its test numbers are read; a test accuracy never chooses."""
    candidates = [row for row in rows if row.get("val_roc_auc") is not None]
    return max(candidates, key=lambda row: float(row["val_roc_auc"])) if candidates else None


def table9_glue(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Glue keys of Table 9: ``siamese_<model>_<metric>`` for every row, and the network chosen by validation
    ROC-AUC (:func:`chosen_by_validation`) with its validation and test numbers."""
    values: dict[str, Any] = {}
    for row in rows:
        for key in ("train_accuracy", "test_accuracy", "test_accuracy_at_paper_threshold", "roc_auc",
                    "pairs_per_second", "train_seconds"):
            values[f"siamese_{slug(row['model'])}_{key}"] = round(float(row[key]), 4)
    chosen = chosen_by_validation(rows)
    values["siamese_chosen_model"] = chosen["model"] if chosen else "none (no validation ROC-AUC)"
    values["siamese_chosen_val_roc_auc"] = round(float(chosen["val_roc_auc"]), 3) if chosen else "–"
    values["siamese_chosen_test_accuracy"] = round(float(chosen["test_accuracy"]), 4) if chosen else "–"
    return values


def negatives_note(stats: Mapping[str, int]) -> str:
    """What a negative training pair looks like, from :func:`drugsim.data.pairs.pair_statistics`' counts.

    Example:
        >>> negatives_note({"n_pairs": 10, "positives": 6, "intra_class_negatives": 1})
        'a negative pair is often another face of the same box (25% of the training negatives), with the same colours and brand'
    """
    intra_share = stats["intra_class_negatives"] / max(stats["n_pairs"] - stats["positives"], 1)
    return (f"a negative pair is often another face of the same box ({intra_share:.0%} of the training negatives), "
            "with the same colours and brand" if intra_share > 0 else
            "the negatives are photos of other products, some of them close variants of each other")


def training_steps(config: Mapping[str, Any], n_items: int) -> int:
    """Optimisation steps of a training run: epochs times the batches of ``n_items`` training items.

    Example:
        >>> training_steps({"epochs": 3, "batch_size": 64}, 130)
        9
    """
    return config["epochs"] * math.ceil(n_items / config["batch_size"])


def training_glue(trained: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``siamese_<model>_steps`` and ``siamese_<model>_image_size`` of every trained model."""
    values: dict[str, Any] = {}
    for name, t in trained.items():
        config, n_items = t["config"], t["results"].get("n_train_items", 0)
        values[f"siamese_{slug(name)}_steps"] = training_steps(config, n_items)
        values[f"siamese_{slug(name)}_image_size"] = config["image_size"]
    return values


def transfer_glue(transfer: Mapping[str, Any] | None, row: Mapping[str, Any] | None, *,
                  n_available: int | None = None) -> dict[str, Any]:
    """The glue keys of the transfer-learning section, from the partially fine-tuned model's training record
    and its Table 9 row; empty when that model was not trained in this run. ``n_available``: the training
    pairs of the run, to say whether the model saw all of them or a sample."""
    if transfer is None or row is None:
        return {}
    config = transfer["config"]
    used = int(transfer["results"]["n_train_items"])
    return {
        "siamese_transfer_pairs_text": (f"all {used}" if n_available is None or used >= n_available
                                        else f"a seeded sample of {used} of the {n_available}"),
        "siamese_transfer_model": row["model"],
        "siamese_transfer_fine_tune_from": int(config["fine_tune_from"]),
        "siamese_transfer_augmented_views": int(config["frozen_views"]) - 1,
        "siamese_transfer_epochs": len(transfer["history"]),
        "siamese_transfer_image_size": int(config["image_size"]),
        "siamese_transfer_n_train_pairs": int(transfer["results"]["n_train_items"]),
        "siamese_transfer_test_accuracy": round(float(row["test_accuracy"]), 4),
        "siamese_transfer_roc_auc": round(float(row["roc_auc"]), 4),
        "siamese_transfer_threshold": round(float(row["threshold"]), 4),
        "siamese_transfer_train_seconds": round(float(transfer["train_seconds"]), 1),
        "siamese_transfer_cache_seconds": round(float(transfer["results"]["feature_cache_seconds"]), 1),
    }


def ablation_sizes(text: str) -> list[int]:
    """The ``ablation_sizes`` parameter as input sizes; an empty one skips the ablation.

    Example:
        >>> ablation_sizes("64, 96"), ablation_sizes("")
        ([64, 96], [])
    """
    return [int(size) for size in str(text).split(",") if str(size).strip()]


def ablation_glue(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per ablation row ``siamese_ablation_<setting>_<size>px_{test_accuracy,roc_auc}``, the shared budget,
    and ``siamese_ablation_budget``: the sentence saying what this run's ablation trained, or why it was
    skipped."""
    if not rows:
        return {"siamese_ablation_budget": "This run skipped the ablation: its parameter ablation_sizes is "
                                           "empty, so no ablation model was trained."}
    n_train_pairs = rows[0]["n_train_pairs"]
    epochs = next((row["epochs"] for row in rows if "partial" in row["model"]), None)
    sizes = ", ".join(str(size) for size in dict.fromkeys(row["image_size"] for row in rows))
    epochs_text = f" for {epochs} epoch(s) of the fine-tuned rows" if epochs is not None else ""
    values: dict[str, Any] = {
        "siamese_ablation_n_train_pairs": n_train_pairs,
        "siamese_ablation_budget": f"In this run each setting trained on the same {n_train_pairs} training pairs"
                                   f"{epochs_text} at {sizes} px.",
    }
    if epochs is not None:
        values["siamese_ablation_epochs"] = epochs
    for row in rows:
        key = f"siamese_ablation_{slug(row['setting'])}_{row['image_size']}px"
        values[f"{key}_test_accuracy"] = round(float(row["test_accuracy"]), 4)
        values[f"{key}_roc_auc"] = round(float(row["roc_auc"]), 4)
    return values
