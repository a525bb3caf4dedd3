"""Speed benchmarks: the paper's per-pair way against the describe-once engine and its limit; 1:N search.

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
first-call allocations). :func:`bench_search` measures queries/s and recall@k of approximate indexes
against exact search as the gallery grows.

Example:
    >>> targets = speed_targets("orb")
    >>> targets["speedup"], targets["engine_over_limit"]
    (5.0, 1.5)

References:
    Paper Tables 7-10 (pairs per second); issue 7 (targets); issue 8 item 3 (search at scale).
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from drugsim.errors import ConfigError, DatasetError
from drugsim.methods import available_methods

#: Issue 7's targets: minimum engine/per-pair speedup per method family (on the quick synthetic test pairs).
SPEEDUP_TARGETS: Dict[str, float] = {
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
#: Methods benchmarked when none are named: the paper's classical ones (Tables 7-8).
DEFAULT_METHODS = tuple(available_methods("classical", in_paper=True))
SIAMESE_METHODS = ("siamese-improved", "siamese-classic", "siamese-triplet")


def find_checkpoints(models_dir: Any) -> Dict[str, Path]:
    """Trained Siamese checkpoints in ``models_dir`` (searched recursively), keyed by method name.

    ``siamese-<variant>.pt`` wins, then ``resnet18-<variant>.pt`` (the paper's headline backbone), then the
    first (sorted) ``*<variant>*.pt`` file; the seed study's copies (``siamese_seeds/``) are ignored.
    Resumable training states (``*.last.pt``) are skipped. A missing folder gives an empty dict (no
    trained model yet).
    """
    folder = Path(models_dir)
    if not str(models_dir) or not folder.is_dir():
        return {}
    candidates = sorted(p for p in folder.rglob("*.pt")
                        if not p.name.endswith(".last.pt") and "siamese_seeds" not in p.parts)
    found: Dict[str, Path] = {}
    for name in SIAMESE_METHODS:
        variant = name.split("-", 1)[1]
        # The paper's headline backbone (ResNet18) before any other trained with the same variant.
        preferences = ([p for p in candidates if p.stem == name],
                       [p for p in candidates if p.stem == f"resnet18-{variant}"],
                       [p for p in candidates if variant in p.stem])
        chosen = next((paths[0] for paths in preferences if paths), None)
        if chosen is not None:
            found[name] = chosen
    return found


def build_methods(
    names: Optional[Sequence[str] | str] = None,
    *,
    models: Optional[Dict[str, Any]] = None,
    include_checkpointed: bool = False,
) -> List[Any]:
    """The methods to benchmark: ``names`` (a list or comma-separated text) or, by default,
    :data:`DEFAULT_METHODS` plus every Siamese variant that has a checkpoint in ``models``.

    Args:
        names: method names; None or empty = the default list.
        models: ``{method name: checkpoint path}`` for Siamese methods (see :func:`find_checkpoints`).
        include_checkpointed: also add every Siamese method of ``models`` that ``names`` leaves out.

    Raises:
        ConfigError: an unknown name, or a Siamese method named without a checkpoint.
    """
    from drugsim.methods import create_method, method_spec

    models = dict(models or {})
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    chosen = list(names) if names else list(DEFAULT_METHODS) + [n for n in SIAMESE_METHODS if n in models]
    if include_checkpointed:
        chosen += [n for n in SIAMESE_METHODS if n in models and n not in chosen]
    methods = []
    for name in chosen:
        method_spec(name)  # a clear error for an unknown name
        if name in SIAMESE_METHODS:
            if name not in models:
                raise ConfigError(
                    f"method {name!r} needs a trained checkpoint: --model {name}=PATH or "
                    "--models-dir DIR (train one with drugsim train siamese)"
                )
            methods.append(create_method(name, model=str(models[name])))
        else:
            methods.append(create_method(name))
    return methods


def speed_targets(method_name: str) -> Dict[str, Optional[float]]:
    """Issue 7's targets for one method: minimum speedup (None when the issue sets none) and limit ratio."""
    return {"speedup": SPEEDUP_TARGETS.get(method_name), "engine_over_limit": LIMIT_TARGET}


def hardware_info(*, load_torch: bool = True) -> Dict[str, Any]:
    """The machine the numbers come from: CPU model, cores, RAM, torch device, library versions.

    Args:
        load_torch: import torch to name its device. With False, torch is reported only when something
            already imported it (importing it takes seconds; a classical-only benchmark does not use it).
    """
    import sys

    cpu_model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        ram_bytes = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        ram_bytes = None
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info: Dict[str, Any] = {
        "cpu_model": cpu_model,
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": usable,
        "ram_bytes": ram_bytes,
        "ram_gib": round(ram_bytes / 1024**3, 1) if ram_bytes else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        import cv2

        info["opencv"] = cv2.__version__
    except ImportError:  # pragma: no cover
        pass
    if not load_torch and "torch" not in sys.modules:
        info["torch_device"] = "not used (no network timed)"
        return info
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["torch_device"] = f"cuda ({torch.cuda.get_device_name(0)})"
        else:
            info["torch_device"] = "cpu"
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover
        info["torch_device"] = "none (torch not installed)"
    return info


def _synchronise() -> None:
    """Wait for queued GPU work before reading the clock (a no-op on CPU)."""
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
    except ImportError:  # pragma: no cover
        pass


def time_call(fn: Callable[[], Any], *, repeats: int = 3) -> Tuple[float, List[float], Any]:
    """Run ``fn`` ``repeats`` times; return (median seconds, every time, the last result).

    Warm-up is the caller's business (run ``fn`` once on a small input first): a full warm-up run would
    double the cost of the slow per-pair baseline.
    """
    if repeats < 1:
        raise ConfigError(f"repeats must be >= 1, got {repeats}")
    times: List[float] = []
    result = None
    for _ in range(repeats):
        _synchronise()
        start = time.perf_counter()
        result = fn()
        _synchronise()
        times.append(time.perf_counter() - start)
    return float(statistics.median(times)), times, result


def distinct_paths(pairs: Sequence[Any]) -> List[Path]:
    """Every image named in ``pairs``, once, in first-seen order."""
    seen: Dict[Path, None] = {}
    for pair in pairs:
        seen.setdefault(Path(pair.path_a), None)
        seen.setdefault(Path(pair.path_b), None)
    return list(seen)


def describe_single_process(method: Any, paths: Sequence[Path], *, batch_size: int = 32) -> Dict[Path, Any]:
    """Read and describe each path once in this process: the describe half of the limit.

    Methods that describe in batches (networks: ``parallel_describe`` False) get ``describe_batch`` over
    ``batch_size`` images at a time, as their best single-process use; the others ``describe`` one by one.
    """
    from drugsim.io import read_image

    features: Dict[Path, Any] = {}
    if getattr(method, "parallel_describe", True):
        for path in paths:
            features[Path(path)] = method.describe(read_image(path))
        return features
    for start in range(0, len(paths), batch_size):
        chunk = [Path(p) for p in paths[start : start + batch_size]]
        for path, feature in zip(chunk, method.describe_batch([read_image(p) for p in chunk])):
            features[path] = feature
    return features


def feature_cache_bytes(features: Dict[Any, Any]) -> int:
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
    per_pair_pairs: Optional[int] = 100
    warmup_pairs: int = 4
    n_jobs: Optional[int] = None
    batch_size: int = 32

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise ConfigError(f"repeats must be >= 1, got {self.repeats}")
        if self.per_pair_pairs is not None and self.per_pair_pairs < 1:
            raise ConfigError(f"per_pair_pairs must be >= 1, got {self.per_pair_pairs}")
        if self.warmup_pairs < 0:
            raise ConfigError(f"warmup_pairs must be >= 0, got {self.warmup_pairs}")


def bench_method(method: Any, pairs: Sequence[Any], config: BenchConfig = BenchConfig()) -> Dict[str, Any]:
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
    per_pair_times: List[float] = []
    engine_times: List[float] = []
    describe_times: List[float] = []
    score_times: List[float] = []
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
    methods: Sequence[Any],
    pairs: Sequence[Any],
    config: BenchConfig = BenchConfig(),
    *,
    progress: bool = False,
    dataset: Optional[str] = None,
) -> Dict[str, Any]:
    """Benchmark several methods on the same pair list in one run.

    Args:
        methods: :class:`~drugsim.methods.SimilarityMethod` objects (built with
            :func:`drugsim.methods.create_method`).
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
    load_before = _load_average()
    results: Dict[str, Any] = {}
    for method in methods:
        results[method.name] = bench_method(method, pairs, config)
        if progress:
            row = results[method.name]
            print(
                f"{method.name:>20}: per-pair {row['per_pair_pairs_per_second']:9.1f} pairs/s  "
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


def _load_average() -> Optional[float]:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):  # pragma: no cover - Windows
        return None


def targets_summary(result: Dict[str, Any]) -> List[Dict[str, Any]]:
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


def glue_speed(result: Dict[str, Any], *, prefix: str = "speed") -> Dict[str, str]:
    """Glue every number the speed chapter quotes (via :func:`drugsim.report.glue`) and return them.

    Keys: ``{prefix}_n_pairs``, ``{prefix}_n_images``, ``{prefix}_n_pairs_per_pair``, ``{prefix}_hardware``,
    ``{prefix}_targets_held`` / ``_targets_total``, and per method ``{prefix}_{method}_{per_pair,engine,
    limit}`` (pairs/s), ``_speedup``, ``_engine_over_limit``, ``_cache_mib``, ``_paper`` (pairs/s in
    the paper, when it gives one).
    """
    from drugsim.report import glue

    table = speed_table(result)
    hardware = result["hardware"]
    rows = result["methods"].values()
    values: Dict[str, str] = {
        f"{prefix}_n_pairs": f"{result['n_pairs']:,}",
        f"{prefix}_n_images": f"{result['n_images']:,}",
        f"{prefix}_n_pairs_per_pair": f"{min(row['n_pairs_per_pair'] for row in rows):,}",
        f"{prefix}_hardware": (
            f"{hardware.get('cpu_model')}, {hardware.get('cpu_cores_usable')} usable cores, "
            f"{hardware.get('ram_gib')} GiB RAM, torch on {hardware.get('torch_device')}"
        ),
        f"{prefix}_max_cache_mib": f"{max(r['feature_cache_bytes'] for r in rows) / 2**20:.1f}",
    }
    held = total = 0
    for name, row in result["methods"].items():
        key = f"{prefix}_{name}"
        values[f"{key}_per_pair"] = f"{row['per_pair_pairs_per_second']:,.1f}"
        values[f"{key}_engine"] = f"{row['engine_pairs_per_second']:,.0f}"
        values[f"{key}_limit"] = f"{row['limit_pairs_per_second']:,.0f}"
        values[f"{key}_speedup"] = f"{row['speedup']:.1f}"
        values[f"{key}_engine_over_limit"] = f"{row['engine_over_limit']:.2f}"
        values[f"{key}_cache_mib"] = f"{row['feature_cache_bytes'] / 2**20:.2f}"
        paper_rate = table.loc[name, "paper pairs/s"]
        if paper_rate == paper_rate and paper_rate is not None:  # not NaN
            values[f"{key}_paper"] = f"{paper_rate:.2f}"
        for ok in (row["targets"]["speedup_ok"], row["targets"]["engine_over_limit_ok"]):
            if ok is not None:
                total += 1
                held += int(ok)
    values[f"{prefix}_targets_held"] = str(held)
    values[f"{prefix}_targets_total"] = str(total)
    for key, value in values.items():
        glue(key, value)
    return values


def speed_table(result: Dict[str, Any]):
    """A DataFrame: per-pair, engine and limit pairs/s with ratios, next to the paper's pairs/s."""
    import pandas as pd

    from drugsim import paper

    paper_rates = {name: row["pairs_per_second"] for name, row in paper.TABLE7.items()}
    for name, row in paper.TABLE8.items():
        paper_rates[f"{name} (Table 8)"] = row["pairs_per_second"]
    siamese_paper = {
        "siamese-improved": paper.TABLE9["resnet18-improved"]["pairs_per_second"],
        "siamese-classic": paper.TABLE9["resnet18-classic"]["pairs_per_second"],
    }
    rows = []
    for name, row in result["methods"].items():
        rows.append(
            {
                "method": name,
                "paper pairs/s": paper_rates.get(name, siamese_paper.get(name)),
                "per-pair pairs/s": row["per_pair_pairs_per_second"],
                "engine pairs/s": row["engine_pairs_per_second"],
                "speedup": row["speedup"],
                "limit pairs/s": row["limit_pairs_per_second"],
                "engine/limit time": row["engine_over_limit"],
                "feature cache MiB": row["feature_cache_bytes"] / 1024**2,
            }
        )
    return pd.DataFrame(rows).set_index("method")


def markdown_speed_table(result: Dict[str, Any]) -> str:
    """The speed table as Markdown (for benchmarks/README.md), with each target's verdict."""
    lines = [
        "| method | paper pairs/s | per-pair pairs/s | engine pairs/s | speedup (target) | limit pairs/s | "
        "engine time / limit | feature cache |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    table = speed_table(result)
    for name, row in result["methods"].items():
        target = row["targets"]["speedup"]
        verdict = (
            "" if target is None else f" ({target:.0f}x {'ok' if row['targets']['speedup_ok'] else 'missed'})"
        )
        paper_rate = table.loc[name, "paper pairs/s"]
        paper_text = "" if paper_rate != paper_rate or paper_rate is None else f"{paper_rate:.2f}"
        limit_verdict = "ok" if row["targets"]["engine_over_limit_ok"] else "missed"
        lines.append(
            f"| {name} | {paper_text} | {row['per_pair_pairs_per_second']:,.1f} | "
            f"{row['engine_pairs_per_second']:,.0f} | {row['speedup']:.1f}x{verdict} | "
            f"{row['limit_pairs_per_second']:,.0f} | {row['engine_over_limit']:.2f} ({limit_verdict}) | "
            f"{row['feature_cache_bytes'] / 2**20:.2f} MiB |"
        )
    return "\n".join(lines)


def markdown_search_table(result: Dict[str, Any]) -> str:
    """The search-at-scale table as Markdown: queries/s, speedup over exact, recall@k, build time."""
    lines = [
        f"| gallery | features | index | queries/s | vs exact | recall@{result['k']} | build s |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['gallery_size']:,} | {row['features']} | {row['kind']} | "
            f"{row['queries_per_second']:,.0f} | {row['speedup']:.1f}x | {row['recall_at_k']:.3f} | "
            f"{row['build_seconds']:.2f} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- search


def clustered_vectors(
    n: int, dim: int, *, n_clusters: int = 100, spread: float = 0.3, rng: np.random.Generator | int | None = 0
) -> np.ndarray:
    """Synthetic gallery embeddings: ``n`` vectors around ``n_clusters`` random centres (float32, (n, dim)).

    Real embeddings of drug boxes cluster by drug and face; uniformly random vectors would have no
    neighbours worth finding and make every approximate index look bad.
    """
    rng = np.random.default_rng(rng)
    centres = rng.normal(size=(n_clusters, dim))
    members = rng.integers(0, n_clusters, size=n)
    return (centres[members] + spread * rng.normal(size=(n, dim))).astype(np.float32)


def recall_at_k(
    approx_indices: np.ndarray,
    exact_indices: np.ndarray,
    *,
    approx_scores: Optional[np.ndarray] = None,
    exact_scores: Optional[np.ndarray] = None,
    direction: str = "higher",
) -> float:
    """Mean fraction of the exact top-k that the approximate search found (k = columns of exact_indices).

    With scores given, ties count: an approximate hit whose score equals the exact k-th score is as good
    as any exact neighbour (Hamming distances tie often, and which tied row an index returns is arbitrary).

    Example:
        >>> recall_at_k(np.array([[0, 1], [2, 5]]), np.array([[0, 1], [2, 3]]))
        0.75
    """
    k = exact_indices.shape[1]
    if approx_scores is None or exact_scores is None:
        hits = [len(set(a.tolist()) & set(e.tolist())) for a, e in zip(approx_indices, exact_indices)]
        return float(np.mean(hits) / k)
    kth = exact_scores[:, k - 1 : k]
    good = approx_scores[:, :k] >= kth - 1e-6 if direction == "higher" else approx_scores[:, :k] <= kth + 1e-6
    return float(good.sum(axis=1).mean() / k)


def _queries_per_second(
    index: Any, queries: Any, k: int, repeats: int
) -> Tuple[float, Tuple[np.ndarray, np.ndarray]]:
    index.search(queries[:2], k)  # warm-up
    seconds, _, result = time_call(lambda: index.search(queries, k), repeats=repeats)
    return len(queries) / seconds, result


def bench_search(
    sizes: Sequence[int] = (1_000, 10_000, 100_000),
    *,
    dim: int = 128,
    hash_bits: int = 64,
    n_queries: int = 500,
    k: int = 10,
    kinds: Sequence[str] = ("ivf", "hnsw"),
    repeats: int = 3,
    seed: int = 0,
    index_options: Optional[Dict[str, Any]] = None,
    progress: bool = False,
) -> Dict[str, Any]:
    """Queries/s and recall@k of approximate indexes against exact search, as the gallery grows.

    Float galleries are :func:`clustered_vectors` searched by cosine; hash galleries are random
    ``hash_bits``-bit codes perturbed around cluster codes, searched by Hamming distance. Queries are
    noisy copies of gallery rows (a new photo of a known box).

    Returns:
        ``{"rows": [{"gallery_size", "features", "kind", "k", "build_seconds", "queries_per_second",
        "exact_queries_per_second", "speedup", "recall_at_k", "params"}], "hardware", ...}``; the rows of
        kind ``"flat"`` have recall 1 by definition.
    """
    from drugsim.evaluation.index import build_index

    rng = np.random.default_rng(seed)
    index_options = dict(index_options or {})
    rows: List[Dict[str, Any]] = []
    for size in sizes:
        vectors = clustered_vectors(size, dim, n_clusters=max(10, size // 100), rng=rng)
        picks = rng.integers(0, size, n_queries)
        queries = (vectors[picks] + 0.1 * rng.normal(size=(n_queries, dim))).astype(np.float32)
        centre_codes = rng.integers(0, 2, size=(max(10, size // 100), hash_bits)).astype(bool)
        flips = rng.random((size, hash_bits)) < 0.1
        codes = np.packbits(centre_codes[rng.integers(0, len(centre_codes), size)] ^ flips, axis=1)
        query_flips = rng.random((n_queries, hash_bits)) < 0.05
        hash_queries = np.packbits(np.unpackbits(codes[picks], axis=1).astype(bool) ^ query_flips, axis=1)
        for features, method_name, gallery, query_set in (
            ("float", "cnn-cosine", vectors, queries),
            ("hash", "phash", codes, hash_queries),
        ):
            labels = np.arange(size)
            start = time.perf_counter()
            exact = build_index(method_name, gallery, labels, kind="flat")
            exact_build = time.perf_counter() - start
            exact_qps, (exact_indices, exact_scores) = _queries_per_second(exact, query_set, k, repeats)
            rows.append(
                {
                    "gallery_size": size,
                    "features": features,
                    "kind": "flat",
                    "k": k,
                    "build_seconds": exact_build,
                    "queries_per_second": exact_qps,
                    "exact_queries_per_second": exact_qps,
                    "speedup": 1.0,
                    "recall_at_k": 1.0,
                    "params": exact.params,
                }
            )
            for kind in kinds:
                start = time.perf_counter()
                approx = build_index(method_name, gallery, labels, kind=kind, seed=seed, **index_options)
                build_seconds = time.perf_counter() - start
                qps, (indices, scores) = _queries_per_second(approx, query_set, k, repeats)
                rows.append(
                    {
                        "gallery_size": size,
                        "features": features,
                        "kind": kind,
                        "k": k,
                        "build_seconds": build_seconds,
                        "queries_per_second": qps,
                        "exact_queries_per_second": exact_qps,
                        "speedup": qps / exact_qps,
                        "recall_at_k": recall_at_k(
                            indices,
                            exact_indices,
                            approx_scores=scores,
                            exact_scores=exact_scores,
                            direction=approx.direction,
                        ),
                        "recall_at_k_ids": recall_at_k(indices, exact_indices),
                        "params": approx.params,
                    }
                )
            if progress:
                for row in rows[-(1 + len(kinds)) :]:
                    print(
                        f"{row['gallery_size']:>7} {row['features']:>5} {row['kind']:>5}: "
                        f"{row['queries_per_second']:10.0f} queries/s  recall@{k} {row['recall_at_k']:.3f}  "
                        f"build {row['build_seconds']:.2f} s",
                        flush=True,
                    )
    return {
        "rows": rows,
        "dim": dim,
        "hash_bits": hash_bits,
        "n_queries": n_queries,
        "k": k,
        "sizes": list(sizes),
        "seed": seed,
        "hardware": hardware_info(load_torch=False),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def dataset_search(
    method: Any,
    features: Any,
    labels: Sequence[Any],
    *,
    approx_kind: str = "hnsw",
    repeats: int = 3,
    index_options: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """1:N search on a real gallery: every image is a query against all the others (leave one out).

    Compares a numpy brute-force scan, the exact FAISS index and an approximate one (``approx_kind``):
    precision@1 and MAP@R (:func:`drugsim.evaluation.retrieval.retrieval_metrics`, pytorch-metric-learning's
    definitions, on the ranking each search returned), queries/s (median over
    ``repeats``), and whether each index returns the brute-force neighbours' scores.

    Args:
        method: the method (name or object) whose ``features`` these are; must be indexable.
        features: per-image features in gallery order (list, array, or dict path -> feature).
        labels: class of each image (use ``ImageRecord.group``: drug and face, as a positive pair shares).

    Returns:
        ``{"method", "metric", "n_gallery", "k", "rows": {"brute_force"|"flat"|kind: {...}}}``.
    """
    from drugsim.evaluation.index import (
        brute_force_search,
        build_index,
        drop_self,
        features_to_matrix,
        metric_for_method,
        neighbour_similarity,
    )
    from drugsim.evaluation.retrieval import retrieval_metrics

    def quality(indices: np.ndarray) -> Dict[str, Any]:
        metrics = retrieval_metrics(
            neighbour_similarity(indices, len(labels)), labels, labels, exclude_self=True
        )
        return {key: metrics[key] for key in ("precision_at_1", "map_at_r", "r_precision", "n_queries")}

    labels = [str(label) for label in labels]
    name = method if isinstance(method, str) else method.name
    metric = metric_for_method(name)
    matrix = features_to_matrix(features, metric)
    counts: Dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    k = max(1, min(max(counts.values()) - 1, len(labels) - 1))
    rows: Dict[str, Dict[str, Any]] = {}

    seconds, _, (indices, scores) = time_call(
        lambda: brute_force_search(matrix, matrix, k + 1, metric=metric), repeats=repeats
    )
    reference_indices, reference_scores = drop_self(indices, scores, k)
    rows["brute_force"] = {
        "queries_per_second": len(labels) / seconds,
        "build_seconds": 0.0,
        **quality(reference_indices),
        "scores_equal_brute_force": 1.0,
    }
    for kind in ("flat", approx_kind):
        start = time.perf_counter()
        options = dict(index_options or {}) if kind != "flat" else {}
        index = build_index(name, matrix, labels, kind=kind, **options)
        build_seconds = time.perf_counter() - start
        index.search(matrix[:2], k=2)  # warm-up
        seconds, _, (indices, scores) = time_call(lambda: index.search(matrix, k=k + 1), repeats=repeats)
        found_indices, found_scores = drop_self(indices, scores, k)
        same = np.isclose(found_scores, reference_scores, rtol=1e-4, atol=1e-4).all(axis=1)
        rows[kind] = {
            "queries_per_second": len(labels) / seconds,
            "build_seconds": build_seconds,
            **quality(found_indices),
            "scores_equal_brute_force": float(same.mean()),
            "params": index.params,
        }
    return {
        "method": name,
        "metric": metric,
        "n_gallery": len(labels),
        "n_classes": len(counts),
        "k": k,
        "rows": rows,
    }


def search_table(results: Sequence[Dict[str, Any]]):
    """DataFrame (method, search) -> precision@1, MAP@R, queries/s, agreement with brute force."""
    import pandas as pd

    records = []
    for result in results:
        for kind, row in result["rows"].items():
            records.append(
                {
                    "method": result["method"],
                    "search": kind.replace("_", " "),
                    "precision@1": row["precision_at_1"],
                    "MAP@R": row["map_at_r"],
                    "queries/s": row["queries_per_second"],
                    "same as brute force": row["scores_equal_brute_force"],
                }
            )
    return pd.DataFrame(records).set_index(["method", "search"])


def glue_search(
    results: Sequence[Dict[str, Any]], scale: Optional[Dict[str, Any]] = None, *, prefix: str = "search"
) -> Dict[str, str]:
    """Glue every number the search chapter quotes and return them.

    From :func:`dataset_search` results: ``{prefix}_n_gallery``, ``{prefix}_n_classes``,
    ``{prefix}_flat_equals_brute`` (smallest share of queries whose exact-index neighbours score as the
    brute-force ones) and per method and search ``{prefix}_{method}_{search}_{p1,mapr,qps}``. From a
    :func:`bench_search` result: ``{prefix}_scale_largest`` and, at the largest gallery, per feature type
    (float, hash) and approximate kind ``{prefix}_scale_{features}_{kind}_{qps,recall,speedup}`` and
    ``{prefix}_scale_{features}_flat_qps``.
    """
    from drugsim.report import glue

    values: Dict[str, str] = {}
    if results:
        values[f"{prefix}_n_gallery"] = f"{results[0]['n_gallery']:,}"
        values[f"{prefix}_n_classes"] = f"{results[0]['n_classes']:,}"
        values[f"{prefix}_flat_equals_brute"] = (
            f"{min(r['rows']['flat']['scores_equal_brute_force'] for r in results):.3f}"
        )
        for result in results:
            for kind, row in result["rows"].items():
                key = f"{prefix}_{result['method']}_{kind}"
                values[f"{key}_p1"] = f"{row['precision_at_1']:.3f}"
                values[f"{key}_mapr"] = f"{row['map_at_r']:.3f}"
                values[f"{key}_qps"] = f"{row['queries_per_second']:,.0f}"
    if scale is not None:
        largest = max(scale["sizes"])
        values[f"{prefix}_scale_largest"] = f"{largest:,}"
        values[f"{prefix}_scale_k"] = str(scale["k"])
        for row in scale["rows"]:
            if row["gallery_size"] != largest:
                continue
            key = f"{prefix}_scale_{row['features']}_{row['kind']}"
            values[f"{key}_qps"] = f"{row['queries_per_second']:,.0f}"
            if row["kind"] != "flat":
                values[f"{key}_recall"] = f"{row['recall_at_k']:.3f}"
                values[f"{key}_speedup"] = f"{row['speedup']:.1f}"
    for key, value in values.items():
        glue(key, value)
    return values


def plot_search_benchmark(result: Dict[str, Any], *, axes: Optional[Sequence[Any]] = None):
    """Two panels: queries/s and recall@k against gallery size, one line per feature type and index kind.

    Args:
        result: what :func:`bench_search` returned.
        axes: two matplotlib axes to draw on; None = a new figure.

    Returns:
        The two axes.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    speed_ax, recall_ax = axes
    series: Dict[Tuple[str, str], List[Dict[str, Any]]] = {}
    for row in result["rows"]:
        series.setdefault((row["features"], row["kind"]), []).append(row)
    colours = {"flat": "tab:blue", "ivf": "tab:orange", "hnsw": "tab:green"}
    for (features, kind), rows in series.items():
        rows = sorted(rows, key=lambda r: r["gallery_size"])
        sizes = [r["gallery_size"] for r in rows]
        style = dict(
            linestyle="-" if features == "float" else "--",
            marker="o" if features == "float" else "s",
            color=colours.get(kind),
            label=f"{features}, {kind}",
        )
        speed_ax.plot(sizes, [r["queries_per_second"] for r in rows], **style)
        recall_ax.plot(sizes, [r["recall_at_k"] for r in rows], **style)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("gallery size (images)")
        ax.grid(True, alpha=0.3)
    speed_ax.set_yscale("log")
    speed_ax.set_ylabel("queries per second")
    recall_ax.set_ylabel(f"recall@{result['k']} vs exact")
    lowest = min(r["recall_at_k"] for r in result["rows"])
    recall_ax.set_ylim(min(0.9, lowest - 0.02), 1.005)
    recall_ax.legend(fontsize=8)
    return axes


def plot_speed(result: Dict[str, Any], *, ax: Optional[Any] = None):
    """Bars of pairs/s per method: paper's way, engine, limit (log scale). Returns the axis."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.8))
    names = list(result["methods"])
    x = np.arange(len(names))
    width = 0.27
    for offset, key, label in (
        (-width, "per_pair_pairs_per_second", "per pair (paper's way)"),
        (0.0, "engine_pairs_per_second", "engine"),
        (width, "limit_pairs_per_second", "limit"),
    ):
        ax.bar(x + offset, [result["methods"][n][key] for n in names], width, label=label)
    ax.set_xticks(x, names, rotation=40, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("pairs per second")
    ax.legend(fontsize=8)
    return ax
