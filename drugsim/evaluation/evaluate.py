"""Evaluate a method on a pair list: scores -> threshold -> metrics with bootstrap intervals.

Two layers:

* :func:`evaluate_scores` is pure: scores and labels in, a JSON-ready dict out. The threshold is either
  given (``--threshold-from`` an earlier result) or fitted on *validation* scores (pairs of other
  classes) and applied unchanged to the test scores, which the fit never sees. Fitting on the evaluated
  pairs themselves, as the paper did, happens only when asked for by name (``protocol="paper"``; the
  result then says ``threshold_fitted_on = "test"`` and ``protocol = "paper"``); without validation
  scores and without that request it is a :class:`~drugsim.errors.ConfigError`, never a silent fallback.
* :func:`evaluate_method` runs the engine on the pair lists (or the paper's per-pair way), times it
  (``pairs_per_second = n_pairs / (describe seconds + score seconds)``) and calls :func:`evaluate_scores`.

The dict's keys are stable (issues 4 and 6): ``method``, ``n_pairs``, ``positive_mean``,
``negative_mean``, ``threshold``, ``threshold_rule``, ``threshold_fitted_on``, ``accuracy``,
``pairs_per_second``, ``balanced_accuracy``, ``roc_auc``, ``eer``, ``precision``, ``recall``,
``thresholds`` (``midpoint``, ``max_accuracy``, ``youden``, ``eer``, ``far``), ``ci95`` (the 95 %
interval of each metric), ``ci_unit`` (``"class"``: the default, the class is the unit of evidence;
``"pair"`` only when asked) and ``ci_method`` (``"class-jackknife-t"``: the delete-one-class jackknife with
a t(G-1) quantile, :mod:`drugsim.evaluation.inference`, whose coverage at 8-60 classes a simulation test
shows; ``"pair-percentile-bootstrap"`` for ``ci_unit="pair"``), plus a few more described in
:func:`evaluate_scores`.

Example:
    >>> result = evaluate_scores([0.9, 0.8, 0.4, 0.6, 0.3, 0.1], [1, 1, 1, 0, 0, 0], direction="higher",
    ...                          val_scores=[0.7, 0.2], val_labels=[1, 0], clusters=list("aabbcc"))
    >>> round(result["threshold"], 4), result["threshold_fitted_on"], result["ci_unit"]
    (0.45, 'val', 'class')
    >>> round(result["accuracy"], 4)
    0.6667
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
from drugsim.evaluation.inference import CLASS_JACKKNIFE_T, PAIR_PERCENTILE_BOOTSTRAP, class_jackknife_intervals
from drugsim.evaluation.metrics import compute_metrics, roc_auc
from drugsim.evaluation.thresholds import THRESHOLD_RULES, check_direction, check_rule, check_scores_labels
from drugsim.io import PathLike
from drugsim.methods import SimilarityMethod

#: ``"val"``: thresholds fitted on validation pairs (the default everywhere); ``"paper"``: the paper's
#: protocol, the midpoint of the evaluated (test) pairs' means, shown only where labelled as such.
PROTOCOLS = ("val", "paper")
#: The unit of an interval: ``"class"`` (drugs/products with their pairs, the default: a delete-one-class
#: jackknife t interval) or ``"pair"`` (a percentile bootstrap of single pairs, as if independent).
CI_UNITS = ("class", "pair")
#: How each unit's interval is computed, as results name it.
CI_METHODS = {"class": CLASS_JACKKNIFE_T, "pair": PAIR_PERCENTILE_BOOTSTRAP}
#: How tables and the book name a threshold fitted on the test pairs.
PAPER_PROTOCOL_LABEL = "paper's protocol (midpoint fitted on the test pairs)"


def fitted_on_label(fitted_on: str | None) -> str:
    """Words for a ``threshold_fitted_on`` value, as tables print it (``"test"`` = the paper's protocol)."""
    if fitted_on == "test":
        return PAPER_PROTOCOL_LABEL
    if fitted_on == "val":
        return "validation pairs"
    return fitted_on or "n/a"


def check_protocol(
    protocol: str, *, has_val: bool, threshold: float | None, threshold_rule: str
) -> str:
    """Say, before any scoring, whether the threshold can be fitted as asked; return ``protocol``.

    Raises:
        ConfigError: unknown protocol; the paper's protocol with a given threshold or a rule other than the
            midpoint; or the default validation protocol with neither validation pairs nor a threshold.
    """
    if protocol not in PROTOCOLS:
        raise ConfigError(f"threshold protocol {protocol!r} is not supported. Try one of {list(PROTOCOLS)}")
    if protocol == "paper":
        if threshold is not None:
            raise ConfigError(
                "the paper's protocol fits the midpoint on the test pairs; give a threshold or "
                "protocol='paper', not both"
            )
        if threshold_rule != "midpoint":
            raise ConfigError(
                f"the paper's protocol is the midpoint rule fitted on the test pairs; got threshold rule "
                f"{threshold_rule!r} (fit other rules on validation pairs)"
            )
    elif threshold is None and not has_val:
        raise ConfigError(
            f"no validation pairs to fit the {threshold_rule!r} threshold on: pass validation pairs (other "
            "classes than the test pairs), a threshold, or protocol='paper' to fit the paper's midpoint on "
            "the test pairs themselves (labelled as the paper's protocol)"
        )
    return protocol


def _check_ci_unit(ci_unit: str, clusters, n_pairs: int):
    """The per-pair classes of a class-level interval (None for pair-level intervals)."""
    if ci_unit not in CI_UNITS:
        raise ConfigError(f"ci_unit {ci_unit!r} is not supported. Try one of {list(CI_UNITS)}")
    if ci_unit == "pair":
        return None
    if clusters is None:
        raise ConfigError(
            "class-level intervals need the class of every test pair (clusters=pair_classes(pairs)); "
            "or ask for pair-level intervals with ci_unit='pair'"
        )
    clusters = np.asarray(clusters).reshape(-1)
    if clusters.size != n_pairs:
        raise ConfigError(f"clusters: got {clusters.size} classes for {n_pairs} test pairs (one per pair)")
    return clusters


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
    protocol: str = "val",
    clusters=None,
    ci_unit: str = "class",
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
        protocol: ``"val"`` (default): fit on the validation scores, which must then be given unless a
            threshold is; ``"paper"``: the paper's protocol, the midpoint fitted on the test scores
            themselves (every rule of ``thresholds`` too), reported as ``threshold_fitted_on = "test"``.
        clusters: (N,) class of each test pair (e.g. :func:`drugsim.evaluation.engine.pair_classes`);
            required for ``ci_unit="class"``.
        ci_unit: ``"class"`` (default): delete-one-class jackknife t(G-1) intervals
            (:func:`drugsim.evaluation.inference.class_jackknife_intervals`); ``"pair"``: percentile
            bootstrap of single pairs, as if independent.
        target_far: false-accept rate of the ``far`` rule.
        n_boot, seed: resamples of the pair-level bootstrap and their seed (the jackknife draws nothing).
        level: the intervals' coverage.

    Returns:
        A JSON-ready dict (NaN where a metric is undefined):
        ``n_pairs, n_positive, n_negative, direction, positive_mean, negative_mean, threshold,
        threshold_rule, threshold_fitted_on, protocol, accuracy, balanced_accuracy, precision, recall,
        roc_auc, eer, confusion{true_positives, false_positives, true_negatives, false_negatives},
        thresholds{rule: value} (None each when nothing was fitted), thresholds_fitted_on,
        val_accuracy (validation accuracy at the threshold; None without validation scores or under the
        paper's protocol), accuracy_by_rule{rule: test accuracy at that rule's threshold},
        ci95{metric: [low, high]}, ci_unit, ci_method, n_classes,
        bootstrap{n_boot, seed, level, threshold_refitted, unit, method}`` (``n_boot`` 0 for the jackknife).

    Raises:
        ConfigError: see :func:`check_protocol`; a missing or mismatched class list for
            ``ci_unit="class"``; invalid scores, labels, rule or direction.
    """
    check_direction(direction)
    check_rule(threshold_rule)
    scores, labels = check_scores_labels(scores, labels, what="test scores")
    if (val_scores is None) != (val_labels is None):
        raise ConfigError("give both val_scores and val_labels, or neither")
    if val_scores is not None:
        val_scores, val_labels = check_scores_labels(val_scores, val_labels, what="validation scores")
    check_protocol(
        protocol, has_val=val_scores is not None, threshold=threshold, threshold_rule=threshold_rule
    )
    clusters = _check_ci_unit(ci_unit, clusters, labels.size)
    if protocol == "paper":
        fit_scores, fit_labels, fitted_on = scores, labels, "test"
    elif val_scores is not None:
        fit_scores, fit_labels, fitted_on = val_scores, val_labels, "val"
    else:  # a given threshold and nothing to fit the other rules on
        fit_scores = fit_labels = fitted_on = None

    rule_thresholds = (
        _fit_every_rule(fit_scores, fit_labels, direction, target_far)
        if fit_scores is not None
        else {rule: None for rule in THRESHOLD_RULES}
    )
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
    # The paper fits its midpoint on the very pairs it scores; refitting it inside every resample (or
    # leave-one-class-out row) makes the interval include the threshold's own sampling noise.
    refit = threshold is None and chosen_from == "test" and threshold_rule == "midpoint"
    if clusters is not None:
        intervals = class_jackknife_intervals(
            scores, labels, chosen, direction=direction, clusters=clusters, level=level, refit_midpoint=refit
        )
    else:
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
        "protocol": protocol,
        # What a choice between methods or rules may look at: the accuracy on the pairs the threshold was
        # fitted on (None under the paper's protocol, where those are the test pairs themselves).
        "val_accuracy": (
            compute_metrics(val_scores, val_labels, chosen, direction=direction)["accuracy"]
            if val_scores is not None and protocol != "paper"
            else None
        ),
        "val_roc_auc": (roc_auc(val_scores, val_labels, direction=direction)
                        if val_scores is not None and protocol != "paper" and len(set(val_labels.tolist())) == 2
                        else None),
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
        "ci_unit": ci_unit,
        "ci_method": CI_METHODS[ci_unit],
        "n_classes": int(np.unique(clusters).size) if clusters is not None else None,
        "bootstrap": {
            "n_boot": int(n_boot) if clusters is None else 0,
            "seed": int(seed),
            "level": float(level),
            "threshold_refitted": bool(refit),
            "unit": ci_unit,
            "method": CI_METHODS[ci_unit],
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
    protocol: str = "val",
    ci_unit: str = "class",
    classes: Sequence[str] | None = None,
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
            scoring is not part of the reported speed. Required unless a threshold is given or
            ``protocol="paper"``.
        protocol, ci_unit: as :func:`evaluate_scores`.
        classes: class of each test pair for the class-level bootstrap; default
            :func:`~drugsim.evaluation.engine.pair_classes` (the parent folder of each pair's first image).
        per_pair: score the paper's way (describe both images for every pair) instead of the engine.
        cache_dir, n_jobs, batch_size, progress: passed to the engine.
        Other arguments: as :func:`evaluate_scores`.

    Returns:
        (result, test_scores): ``result`` = :func:`evaluate_scores`'s dict plus ``method``,
        ``method_config``, ``pairs_per_second``, ``timing`` and ``n_val_pairs``.
    """
    if not test_pairs:
        raise ConfigError("no test pairs to evaluate (the pair list is empty)")
    check_protocol(protocol, has_val=bool(val_pairs), threshold=threshold, threshold_rule=threshold_rule)
    from drugsim.evaluation.engine import pair_classes, pair_labels

    if ci_unit == "class" and classes is None:
        classes = pair_classes(test_pairs)
    scores, timing = timed_scores(
        method,
        test_pairs,
        per_pair=per_pair,
        cache_dir=cache_dir,
        n_jobs=n_jobs,
        progress=progress,
        batch_size=batch_size,
    )
    val_scores = val_labels = None
    if val_pairs and protocol != "paper":
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
        protocol=protocol,
        clusters=classes,
        ci_unit=ci_unit,
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
        "n_val_pairs": len(val_pairs) if val_pairs and protocol != "paper" else 0,
    }
    return result, scores
