"""1:N retrieval metrics: precision@1 and MAP@R, as pytorch-metric-learning's AccuracyCalculator defines them.

A user photographs a box and looks it up in a gallery of known drugs. Given a similarity matrix
(queries x gallery) and labels, for every query the gallery is ranked best-first and:

* ``precision_at_1``: the share of queries whose first result has the query's label;
* ``map_at_r`` (mean average precision at R; Musgrave, Belongie, Lim, "A Metric Learning Reality Check",
  ECCV 2020, section 3.2): with R = the number of gallery items that share the query's label,
  ``AP@R = (1/R) * sum_{i=1..R} P(i) * rel(i)``, where ``rel(i)`` is 1 when the i-th result is relevant and
  ``P(i)`` is the precision of the first i results; averaged over queries;
* ``r_precision``: the share of relevant items among the first R results.

What counts as relevant is one definition for every chapter (09 and 11): :func:`retrieval_labels`, an
image's drug *and face* (``ImageRecord.group``), what a positive pair shares; the class alone where faces
are unknown (Grocery photos, user folders).

As in AccuracyCalculator (``avg_of_avgs=False``, ``k`` large enough): averages are over queries;
when the gallery includes the queries (``exclude_self=True``, leave-one-out) a query never retrieves
itself and R does not count it; *lone* queries, whose label has no other item in the gallery, are left
out of every metric (they could never score) and counted in ``n_lone_queries``. Ties in similarity are
broken by gallery order (a k-NN library breaks them arbitrarily).

Example:
    >>> import numpy as np
    >>> similarity = np.array([[0.9, 0.8, 0.1], [0.7, 0.6, 0.2]])
    >>> metrics = retrieval_metrics(similarity, ["a", "b"], ["a", "b", "b"])
    >>> metrics["precision_at_1"], round(metrics["map_at_r"], 4)
    (0.5, 0.625)
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from drugsim.data.records import ImageRecord
from drugsim.errors import ConfigError


def retrieval_labels(records: Sequence[ImageRecord]) -> List[str]:
    """What a search hit must share with its query, per image: drug and face (``ImageRecord.group``), as a
    positive pair does; the class alone when the face is unknown.

    Example:
        >>> from pathlib import Path
        >>> retrieval_labels([ImageRecord(Path("a.jpg"), "drug1", "front"), ImageRecord(Path("b.jpg"), "milk")])
        ['drug1/front', 'milk']
    """
    return [record.group for record in records]


def rank_gallery(similarity: np.ndarray) -> np.ndarray:
    """Gallery indices best-first for each query row (higher similarity first, ties by gallery order)."""
    similarity = np.atleast_2d(np.asarray(similarity, dtype=np.float64))
    return np.argsort(-similarity, axis=1, kind="stable")


def retrieval_metrics(
    similarity,
    query_labels: Sequence[Any],
    gallery_labels: Sequence[Any],
    *,
    exclude_self: bool = False,
    self_index: Optional[Sequence[int]] = None,
) -> Dict[str, float]:
    """precision@1, MAP@R and R-precision of ranked retrieval.

    Args:
        similarity: (Q, G) oriented similarities (higher = more similar; use ``method.oriented``).
        query_labels: (Q,) labels of the queries.
        gallery_labels: (G,) labels of the gallery.
        exclude_self: the queries are the gallery (Q == G, query i is gallery item i): leave-one-out.
        self_index: (Q,) the gallery position of each query's own image (-1 = not in the gallery), for
            leave-one-out with a subset of queries; ``exclude_self`` is ``self_index = range(Q)``.

    Returns:
        ``{"precision_at_1", "map_at_r", "r_precision", "n_queries", "n_lone_queries"}``; metrics are NaN
        when every query is lone.
    """
    similarity = np.atleast_2d(np.asarray(similarity, dtype=np.float64))
    query = np.asarray(list(query_labels), dtype=object)
    gallery = np.asarray(list(gallery_labels), dtype=object)
    n_queries, n_gallery = similarity.shape
    if query.size != n_queries or gallery.size != n_gallery:
        raise ConfigError(
            f"similarity is {n_queries} x {n_gallery} but there are {query.size} query labels and "
            f"{gallery.size} gallery labels"
        )
    if exclude_self:
        if n_queries != n_gallery:
            raise ConfigError(
                f"exclude_self needs the queries to be the gallery; got {n_queries} x {n_gallery}"
            )
        self_index = np.arange(n_queries)
    if self_index is not None:
        self_index = np.asarray(self_index, dtype=np.int64).reshape(-1)
        if self_index.size != n_queries or np.any(self_index >= n_gallery):
            raise ConfigError(
                f"self_index needs one gallery position (or -1) per query; got {self_index.size}"
            )
    if np.isnan(similarity).any():
        raise ConfigError("similarity contains NaN; expected finite scores or +-inf")
    # Map labels to integers once so that comparisons are vectorised.
    _, codes = np.unique(np.concatenate([query, gallery]).astype(str), return_inverse=True)
    query_codes, gallery_codes = codes[:n_queries], codes[n_queries:]
    relevant = query_codes[:, None] == gallery_codes[None, :]
    if self_index is not None:
        # A query never retrieves its own image (ranked last, never relevant, not counted in R).
        rows = np.flatnonzero(self_index >= 0)
        relevant[rows, self_index[rows]] = False
        similarity = similarity.copy()
        similarity[rows, self_index[rows]] = -np.inf
    r_counts = relevant.sum(axis=1)
    kept = r_counts > 0
    out: Dict[str, float] = {"n_queries": int(kept.sum()), "n_lone_queries": int((~kept).sum())}
    if not kept.any():
        out.update(precision_at_1=float("nan"), map_at_r=float("nan"), r_precision=float("nan"))
        return out
    order = rank_gallery(similarity[kept])
    hits = np.take_along_axis(relevant[kept], order, axis=1)
    r_counts = r_counts[kept]
    max_r = int(r_counts.max())
    top = hits[:, :max_r].astype(np.float64)
    positions = np.arange(1, max_r + 1)
    within_r = positions[None, :] <= r_counts[:, None]
    precision_at_i = np.cumsum(top, axis=1) / positions[None, :]
    average_precision = np.sum(precision_at_i * top * within_r, axis=1) / r_counts
    out["precision_at_1"] = float(np.mean(hits[:, 0]))
    out["map_at_r"] = float(np.mean(average_precision))
    out["r_precision"] = float(np.mean(np.sum(top * within_r, axis=1) / r_counts))
    return out
