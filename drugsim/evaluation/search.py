"""1:N search: look a photographed box up in a gallery of known drugs (brute force, any method).

The gallery is described once through the engine (with the feature cache, so a gallery is described
once per method, ever); a query is described and scored against every gallery feature with one
``method.score_pairs`` call, which is exact for every method, SIFT/ORB and the Siamese head included.
For very large galleries of indexable methods (hashes, vectors) ``drugsim.evaluation.index`` answers
from a FAISS index instead.

Example:
    >>> import numpy as np
    >>> from drugsim.methods import create_method
    >>> method = create_method("ahash")
    >>> dark, light = np.zeros((32, 32, 3), np.uint8), np.full((32, 32, 3), 255, np.uint8)
    >>> light[:16] = 0
    >>> gallery = {"dark": method.describe(dark), "light": method.describe(light)}
    >>> [hit.key for hit in search(method, light, gallery, top_k=2)]
    ['light', 'dark']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Hashable, List, Mapping, Optional, Sequence

import numpy as np

from drugsim.data.records import ImageRecord
from drugsim.errors import ConfigError
from drugsim.evaluation.retrieval import rank_gallery, retrieval_labels, retrieval_metrics
from drugsim.io import PathLike, read_image
from drugsim.methods import SimilarityMethod


@dataclass(frozen=True)
class SearchHit:
    """One gallery result: its key (a path), its score on the method's scale, its rank (1 = best)."""

    key: Hashable
    score: float
    rank: int
    label: Optional[str] = None


def score_against_gallery(
    method: SimilarityMethod, query_feature: Any, gallery_features: Sequence[Any]
) -> np.ndarray:
    """(G,) scores of one query feature against every gallery feature (method's scale)."""
    if not len(gallery_features):
        return np.zeros(0)
    return np.asarray(
        method.score_pairs([query_feature] * len(gallery_features), list(gallery_features)), dtype=np.float64
    )


def search(
    method: SimilarityMethod,
    query_image,
    gallery_features: Mapping[Hashable, Any],
    top_k: int = 5,
    *,
    labels: Optional[Mapping[Hashable, str]] = None,
) -> List[SearchHit]:
    """The ``top_k`` gallery items most similar to ``query_image``, best first.

    Args:
        method: the similarity method that described the gallery.
        query_image: (H, W, 3) uint8 RGB array, or a path to an image file.
        gallery_features: ``{key: feature}`` (e.g. from :func:`drugsim.evaluation.engine.describe_images`).
        top_k: how many results (at most the gallery size).
        labels: optional ``{key: label}`` to attach to the hits.

    Raises:
        ConfigError: ``top_k`` < 1 or an empty gallery.
    """
    if top_k < 1:
        raise ConfigError(f"top_k must be at least 1; got {top_k}")
    if not gallery_features:
        raise ConfigError("the gallery is empty: describe at least one gallery image first")
    from drugsim.evaluation.engine import describe_image

    query_name = "the query image"
    if not isinstance(query_image, np.ndarray):
        query_name, query_image = query_image, read_image(query_image)
    keys = list(gallery_features)
    query_feature = describe_image(method, query_image, query_name)
    scores = score_against_gallery(method, query_feature, [gallery_features[k] for k in keys])
    order = rank_gallery(method.oriented(scores)[None, :])[0][:top_k]
    return [
        SearchHit(
            key=keys[i],
            score=float(scores[i]),
            rank=rank + 1,
            label=None if labels is None else labels.get(keys[i]),
        )
        for rank, i in enumerate(order)
    ]


def describe_gallery(
    method: SimilarityMethod,
    paths: Sequence[PathLike],
    *,
    cache_dir: Optional[PathLike] = None,
    n_jobs: Optional[int] = None,
    progress: bool = True,
) -> Dict[Path, Any]:
    """Gallery features through the engine (each image once, cached on disk when ``cache_dir`` is set)."""
    from drugsim.evaluation.engine import describe_images

    return describe_images(method, paths, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress)


def similarity_matrix(
    method: SimilarityMethod, query_features: Sequence[Any], gallery_features: Sequence[Any]
) -> np.ndarray:
    """(Q, G) oriented similarities (higher = more similar), one ``score_pairs`` call per query."""
    gallery = list(gallery_features)
    matrix = np.empty((len(query_features), len(gallery)), dtype=np.float64)
    for row, feature in enumerate(query_features):
        matrix[row] = method.oriented(score_against_gallery(method, feature, gallery))
    return matrix


def evaluate_retrieval(
    method: SimilarityMethod,
    records: Sequence[ImageRecord],
    *,
    max_queries: Optional[int] = None,
    seed: int = 0,
    by: str = "label",
    cache_dir: Optional[PathLike] = None,
    n_jobs: Optional[int] = None,
    progress: bool = False,
) -> Dict[str, Any]:
    """Leave-one-out 1:N search over ``records``: each query image against all the others.

    Args:
        method: the method.
        records: the gallery (and the queries).
        max_queries: search with a seeded random subset of this many queries (the gallery stays whole);
            keypoint methods cost one match per query-gallery pair.
        seed: seeds the query subset.
        by: what a correct result shares with the query: ``"group"`` (the chapters' definition,
            :func:`~drugsim.evaluation.retrieval.retrieval_labels`: drug and face when faces are known) or
            ``"label"`` (the drug only).
        cache_dir, n_jobs, progress: passed to the engine.

    Returns:
        :func:`~drugsim.evaluation.retrieval.retrieval_metrics`'s dict plus ``method``, ``n_gallery``, ``by``.
    """
    if by not in ("label", "group"):
        raise ConfigError(f"by={by!r} is not supported. Try one of ['label', 'group']")
    if len(records) < 2:
        raise ConfigError(f"retrieval needs at least 2 images; got {len(records)}")
    paths = [record.path for record in records]
    labels = [record.label for record in records] if by == "label" else retrieval_labels(records)
    features = describe_gallery(method, paths, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress)
    gallery = [features[Path(p)] for p in paths]
    if max_queries is not None and max_queries < len(records):
        chosen = np.sort(np.random.default_rng(seed).choice(len(records), size=max_queries, replace=False))
    else:
        chosen = np.arange(len(records))
    similarity = similarity_matrix(method, [gallery[i] for i in chosen], gallery)
    metrics = retrieval_metrics(similarity, [labels[i] for i in chosen], labels, self_index=chosen)
    return {"method": method.name, "n_gallery": len(records), "by": by, **metrics}
