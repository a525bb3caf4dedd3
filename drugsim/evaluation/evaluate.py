"""Evaluate a method on a pair list: scores -> threshold -> metrics with bootstrap intervals.

Two layers:

* :func:`evaluate_scores` is pure: scores and labels in, a JSON-ready dict out. The threshold is either
  given (``--threshold-from`` an earlier result), fitted on *validation* scores when they are passed
  (and then applied unchanged to the test scores, which the fit never sees), or, as in the paper, fitted
  on the evaluated pairs themselves (``threshold_fitted_on = "test"``, the reproduction baseline).
* :func:`evaluate_method` runs the engine on the pair lists (or the paper's per-pair way), times it
  (``pairs_per_second = n_pairs / (describe seconds + score seconds)``) and calls :func:`evaluate_scores`.

The dict's keys are stable (issues 4 and 6): ``method``, ``n_pairs``, ``positive_mean``,
``negative_mean``, ``threshold``, ``threshold_rule``, ``threshold_fitted_on``, ``accuracy``,
``pairs_per_second``, ``balanced_accuracy``, ``roc_auc``, ``eer``, ``precision``, ``recall``,
``thresholds`` (``midpoint``, ``max_accuracy``, ``youden``, ``eer``, ``far``) and ``ci95`` (the 95 %
bootstrap interval of each metric), plus a few more described in :func:`evaluate_scores`.

Example:
    >>> import numpy as np
    >>> result = evaluate_scores([0.9, 0.8, 0.4, 0.6, 0.3, 0.1], [1, 1, 1, 0, 0, 0], direction="higher",
    ...                          n_boot=100)
    >>> result["threshold_rule"], result["threshold_fitted_on"], round(result["accuracy"], 4)
    ('midpoint', 'test', 0.6667)
"""

from __future__ import annotations

import math
import time
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from drugsim.data.records import Pair
from drugsim.errors import ConfigError, DrugsimError
from drugsim.evaluation import thresholds as _thresholds
from drugsim.evaluation.bootstrap import bootstrap_intervals
from drugsim.evaluation.metrics import compute_metrics
from drugsim.evaluation.thresholds import THRESHOLD_RULES, check_direction, check_rule, check_scores_labels
from drugsim.io import PathLike
from drugsim.methods import SimilarityMethod


def _fit_every_rule(scores, labels, direction: str, target_far: float) -> Dict[str, Optional[float]]:
    out: Dict[str, Optional[float]] = {}
    for rule in THRESHOLD_RULES:
        try:
            out[rule] = _thresholds.fit_threshold(
                scores, labels, rule=rule, direction=direction, target_far=target_far
            )
        except DrugsimError:  # e.g. a fitting set with one class only
            out[rule] = None
    return out


def evaluate_scores(
    scores,
    labels,
    *,
    direction: str,
    val_scores=None,
    val_labels=None,
    threshold_rule: str = "midpoint",
    threshold: Optional[float] = None,
    threshold_source: Optional[str] = None,
    target_far: float = 0.01,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> Dict[str, Any]:
    """Metrics of scored test pairs at a threshold fitted without them (or given, or the paper's way).

    Args:
        scores, labels: (N,) test scores on the method's scale and 0/1 labels.
        direction: ``"higher"`` or ``"lower"`` (which way means more similar).
        val_scores, val_labels: validation pairs; when given, every threshold rule is fitted on them only.
        threshold_rule: one of :data:`~drugsim.evaluation.thresholds.THRESHOLD_RULES`; chooses the
            threshold that the headline metrics use.
        threshold: use this threshold (method's scale) instead of fitting one; ``threshold_rule`` then
            only labels where it came from.
        threshold_source: what to report as ``threshold_fitted_on`` for a given threshold
            (e.g. ``"file:orb_val.json"``); default ``"given"``.
        target_far: false-accept rate of the ``far`` rule.
        n_boot, seed, level: bootstrap resamples, their seed, and the interval's coverage.

    Returns:
        A JSON-ready dict (NaN where a metric is undefined):
        ``n_pairs, n_positive, n_negative, direction, positive_mean, negative_mean, threshold,
        threshold_rule, threshold_fitted_on, accuracy, balanced_accuracy, precision, recall, roc_auc, eer,
        confusion{true_positives, false_positives, true_negatives, false_negatives}, thresholds{rule: value},
        thresholds_fitted_on, accuracy_by_rule{rule: test accuracy at that rule's threshold},
        ci95{metric: [low, high]}, bootstrap{n_boot, seed, level, threshold_refitted}``.
    """
    check_direction(direction)
    check_rule(threshold_rule)
    scores, labels = check_scores_labels(scores, labels, what="test scores")
    if (val_scores is None) != (val_labels is None):
        raise ConfigError("give both val_scores and val_labels, or neither")
    if val_scores is not None:
        val_scores, val_labels = check_scores_labels(val_scores, val_labels, what="validation scores")
        fit_scores, fit_labels, fitted_on = val_scores, val_labels, "val"
    else:
        fit_scores, fit_labels, fitted_on = scores, labels, "test"

    rule_thresholds = _fit_every_rule(fit_scores, fit_labels, direction, target_far)
    if threshold is not None:
        chosen = float(threshold)
        if not math.isfinite(chosen):
            raise ConfigError(f"threshold must be a finite number; got {threshold}")
        chosen_from = threshold_source or "given"
    else:
        chosen = _thresholds.fit_threshold(
            fit_scores, fit_labels, rule=threshold_rule, direction=direction, target_far=target_far
        )
        chosen_from = fitted_on

    metrics = compute_metrics(scores, labels, chosen, direction=direction)
    # The paper fits its midpoint on the very pairs it scores; refitting it inside every resample makes
    # the interval include the threshold's own sampling noise.
    refit = threshold is None and chosen_from == "test" and threshold_rule == "midpoint"
    intervals = bootstrap_intervals(
        scores,
        labels,
        chosen,
        direction=direction,
        n_boot=n_boot,
        seed=seed,
        level=level,
        refit_midpoint=refit,
    )
    accuracy_by_rule = {
        rule: (
            compute_metrics(scores, labels, value, direction=direction)["accuracy"]
            if value is not None
            else None
        )
        for rule, value in rule_thresholds.items()
    }
    return {
        "n_pairs": int(labels.size),
        "n_positive": metrics["n_positive"],
        "n_negative": metrics["n_negative"],
        "direction": direction,
        "positive_mean": metrics["positive_mean"],
        "negative_mean": metrics["negative_mean"],
        "threshold": chosen,
        "threshold_rule": threshold_rule,
        "threshold_fitted_on": chosen_from,
        "accuracy": metrics["accuracy"],
        "balanced_accuracy": metrics["balanced_accuracy"],
        "precision": metrics["precision"],
        "recall": metrics["recall"],
        "roc_auc": metrics["roc_auc"],
        "eer": metrics["eer"],
        "confusion": {
            key: metrics[key]
            for key in ("true_positives", "false_positives", "true_negatives", "false_negatives")
        },
        "thresholds": rule_thresholds,
        "thresholds_fitted_on": fitted_on,
        "target_far": float(target_far),
        "accuracy_by_rule": accuracy_by_rule,
        "ci95": {name: [low, high] for name, (low, high) in intervals.items()},
        "bootstrap": {
            "n_boot": int(n_boot),
            "seed": int(seed),
            "level": float(level),
            "threshold_refitted": bool(refit),
            "unit": "pairs",
        },
    }


def timed_scores(
    method: SimilarityMethod,
    pairs: Sequence[Pair],
    *,
    per_pair: bool = False,
    cache_dir: Optional[PathLike] = None,
    n_jobs: Optional[int] = None,
    progress: bool = True,
    batch_size: int = 32,
) -> Tuple[np.ndarray, Dict[str, Any]]:
    """Scores of ``pairs`` and how long they took (engine or the paper's per-pair way).

    Returns:
        (scores, timing) with timing keys ``mode``, ``n_images``, ``describe_seconds``,
        ``score_seconds``, ``total_seconds``, ``pairs_per_second`` and the cache counts.
    """
    from drugsim.evaluation import engine

    if per_pair:
        start = time.perf_counter()
        scores = engine.score_pairs_per_pair(method, pairs, progress=progress)
        total = time.perf_counter() - start
        timing: Dict[str, Any] = {
            "mode": "per-pair",
            "n_images": len(engine.pair_paths(pairs)),
            "describe_seconds": None,
            "score_seconds": None,
            "total_seconds": total,
        }
    else:
        paths = engine.pair_paths(pairs)
        stats: Dict[str, int] = {}
        start = time.perf_counter()
        features = engine.describe_images(
            method,
            paths,
            n_jobs=n_jobs,
            cache_dir=cache_dir,
            progress=progress,
            batch_size=batch_size,
            stats=stats,
        )
        described = time.perf_counter()
        scores = engine.score_pair_list(method, pairs, features)
        scored = time.perf_counter()
        timing = {
            "mode": "engine",
            "n_images": len(paths),
            "describe_seconds": described - start,
            "score_seconds": scored - described,
            "total_seconds": scored - start,
            "images_described": stats.get("computed"),
            "cache_hits": stats.get("cache_hits"),
            "cache_dir": str(cache_dir) if cache_dir is not None else None,
        }
    timing["pairs_per_second"] = len(pairs) / timing["total_seconds"] if timing["total_seconds"] > 0 else None
    return scores, timing


def evaluate_method(
    method: SimilarityMethod,
    test_pairs: Sequence[Pair],
    *,
    val_pairs: Optional[Sequence[Pair]] = None,
    threshold_rule: str = "midpoint",
    threshold: Optional[float] = None,
    threshold_source: Optional[str] = None,
    target_far: float = 0.01,
    per_pair: bool = False,
    cache_dir: Optional[PathLike] = None,
    n_jobs: Optional[int] = None,
    progress: bool = True,
    batch_size: int = 32,
    n_boot: int = 1000,
    seed: int = 0,
) -> Tuple[Dict[str, Any], np.ndarray]:
    """Score ``test_pairs`` with ``method`` (timed), fit the threshold on ``val_pairs`` when given, report.

    Args:
        method: the method to evaluate.
        test_pairs: the pairs the reported metrics describe.
        val_pairs: pairs from other classes (the validation drugs) to fit the threshold on; their
            scoring is not part of the reported speed.
        per_pair: score the paper's way (describe both images for every pair) instead of the engine.
        cache_dir, n_jobs, batch_size, progress: passed to the engine.
        Other arguments: as :func:`evaluate_scores`.

    Returns:
        (result, test_scores): ``result`` = :func:`evaluate_scores`'s dict plus ``method``,
        ``method_config``, ``pairs_per_second``, ``timing`` and ``n_val_pairs``.
    """
    if not test_pairs:
        raise ConfigError("no test pairs to evaluate (the pair list is empty)")
    scores, timing = timed_scores(
        method,
        test_pairs,
        per_pair=per_pair,
        cache_dir=cache_dir,
        n_jobs=n_jobs,
        progress=progress,
        batch_size=batch_size,
    )
    from drugsim.evaluation.engine import pair_labels

    val_scores = val_labels = None
    if val_pairs:
        val_scores, _ = timed_scores(
            method,
            val_pairs,
            per_pair=False,
            cache_dir=cache_dir,
            n_jobs=n_jobs,
            progress=progress,
            batch_size=batch_size,
        )
        val_labels = pair_labels(val_pairs)
    result = evaluate_scores(
        scores,
        pair_labels(test_pairs),
        direction=method.direction,
        val_scores=val_scores,
        val_labels=val_labels,
        threshold_rule=threshold_rule,
        threshold=threshold,
        threshold_source=threshold_source,
        target_far=target_far,
        n_boot=n_boot,
        seed=seed,
    )
    result = {
        "method": method.name,
        "method_config": method.config(),
        "paper_section": method.paper_section,
        **result,
        "pairs_per_second": timing["pairs_per_second"],
        "timing": timing,
        "n_val_pairs": len(val_pairs) if val_pairs else 0,
    }
    return result, scores
