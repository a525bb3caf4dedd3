"""The timing core of the speed benchmark: the paper's per-pair way, the describe-once engine, the limit.

The paper times every method pair by pair: both images are read and described again for every pair
(ORB 31.88 pairs/s, Table 8). A test set of ~120k pairs over ~3.4k images describes each image ~70 times.
:func:`bench_methods` measures, on the same pair list in one run and per method:

* ``per_pair_pairs_per_second``: :func:`drugsim.evaluation.engine.score_pairs_per_pair` (the paper's way),
  on the first ``per_pair_pairs`` pairs (it is slow; a rate per pair is comparable across list lengths);
* ``engine_pairs_per_second``: :func:`~drugsim.evaluation.engine.describe_images` (each distinct image
  once, parallel or batched) then :func:`~drugsim.evaluation.engine.score_pair_list`, on the full list;
* ``limit_pairs_per_second``: time to read and describe every distinct image once in this process, plus
  time to score every pair from those features, each measured alone (no pool, no cache, no progress bar);
  ``engine_over_limit`` is the engine's time over that limit time (1.0 = at the limit; below 1 when the
  engine's parallel describe beats a single process);
* ``feature_cache_bytes``: the ``.npz`` cache entries of every distinct image (what an on-disk
  cache holds).

Every time is the median over ``repeats`` runs after a warm-up on a few pairs (imports, model loading,
first-call allocations). The tables, plots and sentences of the speed chapter around these numbers are in
:mod:`drugsim.studies.speed`; search timing is in :mod:`drugsim.evaluation.search_speed`.

Example:
    >>> targets = speed_targets("orb")
    >>> targets["speedup"], targets["engine_over_limit"]
    (5.0, 1.5)

References:
    Paper Tables 7-10 (pairs per second); issue 7 (targets).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drugsim.errors import ConfigError, DatasetError
from drugsim.hardware import hardware_info

#: Issue 7's targets: minimum engine/per-pair speedup per method family (on the quick synthetic test pairs).
SPEEDUP_TARGETS: dict[str, float] = {
    "hist-correl": 20.0,
    "hist-chisqr": 20.0,
    "hist-intersect": 20.0,
    "hist-bhattacharyya": 20.0,
    "cosine": 20.0,
    "ahash": 20.0,
    "phash": 20.0,
    "dhash": 20.0,
    "sift": 5.0,
    "orb": 5.0,
    "siamese-improved": 20.0,
    "siamese-classic": 20.0,
}
#: Issue 7: the engine's time may be at most this multiple of the limit time, for every method.
LIMIT_TARGET = 1.5
#: Issue 7: the feature cache of the quick test set must fit in this many bytes.
CACHE_TARGET_BYTES = 2 * 1024**3


def speed_targets(method_name: str) -> dict[str, float | None]:
    """Issue 7's targets for one method: minimum speedup (None when the issue sets none) and limit ratio."""
    return {"speedup": SPEEDUP_TARGETS.get(method_name), "engine_over_limit": LIMIT_TARGET}


def _synchronise() -> None:
    """Wait for queued GPU work before reading the clock (a no-op on CPU)."""
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
    except ImportError:  # pragma: no cover
        pass


def time_call(fn: Callable[[], Any], *, repeats: int = 3) -> tuple[float, list[float], Any]:
    """Run ``fn`` ``repeats`` times; return (median seconds, every time, the last result).

    Warm-up is the caller's business (run ``fn`` once on a small input first): a full warm-up run would
    double the cost of the slow per-pair baseline.
    """
    if repeats < 1:
        raise ConfigError(f"repeats must be >= 1, got {repeats}")
    times: list[float] = []
    result = None
    for _ in range(repeats):
        _synchronise()
        start = time.perf_counter()
        result = fn()
        _synchronise()
        times.append(time.perf_counter() - start)
    return float(statistics.median(times)), times, result


def distinct_paths(pairs: Sequence[Any]) -> list[Path]:
    """Every image named in ``pairs``, once, in first-seen order."""
    seen: dict[Path, None] = {}
    for pair in pairs:
        seen.setdefault(Path(pair.path_a), None)
        seen.setdefault(Path(pair.path_b), None)
    return list(seen)


def describe_single_process(method: Any, paths: Sequence[Path], *, batch_size: int = 32) -> dict[Path, Any]:
    """Read and describe each path once in this process: the describe half of the limit.

    Methods that describe in batches (networks: ``parallel_describe`` False) get ``describe_batch`` over
    ``batch_size`` images at a time, as their best single-process use; the others ``describe`` one by one.
    """
    from drugsim.io import read_image

    features: dict[Path, Any] = {}
    if getattr(method, "parallel_describe", True):
        for path in paths:
            features[Path(path)] = method.describe(read_image(path))
        return features
    for start in range(0, len(paths), batch_size):
        chunk = [Path(p) for p in paths[start : start + batch_size]]
        for path, feature in zip(chunk, method.describe_batch([read_image(p) for p in chunk])):
            features[path] = feature
    return features


def feature_cache_bytes(features: dict[Any, Any]) -> int:
    """Bytes of the features' cache entries (values only): what a feature cache of these images holds."""
    from drugsim.evaluation.cache import encoded_bytes

    return sum(encoded_bytes(feature) for feature in features.values())


@dataclass(frozen=True)
class BenchConfig:
    """How to time each method.

    Attributes:
        repeats: timed runs per measurement; the median is reported.
        per_pair_pairs: pairs timed the paper's way (the first ones of the list); None = all.
        warmup_pairs: pairs each way runs once before timing.
        n_jobs: processes for the engine's describe (None = the engine's default, all usable cores).
        batch_size: images per forward pass for networks.
    """

    repeats: int = 3
    per_pair_pairs: int | None = 100
    warmup_pairs: int = 4
    n_jobs: int | None = None
    batch_size: int = 32

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise ConfigError(f"repeats must be >= 1, got {self.repeats}")
        if self.per_pair_pairs is not None and self.per_pair_pairs < 1:
            raise ConfigError(f"per_pair_pairs must be >= 1, got {self.per_pair_pairs}")
        if self.warmup_pairs < 0:
            raise ConfigError(f"warmup_pairs must be >= 0, got {self.warmup_pairs}")


def bench_method(method: Any, pairs: Sequence[Any], config: BenchConfig = BenchConfig()) -> dict[str, Any]:
    """Time one method three ways on ``pairs`` (see the module docstring) and check they agree.

    Returns:
        A dict with ``per_pair_pairs_per_second``, ``engine_pairs_per_second``, ``speedup``,
        ``limit_pairs_per_second``, ``engine_over_limit``, the medians and raw times in seconds,
        ``feature_cache_bytes``, ``max_abs_difference`` between the engine's and the per-pair scores on
        the per-pair subset, and the ``targets`` with whether each holds.
    """
    from drugsim.evaluation.engine import describe_images, score_pair_list, score_pairs_per_pair

    pairs = list(pairs)
    if not pairs:
        raise DatasetError("no pairs to benchmark")
    paths = distinct_paths(pairs)
    subset = pairs[: config.per_pair_pairs] if config.per_pair_pairs else pairs
    warm = pairs[: max(config.warmup_pairs, 0)]

    def engine_run(pair_list: Sequence[Any]) -> np.ndarray:
        features = describe_images(
            method,
            distinct_paths(pair_list),
            n_jobs=config.n_jobs,
            progress=False,
            batch_size=config.batch_size,
        )
        return score_pair_list(method, pair_list, features)

    if warm:
        score_pairs_per_pair(method, warm, progress=False)
        engine_run(warm)
    # The four measurements take turns within each repeat, so that a change in the machine's load (other
    # jobs on shared cores) hits all of them alike and the ratios stay fair; medians per measurement.
    per_pair_times: list[float] = []
    engine_times: list[float] = []
    describe_times: list[float] = []
    score_times: list[float] = []
    for _ in range(config.repeats):
        _, (seconds,), per_pair_scores = time_call(
            lambda: score_pairs_per_pair(method, subset, progress=False), repeats=1
        )
        per_pair_times.append(seconds)
        _, (seconds,), engine_scores = time_call(lambda: engine_run(pairs), repeats=1)
        engine_times.append(seconds)
        _, (seconds,), features = time_call(
            lambda: describe_single_process(method, paths, batch_size=config.batch_size), repeats=1
        )
        describe_times.append(seconds)
        features_a = [features[Path(p.path_a)] for p in pairs]
        features_b = [features[Path(p.path_b)] for p in pairs]
        _, (seconds,), limit_scores = time_call(lambda: method.score_pairs(features_a, features_b), repeats=1)
        score_times.append(seconds)
    per_pair_seconds = float(statistics.median(per_pair_times))
    engine_seconds = float(statistics.median(engine_times))
    describe_seconds = float(statistics.median(describe_times))
    score_seconds = float(statistics.median(score_times))

    per_pair_scores = np.asarray(per_pair_scores, dtype=np.float64)
    engine_scores = np.asarray(engine_scores, dtype=np.float64)
    difference = np.abs(engine_scores[: len(subset)] - per_pair_scores)
    limit_seconds = describe_seconds + score_seconds
    per_pair_rate = len(subset) / per_pair_seconds
    engine_rate = len(pairs) / engine_seconds
    limit_rate = len(pairs) / limit_seconds
    cache_bytes = feature_cache_bytes(features)
    name = getattr(method, "name", type(method).__name__)
    targets = speed_targets(name)
    speedup = engine_rate / per_pair_rate
    engine_over_limit = engine_seconds / limit_seconds
    return {
        "per_pair_pairs_per_second": per_pair_rate,
        "engine_pairs_per_second": engine_rate,
        "speedup": speedup,
        "limit_pairs_per_second": limit_rate,
        "engine_over_limit": engine_over_limit,
        "n_pairs_per_pair": len(subset),
        "per_pair_seconds": per_pair_seconds,
        "engine_seconds": engine_seconds,
        "limit_seconds": limit_seconds,
        "limit_describe_seconds": describe_seconds,
        "limit_score_seconds": score_seconds,
        "times": {
            "per_pair": per_pair_times,
            "engine": engine_times,
            "limit_describe": describe_times,
            "limit_score": score_times,
        },
        "images_per_second_limit": len(paths) / describe_seconds,
        "feature_cache_bytes": cache_bytes,
        "feature_bytes_per_image": cache_bytes / len(paths),
        "max_abs_difference": float(np.nanmax(difference)) if difference.size else 0.0,
        "scores_agree": bool(
            np.allclose(engine_scores[: len(subset)], per_pair_scores, rtol=1e-6, atol=1e-6, equal_nan=True)
        ),
        "limit_scores_agree": bool(
            np.allclose(
                engine_scores,
                np.asarray(limit_scores, dtype=np.float64),
                rtol=1e-6,
                atol=1e-6,
                equal_nan=True,
            )
        ),
        "targets": {
            "speedup": targets["speedup"],
            "speedup_ok": None if targets["speedup"] is None else bool(speedup >= targets["speedup"]),
            "engine_over_limit": targets["engine_over_limit"],
            "engine_over_limit_ok": bool(engine_over_limit <= LIMIT_TARGET),
        },
        "config": method.config() if hasattr(method, "config") else {},
    }


def bench_methods(
    methods: Sequence[Any] | Mapping[str, Any],
    pairs: Sequence[Any],
    config: BenchConfig = BenchConfig(),
    *,
    progress: bool = False,
    dataset: str | None = None,
) -> dict[str, Any]:
    """Benchmark several methods on the same pair list in one run.

    Args:
        methods: :class:`~drugsim.methods.SimilarityMethod` objects (built with
            :func:`drugsim.methods.create_method`), or ``{label: method}`` (as
            :func:`drugsim.studies.models.build_methods` returns them; the label keys the result).
        pairs: the pair list (:class:`~drugsim.data.records.Pair`), shared by every method.
        config: repeats, per-pair subset, processes.
        progress: print one line per method as it finishes.
        dataset: a name for the data, recorded in the result.

    Returns:
        ``{"methods": {NAME: bench_method(...)}, "n_pairs", "n_images", "hardware", "targets", ...}``.
    """
    pairs = list(pairs)
    if not methods:
        raise ConfigError("no methods to benchmark")
    labelled = methods.items() if isinstance(methods, Mapping) else [(m.name, m) for m in methods]
    methods = [method for _, method in labelled]
    load_before = _load_average()
    results: dict[str, Any] = {}
    for label, method in labelled:
        results[label] = bench_method(method, pairs, config)
        if progress:
            row = results[label]
            print(
                f"{label:>20}: per-pair {row['per_pair_pairs_per_second']:9.1f} pairs/s  "
                f"engine {row['engine_pairs_per_second']:10.1f} pairs/s  x{row['speedup']:7.1f}  "
                f"limit {row['limit_pairs_per_second']:10.1f} pairs/s  "
                f"engine/limit {row['engine_over_limit']:.2f}",
                flush=True,
            )
    largest_cache = max(row["feature_cache_bytes"] for row in results.values())
    return {
        "methods": results,
        "n_pairs": len(pairs),
        "n_images": len(distinct_paths(pairs)),
        "n_positive_pairs": int(sum(int(p.label) for p in pairs)),
        "hardware": hardware_info(load_torch=any(not getattr(m, "parallel_describe", True) for m in methods)),
        # Other work on the machine slows every measurement; the ratios measured in one run suffer least.
        "load_average_1min": {"before": load_before, "after": _load_average()},
        "config": {
            "repeats": config.repeats,
            "per_pair_pairs": config.per_pair_pairs,
            "warmup_pairs": config.warmup_pairs,
            "n_jobs": config.n_jobs,
            "batch_size": config.batch_size,
        },
        "dataset": dataset,
        "targets": {
            "speedup": {name: speed_targets(name)["speedup"] for name in results},
            "engine_over_limit": LIMIT_TARGET,
            "feature_cache_bytes": CACHE_TARGET_BYTES,
            "feature_cache_ok": bool(largest_cache < CACHE_TARGET_BYTES),
        },
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):  # pragma: no cover - Windows
        return None


def targets_summary(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per method: the measured ratios next to issue 7's targets, and whether each holds."""
    rows = []
    for name, row in result["methods"].items():
        rows.append(
            {
                "method": name,
                "speedup": row["speedup"],
                "speedup_target": row["targets"]["speedup"],
                "speedup_ok": row["targets"]["speedup_ok"],
                "engine_over_limit": row["engine_over_limit"],
                "engine_over_limit_ok": row["targets"]["engine_over_limit_ok"],
                "feature_cache_bytes": row["feature_cache_bytes"],
            }
        )
    return rows
