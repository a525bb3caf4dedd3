"""Exact against approximate 1:N search: queries per second and recall@k as the gallery grows
(:func:`bench_search`, synthetic galleries), and on a real gallery against a brute-force scan
(:func:`dataset_search`).

Times are medians over ``repeats`` runs (:func:`drugsim.evaluation.timing.time_call`) after a warm-up
search. The chapter's tables, plots and sentences around these numbers are in :mod:`drugsim.studies.search`.

Example:
    >>> recall_at_k(np.array([[0, 1], [2, 5]]), np.array([[0, 1], [2, 3]]))
    0.75

References:
    Issue 8 item 3 (search at scale).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from drugsim.evaluation.timing import time_call
from drugsim.hardware import hardware_info


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
    approx_scores: np.ndarray | None = None,
    exact_scores: np.ndarray | None = None,
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
) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
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
    index_options: dict[str, Any] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
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
    rows: list[dict[str, Any]] = []
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
    index_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
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

    def quality(indices: np.ndarray) -> dict[str, Any]:
        metrics = retrieval_metrics(
            neighbour_similarity(indices, len(labels)), labels, labels, exclude_self=True
        )
        return {key: metrics[key] for key in ("precision_at_1", "map_at_r", "r_precision", "n_queries")}

    labels = [str(label) for label in labels]
    name = method if isinstance(method, str) else method.name
    metric = metric_for_method(name)
    matrix = features_to_matrix(features, metric)
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    k = max(1, min(max(counts.values()) - 1, len(labels) - 1))
    rows: dict[str, dict[str, Any]] = {}

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
