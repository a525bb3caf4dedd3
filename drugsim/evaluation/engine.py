"""The comparison engine: describe every distinct image once, then score all pairs from the features.

The paper timed its methods pair by pair, reading and describing both images of every pair
(:func:`score_pairs_per_pair`, kept as the baseline and for ``drugsim evaluate --per-pair``). A test set of
~120k pairs over ~3.4k images then describes each image ~70 times. The engine instead

1. collects the distinct images of a pair list and describes each once (:func:`describe_images`):
   classical methods (``method.parallel_describe``) in worker processes, each pinned to one OpenCV
   thread so that workers do not oversubscribe the cores; deep methods through
   ``method.describe_batch`` in batches (one network forward pass per batch);
2. optionally keeps the features in an on-disk :class:`~drugsim.evaluation.cache.FeatureCache` keyed by
   the image's content hash and ``method.cache_key()``, so a rerun describes nothing again;
3. scores all pairs with one ``method.score_pairs`` call on aligned feature lists
   (:func:`score_pair_list`), which methods vectorise (Hamming distances of packed hashes, batched
   network heads).

Both ways give the same scores pair for pair (tests/evaluation/test_engine.py checks it).

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> from drugsim.io import write_image
    >>> from drugsim.data.records import Pair
    >>> from drugsim.methods import create_method
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> a = write_image(folder / "a.png", np.full((32, 32, 3), 40, np.uint8))
    >>> b = write_image(folder / "b.png", np.eye(32, dtype=np.uint8)[:, :, None].repeat(3, 2) * 255)
    >>> method = create_method("ahash")
    >>> features = describe_images(method, [a, b, a], n_jobs=1, progress=False)
    >>> len(features)
    2
    >>> score_pair_list(method, [Pair(a, b, 0), Pair(a, a, 1)], features)[1]  # identical: 64 of 64 bits
    np.float64(64.0)
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence

import numpy as np

from drugsim.data.records import ImageRecord, Pair
from drugsim.errors import ConfigError, DrugsimError, ImageReadError
from drugsim.io import PathLike, read_image
from drugsim.methods import SimilarityMethod

#: Below this many images per worker, starting processes costs more than it saves.
MIN_IMAGES_PER_WORKER = 8
#: Images described in this process first, to time one image before choosing serial or processes.
PROBE_IMAGES = 4
#: Rough cost of starting the worker pool (forkserver fork + unpickling the method), in seconds.
WORKER_START_SECONDS = 0.4

_WORKER_METHOD: Optional[SimilarityMethod] = None
#: Imported once by the forkserver so that workers start warm (missing ones are skipped).
_PRELOAD_MODULES = (
    "numpy",
    "cv2",
    "PIL.Image",
    "imagehash",
    # imagehash imports these inside phash/whash: without a preload every worker pays the import (scipy
    # alone about 1 s on a busy core), which made the engine slower than one process for pHash.
    "scipy.fftpack",
    "pywt",
    "drugsim.evaluation.engine",
    "drugsim.classical.histogram",
    "drugsim.classical.hashing",
    "drugsim.classical.keypoints",
    "drugsim.classical.pixels",
)


def available_cores() -> int:
    """Cores this process may run on (respects CPU affinity / container limits where visible)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def _resolve_jobs(n_jobs: Optional[int]) -> int:
    if n_jobs is None or n_jobs == 0:
        return available_cores()
    if n_jobs < 0:  # joblib style: -1 = all cores, -2 = all but one
        return max(1, available_cores() + 1 + n_jobs)
    return int(n_jobs)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, leave=False)


def unique_paths(paths: Iterable[PathLike]) -> List[Path]:
    """Distinct paths in first-seen order."""
    return list(dict.fromkeys(Path(p) for p in paths))


def pair_paths(pairs: Sequence[Pair]) -> List[Path]:
    """The distinct images of a pair list, in first-seen order."""
    return unique_paths(p for pair in pairs for p in (pair.path_a, pair.path_b))


def pair_labels(pairs: Sequence[Pair]) -> np.ndarray:
    """(N,) int8 labels of a pair list (1 = similar)."""
    return np.fromiter((int(pair.label) for pair in pairs), dtype=np.int8, count=len(pairs))


def _picklable_or_none(value: Any) -> Any:
    import pickle

    try:
        pickle.dumps(value)
    except Exception:  # noqa: BLE001 - a lambda or closure: workers keep Python's default
        return None
    return value


def pair_classes(pairs: Sequence[Pair], records: Sequence[ImageRecord] | None = None) -> np.ndarray:
    """(N,) class of each pair for the class-level (cluster) bootstrap: the class of its first image.

    A positive pair's two images share their class; a negative pair is counted with its first image's
    class only, so every pair belongs to exactly one class (see :mod:`drugsim.evaluation.bootstrap`).

    Args:
        pairs: the pair list.
        records: the dataset's records; when given, a path's class is its record's ``label``. Without
            them (or for a path they do not list) it is the name of the image's parent folder, which is
            the class in every layout drugsim reads (paper, Grocery, one folder per class).
    """
    labels = {Path(record.path): record.label for record in records or ()}
    first_images = [Path(pair.path_a) for pair in pairs]
    return np.array([labels.get(path, path.parent.name) for path in first_images], dtype=str)


def _init_worker(method: SimilarityMethod, show_warning: Any = None) -> None:
    global _WORKER_METHOD
    _WORKER_METHOD = method
    if show_warning is not None:  # workers print warnings the way the parent does (one line in the CLI)
        warnings.showwarning = show_warning
    try:
        import cv2

        cv2.setNumThreads(1)  # one core per worker process: the pool already uses them all
    except ImportError:  # pragma: no cover
        pass
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _process_context():
    """Worker processes start from a clean forkserver (POSIX) or by spawning (Windows, macOS fallback).

    Plain ``fork`` copies the parent mid-flight: after OpenCV or PyTorch have started their thread pools
    in the parent (a notebook that already ran ORB, a Siamese network), a forked child can deadlock on a
    lock held by a thread that does not exist in the child. The forkserver is started once per session
    from a process that has imported the libraries but run nothing, so later pools start in milliseconds.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(_PRELOAD_MODULES))
        return context
    return multiprocessing.get_context("spawn")  # pragma: no cover - non-POSIX


@contextlib.contextmanager
def _main_module_hidden(method: SimilarityMethod) -> Iterator[None]:
    """Keep worker processes from re-importing the caller's ``__main__`` script.

    Forkserver and spawn workers normally import the main script (as ``__mp_main__``) so that objects
    defined there can be unpickled; a script or benchmark without an ``if __name__ == "__main__":`` guard
    would then run again inside every worker. The workers only need drugsim's own modules, so the main
    module's file and spec are hidden while they start, unless the method's class lives in ``__main__``.
    """
    main = sys.modules.get("__main__")
    if main is None or type(method).__module__ == "__main__":
        yield
        return
    saved = {name: getattr(main, name) for name in ("__file__", "__spec__") if hasattr(main, name)}
    try:
        main.__spec__ = None
        if hasattr(main, "__file__"):
            del main.__file__
        yield
    finally:
        for name, value in saved.items():
            setattr(main, name, value)


def describe_image(method: SimilarityMethod, image: Any, path: PathLike) -> Any:
    """``method.describe(image)``; a failure inside the method becomes an error naming the file.

    One odd photo (an unusual shape a library asserts on) then stops a run with a one-line message
    naming it, instead of a traceback from deep inside OpenCV or torch.
    """
    try:
        return method.describe(image)
    except DrugsimError:
        raise
    except Exception as exc:  # any library error, reported with the file it came from
        reason = (str(exc).strip().splitlines() or [""])[-1][:200]
        raise ImageReadError(
            f"{path}: {method.name} cannot describe this image of shape {getattr(image, 'shape', '?')} "
            f"({type(exc).__name__}: {reason}); `drugsim data check` lists such images"
        ) from exc


def _describe_chunk(paths: Sequence[Path]) -> List[Any]:
    assert _WORKER_METHOD is not None
    return [describe_image(_WORKER_METHOD, read_image(path), path) for path in paths]


def _describe_serial(method: SimilarityMethod, paths: Sequence[Path], bar) -> List[Any]:
    features = []
    for path in paths:
        features.append(describe_image(method, read_image(path), path))
        bar.update(1)
    return features


def _describe_processes(method: SimilarityMethod, paths: Sequence[Path], n_jobs: int, bar) -> List[Any]:
    # Several chunks per worker balance uneven images (keypoint counts vary) without per-image overhead.
    chunk_size = max(1, min(64, math.ceil(len(paths) / (n_jobs * 4))))
    chunks = [paths[i : i + chunk_size] for i in range(0, len(paths), chunk_size)]
    context = _process_context()
    results: List[Optional[List[Any]]] = [None] * len(chunks)
    with ProcessPoolExecutor(
        max_workers=n_jobs, mp_context=context, initializer=_init_worker,
        initargs=(method, _picklable_or_none(warnings.showwarning)),
    ) as pool:
        # Workers start during the submits (and the forkserver with the first pool).
        with _main_module_hidden(method):
            futures = {pool.submit(_describe_chunk, chunk): index for index, chunk in enumerate(chunks)}
        from concurrent.futures import as_completed

        for future in as_completed(futures):
            index = futures[future]
            results[index] = future.result()  # re-raises ImageReadError from the worker
            bar.update(len(chunks[index]))
    return [feature for chunk in results for feature in chunk]  # type: ignore[union-attr]


def _describe_batched(
    method: SimilarityMethod, paths: Sequence[Path], batch_size: int, n_jobs: int, bar
) -> List[Any]:
    features: List[Any] = []
    # Decoding JPEGs releases the GIL, so threads overlap reading with the network's forward pass.
    with ThreadPoolExecutor(max_workers=max(1, min(4, n_jobs))) as readers:
        for start in range(0, len(paths), batch_size):
            batch_paths = paths[start : start + batch_size]
            images = list(readers.map(read_image, batch_paths))
            try:
                batch = method.describe_batch(images)
            except DrugsimError:
                raise
            except Exception:  # noqa: BLE001 - find the image at fault and name it
                batch = [describe_image(method, image, path) for image, path in zip(images, batch_paths)]
            if len(batch) != len(images):
                raise ConfigError(
                    f"{method.name}: describe_batch returned {len(batch)} features for {len(images)} images"
                )
            features.extend(batch)
            bar.update(len(images))
    return features


def _compute_features(
    method: SimilarityMethod, paths: Sequence[Path], *, n_jobs: int, progress: bool, batch_size: int
) -> List[Any]:
    if not paths:
        return []
    with _progress(len(paths), f"describe {method.name}", progress) as bar:
        if not method.parallel_describe:
            return _describe_batched(method, paths, batch_size, n_jobs, bar)
        workers = min(n_jobs, len(paths) // MIN_IMAGES_PER_WORKER)
        if workers <= 1:
            return _describe_serial(method, paths, bar)
        # Describe a few images here first: when images are cheap (a hash of a small photo takes about a
        # millisecond), starting worker processes costs more than it saves, so the rest stays serial too.
        probe = list(paths[:PROBE_IMAGES])
        start = time.perf_counter()
        features = _describe_serial(method, probe, bar)
        per_image = (time.perf_counter() - start) / len(probe)
        rest = paths[len(probe) :]
        serial_estimate = per_image * len(rest)
        parallel_estimate = serial_estimate / workers + WORKER_START_SECONDS
        if not rest or parallel_estimate >= serial_estimate:
            return features + _describe_serial(method, rest, bar)
        return features + _describe_processes(method, rest, workers, bar)


def describe_images(
    method: SimilarityMethod, paths: Iterable[PathLike], *, n_jobs: Optional[int] = None,
    cache_dir: Optional[PathLike] = None, progress: bool = True, batch_size: int = 32,
    stats: Optional[Dict[str, int]] = None,
) -> Dict[Path, Any]:
    """Describe each distinct image once.

    Args:
        method: any :class:`~drugsim.methods.SimilarityMethod`.
        paths: image files; repeats are described once.
        n_jobs: worker processes for classical methods (None or 0 = every available core, -1 likewise,
            1 = in this process). Deep methods run in this process and batch instead.
        cache_dir: folder of the on-disk feature cache (None = no cache). Keyed by image content
            (sha256) and ``method.cache_key()``; corrupt entries are recomputed.
        progress: show a tqdm progress bar.
        batch_size: images per ``describe_batch`` call for methods with ``parallel_describe = False``.
        stats: optional dict filled with ``n_images``, ``computed``, ``cache_hits`` and ``recovered``
            (corrupt cache entries recomputed).

    Returns:
        ``{Path(path): feature}`` for every distinct path, in first-seen order.

    Raises:
        ImageReadError: an image is missing or unreadable (the message names the file).
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1; got {batch_size}")
    unique = unique_paths(paths)
    jobs = _resolve_jobs(n_jobs)
    if cache_dir is None:
        features = _compute_features(method, unique, n_jobs=jobs, progress=progress, batch_size=batch_size)
        if stats is not None:
            stats.update(n_images=len(unique), computed=len(unique), cache_hits=0, recovered=0)
        return dict(zip(unique, features))

    from drugsim.evaluation.cache import FeatureCache, file_sha256

    cache = FeatureCache(
        cache_dir, method.cache_key(), method_config={"name": method.name, **method.config()}
    )
    hashes: Dict[Path, str] = {}
    for path in unique:
        try:
            hashes[path] = file_sha256(path)
        except FileNotFoundError:
            raise ImageReadError(f"{path}: no such file (expected an image file)") from None
        except IsADirectoryError:
            raise ImageReadError(f"{path}: is a folder, expected an image file") from None
    found, missing_hashes = cache.get_many(dict.fromkeys(hashes.values()))
    first_path_of = {}
    for path, content_hash in hashes.items():
        first_path_of.setdefault(content_hash, path)
    to_describe = [first_path_of[h] for h in missing_hashes]
    computed = _compute_features(method, to_describe, n_jobs=jobs, progress=progress, batch_size=batch_size)
    for content_hash, feature in zip(missing_hashes, computed):
        cache.put(content_hash, feature)
        found[content_hash] = feature
    if stats is not None:
        stats.update(
            n_images=len(unique),
            computed=len(computed),
            cache_hits=len(found) - len(computed),
            recovered=cache.recovered,
        )
    return {path: found[hashes[path]] for path in unique}


def score_pair_list(method: SimilarityMethod, pairs: Sequence[Pair], features: Dict[Path, Any]) -> np.ndarray:
    """Score every pair from precomputed features with one ``method.score_pairs`` call.

    Args:
        method: the method that made ``features``.
        pairs: the pairs to score.
        features: ``{Path: feature}`` from :func:`describe_images`, covering every image of ``pairs``.

    Returns:
        (N,) float64 scores on the method's own scale, aligned with ``pairs``.
    """
    if not pairs:
        return np.zeros(0, dtype=np.float64)
    try:
        features_a = [features[Path(pair.path_a)] for pair in pairs]
        features_b = [features[Path(pair.path_b)] for pair in pairs]
    except KeyError as exc:
        raise ConfigError(
            f"no feature for image {exc.args[0]}: describe_images was not given every image of the pair list"
        ) from None
    scores = np.asarray(method.score_pairs(features_a, features_b), dtype=np.float64).reshape(-1)
    if scores.size != len(pairs):
        raise ConfigError(f"{method.name}: score_pairs returned {scores.size} scores for {len(pairs)} pairs")
    return scores


def score_pairs_per_pair(
    method: SimilarityMethod, pairs: Sequence[Pair], *, progress: bool = True
) -> np.ndarray:
    """The paper's way: for every pair, read both images, describe both, score them.

    Kept as the baseline the engine is measured against (issue 7) and for ``--per-pair``; nothing is
    shared between pairs, so each image is read and described once per pair it appears in.

    Returns:
        (N,) float64 scores aligned with ``pairs``.
    """
    from tqdm.auto import tqdm

    scores = np.empty(len(pairs), dtype=np.float64)
    for index, pair in enumerate(
        tqdm(pairs, desc=f"per-pair {method.name}", unit="pair", disable=not progress, leave=False)
    ):
        feature_a = describe_image(method, read_image(pair.path_a), pair.path_a)
        feature_b = describe_image(method, read_image(pair.path_b), pair.path_b)
        scores[index] = float(method.score(feature_a, feature_b))
    return scores


def score_pairs(
    method: SimilarityMethod, pairs: Sequence[Pair], *, n_jobs: Optional[int] = None,
    cache_dir: Optional[PathLike] = None, progress: bool = True, batch_size: int = 32,
) -> np.ndarray:
    """Convenience: :func:`describe_images` on the pairs' images, then :func:`score_pair_list`."""
    features = describe_images(method, pair_paths(pairs), n_jobs=n_jobs, cache_dir=cache_dir,
                               progress=progress, batch_size=batch_size)
    return score_pair_list(method, pairs, features)
