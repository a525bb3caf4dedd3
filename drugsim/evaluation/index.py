"""Indexed 1:N search: look a photographed box up in a gallery of known drugs without scanning it all.

A brute-force scan compares a query with every gallery image. That is exact and, for a few thousand
images, fast enough; for galleries that grow to hundreds of thousands of images an index answers in a
fraction of the time. This module builds a FAISS index once over the features a method computes for the
gallery (:func:`build_index`), saves it atomically with a small JSON sidecar naming the method, metric and
gallery labels/paths (:meth:`GalleryIndex.save`), reloads it (:func:`load_index`), and searches it
(:meth:`GalleryIndex.search`).

Two families of features are indexable:

* float vectors (``cosine``, ``euclidean``, ``cnn-cosine``, ``cnn-euclidean``, the embeddings of the
  classic and triplet Siamese networks, ``hist-correl``): exact search with ``IndexFlatL2`` /
  ``IndexFlatIP`` (inner product of L2-normalised vectors = cosine), approximate search with IVF-Flat
  (``kind="ivf"``, parameters ``nlist``/``nprobe``) or HNSW (``kind="hnsw"``, ``hnsw_m``/``ef_search``);
* hash bits (``ahash``, ``phash``, ``dhash``, ``whash``): ``IndexBinaryFlat`` (exact Hamming search),
  ``IndexBinaryIVF`` or ``IndexBinaryHNSW`` (approximate). Scores are equal bits, as the hash methods
  score (paper section 2.3).

Scores come back in the method's own units and direction: cosine similarity (higher = more similar),
Euclidean distance (lower), Pearson correlation for ``hist-correl`` (higher), equal bits (higher).
Keypoint methods (SIFT, ORB), SSIM, the other histogram metrics and the improved Siamese head are not
metric-space similarities and cannot be indexed; :func:`build_index` says so.

Example:
    >>> import numpy as np
    >>> gallery = np.eye(3, dtype=np.float32)
    >>> index = build_index("cnn-cosine", gallery, ["a", "b", "c"])
    >>> indices, scores = index.search(np.array([[0.0, 1.0, 0.1]]), k=2)
    >>> [index.labels[i] for i in indices[0]]
    ['b', 'c']

References:
    Johnson, Douze, Jegou (2019), "Billion-scale similarity search with GPUs" (FAISS); issue 8 item 3.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from drugsim.errors import ConfigError, DatasetError
from drugsim.io import atomic_path, write_text_atomic

PathLike = Union[str, os.PathLike]

#: Metrics an index can serve. ``cosine`` and ``correl`` are inner products of transformed vectors.
METRICS = ("l2", "cosine", "ip", "correl", "hamming")
#: Index kinds: one exact, two approximate.
KINDS = ("flat", "ivf", "hnsw")
#: Metric implied by each indexable CLI method name.
METHOD_METRICS: Dict[str, str] = {
    "cosine": "cosine",
    "cnn-cosine": "cosine",
    "euclidean": "l2",
    "cnn-euclidean": "l2",
    "siamese-classic": "l2",
    "siamese-triplet": "l2",
    "hist-correl": "correl",
    "ahash": "hamming",
    "phash": "hamming",
    "dhash": "hamming",
    "whash": "hamming",
}
#: Direction of the scores :meth:`GalleryIndex.search` returns, per metric.
METRIC_DIRECTIONS = {
    "l2": "lower",
    "cosine": "higher",
    "ip": "higher",
    "correl": "higher",
    "hamming": "higher",
}
SIDECAR_SUFFIX = ".json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class IndexConfig:
    """How to build an index.

    Attributes:
        kind: ``"flat"`` (exact), ``"ivf"`` (inverted lists over k-means cells) or ``"hnsw"`` (graph).
        nlist: IVF cells; None = about ``4 * sqrt(n)``, at most ``n // 39`` (FAISS wants 39 points per
            centroid to train).
        nprobe: IVF cells visited per query (more = slower, higher recall).
        hnsw_m: HNSW neighbours per node.
        ef_construction: HNSW candidate list while building.
        ef_search: HNSW candidate list while searching (more = slower, higher recall).
        seed: k-means seed for IVF training.
    """

    kind: str = "flat"
    nlist: Optional[int] = None
    nprobe: int = 8
    hnsw_m: int = 32
    ef_construction: int = 40
    ef_search: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"index kind {self.kind!r} is not supported. Try one of {list(KINDS)}")
        for name in ("nprobe", "hnsw_m", "ef_construction", "ef_search"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"index option {name} must be >= 1, got {getattr(self, name)}")
        if self.nlist is not None and int(self.nlist) < 1:
            raise ConfigError(f"index option nlist must be >= 1, got {self.nlist}")


def _method_name(method: Any) -> str:
    name = method if isinstance(method, str) else getattr(method, "name", "")
    if not name:
        raise ConfigError(f"expected a method name or a SimilarityMethod, got {method!r}")
    return str(name)


def metric_for_method(method: Any) -> str:
    """The index metric that reproduces ``method``'s ranking (a name or a SimilarityMethod).

    Raises:
        ConfigError: the method's score is not a metric an index can serve (keypoints, SSIM, ...).
    """
    name = _method_name(method)
    if name in METHOD_METRICS:
        return METHOD_METRICS[name]
    raise ConfigError(
        f"method {name!r} cannot be indexed: its score is not a vector or Hamming similarity. "
        f"Indexable methods: {', '.join(METHOD_METRICS)} (or pass metric= explicitly for custom vectors)"
    )


def _hash_bits(feature: Any) -> np.ndarray:
    """One hash feature -> packed uint8 bits (1-D)."""
    if hasattr(feature, "hash"):  # imagehash.ImageHash
        feature = np.asarray(feature.hash)
    array = np.asarray(feature)
    if array.dtype == bool:
        return np.packbits(array.ravel())
    if array.dtype == np.uint8:
        return array.ravel()
    raise ConfigError(f"hash features must be packed uint8 bits or a bool bit array, got dtype {array.dtype}")


def _vector(feature: Any) -> np.ndarray:
    """One vector feature (array or torch tensor) -> 1-D array."""
    if hasattr(feature, "detach"):  # a torch tensor, possibly on the GPU
        feature = feature.detach().cpu().numpy()
    return np.asarray(feature).ravel()


def features_to_matrix(features: Any, metric: str) -> np.ndarray:
    """Stack features into the array FAISS wants.

    Args:
        features: a sequence of per-image features (1-D arrays, tensors, ImageHash objects), a 2-D array
            (one row per image), or a dict mapping paths to features (values in insertion order).
        metric: one of :data:`METRICS`.

    Returns:
        (N, D) float32 for vector metrics; (N, B) uint8 packed bits for ``"hamming"`` (B*8 bits).
    """
    if metric not in METRICS:
        raise ConfigError(f"metric {metric!r} is not supported. Try one of {list(METRICS)}")
    if isinstance(features, dict):
        features = list(features.values())
    if isinstance(features, np.ndarray) and features.ndim == 2:
        rows = features
    else:
        if len(features) == 0:
            raise DatasetError("no features to index: the gallery is empty")
        if metric == "hamming":
            rows = [_hash_bits(f) for f in features]
        else:
            rows = [_vector(f) for f in features]
        lengths = {len(r) for r in rows}
        if len(lengths) != 1:
            raise ConfigError(f"features have different lengths {sorted(lengths)}; expected one length")
        rows = np.stack(rows)
    if rows.shape[0] == 0:
        raise DatasetError("no features to index: the gallery is empty")
    if metric == "hamming":
        if rows.dtype == bool:
            rows = np.packbits(rows, axis=1)
        if rows.dtype != np.uint8:
            raise ConfigError(f"hamming index needs packed uint8 bits, got dtype {rows.dtype}")
        return np.ascontiguousarray(rows)
    return np.ascontiguousarray(rows, dtype=np.float32)


def _prepare(matrix: np.ndarray, metric: str) -> np.ndarray:
    """Vectors as the index stores them: centred (correl) and L2-normalised (cosine, correl)."""
    if metric == "hamming":
        return matrix
    matrix = np.array(matrix, dtype=np.float32, copy=True)
    if metric == "correl":
        matrix -= matrix.mean(axis=1, keepdims=True)
    if metric in ("cosine", "correl"):
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix /= np.where(norms > 0, norms, 1.0)
    return np.ascontiguousarray(matrix)


def _default_nlist(n: int) -> int:
    return int(max(1, min(int(4 * np.sqrt(n)), n // 39)))


def _new_index(metric: str, dim: int, n: int, config: IndexConfig):
    import faiss

    if metric == "hamming":
        bits = dim * 8
        if config.kind == "flat":
            return faiss.IndexBinaryFlat(bits), {}
        if config.kind == "hnsw":
            index = faiss.IndexBinaryHNSW(bits, config.hnsw_m)
            index.hnsw.efConstruction = config.ef_construction
            return index, {"hnsw_m": config.hnsw_m, "ef_construction": config.ef_construction}
        nlist = config.nlist or _default_nlist(n)
        quantizer = faiss.IndexBinaryFlat(bits)
        index = faiss.IndexBinaryIVF(quantizer, bits, nlist)
        index.own_fields = True
        quantizer.this.disown()
        return index, {"nlist": nlist}
    faiss_metric = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    if config.kind == "flat":
        return (faiss.IndexFlatL2(dim) if metric == "l2" else faiss.IndexFlatIP(dim)), {}
    if config.kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss_metric)
        index.hnsw.efConstruction = config.ef_construction
        return index, {"hnsw_m": config.hnsw_m, "ef_construction": config.ef_construction}
    nlist = config.nlist or _default_nlist(n)
    quantizer = faiss.IndexFlatL2(dim) if metric == "l2" else faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss_metric)
    index.own_fields = True
    quantizer.this.disown()
    return index, {"nlist": nlist}


def _set_search_params(index, config: IndexConfig) -> None:
    if config.kind == "ivf":
        index.nprobe = int(min(config.nprobe, index.nlist))
    elif config.kind == "hnsw":
        index.hnsw.efSearch = int(config.ef_search)


@dataclass
class GalleryIndex:
    """A searchable gallery: a FAISS index plus what each row is.

    Attributes:
        method: the CLI method name whose features were indexed.
        metric: one of :data:`METRICS`.
        config: how the index was built (kind and parameters).
        labels: the class of each gallery row.
        paths: the image file of each gallery row (strings; may be empty strings when unknown).
        index: the FAISS index (``faiss.Index`` or ``faiss.IndexBinary``).
        dim: vector length, or number of packed bytes for hash bits.
        params: resolved build parameters (e.g. the ``nlist`` actually used).
    """

    method: str
    metric: str
    config: IndexConfig
    labels: List[str]
    paths: List[str]
    index: Any
    dim: int
    params: Dict[str, Any] = field(default_factory=dict)
    #: What it was built from (gallery content hash, method settings, model fingerprint): :func:`check_built_from`.
    built_from: Dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Number of gallery rows."""
        return int(self.index.ntotal)

    @property
    def direction(self) -> str:
        """``"higher"`` when larger scores are more similar, ``"lower"`` for distances."""
        return METRIC_DIRECTIONS[self.metric]

    def search(self, query_features: Any, k: int = 5) -> Tuple[np.ndarray, np.ndarray]:
        """The ``k`` gallery rows nearest to each query, best first.

        Args:
            query_features: one feature, a sequence of features, or a 2-D array (one row per query), in
                the format the method's ``describe`` returns.
            k: neighbours per query; clipped to the gallery size.

        Returns:
            ``(indices, scores)``, both of shape (Q, k'): int64 gallery rows and float64 scores in the
            method's units (see :attr:`direction`), with k' = min(k, gallery size).
        """
        if int(k) < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        k = int(min(k, self.size))
        queries = self._query_matrix(query_features)
        distances, indices = self.index.search(_prepare(queries, self.metric), k)
        return indices.astype(np.int64), self._scores(distances, queries.shape[1])

    def _query_matrix(self, query_features: Any) -> np.ndarray:
        if isinstance(query_features, np.ndarray) and query_features.ndim == 2:
            matrix = features_to_matrix(query_features, self.metric)
        elif (
            isinstance(query_features, (list, tuple))
            and query_features
            and not np.isscalar(query_features[0])
        ):
            matrix = features_to_matrix(list(query_features), self.metric)
        else:
            matrix = features_to_matrix([query_features], self.metric)
        if matrix.shape[1] != self.dim:
            unit = "bytes of hash bits" if self.metric == "hamming" else "values"
            raise ConfigError(
                f"query features have {matrix.shape[1]} {unit}, the index of {self.method!r} holds {self.dim}"
            )
        return matrix

    def _scores(self, distances: np.ndarray, dim: int) -> np.ndarray:
        distances = distances.astype(np.float64)
        if self.metric == "hamming":
            return dim * 8 - distances  # equal bits, as the hash methods score
        if self.metric == "l2":
            return np.sqrt(np.maximum(distances, 0.0))  # FAISS returns squared distances
        return distances

    def save(self, path: PathLike) -> Path:
        """Write the index to ``path`` and its sidecar to ``path + ".json"``, each atomically."""
        return save_index(self, path)


def build_index(
    method: Any,
    features: Any,
    labels: Sequence[Any],
    *,
    paths: Optional[Sequence[Any]] = None,
    metric: Optional[str] = None,
    config: Optional[IndexConfig] = None,
    **config_options: Any,
) -> GalleryIndex:
    """Build a search index over a gallery's features.

    Args:
        method: the method (CLI name or :class:`~drugsim.methods.SimilarityMethod`) that computed
            ``features``; it fixes the metric unless ``metric`` is given.
        features: per-image features (see :func:`features_to_matrix`), in gallery order.
        labels: the class of each gallery image.
        paths: the file of each gallery image (kept in the sidecar; optional).
        metric: override the method's metric (one of :data:`METRICS`).
        config: an :class:`IndexConfig`; or give its fields as keyword options (``kind="hnsw"``).

    Returns:
        A :class:`GalleryIndex` ready to search.

    Raises:
        ConfigError: the method cannot be indexed, features of mixed lengths, bad options.
        DatasetError: empty gallery, or labels/paths not matching the features in number.
    """
    name = _method_name(method)
    metric = metric or metric_for_method(name)
    if config is None:
        config = IndexConfig(**config_options)
    elif config_options:
        raise ConfigError("give either config= or index options as keywords, not both")
    matrix = features_to_matrix(features, metric)
    n = matrix.shape[0]
    labels = [str(label) for label in labels]
    if len(labels) != n:
        raise DatasetError(f"{len(labels)} labels for {n} gallery features; expected one label per image")
    paths = [str(p) for p in paths] if paths is not None else [""] * n
    if len(paths) != n:
        raise DatasetError(f"{len(paths)} paths for {n} gallery features; expected one path per image")
    if config.kind == "ivf" and n < 39:
        raise DatasetError(
            f"an IVF index needs at least 39 gallery images to train, got {n}; use kind='flat'"
        )
    index, params = _new_index(metric, matrix.shape[1], n, config)
    prepared = _prepare(matrix, metric)
    if config.kind == "ivf":
        if index.nlist > n:
            raise ConfigError(f"nlist={index.nlist} is more than the {n} gallery images; use a smaller nlist")
        index.cp.seed = int(config.seed)
        index.train(prepared)
        params["nprobe"] = int(min(config.nprobe, index.nlist))
    elif config.kind == "hnsw":
        params["ef_search"] = int(config.ef_search)
    index.add(prepared)
    _set_search_params(index, config)
    return GalleryIndex(name, metric, config, labels, paths, index, int(matrix.shape[1]), params)


def brute_force_search(
    gallery: np.ndarray, queries: np.ndarray, k: int, *, metric: str
) -> Tuple[np.ndarray, np.ndarray]:
    """Exact search by scanning every gallery row with numpy: the reference the indexes are tested against.

    Args:
        gallery: (N, D) float vectors or (N, B) packed uint8 bits (hamming).
        queries: (Q, D) or (Q, B), same kind.
        k: neighbours per query.
        metric: one of :data:`METRICS`.

    Returns:
        ``(indices, scores)`` of shape (Q, min(k, N)), best first, scores as :meth:`GalleryIndex.search`;
        ties are broken by the lower gallery row.
    """
    if metric not in METRICS:
        raise ConfigError(f"metric {metric!r} is not supported. Try one of {list(METRICS)}")
    k = int(min(k, len(gallery)))
    if metric == "hamming":
        xor = np.bitwise_xor(queries[:, None, :], gallery[None, :, :])
        scores = gallery.shape[1] * 8 - np.unpackbits(xor, axis=2).sum(axis=2).astype(np.float64)
        higher = True
    else:
        g = _prepare(gallery, metric).astype(np.float64)
        q = _prepare(queries, metric).astype(np.float64)
        if metric == "l2":
            squared = (q**2).sum(axis=1)[:, None] + (g**2).sum(axis=1)[None, :] - 2.0 * (q @ g.T)
            scores = np.sqrt(np.maximum(squared, 0.0))
            higher = False
        else:
            scores = q @ g.T
            higher = True
    order = np.argsort(-scores if higher else scores, axis=1, kind="stable")[:, :k]
    return order.astype(np.int64), np.take_along_axis(scores, order, axis=1)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_index(index: GalleryIndex, path: PathLike) -> Path:
    """Save ``index`` to ``path`` (FAISS binary format) and ``path + ".json"`` (method, metric, labels...).

    Both files are written atomically; the sidecar is written last and records the index file's SHA-256,
    so :func:`load_index` notices an index and sidecar that do not belong together.
    """
    import faiss

    path = Path(path)
    with atomic_path(path, suffix=".faiss") as tmp:
        if index.metric == "hamming":
            faiss.write_index_binary(index.index, str(tmp))
        else:
            faiss.write_index(index.index, str(tmp))
    sidecar = {
        "format_version": FORMAT_VERSION,
        "method": index.method,
        "metric": index.metric,
        "direction": index.direction,
        "config": asdict(index.config),
        "params": index.params,
        "dim": index.dim,
        "size": index.size,
        "index_sha256": _sha256(path),
        "labels": index.labels,
        "paths": index.paths,
        "built_from": index.built_from,
    }
    write_text_atomic(_sidecar(path), json.dumps(sidecar, indent=1) + "\n")
    return path


def load_index(path: PathLike) -> GalleryIndex:
    """Reload an index saved by :func:`save_index` (reads ``path`` and ``path + ".json"``).

    Raises:
        DatasetError: a missing file, a malformed sidecar, or an index file that does not match it.
    """
    import faiss

    path = Path(path)
    sidecar_path = _sidecar(path)
    for needed in (path, sidecar_path):
        if not needed.is_file():
            raise DatasetError(
                f"{needed}: no such index file (build one with drugsim search --index ... or "
                "drugsim.evaluation.index.build_index(...).save(path))"
            )
    try:
        meta = json.loads(sidecar_path.read_text(encoding="utf-8"))
        method, metric, labels = meta["method"], meta["metric"], meta["labels"]
        config = IndexConfig(**meta["config"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{sidecar_path}: not a drugsim index sidecar ({exc})") from exc
    if metric not in METRICS:
        raise DatasetError(f"{sidecar_path}: unknown metric {metric!r}; expected one of {list(METRICS)}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise DatasetError(
            f"{sidecar_path}: format_version {meta.get('format_version')!r}, expected {FORMAT_VERSION!r} "
            "(rebuild the index)"
        )
    if not isinstance(labels, list) or not isinstance(meta.get("dim"), int):
        raise DatasetError(f"{sidecar_path}: not a drugsim index sidecar (labels or dim malformed)")
    # The checksum is required: FAISS parses its file in native code, so only a file saved together with
    # this sidecar is handed to it.
    if meta.get("index_sha256") != _sha256(path):
        raise DatasetError(
            f"{path}: index file does not match its sidecar {sidecar_path.name} (checksum differs)"
        )
    try:
        raw = faiss.read_index_binary(str(path)) if metric == "hamming" else faiss.read_index(str(path))
    except RuntimeError as exc:
        raise DatasetError(f"{path}: not a readable FAISS index ({exc})") from exc
    if raw.ntotal != len(labels):
        raise DatasetError(
            f"{path}: index holds {raw.ntotal} rows but its sidecar lists {len(labels)} labels"
        )
    _set_search_params(raw, config)
    paths = meta.get("paths") or [""] * len(labels)
    built_from = meta.get("built_from")
    if not isinstance(built_from, dict):
        built_from = {}
    return GalleryIndex(
        method, metric, config, list(labels), list(paths), raw, int(meta["dim"]), dict(meta.get("params", {})),
        built_from,
    )


def check_built_from(index: GalleryIndex, expected: Dict[str, Any], *, path: PathLike) -> None:
    """Refuse (:class:`ConfigError`, one line naming ``path``) an index built from another gallery, method
    setting or model than ``expected`` (e.g. ``{"gallery_sha256": ..., "method_key": ...}``) describes, or one
    saved without that record (nothing shows what it holds)."""
    for key, value in expected.items():
        held = index.built_from.get(key)
        if held != value:
            what = {"gallery_sha256": "another gallery (its images or labels differ)", "method_key":
                    "another method setting or model checkpoint"}.get(key, f"another {key}")
            raise ConfigError(f"--index {path}: built from {what}; it would answer from stale data. Delete it "
                              "(it is rebuilt) or give another --index path")


def leave_one_out_search(index: GalleryIndex, features: Any, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """Search every gallery row against the rest of the gallery (each query's own row removed).

    Args:
        index: an index built over ``features``, in the same order.
        features: the gallery features (queries are the gallery itself).
        k: neighbours per query, not counting the query itself; clipped to the gallery size minus one.

    Returns:
        ``(indices, scores)`` of shape (N, k'), best first, without the query's own row. An approximate
        index that misses the query's own row drops its last neighbour instead.
    """
    k = int(min(k, index.size - 1))
    if k < 1:
        raise DatasetError(f"leave-one-out search needs at least 2 gallery rows, got {index.size}")
    indices, scores = index.search(features, k=k + 1)
    return drop_self(indices, scores, k)


def neighbour_similarity(indices: np.ndarray, n_gallery: int) -> np.ndarray:
    """A (Q, n_gallery) similarity that ranks each query's neighbours in the order an index returned them.

    Neighbour j of a row gets ``k - j``; every other gallery item ``-inf``. Fed to
    :func:`drugsim.evaluation.retrieval.retrieval_metrics`, it scores exactly the ranking the index produced
    (ties and all), so brute force, exact and approximate indexes are measured by one implementation.
    Needs ``k`` at least the largest class size, so that MAP@R never looks past the returned neighbours.
    """
    k = indices.shape[1]
    similarity = np.full((len(indices), n_gallery), -np.inf)
    rows = np.repeat(np.arange(len(indices)), k)
    ranks = np.tile(np.arange(k, 0, -1, dtype=np.float64), len(indices))
    valid = indices.reshape(-1) >= 0
    similarity[rows[valid], indices.reshape(-1)[valid]] = ranks[valid]
    return similarity


def drop_self(indices: np.ndarray, scores: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """Remove each query's own row (query i = gallery row i) from ``k + 1`` neighbours; keep ``k``.

    Where the query's own row is missing (an approximate index, or ties), the last neighbour is dropped.
    Rows FAISS could not fill (-1) stay -1 with a NaN score.
    """
    keep_indices = np.full((len(indices), k), -1, np.int64)
    keep_scores = np.full((len(indices), k), np.nan, np.float64)
    for row, (found, found_scores) in enumerate(zip(indices, scores)):
        mask = found != row
        if mask.all():
            mask[-1] = False
        mask &= found >= 0
        chosen, chosen_scores = found[mask][:k], found_scores[mask][:k]
        keep_indices[row, : len(chosen)] = chosen
        keep_scores[row, : len(chosen)] = chosen_scores
    return keep_indices, keep_scores
