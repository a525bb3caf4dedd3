"""Decision thresholds: the paper's midpoint rule and four principled rules, all direction-aware.

The paper sets every threshold at the midpoint of the positive and negative mean scores, computed on the
test pairs themselves (section 2.5: SIFT ~160, ORB ~200), and names a principled choice as future work.
Here each rule is a function of scores and labels, so it can be fitted on validation pairs and applied
unchanged to test pairs (:mod:`drugsim.evaluation.evaluate`).

Conventions:
    * A pair is predicted similar when ``score >= threshold`` for ``direction="higher"`` and when
      ``score <= threshold`` for ``direction="lower"`` (ties count as similar, as
      :meth:`drugsim.methods.SimilarityMethod.is_similar`).
    * Internally every rule works on *oriented* scores (``-score`` when lower means more similar), so one
      code path serves both directions; thresholds are returned on the method's own scale.
    * The search rules (``max_accuracy``, ``youden``, ``eer``, ``far``) only consider thresholds halfway
      between neighbouring distinct scores (plus one below the smallest and one above the largest), so a
      fitted threshold never coincides with a fitting score and the tie convention cannot change the fit.
      Among equally good thresholds the middle one (the median candidate) is taken.

Example:
    >>> import numpy as np
    >>> scores = np.array([0.9, 0.8, 0.4, 0.6, 0.3, 0.1])
    >>> labels = np.array([1, 1, 1, 0, 0, 0])
    >>> round(fit_threshold(scores, labels, rule="midpoint", direction="higher"), 4)
    0.5167
    >>> round(fit_threshold(scores, labels, rule="max_accuracy", direction="higher"), 4)
    0.35
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np

from drugsim.errors import ConfigError

#: Every rule, in the order reports list them.
THRESHOLD_RULES: Tuple[str, ...] = ("midpoint", "max_accuracy", "youden", "eer", "far")
DIRECTIONS: Tuple[str, ...] = ("higher", "lower")


def default_threshold(method, *, paper_protocol: bool = False) -> Tuple[Optional[float], str]:
    """The threshold ``drugsim compare`` uses when none is given, and where it comes from.

    Only settings that no test pairs chose are defaults: the method's own ``threshold`` attribute (a
    Siamese checkpoint stores the one it was trained with, 0.8 in the paper); the cosine threshold the
    paper suggests in section 2.2 (0.8); a conventional cut for the 64-bit hashes (at most 10 differing
    bits, i.e. at least 54 equal bits, a common near-duplicate setting, not from the paper). The paper's
    Table 8 thresholds (SIFT, ORB) are midpoints fitted on the paper's own test pairs, so they are used
    only with ``paper_protocol=True`` and labelled so. Everything else needs a threshold fitted on
    validation pairs (``drugsim evaluate --json``, then ``--threshold-from``); histogram metrics never get
    one, since the paper shows they do not separate matching from non-matching faces.

    Returns:
        (threshold or None, a short description of its source).
    """
    from drugsim import paper

    own = getattr(method, "threshold", None)
    if own is not None:
        return float(own), "the checkpoint's training threshold (paper section 4.2)"
    name = getattr(method, "name", str(method))
    if name in paper.TABLE8_THRESHOLDS:
        if paper_protocol:
            return (
                float(paper.TABLE8_THRESHOLDS[name]),
                "paper's protocol: Table 8, the midpoint of the paper's own test pairs' means",
            )
        return None, "no validation-fitted default (Table 8's value was fitted on the paper's test pairs)"
    if name == "cosine":
        return float(paper.TRAINING["siamese"]["threshold"]), "paper section 2.2 (cosine threshold e.g. 0.8)"
    if name in ("ahash", "phash", "dhash", "whash"):
        return 54.0, "conventional near-duplicate cut: at least 54 of 64 bits equal (not from the paper)"
    return None, "no default for this method"


def check_direction(direction: str) -> str:
    """Return ``direction`` or raise a clear :class:`ConfigError`."""
    if direction not in DIRECTIONS:
        raise ConfigError(f"direction {direction!r} is not supported. Try one of {list(DIRECTIONS)}")
    return direction


def check_rule(rule: str) -> str:
    """Return ``rule`` or raise a clear :class:`ConfigError`."""
    if rule not in THRESHOLD_RULES:
        raise ConfigError(f"threshold rule {rule!r} is not supported. Try one of {list(THRESHOLD_RULES)}")
    return rule


def check_scores_labels(scores, labels, *, what: str = "scores") -> Tuple[np.ndarray, np.ndarray]:
    """Validate and convert to float64 scores and int8 {0, 1} labels of equal length.

    Raises:
        ConfigError: shapes differ, labels other than 0/1, non-finite scores, or an empty set.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels_arr = np.asarray(labels).reshape(-1)
    if scores.shape != labels_arr.shape:
        raise ConfigError(
            f"{what}: {scores.size} scores but {labels_arr.size} labels; expected one label per score"
        )
    if scores.size == 0:
        raise ConfigError(f"{what}: no pairs (expected at least one positive and one negative pair)")
    if not np.all(np.isfinite(scores)):
        bad = int(np.sum(~np.isfinite(scores)))
        raise ConfigError(f"{what}: {bad} scores are NaN or infinite; expected finite numbers")
    if not np.all(np.isin(labels_arr, (0, 1))):
        raise ConfigError(
            f"{what}: labels must be 0 (different) or 1 (similar); got {np.unique(labels_arr)[:5]}"
        )
    return scores, labels_arr.astype(np.int8)


def orient(scores: np.ndarray, direction: str) -> np.ndarray:
    """Scores with higher = more similar (negated when ``direction == "lower"``)."""
    scores = np.asarray(scores, dtype=np.float64)
    return scores if check_direction(direction) == "higher" else -scores


def predict(scores, threshold: float, *, direction: str) -> np.ndarray:
    """Boolean array: True where a pair is predicted similar at ``threshold``."""
    return orient(scores, direction) >= (threshold if direction == "higher" else -threshold)


def candidate_thresholds(oriented_scores: np.ndarray) -> np.ndarray:
    """Thresholds halfway between neighbouring distinct oriented scores, plus one beyond each end.

    Returns an increasing array of length ``n_distinct + 1``; candidate ``k`` accepts exactly the scores at
    or above the ``k``-th distinct value (``k = n_distinct`` accepts none).
    """
    values = np.unique(oriented_scores)
    if values.size == 1:
        return np.array([values[0] - 0.5, values[0] + 0.5])
    gaps = np.diff(values)
    half_gap = gaps / 2.0
    inner = values[:-1] + half_gap
    return np.concatenate([[values[0] - half_gap[0]], inner, [values[-1] + half_gap[-1]]])


def rates_at(oriented_scores: np.ndarray, labels: np.ndarray, thresholds: np.ndarray):
    """True and false accept rates (TPR, FPR) at each oriented threshold (vectorised).

    Returns:
        (tpr, fpr), arrays shaped like ``thresholds``.
    """
    positives = np.sort(oriented_scores[labels == 1])
    negatives = np.sort(oriented_scores[labels == 0])
    tp = positives.size - np.searchsorted(positives, thresholds, side="left")
    fp = negatives.size - np.searchsorted(negatives, thresholds, side="left")
    tpr = tp / positives.size if positives.size else np.zeros_like(thresholds)
    fpr = fp / negatives.size if negatives.size else np.zeros_like(thresholds)
    return np.asarray(tpr, dtype=np.float64), np.asarray(fpr, dtype=np.float64)


def _middle_best(candidates: np.ndarray, objective: np.ndarray) -> float:
    """The median candidate among those maximising ``objective`` (ties broken toward the middle)."""
    best = np.flatnonzero(objective >= objective.max() - 1e-12)
    return float(candidates[best[(best.size - 1) // 2]])


def _fit_oriented(oriented: np.ndarray, labels: np.ndarray, rule: str, target_far: float) -> float:
    n_pos = int(labels.sum())
    n_neg = int(labels.size - n_pos)
    if rule == "midpoint":
        if n_pos == 0 or n_neg == 0:
            raise ConfigError(
                f"the midpoint rule needs positive and negative pairs; got {n_pos} positive, {n_neg} negative"
            )
        return float((oriented[labels == 1].mean() + oriented[labels == 0].mean()) / 2.0)
    if n_pos == 0 or n_neg == 0:
        raise ConfigError(
            f"threshold rule {rule!r} needs positive and negative pairs; "
            f"got {n_pos} positive, {n_neg} negative"
        )
    candidates = candidate_thresholds(oriented)
    tpr, fpr = rates_at(oriented, labels, candidates)
    if rule == "max_accuracy":
        correct = tpr * n_pos + (1.0 - fpr) * n_neg
        return _middle_best(candidates, correct)
    if rule == "youden":
        return _middle_best(candidates, tpr - fpr)
    if rule == "eer":
        # False accept rate = fpr, false reject rate = 1 - tpr; the closest they come to each other.
        return _middle_best(candidates, -np.abs(fpr - (1.0 - tpr)))
    if rule == "far":
        allowed = np.flatnonzero(fpr <= target_far + 1e-12)
        # fpr falls as the threshold rises; the lowest allowed threshold accepts the most positives.
        return float(candidates[allowed[0]])
    raise ConfigError(f"threshold rule {rule!r} is not supported. Try one of {list(THRESHOLD_RULES)}")


def fit_threshold(
    scores,
    labels,
    *,
    rule: str = "midpoint",
    direction: str = "higher",
    target_far: float = 0.01,
) -> float:
    """Fit a decision threshold on scored, labelled pairs.

    Args:
        scores: (N,) similarity scores on the method's own scale.
        labels: (N,) 1 for similar pairs, 0 for different ones.
        rule: ``"midpoint"`` (paper, section 2.5: mean of the positive and negative means),
            ``"max_accuracy"``, ``"youden"`` (max TPR - FPR), ``"eer"`` (false accepts = false rejects),
            ``"far"`` (the most permissive threshold whose false-accept rate is at most ``target_far``).
        direction: ``"higher"`` or ``"lower"``: which way the method's scores mean "more similar".
        target_far: the false-accept rate the ``"far"`` rule may not exceed, in [0, 1].

    Returns:
        The threshold on the method's scale; predict similar when ``score >= t`` (higher) or
        ``score <= t`` (lower).

    Raises:
        ConfigError: unknown rule or direction, bad scores/labels, or only one class of pairs.

    References:
        Paper section 2.5 (midpoint); Youden (1950); the EER and FAR operating points of biometrics.
    """
    check_rule(rule)
    check_direction(direction)
    if not 0.0 <= float(target_far) <= 1.0:
        raise ConfigError(f"target_far must be a rate in [0, 1]; got {target_far}")
    scores, labels = check_scores_labels(scores, labels)
    threshold = _fit_oriented(orient(scores, direction), labels, rule, float(target_far))
    return threshold if direction == "higher" else -threshold


def fit_all_thresholds(
    scores,
    labels,
    *,
    direction: str = "higher",
    target_far: float = 0.01,
) -> Dict[str, float]:
    """Every rule's threshold on the same pairs, keyed as :data:`THRESHOLD_RULES`."""
    return {
        rule: fit_threshold(scores, labels, rule=rule, direction=direction, target_far=target_far)
        for rule in THRESHOLD_RULES
    }
