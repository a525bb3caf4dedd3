"""Uncertainty by resampling: percentile bootstrap intervals, paired bootstrap comparisons, spread over seeds.

The paper reports single numbers (one test set, one run per model). Here every headline metric gets a
95 % interval. The *default* class-level interval is no longer the bootstrap of this module but the
delete-one-class jackknife with a t(G-1) quantile (:mod:`drugsim.evaluation.inference`), because a class-level
percentile bootstrap under-covers at the 8 to 60 classes of a run (its simulation test shows both). This
module keeps the percentile bootstrap, the pair-level interval (``ci_unit: pair``) and a reference: resample
with replacement ``n_boot`` times, recompute the metric, take the 2.5 % and 97.5 % quantiles.

What is resampled matters. Pairs share images and a test split holds only a handful of classes (drugs or
products), so pairs of one class are correlated: resampling pairs as if they were independent gives
intervals that are too narrow. By default callers resample *classes* (a cluster bootstrap): draw the
test classes with replacement and keep every pair that belongs to a drawn class, as often as the class
was drawn. A pair belongs to the class of its *first* image (``path_a``): a positive pair's two images
share that class, and a negative pair is counted once, with its first image's class, so each pair sits
in exactly one cluster (:func:`drugsim.evaluation.engine.pair_classes` makes the class list). Pair-level
resampling stays available (``clusters=None``), for comparison or for data without classes.

With few test classes a class-level percentile interval can take only a few distinct values and covers
less than its nominal level; results therefore report ``n_classes`` and ``ci_method`` beside every interval.

Resamples are drawn as count matrices: class counts ``(rows, K)`` expanded to pair weights ``(rows, N)``
(a pair's weight is how often its class was drawn), and all metrics of a block of resamples are computed
at once by :func:`drugsim.evaluation.metrics.weighted_metrics` (vectorised, no Python loop per resample).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> labels = rng.integers(0, 2, 400)
    >>> scores = labels + rng.normal(0, 1, 400)
    >>> classes = np.arange(400) % 20
    >>> ci = bootstrap_intervals(scores, labels, 0.5, direction="higher", clusters=classes, n_boot=200)
    >>> ci["accuracy"][0] < 0.69 < ci["accuracy"][1]
    True
"""

from __future__ import annotations

import math
from typing import Dict, Iterator, Optional, Sequence, Tuple

import numpy as np

from drugsim.errors import ConfigError
from drugsim.evaluation.metrics import METRIC_NAMES, _SortedScores, weighted_metrics
from drugsim.evaluation.thresholds import check_direction, check_scores_labels, orient

#: Resampled values held in memory at once (rows x pairs); bounds memory for 100k+ pair test sets.
_CHUNK_CELLS = 4_000_000


def resample_counts(
    n: int, n_boot: int, rng: np.random.Generator, *, chunk_cells: int = _CHUNK_CELLS
) -> Iterator[np.ndarray]:
    """Yield (rows, n) count matrices: how often each of ``n`` items is drawn in each resample."""
    rows_per_chunk = max(1, chunk_cells // max(n, 1))
    done = 0
    while done < n_boot:
        rows = min(rows_per_chunk, n_boot - done)
        draws = rng.integers(0, n, size=(rows, n))
        flat = (draws + (np.arange(rows) * n)[:, None]).ravel()
        yield np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float64)
        done += rows


def cluster_ids(clusters, n: int) -> np.ndarray:
    """(N,) integer class ids 0..K-1 of ``clusters`` (any sortable labels, one per pair), checked.

    Raises:
        ConfigError: when the length differs from the ``n`` pairs, or there are fewer than two classes
            (one class cannot be resampled: every resample would repeat it).
    """
    values = np.asarray(clusters).reshape(-1)
    if values.size != n:
        raise ConfigError(
            f"need one class per pair for the class-level bootstrap; got {values.size} classes for {n} pairs"
        )
    _, inverse = np.unique(values, return_inverse=True)
    inverse = inverse.reshape(-1)
    if n and inverse.max() < 1:
        raise ConfigError(
            f"the class-level bootstrap needs pairs from at least 2 classes; all {n} pairs belong to "
            f"{str(values[0])!r} (use pair-level intervals: ci_unit='pair')"
        )
    return inverse


def resample_weights(
    n: int,
    n_boot: int,
    rng: np.random.Generator,
    *,
    clusters=None,
    chunk_cells: int = _CHUNK_CELLS,
) -> Iterator[np.ndarray]:
    """Yield (rows, n) pair weights of ``n_boot`` resamples, in chunks.

    Args:
        n: number of pairs.
        n_boot: number of resamples.
        rng: the generator (the same seed gives the same resamples).
        clusters: (n,) class of each pair; when given, classes are drawn with replacement and each pair
            weighs as often as its class was drawn (cluster bootstrap); None resamples single pairs.
        chunk_cells: bound on rows x pairs held at once.
    """
    if clusters is None:
        yield from resample_counts(n, n_boot, rng, chunk_cells=chunk_cells)
        return
    inverse = cluster_ids(clusters, n)
    n_classes = int(inverse.max()) + 1
    rows_per_chunk = max(1, chunk_cells // max(n, 1))
    for class_counts in resample_counts(n_classes, n_boot, rng, chunk_cells=rows_per_chunk * n_classes):
        yield class_counts[:, inverse]


def percentile_interval(values: np.ndarray, level: float = 0.95) -> Tuple[float, float]:
    """The central ``level`` percentile interval of ``values`` (NaNs ignored; NaN if all are NaN)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (math.nan, math.nan)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return (float(low), float(high))


def bootstrap_metric_samples(
    scores,
    labels,
    threshold: float,
    *,
    direction: str,
    n_boot: int = 1000,
    seed: int | np.random.Generator | None = 0,
    refit_midpoint: bool = False,
    clusters=None,
) -> Dict[str, np.ndarray]:
    """Every metric of :data:`~drugsim.evaluation.metrics.METRIC_NAMES` on ``n_boot`` resamples.

    Args:
        scores, labels: (N,) scored pairs (method's scale) and 0/1 labels.
        threshold: the decision threshold (method's scale), kept fixed across resamples unless
            ``refit_midpoint``.
        direction: ``"higher"`` or ``"lower"``.
        n_boot: number of resamples.
        seed: seed or generator; the same seed gives the same resamples.
        refit_midpoint: refit the paper's midpoint threshold inside every resample (use when the
            threshold was fitted on the evaluated pairs themselves, as the paper does, so the interval
            includes the threshold's own sampling noise).
        clusters: (N,) class of each pair for the class-level (cluster) bootstrap; None resamples pairs.

    Returns:
        dict metric -> (n_boot,) array (``threshold`` included when refitted).
    """
    check_direction(direction)
    scores, labels = check_scores_labels(scores, labels)
    if n_boot < 1:
        raise ConfigError(f"n_boot must be a positive number of resamples; got {n_boot}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    oriented = orient(scores, direction)
    sign = 1.0 if direction == "higher" else -1.0
    fixed = float(threshold) * sign
    sorted_scores = _SortedScores(oriented, labels)
    parts: Dict[str, list] = {name: [] for name in METRIC_NAMES}
    thresholds_used = []
    for counts in resample_weights(labels.size, n_boot, rng, clusters=clusters):
        if refit_midpoint:
            w_pos = counts[:, labels == 1]
            w_neg = counts[:, labels == 0]
            with np.errstate(invalid="ignore", divide="ignore"):
                pos_mean = (w_pos @ oriented[labels == 1]) / w_pos.sum(axis=1)
                neg_mean = (w_neg @ oriented[labels == 0]) / w_neg.sum(axis=1)
            row_thresholds = (pos_mean + neg_mean) / 2.0
            row_thresholds = np.where(np.isfinite(row_thresholds), row_thresholds, fixed)
            thresholds_used.append(row_thresholds * sign)
        else:
            row_thresholds = fixed
        values = weighted_metrics(
            oriented, labels, counts, row_thresholds, sorted_scores=sorted_scores, scale_sign=sign
        )
        for name in METRIC_NAMES:
            parts[name].append(values[name])
    out = {name: np.concatenate(chunks) for name, chunks in parts.items()}
    if refit_midpoint:
        out["threshold"] = np.concatenate(thresholds_used)
    return out


def bootstrap_intervals(
    scores,
    labels,
    threshold: float,
    *,
    direction: str,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
    refit_midpoint: bool = False,
    clusters=None,
) -> Dict[str, Tuple[float, float]]:
    """Percentile bootstrap interval (``level``, default 95 %) of every metric; see
    :func:`bootstrap_metric_samples` for the arguments."""
    samples = bootstrap_metric_samples(
        scores,
        labels,
        threshold,
        direction=direction,
        n_boot=n_boot,
        seed=seed,
        refit_midpoint=refit_midpoint,
        clusters=clusters,
    )
    return {name: percentile_interval(values, level) for name, values in samples.items()}


def _paired_correct(correct_a, correct_b) -> tuple[np.ndarray, np.ndarray]:
    """Both methods' per-pair correctness as (N,) floats, checked to cover the same non-empty pair list."""
    a = np.asarray(correct_a, dtype=np.float64).reshape(-1)
    b = np.asarray(correct_b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape or a.size == 0:
        raise ConfigError(
            "paired comparison needs the same non-empty pair list for both methods; "
            f"got {a.size} and {b.size}"
        )
    return a, b


def paired_bootstrap_difference(
    correct_a,
    correct_b,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
    clusters=None,
) -> Dict[str, float]:
    """Accuracy of method A minus method B on the same pairs, with a paired bootstrap interval.

    Both methods are resampled with the same draws, so the pair-to-pair difficulty they share cancels out
    (a much tighter interval than comparing two separate intervals). With ``clusters`` the draws are of
    classes (cluster bootstrap), so methods that differ on a few classes are not credited with every pair
    of those classes as independent evidence. Its p-value is coarse when there are few classes; the chapters
    decide whether a difference is real with :func:`drugsim.evaluation.inference.paired_class_test`.

    Args:
        correct_a, correct_b: (N,) booleans, whether each method decided pair i correctly.
        clusters: (N,) class of each pair; None resamples single pairs.

    Returns:
        ``{"difference", "ci_low", "ci_high", "p_value"}``; the two-sided p-value is the bootstrap
        share of resampled differences on the other side of zero, doubled (capped at 1).
    """
    a, b = _paired_correct(correct_a, correct_b)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    delta = a - b
    diffs = np.concatenate(
        [_row_means(weights, delta) for weights in resample_weights(a.size, n_boot, rng, clusters=clusters)]
    )
    observed = float(delta.mean())
    low, high = percentile_interval(diffs, level)
    if observed >= 0:
        tail = np.mean(diffs <= 0)
    else:
        tail = np.mean(diffs >= 0)
    return {"difference": observed, "ci_low": low, "ci_high": high, "p_value": float(min(1.0, 2.0 * tail))}


def cluster_sign_test(
    correct_a,
    correct_b,
    clusters,
    *,
    n_perm: int = 20000,
    seed: int | np.random.Generator | None = 0,
    exact_up_to: int = 16,
) -> dict[str, float]:
    """Are two methods' accuracies different on the same pairs? A sign-flip test over classes.

    Each class contributes the sum of its pairs' differences (A right minus B right). Under the null
    hypothesis the two methods are exchangeable, so every class's contribution is as likely to have the
    opposite sign; the p-value is the share of the ``2^K`` sign assignments whose total is at least as far
    from zero as the observed one (all of them enumerated for ``K <= exact_up_to`` classes, else
    ``n_perm`` random ones). Unlike a bootstrap over few classes it cannot call a difference real on too
    little evidence: with ``K`` classes the smallest possible p-value is ``2 / 2^K`` (0.5 for two classes).

    Args:
        correct_a, correct_b: (N,) booleans, whether each method decided pair i correctly.
        clusters: (N,) class of each pair (see :func:`drugsim.evaluation.engine.pair_classes`).
        n_perm, seed: random sign assignments and their seed, when there are too many to enumerate.
        exact_up_to: enumerate every assignment up to this many classes.

    Returns:
        ``{"p_value", "n_classes", "exact"}``.
    """
    a, b = _paired_correct(correct_a, correct_b)
    inverse = cluster_ids(clusters, a.size)
    totals = np.bincount(inverse, weights=a - b)
    observed = abs(float(totals.sum()))
    k = totals.size
    exact = k <= exact_up_to
    if exact:
        signs = 1.0 - 2.0 * ((np.arange(2**k)[:, None] >> np.arange(k)) & 1)
    else:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        signs = rng.choice([-1.0, 1.0], size=(n_perm, k))
    extreme = np.abs(signs @ totals) >= observed - 1e-9
    p_value = float(np.mean(extreme)) if exact else float((1 + extreme.sum()) / (n_perm + 1))
    return {"p_value": min(1.0, p_value), "n_classes": int(k), "exact": bool(exact)}


def _row_means(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Weighted mean of ``values`` for each weight row (a cluster resample's number of pairs varies)."""
    return (weights @ values) / weights.sum(axis=1)


def mcnemar_test(correct_a, correct_b) -> Dict[str, float]:
    """Exact McNemar test: do two methods err on the same pairs at different rates?

    It assumes independent pairs, which pairs sharing images and classes are not, so it is reported as a
    pair-level reference only; :func:`drugsim.evaluation.inference.paired_class_test` decides.

    Only discordant pairs count: ``b01`` = A right, B wrong; ``b10`` = A wrong, B right. Under the null
    both are equally likely, so ``min(b01, b10)`` is Binomial(b01 + b10, 1/2); the two-sided p-value
    doubles the lower tail (capped at 1).

    Returns:
        ``{"a_only_correct", "b_only_correct", "p_value"}``.
    """
    a = np.asarray(correct_a, dtype=bool).reshape(-1)
    b = np.asarray(correct_b, dtype=bool).reshape(-1)
    if a.shape != b.shape:
        raise ConfigError(f"McNemar needs the same pairs for both methods; got {a.size} and {b.size}")
    a_only = int(np.sum(a & ~b))
    b_only = int(np.sum(~a & b))
    n = a_only + b_only
    if n == 0:
        return {"a_only_correct": 0, "b_only_correct": 0, "p_value": 1.0}
    from scipy.stats import binom

    p_value = min(1.0, 2.0 * float(binom.cdf(min(a_only, b_only), n, 0.5)))
    return {"a_only_correct": a_only, "b_only_correct": b_only, "p_value": p_value}


def summarise_seeds(values: Sequence[float]) -> Dict[str, Optional[float]]:
    """Mean and spread of one metric over several training seeds.

    Returns:
        ``{"n", "mean", "std" (sample, ddof=1; None for one seed), "min", "max", "values"}``.
    """
    arr = np.asarray(list(values), dtype=np.float64)
    if arr.size == 0:
        raise ConfigError("summarise_seeds needs at least one value (one per seed)")
    return {
        "n": int(arr.size),
        "mean": float(arr.mean()),
        "std": float(arr.std(ddof=1)) if arr.size > 1 else None,
        "min": float(arr.min()),
        "max": float(arr.max()),
        "values": [float(v) for v in arr],
    }
