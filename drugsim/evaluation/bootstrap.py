"""Uncertainty: bootstrap percentile intervals over pairs, paired method comparisons, spread over seeds.

The paper reports single numbers (one test set, one run per model). Here every headline metric gets a
95 % percentile bootstrap interval over the test pairs: resample the pairs with replacement ``n_boot``
times, recompute the metric, take the 2.5 % and 97.5 % quantiles. Resamples are drawn as count matrices
and all metrics are computed for a block of resamples at once by :func:`drugsim.evaluation.metrics.
weighted_metrics` (vectorised, no Python loop per resample).

Pairs share images, so pair-level resampling treats correlated pairs as independent and tends to give
intervals that are somewhat too narrow; the book says so next to the numbers.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> labels = rng.integers(0, 2, 400)
    >>> scores = labels + rng.normal(0, 1, 400)
    >>> ci = bootstrap_intervals(scores, labels, 0.5, direction="higher", n_boot=200, seed=0)
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
) -> Dict[str, np.ndarray]:
    """Every metric of :data:`~drugsim.evaluation.metrics.METRIC_NAMES` on ``n_boot`` resamples of the pairs.

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
    for counts in resample_counts(labels.size, n_boot, rng):
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
    )
    return {name: percentile_interval(values, level) for name, values in samples.items()}


def paired_bootstrap_difference(
    correct_a,
    correct_b,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
) -> Dict[str, float]:
    """Accuracy of method A minus method B on the same pairs, with a paired bootstrap interval.

    Both methods are resampled with the same pair indices, so the pair-to-pair difficulty they share
    cancels out (a much tighter interval than comparing two separate intervals).

    Args:
        correct_a, correct_b: (N,) booleans, whether each method decided pair i correctly.

    Returns:
        ``{"difference", "ci_low", "ci_high", "p_value"}``; the two-sided p-value is the bootstrap
        share of resampled differences on the other side of zero, doubled (capped at 1).
    """
    a = np.asarray(correct_a, dtype=np.float64).reshape(-1)
    b = np.asarray(correct_b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape or a.size == 0:
        raise ConfigError(
            "paired comparison needs the same non-empty pair list for both methods; "
            f"got {a.size} and {b.size}"
        )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    delta = a - b
    diffs = np.concatenate([counts @ delta / a.size for counts in resample_counts(a.size, n_boot, rng)])
    observed = float(delta.mean())
    low, high = percentile_interval(diffs, level)
    if observed >= 0:
        tail = np.mean(diffs <= 0)
    else:
        tail = np.mean(diffs >= 0)
    return {"difference": observed, "ci_low": low, "ci_high": high, "p_value": float(min(1.0, 2.0 * tail))}


def mcnemar_test(correct_a, correct_b) -> Dict[str, float]:
    """Exact McNemar test: do two methods err on the same pairs at different rates?

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
