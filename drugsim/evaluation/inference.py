"""Class-level inference: delete-one-class jackknife intervals with a t(G-1) quantile, and the paired test.

Pairs of one class (drug or product) share images and difficulty, so the unit of evidence is the class,
not the pair. With the 8 to 60 test classes a run has, a class-level *percentile* bootstrap is too narrow:
in a simulation with a between-class spread of 0.03 in accuracy its nominal 95 % interval covers the true
accuracy in about 90 % of repetitions at 8 classes (``tests/evaluation/test_inference.py`` shows it). The
default interval here is instead the delete-one-class jackknife with a Student t quantile on ``G - 1``
degrees of freedom:

* leave class ``g`` out and recompute the metric on the remaining pairs (``theta_(g)``), for every class;
* ``se = sqrt((G - 1) / G * sum_g (theta_(g) - mean_g theta_(g))^2)``;
* interval ``theta_hat +- t_{G-1, (1 + level) / 2} * se`` (clipped to [0, 1] for rates).

For accuracy (a ratio of correct pairs to pairs) the jackknife variance is the leave-one-cluster-out form of
the cluster-robust (CR) variance of a ratio estimator, slightly conservative, and the t(G-1) quantile is the
usual small-G correction; the same construction serves every metric of
:func:`drugsim.evaluation.metrics.weighted_metrics`, since a left-out class is one weight row of zeros.
``tests/evaluation/test_inference.py`` shows its coverage at G = 20 and 40 classes of unequal size.

Two methods scored on the same pairs are compared by :func:`paired_class_test`: the difference of their
accuracies with the same jackknife interval and a two-sided t(G-1) p-value, so pairs shared by both
methods cancel and each class counts once as evidence.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> labels = rng.integers(0, 2, 400)
    >>> scores = labels + rng.normal(0, 1, 400)
    >>> classes = np.arange(400) % 20
    >>> ci = class_jackknife_intervals(scores, labels, 0.5, direction="higher", clusters=classes)
    >>> ci["accuracy"][0] < 0.69 < ci["accuracy"][1]
    True

References:
    Efron and Stein (1981), "The jackknife estimate of variance"; Cameron and Miller (2015), "A
    practitioner's guide to cluster-robust inference", sections IV and VI (few clusters, t(G-1) critical
    values, CR3/jackknife variance).
"""

from __future__ import annotations

import math
from typing import Dict, Iterator, Tuple

import numpy as np

from drugsim.errors import ConfigError
from drugsim.evaluation.bootstrap import cluster_ids
from drugsim.evaluation.metrics import METRIC_NAMES, _SortedScores, weighted_metrics
from drugsim.evaluation.thresholds import check_direction, check_scores_labels, orient

#: How results name the default class-level interval.
CLASS_JACKKNIFE_T = "class-jackknife-t"
#: How results name the pair-level percentile bootstrap (``ci_unit: pair``).
PAIR_PERCENTILE_BOOTSTRAP = "pair-percentile-bootstrap"
#: Metrics that are rates: their intervals are clipped to [0, 1].
_RATES = frozenset({"accuracy", "balanced_accuracy", "precision", "recall", "roc_auc", "eer"})
#: Leave-one-out weight cells held in memory at once (rows x pairs).
_CHUNK_CELLS = 4_000_000


def t_quantile(level: float, dof: int) -> float:
    """The two-sided ``level`` quantile of Student's t with ``dof`` degrees of freedom.

    Example:
        >>> round(t_quantile(0.95, 19), 3)
        2.093
    """
    from scipy.stats import t

    if not 0.0 < level < 1.0:
        raise ConfigError(f"level must be between 0 and 1 (e.g. 0.95); got {level}")
    if dof < 1:
        raise ConfigError(f"a t interval needs at least 1 degree of freedom (2 classes); got {dof}")
    return float(t.ppf((1.0 + level) / 2.0, dof))


def leave_one_class_out_weights(inverse: np.ndarray, *, chunk_cells: int = _CHUNK_CELLS) -> Iterator[np.ndarray]:
    """Yield (rows, N) pair weights: row g keeps every pair except those of class g (in chunks of classes).

    Args:
        inverse: (N,) class ids 0..G-1 of the pairs (:func:`drugsim.evaluation.bootstrap.cluster_ids`).
    """
    n_classes = int(inverse.max()) + 1
    rows_per_chunk = max(1, chunk_cells // max(inverse.size, 1))
    for start in range(0, n_classes, rows_per_chunk):
        left_out = np.arange(start, min(n_classes, start + rows_per_chunk))
        yield (inverse[None, :] != left_out[:, None]).astype(np.float64)


def jackknife_standard_error(left_out_values: np.ndarray) -> float:
    """Jackknife standard error from the G leave-one-class-out estimates (NaN rows ignored; NaN if < 2).

    Example:
        >>> round(jackknife_standard_error(np.array([0.5, 0.6, 0.7])), 4)
        0.1155
    """
    values = np.asarray(left_out_values, dtype=np.float64)
    values = values[np.isfinite(values)]
    g = values.size
    if g < 2:
        return math.nan
    return float(math.sqrt((g - 1) / g * np.sum((values - values.mean()) ** 2)))


def t_interval(estimate: float, standard_error: float, dof: int, level: float = 0.95, *,
               clip: bool = False) -> Tuple[float, float]:
    """``estimate +- t_{dof} * standard_error`` (clipped to [0, 1] when ``clip``); NaN when undefined."""
    if not (math.isfinite(estimate) and math.isfinite(standard_error)):
        return (math.nan, math.nan)
    half = t_quantile(level, dof) * standard_error
    low, high = estimate - half, estimate + half
    if clip:
        low, high = max(0.0, low), min(1.0, high)
    return (float(low), float(high))


def class_jackknife_samples(
    scores,
    labels,
    threshold: float,
    *,
    direction: str,
    clusters,
    refit_midpoint: bool = False,
) -> Dict[str, np.ndarray]:
    """Every metric of :data:`~drugsim.evaluation.metrics.METRIC_NAMES` with each class left out in turn.

    Args:
        scores, labels: (N,) scored pairs (method's scale) and 0/1 labels.
        threshold: the decision threshold (method's scale), fixed unless ``refit_midpoint``.
        direction: ``"higher"`` or ``"lower"``.
        clusters: (N,) class of each pair (at least two classes).
        refit_midpoint: refit the paper's midpoint on the remaining pairs of every leave-out row (when the
            threshold was fitted on the evaluated pairs themselves, so its own noise enters the interval).

    Returns:
        dict metric -> (G,) array, row g = the metric without class g (classes in sorted order).
    """
    check_direction(direction)
    scores, labels = check_scores_labels(scores, labels)
    inverse = cluster_ids(clusters, labels.size)
    oriented = orient(scores, direction)
    sign = 1.0 if direction == "higher" else -1.0
    fixed = float(threshold) * sign
    sorted_scores = _SortedScores(oriented, labels)
    parts: Dict[str, list] = {name: [] for name in METRIC_NAMES}
    for weights in leave_one_class_out_weights(inverse):
        if refit_midpoint:
            w_pos, w_neg = weights[:, labels == 1], weights[:, labels == 0]
            with np.errstate(invalid="ignore", divide="ignore"):
                row_thresholds = ((w_pos @ oriented[labels == 1]) / w_pos.sum(axis=1)
                                  + (w_neg @ oriented[labels == 0]) / w_neg.sum(axis=1)) / 2.0
            row_thresholds = np.where(np.isfinite(row_thresholds), row_thresholds, fixed)
        else:
            row_thresholds = fixed
        values = weighted_metrics(oriented, labels, weights, row_thresholds, sorted_scores=sorted_scores,
                                  scale_sign=sign)
        for name in METRIC_NAMES:
            parts[name].append(values[name])
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def class_jackknife_intervals(
    scores,
    labels,
    threshold: float,
    *,
    direction: str,
    clusters,
    level: float = 0.95,
    refit_midpoint: bool = False,
) -> Dict[str, Tuple[float, float]]:
    """The delete-one-class jackknife t(G-1) interval (``level``, default 95 %) of every metric.

    The centre is the metric on all pairs (at ``threshold``, or the midpoint refitted on all pairs when
    ``refit_midpoint``); the spread is :func:`jackknife_standard_error` of :func:`class_jackknife_samples`.
    Rates are clipped to [0, 1]; a metric that is undefined gets (NaN, NaN).

    Raises:
        ConfigError: fewer than two classes, or a class list of the wrong length.
    """
    check_direction(direction)
    scores, labels = check_scores_labels(scores, labels)
    inverse = cluster_ids(clusters, labels.size)
    dof = int(inverse.max())  # G - 1
    oriented = orient(scores, direction)
    sign = 1.0 if direction == "higher" else -1.0
    centre_threshold = float(threshold) * sign
    if refit_midpoint and 0 < labels.sum() < labels.size:  # the paper's midpoint needs both kinds of pair
        centre_threshold = (oriented[labels == 1].mean() + oriented[labels == 0].mean()) / 2.0
    centre = weighted_metrics(oriented, labels, np.ones((1, labels.size)), centre_threshold, scale_sign=sign)
    samples = class_jackknife_samples(scores, labels, threshold, direction=direction, clusters=clusters,
                                      refit_midpoint=refit_midpoint)
    out: Dict[str, Tuple[float, float]] = {}
    for name in METRIC_NAMES:
        estimate = float(centre[name][0])
        out[name] = t_interval(estimate, jackknife_standard_error(samples[name]), dof, level,
                               clip=name in _RATES)
    return out


def _paired_correct(correct_a, correct_b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(correct_a, dtype=np.float64).reshape(-1)
    b = np.asarray(correct_b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape or a.size == 0:
        raise ConfigError("a paired comparison needs both methods' correctness on the same non-empty pair "
                          f"list; got {a.size} and {b.size} pairs")
    return a, b


def paired_class_test(correct_a, correct_b, clusters, *, level: float = 0.95) -> Dict[str, float]:
    """Accuracy of method A minus method B on the same pairs: a class-level paired t-test.

    The difference is the pooled one, ``mean(a_i - b_i)`` over all pairs (each method's accuracy on these
    pairs, subtracted). Its standard error is the delete-one-class jackknife (the pooled difference with
    each class left out in turn), the interval ``difference +- t_{G-1} * se`` and the two-sided p-value
    ``2 * P(T_{G-1} > |difference / se|)``: a cluster-robust t-test on G - 1 degrees of freedom.
    Without any spread between the leave-out estimates (se = 0) the p-value is 0 for a non-zero
    difference and 1 for none.

    Args:
        correct_a, correct_b: (N,) booleans, whether each method decided pair i correctly.
        clusters: (N,) class of each pair (:func:`drugsim.evaluation.engine.pair_classes`).
        level: the interval's coverage.

    Returns:
        ``{"accuracy_a", "accuracy_b", "difference", "ci_low", "ci_high", "standard_error", "t", "p_value",
        "n_pairs", "n_classes", "method"}``.

    Example:
        >>> result = paired_class_test([1, 1, 1, 0, 1, 1], [1, 0, 1, 0, 0, 1], ["a", "a", "b", "b", "c", "c"])
        >>> round(result["difference"], 4), result["n_classes"]
        (0.3333, 3)
    """
    from scipy.stats import t as student_t

    a, b = _paired_correct(correct_a, correct_b)
    inverse = cluster_ids(clusters, a.size)
    n_classes = int(inverse.max()) + 1
    delta = a - b
    class_sums = np.bincount(inverse, weights=delta, minlength=n_classes)
    class_sizes = np.bincount(inverse, minlength=n_classes).astype(np.float64)
    difference = float(delta.mean())
    left_out = (class_sums.sum() - class_sums) / (class_sizes.sum() - class_sizes)
    se = jackknife_standard_error(left_out)
    dof = n_classes - 1
    low, high = t_interval(difference, se, dof, level)
    low, high = max(-1.0, low), min(1.0, high)  # a difference of two accuracies lies in [-1, 1]
    if se > 0:
        t_value = difference / se
        p_value = float(2.0 * student_t.sf(abs(t_value), dof))
    else:
        t_value = math.copysign(math.inf, difference) if difference else 0.0
        p_value = 0.0 if difference else 1.0
    return {"accuracy_a": float(a.mean()), "accuracy_b": float(b.mean()), "difference": difference,
            "ci_low": low, "ci_high": high, "standard_error": se, "t": float(t_value),
            "p_value": min(1.0, p_value), "n_pairs": int(a.size), "n_classes": n_classes,
            "method": CLASS_JACKKNIFE_T}


def holm_adjust(p_values) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (family-wise error control over the given family).

    Example:
        >>> holm_adjust([0.01, 0.04, 0.03]).round(2).tolist()
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    order = np.argsort(p, kind="stable")
    m = p.size
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted
