"""The thresholds-and-uncertainty chapter (notebook 09) as functions, so the notebook stays thin.

For a set of methods scored on the same validation and test pairs, it answers what a careful reviewer
of the paper asks:

* how far the paper's midpoint rule (fitted on the test pairs themselves: the paper's protocol, shown
  only as such) lies from thresholds fitted on validation drugs, and what that does to test accuracy
  (:func:`threshold_table`); the rule to recommend is chosen by *validation* accuracy;
* every headline number with its 95 % class-level interval (the delete-one-class jackknife t interval of
  :mod:`drugsim.evaluation.inference`);
* which differences between methods are real: a small family of comparisons fixed in code before any run
  (:data:`FAMILY`: each of the chapter's methods against ORB), each a paired class-level test on the same
  pairs (:func:`drugsim.evaluation.inference.paired_class_test`: the accuracy difference, its interval and
  p-value), Holm-adjusted over the comparisons of this family the run scored; McNemar's test, which assumes
  independent pairs, is listed beside as a pair-level reference (:func:`family_table`);
* 1:N search precision@1 and MAP@R (:func:`retrieval_table`), a hit being what
  :func:`drugsim.evaluation.retrieval.retrieval_labels` defines (the same drug and face, as chapter 11).

Nothing is picked by test accuracy: the recommended rule and method are those with the highest
validation accuracy, and their test numbers are then reported. The chapter's Siamese networks are those of
chapter 05, reused only when their checkpoint's fingerprint matches these settings and pairs
(:func:`trained_siamese_methods`).

Example:
    >>> import numpy as np
    >>> labels = np.array([1, 1, 0, 0] * 10)
    >>> classes = np.repeat(["a", "b", "c", "d"], 10)
    >>> scored = {"toy": MethodScores("toy", "higher", labels + 0.1, labels, labels * 0.5, labels, None, classes)}
    >>> table = threshold_table(scored, n_boot=20)
    >>> float(table.loc["toy", "paper_midpoint_accuracy"]), table.loc["toy", "threshold_fitted_on"]
    (1.0, 'val')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from drugsim.data.records import ImageRecord, Pair
from drugsim.errors import ConfigError
from drugsim.evaluation.bootstrap import mcnemar_test
from drugsim.evaluation.evaluate import evaluate_scores, timed_scores
from drugsim.evaluation.inference import holm_adjust, paired_class_test
from drugsim.evaluation.metrics import accuracy as accuracy_at
from drugsim.evaluation.thresholds import THRESHOLD_RULES, predict
from drugsim.io import PathLike
from drugsim.methods import SimilarityMethod


@dataclass
class MethodScores:
    """One method's scores on the validation and test pairs (same pairs for every method).

    ``test_classes`` holds the class of each test pair (:func:`~drugsim.evaluation.engine.pair_classes`),
    the unit the intervals and paired comparisons resample.
    """

    name: str
    direction: str
    val_scores: np.ndarray
    val_labels: np.ndarray
    test_scores: np.ndarray
    test_labels: np.ndarray
    pairs_per_second: Optional[float]
    test_classes: np.ndarray


def score_methods(
    methods: Mapping[str, SimilarityMethod],
    test_pairs: Sequence[Pair],
    val_pairs: Sequence[Pair],
    *,
    cache_dir: Optional[PathLike] = None,
    n_jobs: Optional[int] = None,
    progress: bool = False,
) -> Dict[str, MethodScores]:
    """Score the same validation and test pairs with every method through the engine."""
    from drugsim.evaluation.engine import pair_classes, pair_labels

    if not test_pairs or not val_pairs:
        raise ConfigError(f"need validation and test pairs; got {len(val_pairs)} and {len(test_pairs)}")
    scored: Dict[str, MethodScores] = {}
    for name, method in methods.items():
        test_scores, timing = timed_scores(
            method, test_pairs, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress
        )
        val_scores, _ = timed_scores(method, val_pairs, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress)
        scored[name] = MethodScores(
            name,
            method.direction,
            val_scores,
            pair_labels(val_pairs),
            test_scores,
            pair_labels(test_pairs),
            timing["pairs_per_second"],
            pair_classes(test_pairs),
        )
    return scored


def _pooled_spread(scores: np.ndarray) -> float:
    spread = float(np.std(scores))
    return spread if spread > 0 else 1.0


def threshold_table(
    scored: Mapping[str, MethodScores], *, target_far: float = 0.01, n_boot: int = 1000, seed: int = 0
):
    """Paper's protocol (midpoint fitted on test) beside every rule fitted on validation, per method.

    Columns: ``threshold_fitted_on`` (``"val"``: the rule columns), ``paper_midpoint_fitted_on``
    (``"test"``: the paper's protocol), ``paper_midpoint`` (threshold fitted on the test pairs),
    ``paper_midpoint_accuracy`` and its class-level interval (``paper_midpoint_ci_low/high``), then per
    rule ``<rule>`` (validation-fitted threshold), ``<rule>_shift`` (its distance from the paper's midpoint
    in standard deviations of the test scores), ``<rule>_val_accuracy`` (validation accuracy at it) and
    ``<rule>_accuracy`` (test accuracy at it); ``best_val_rule`` names the rule with the highest
    *validation* accuracy (ties: the earlier rule) and ``best_val_rule_accuracy`` its test accuracy.
    """
    import pandas as pd

    rows: Dict[str, Dict[str, Any]] = {}
    for name, item in scored.items():
        paper_result = evaluate_scores(
            item.test_scores,
            item.test_labels,
            direction=item.direction,
            threshold_rule="midpoint",
            protocol="paper",
            clusters=item.test_classes,
            target_far=target_far,
            n_boot=n_boot,
            seed=seed,
        )
        val_result = evaluate_scores(
            item.test_scores,
            item.test_labels,
            direction=item.direction,
            val_scores=item.val_scores,
            val_labels=item.val_labels,
            threshold_rule="midpoint",
            clusters=item.test_classes,
            target_far=target_far,
            n_boot=10,
            seed=seed,
        )
        spread = _pooled_spread(item.test_scores)
        row: Dict[str, Any] = {
            "direction": item.direction,
            "threshold_fitted_on": val_result["thresholds_fitted_on"],
            "paper_midpoint_fitted_on": paper_result["threshold_fitted_on"],
            "paper_midpoint": paper_result["threshold"],
            "paper_midpoint_accuracy": paper_result["accuracy"],
            "paper_midpoint_ci_low": paper_result["ci95"]["accuracy"][0],
            "paper_midpoint_ci_high": paper_result["ci95"]["accuracy"][1],
        }
        for rule in THRESHOLD_RULES:
            value = val_result["thresholds"][rule]
            row[rule] = value
            row[f"{rule}_shift"] = None if value is None else (value - paper_result["threshold"]) / spread
            row[f"{rule}_val_accuracy"] = (
                None
                if value is None
                else accuracy_at(item.val_scores, item.val_labels, value, direction=item.direction)
            )
            row[f"{rule}_accuracy"] = val_result["accuracy_by_rule"][rule]
        on_validation = {
            rule: row[f"{rule}_val_accuracy"]
            for rule in THRESHOLD_RULES
            if row[f"{rule}_val_accuracy"] is not None
        }
        best = max(on_validation, key=on_validation.get) if on_validation else None
        row["best_val_rule"] = best
        row["best_val_rule_accuracy"] = row[f"{best}_accuracy"] if best else None
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def headline_results(
    scored: Mapping[str, MethodScores],
    *,
    rule: str = "youden",
    target_far: float = 0.01,
    n_boot: int = 1000,
    seed: int = 0,
) -> Dict[str, Dict[str, Any]]:
    """:func:`~drugsim.evaluation.evaluate.evaluate_scores` of every method, ``rule`` fitted on validation,
    with class-level intervals; each result also holds ``val_accuracy`` (validation accuracy at its
    threshold), what :func:`glue_study` picks the best method by."""
    results = {}
    for name, item in scored.items():
        result = evaluate_scores(
            item.test_scores,
            item.test_labels,
            direction=item.direction,
            val_scores=item.val_scores,
            val_labels=item.val_labels,
            threshold_rule=rule,
            clusters=item.test_classes,
            target_far=target_far,
            n_boot=n_boot,
            seed=seed,
        )
        result["method"] = name
        result["pairs_per_second"] = item.pairs_per_second
        results[name] = result
    return results


def headline_table(results: Mapping[str, Mapping[str, Any]]):
    """One row per method: each headline metric and its 95 % interval (``<metric>_low/high``), the
    threshold with ``threshold_fitted_on``, the interval's ``ci_unit`` and the validation accuracy."""
    import pandas as pd

    rows = {}
    for name, result in results.items():
        row: Dict[str, Any] = {
            "threshold": result["threshold"],
            "rule": result["threshold_rule"],
            "threshold_fitted_on": result["threshold_fitted_on"],
            "ci_unit": result["ci_unit"],
            "n_classes": result["n_classes"],
            "val_accuracy": result.get("val_accuracy"),
        }
        for metric in ("accuracy", "balanced_accuracy", "roc_auc", "eer", "precision", "recall"):
            low, high = result["ci95"][metric]
            row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = result[metric], low, high
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def correct_decisions(item: MethodScores, threshold: float) -> np.ndarray:
    """(N,) booleans: was each test pair decided correctly at ``threshold``?"""
    return predict(item.test_scores, threshold, direction=item.direction) == (item.test_labels == 1)


#: The reference of chapter 09's family: ORB, the paper's strongest classical method.
FAMILY_REFERENCE = "orb"
#: Chapter 09's comparisons, fixed before any run: (method A, method B), tested as A minus B. Holm's
#: adjustment runs over the comparisons of this family that the run scored (a method it did not score drops
#: its comparison; nothing is ever added after seeing the results).
FAMILY: Tuple[Tuple[str, str], ...] = tuple(
    (method, FAMILY_REFERENCE) for method in (
        "resnet18-improved", "efficientnet-lite0-imagenet-partial-improved", "sift", "hist-correl",
        "hist-bhattacharyya", "cosine", "ahash", "phash", "dhash"))


def family_table(
    scored: Mapping[str, MethodScores],
    results: Mapping[str, Mapping[str, Any]],
    *,
    family: Sequence[Tuple[str, str]] = FAMILY,
    alpha: float = 0.05,
    level: float = 0.95,
):
    """The pre-declared comparisons on the same test pairs, each method at its own validation-fitted threshold.

    Columns: ``method_a``, ``method_b``, ``threshold_fitted_on`` (of both thresholds), ``accuracy_a``,
    ``accuracy_b``, ``accuracy_difference`` (A - B) with its class-level interval (``ci_low/high``) and
    p-value (``p_value``, :func:`~drugsim.evaluation.inference.paired_class_test`), ``n_classes``,
    ``n_pairs``, ``p_holm`` (adjusted over the rows) and ``real`` (``p_holm < alpha``). The pair-level McNemar
    test (``mcnemar_p``, ``mcnemar_p_holm``, ``real_if_pairs_independent``) is kept beside it to show how much
    treating correlated pairs as independent overstates the evidence. Comparisons of ``family`` whose methods
    were not scored are left out.
    """
    import pandas as pd

    rows: List[Dict[str, Any]] = []
    for a, b in family:
        if a not in scored or b not in scored:
            continue
        correct_a = correct_decisions(scored[a], results[a]["threshold"])
        correct_b = correct_decisions(scored[b], results[b]["threshold"])
        paired = paired_class_test(correct_a, correct_b, scored[a].test_classes, level=level)
        test = mcnemar_test(correct_a, correct_b)
        fitted_on = {results[a]["threshold_fitted_on"], results[b]["threshold_fitted_on"]}
        rows.append({
            "method_a": a, "method_b": b, "threshold_fitted_on": "/".join(sorted(str(f) for f in fitted_on)),
            "accuracy_a": paired["accuracy_a"], "accuracy_b": paired["accuracy_b"],
            "accuracy_difference": paired["difference"], "ci_low": paired["ci_low"], "ci_high": paired["ci_high"],
            "p_value": paired["p_value"], "n_classes": paired["n_classes"], "n_pairs": paired["n_pairs"],
            "a_only_correct": test["a_only_correct"], "b_only_correct": test["b_only_correct"],
            "mcnemar_p": test["p_value"],
        })
    table = pd.DataFrame(rows, columns=[
        "method_a", "method_b", "threshold_fitted_on", "accuracy_a", "accuracy_b", "accuracy_difference", "ci_low",
        "ci_high", "p_value", "n_classes", "n_pairs", "a_only_correct", "b_only_correct", "mcnemar_p"])
    table["p_holm"] = holm_adjust(table["p_value"].to_numpy()) if len(table) else []
    table["real"] = table["p_holm"] < alpha
    table["mcnemar_p_holm"] = holm_adjust(table["mcnemar_p"].to_numpy()) if len(table) else []
    table["real_if_pairs_independent"] = table["mcnemar_p_holm"] < alpha
    return table


def trained_siamese_methods(
    names: Sequence[str],
    profile: str,
    pairs: Mapping[str, Sequence[Pair]],
    *,
    models_dir: PathLike,
    data_kind: str,
    device: Optional[str] = None,
) -> Dict[str, SimilarityMethod]:
    """Chapter 05's networks ``names`` as methods, ``{name: method}``, through the fingerprint check.

    Each goes through :func:`drugsim.deep.train_or_reuse.train_or_reuse_siamese` with the profile's settings
    and the run's train and validation pairs: a checkpoint is reused only when its stored fingerprint matches
    them (as chapter 07 does); a missing or stale one is trained again, never loaded as it is.
    """
    from drugsim.deep.train_or_reuse import split_model_name, train_or_reuse_siamese
    from drugsim.methods import create_method

    methods: Dict[str, SimilarityMethod] = {}
    for name in names:
        trained = train_or_reuse_siamese(name, profile, pairs["train"], pairs["val"], models_dir=models_dir,
                                         device=device, data_kind=data_kind)
        _, variant = split_model_name(name)
        methods[name] = create_method(f"siamese-{variant}", model=str(trained["checkpoint"]), device=device)
    return methods


def retrieval_table(
    methods: Mapping[str, SimilarityMethod],
    records: Sequence[ImageRecord],
    *,
    max_queries: Optional[int] = 50,
    seed: int = 0,
    cache_dir: Optional[PathLike] = None,
    n_jobs: Optional[int] = None,
):
    """precision@1 and MAP@R of leave-one-out 1:N search over ``records`` for every method; a result is a
    hit when it shares the query's :func:`~drugsim.evaluation.retrieval.retrieval_labels` (drug and face)."""
    import pandas as pd

    from drugsim.evaluation.search import evaluate_retrieval

    rows = {}
    for name, method in methods.items():
        rows[name] = evaluate_retrieval(
            method, records, max_queries=max_queries, seed=seed, by="group", cache_dir=cache_dir, n_jobs=n_jobs
        )
    return pd.DataFrame.from_dict(rows, orient="index")[
        ["precision_at_1", "map_at_r", "r_precision", "n_queries", "n_lone_queries", "n_gallery", "by"]
    ]


def roc_inputs(scored: Mapping[str, MethodScores]) -> Dict[str, Any]:
    """``{name: (test scores, labels, direction)}`` for :func:`~drugsim.evaluation.plots.plot_roc_curves`."""
    return {name: (item.test_scores, item.test_labels, item.direction) for name, item in scored.items()}


def glue_study(
    threshold_frame, headline_frame, family_frame, retrieval_frame, *, prefix: str = "thr"
) -> Dict[str, Any]:
    """Glue every number the chapter quotes (and the tables) under ``<prefix>_...`` keys; returns them."""
    from drugsim.report import slug
    from drugsim.report import glue

    glued: Dict[str, Any] = {}

    def put(key: str, value: Any) -> None:
        if isinstance(value, (float, np.floating)):
            value = None if not np.isfinite(value) else round(float(value), 4)
        glued[key] = glue(key, value)

    for name, row in threshold_frame.iterrows():
        key = slug(name)
        put(f"{prefix}_{key}_paper_midpoint", row["paper_midpoint"])
        put(f"{prefix}_{key}_paper_midpoint_accuracy", row["paper_midpoint_accuracy"])
        for rule in THRESHOLD_RULES:
            put(f"{prefix}_{key}_threshold_{rule}", row[rule])
            put(f"{prefix}_{key}_threshold_{rule}_accuracy", row[f"{rule}_accuracy"])
    for name, row in headline_frame.iterrows():
        key = slug(name)
        for metric in ("accuracy", "balanced_accuracy", "roc_auc", "eer"):
            put(f"{prefix}_{key}_{metric}", row[metric])
            put(f"{prefix}_{key}_{metric}_low", row[f"{metric}_low"])
            put(f"{prefix}_{key}_{metric}_high", row[f"{metric}_high"])
    # Chosen on validation accuracy, then its test accuracy is reported (never picked by test accuracy).
    best = headline_frame["val_accuracy"].astype(float).idxmax()
    put(f"{prefix}_best_method", str(best))
    put(f"{prefix}_best_val_accuracy", headline_frame.loc[best, "val_accuracy"])
    put(f"{prefix}_best_accuracy", headline_frame.loc[best, "accuracy"])
    put(f"{prefix}_best_accuracy_low", headline_frame.loc[best, "accuracy_low"])
    put(f"{prefix}_best_accuracy_high", headline_frame.loc[best, "accuracy_high"])
    widths = (headline_frame["accuracy_high"] - headline_frame["accuracy_low"]).astype(float)
    put(f"{prefix}_median_ci_width", float(np.nanmedian(widths)) if len(widths) else None)
    shifts = threshold_frame[[f"{rule}_shift" for rule in THRESHOLD_RULES if rule != "midpoint"]].abs()
    put(f"{prefix}_median_abs_shift", float(np.nanmedian(shifts.to_numpy(dtype=float))))
    gains = threshold_frame["youden_accuracy"].astype(float) - threshold_frame[
        "paper_midpoint_accuracy"
    ].astype(float)
    put(f"{prefix}_youden_minus_midpoint_median", float(np.nanmedian(gains)))
    put(f"{prefix}_n_comparisons", int(len(family_frame)))
    put(f"{prefix}_n_real_differences", int(family_frame["real"].sum()) if len(family_frame) else 0)
    put(f"{prefix}_n_real_if_pairs_independent",
        int(family_frame["real_if_pairs_independent"].sum()) if len(family_frame) else 0)
    put(f"{prefix}_family_reference", FAMILY_REFERENCE)
    put(f"{prefix}_n_test_classes", int(headline_frame["n_classes"].max()) if len(headline_frame) else None)
    if retrieval_frame is not None and not retrieval_frame.empty:
        # A description of these queries' results (the highest MAP@R), not a choice of method.
        top = retrieval_frame["map_at_r"].astype(float).idxmax()
        put(f"{prefix}_retrieval_top_method", str(top))
        put(f"{prefix}_retrieval_top_map_at_r", retrieval_frame.loc[top, "map_at_r"])
        put(f"{prefix}_retrieval_top_precision_at_1", retrieval_frame.loc[top, "precision_at_1"])
        for name, row in retrieval_frame.iterrows():
            put(f"{prefix}_{slug(name)}_precision_at_1", row["precision_at_1"])
            put(f"{prefix}_{slug(name)}_map_at_r", row["map_at_r"])
    return glued
