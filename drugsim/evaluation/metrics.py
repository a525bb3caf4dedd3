"""Verification metrics of scored pairs: accuracy, balanced accuracy, precision, recall, ROC-AUC, EER.

Every metric is computed by one weighted core, :func:`weighted_metrics`, in which each pair carries a
weight (a count). Point estimates use weight 1 for every pair; a bootstrap resample is the same pairs with
the number of times each was drawn as weights (:mod:`drugsim.evaluation.bootstrap`), so intervals and point
estimates come from exactly the same code, vectorised over resamples.

ROC-AUC is exact and tie-aware (a tied positive/negative pair counts one half: the Mann-Whitney
statistic, as ``sklearn.metrics.roc_auc_score``). The equal error rate is read off the ROC curve where the
false-accept rate meets the false-reject rate, interpolating linearly between the two neighbouring points.

Example:
    >>> import numpy as np
    >>> scores = np.array([0.9, 0.8, 0.4, 0.6, 0.3, 0.1])
    >>> labels = np.array([1, 1, 1, 0, 0, 0])
    >>> round(roc_auc(scores, labels, direction="higher"), 4)
    0.8889
    >>> accuracy(scores, labels, 0.5, direction="higher")
    0.6666666666666666
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np

from drugsim.evaluation.thresholds import check_direction, check_scores_labels, orient

#: Metrics computed at a threshold and threshold-free ones; the keys of :func:`weighted_metrics`.
METRIC_NAMES: Tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "roc_auc",
    "eer",
    "positive_mean",
    "negative_mean",
)


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


class _SortedScores:
    """Oriented scores sorted descending and grouped into runs of equal values (shared by resamples)."""

    def __init__(self, oriented: np.ndarray, labels: np.ndarray):
        order = np.argsort(-oriented, kind="stable")
        self.order = order
        self.sorted_scores = oriented[order]
        self.sorted_labels = labels[order]
        # Index of the last element of each run of ties (in sorted order).
        boundaries = np.flatnonzero(np.diff(self.sorted_scores) != 0)
        self.group_ends = np.concatenate([boundaries, [oriented.size - 1]])


def weighted_metrics(
    oriented: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    thresholds: np.ndarray | float,
    *,
    sorted_scores: Optional[_SortedScores] = None,
    scale_sign: float = 1.0,
) -> Dict[str, np.ndarray]:
    """All metrics of :data:`METRIC_NAMES` for each row of ``weights``.

    Args:
        oriented: (N,) scores with higher = more similar.
        labels: (N,) 0/1.
        weights: (B, N) non-negative counts, one row per (re)sample.
        thresholds: oriented threshold, scalar or (B,) (one per row, e.g. refitted per resample).
        sorted_scores: precomputed sort of ``oriented`` (saves time across chunks).
        scale_sign: +1, or -1 when the method's scale is "lower"; only used to report the means of
            positive and negative scores on the method's own scale.

    Returns:
        dict of (B,) float arrays; NaN where a metric is undefined (e.g. AUC without negatives).
    """
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    positive = labels == 1
    negative = ~positive
    w_pos = weights[:, positive]
    w_neg = weights[:, negative]
    total_pos = w_pos.sum(axis=1)
    total_neg = w_neg.sum(axis=1)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if thresholds.ndim == 0:
        accept_pos = (oriented[positive] >= thresholds).astype(np.float64)
        accept_neg = (oriented[negative] >= thresholds).astype(np.float64)
        tp = w_pos @ accept_pos
        fp = w_neg @ accept_neg
    else:
        tp = np.sum(w_pos * (oriented[positive][None, :] >= thresholds[:, None]), axis=1)
        fp = np.sum(w_neg * (oriented[negative][None, :] >= thresholds[:, None]), axis=1)
    tn = total_neg - fp
    tpr = _safe_divide(tp, total_pos)
    tnr = _safe_divide(tn, total_neg)
    out: Dict[str, np.ndarray] = {
        "accuracy": _safe_divide(tp + tn, total_pos + total_neg),
        "balanced_accuracy": (tpr + tnr) / 2.0,
        "precision": _safe_divide(tp, tp + fp),
        "recall": tpr,
        "positive_mean": _safe_divide(w_pos @ (scale_sign * oriented[positive]), total_pos),
        "negative_mean": _safe_divide(w_neg @ (scale_sign * oriented[negative]), total_neg),
    }
    auc, eer_value = _weighted_auc_eer(oriented, labels, weights, sorted_scores)
    out["roc_auc"] = auc
    out["eer"] = eer_value
    return out


def _weighted_auc_eer(
    oriented: np.ndarray, labels: np.ndarray, weights: np.ndarray, sorted_scores: Optional[_SortedScores]
) -> Tuple[np.ndarray, np.ndarray]:
    """ROC-AUC (ties count 1/2) and EER of each weight row, from one descending sort of the scores."""
    ss = sorted_scores if sorted_scores is not None else _SortedScores(oriented, labels)
    w_sorted = weights[:, ss.order]
    pos_w = w_sorted * (ss.sorted_labels == 1)
    neg_w = w_sorted * (ss.sorted_labels == 0)
    # Cumulative counts at the end of each tie group: the ROC points, from the strictest threshold down.
    cum_tp = np.cumsum(pos_w, axis=1)[:, ss.group_ends]
    cum_fp = np.cumsum(neg_w, axis=1)[:, ss.group_ends]
    total_pos = cum_tp[:, -1:]
    total_neg = cum_fp[:, -1:]
    zeros = np.zeros((weights.shape[0], 1))
    tpr = np.concatenate([zeros, _safe_divide(cum_tp, total_pos)], axis=1)
    fpr = np.concatenate([zeros, _safe_divide(cum_fp, total_neg)], axis=1)
    # Trapezoids: exact Mann-Whitney AUC, a tie group contributes half of its positive x negative pairs.
    auc = np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]) / 2.0, axis=1)
    # EER: where the false-reject rate (1 - tpr) meets the false-accept rate (fpr).
    gap = (1.0 - tpr) - fpr  # starts at 1, falls to -1
    crossed = gap <= 0
    k = np.argmax(crossed, axis=1)  # first point at or past the crossing (exists: the last gap is -1)
    k = np.maximum(k, 1)
    rows = np.arange(weights.shape[0])
    g0, g1 = gap[rows, k - 1], gap[rows, k]
    f0, f1 = fpr[rows, k - 1], fpr[rows, k]
    step = _safe_divide(g0, g0 - g1)
    step = np.where(np.isfinite(step), step, 0.0)
    eer_value = f0 + step * (f1 - f0)
    undefined = (total_pos[:, 0] <= 0) | (total_neg[:, 0] <= 0)
    auc = np.where(undefined, np.nan, auc)
    eer_value = np.where(undefined, np.nan, eer_value)
    return auc, eer_value


def _prepare(scores, labels, direction: str) -> Tuple[np.ndarray, np.ndarray]:
    check_direction(direction)
    scores, labels = check_scores_labels(scores, labels)
    return orient(scores, direction), labels


def _oriented_threshold(threshold: float, direction: str) -> float:
    return float(threshold) if direction == "higher" else -float(threshold)


def compute_metrics(scores, labels, threshold: float, *, direction: str) -> Dict[str, float]:
    """Every metric of :data:`METRIC_NAMES` plus the confusion counts at ``threshold``.

    Args:
        scores: (N,) scores on the method's scale.
        labels: (N,) 0/1.
        threshold: on the method's scale (similar when ``score >= t``, or ``<= t`` for "lower").
        direction: ``"higher"`` or ``"lower"``.
    """
    oriented, labels = _prepare(scores, labels, direction)
    sign = 1.0 if direction == "higher" else -1.0
    values = weighted_metrics(
        oriented,
        labels,
        np.ones((1, labels.size)),
        _oriented_threshold(threshold, direction),
        scale_sign=sign,
    )
    result = {name: float(values[name][0]) for name in METRIC_NAMES}
    accepted = oriented >= _oriented_threshold(threshold, direction)
    result.update(
        n_positive=int(np.sum(labels == 1)),
        n_negative=int(np.sum(labels == 0)),
        true_positives=int(np.sum(accepted & (labels == 1))),
        false_positives=int(np.sum(accepted & (labels == 0))),
        true_negatives=int(np.sum(~accepted & (labels == 0))),
        false_negatives=int(np.sum(~accepted & (labels == 1))),
    )
    return result


def accuracy(scores, labels, threshold: float, *, direction: str) -> float:
    """Share of pairs decided correctly at ``threshold`` (paper, Tables 8-9)."""
    oriented, labels = _prepare(scores, labels, direction)
    return float(np.mean((oriented >= _oriented_threshold(threshold, direction)) == (labels == 1)))


def balanced_accuracy(scores, labels, threshold: float, *, direction: str) -> float:
    """Mean of the true-positive and true-negative rates at ``threshold``."""
    return compute_metrics(scores, labels, threshold, direction=direction)["balanced_accuracy"]


def precision_recall(scores, labels, threshold: float, *, direction: str) -> Tuple[float, float]:
    """(precision, recall) of the "similar" decision at ``threshold`` (precision NaN if none accepted)."""
    values = compute_metrics(scores, labels, threshold, direction=direction)
    return values["precision"], values["recall"]


def roc_auc(scores, labels, *, direction: str) -> float:
    """Exact, tie-aware area under the ROC curve (probability a positive outscores a negative, ties 1/2)."""
    oriented, labels = _prepare(scores, labels, direction)
    auc, _ = _weighted_auc_eer(oriented, labels, np.ones((1, labels.size)), None)
    return float(auc[0])


def eer(scores, labels, *, direction: str) -> float:
    """Equal error rate: where false accepts equal false rejects on the ROC curve (linear interpolation)."""
    oriented, labels = _prepare(scores, labels, direction)
    _, value = _weighted_auc_eer(oriented, labels, np.ones((1, labels.size)), None)
    return float(value[0])


def roc_curve(scores, labels, *, direction: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC points from the strictest threshold down.

    Returns:
        (fpr, tpr, thresholds): thresholds on the method's scale; the first point (0, 0) has threshold
        +inf (or -inf for "lower"): nothing accepted.
    """
    oriented, labels = _prepare(scores, labels, direction)
    ss = _SortedScores(oriented, labels)
    cum_tp = np.cumsum(ss.sorted_labels == 1)[ss.group_ends]
    cum_fp = np.cumsum(ss.sorted_labels == 0)[ss.group_ends]
    tpr = np.concatenate([[0.0], _safe_divide(cum_tp, cum_tp[-1])])
    fpr = np.concatenate([[0.0], _safe_divide(cum_fp, cum_fp[-1])])
    thresholds = np.concatenate([[np.inf], ss.sorted_scores[ss.group_ends]])
    return fpr, tpr, thresholds if direction == "higher" else -thresholds
