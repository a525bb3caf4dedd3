"""The histogram and cosine chapter (notebook 02): the methods it compares, the normalisation study that
asks which histogram scale the paper's Table 7 magnitudes came from, and the sentence that names it.

The shared classical steps (example pair, Table 7 rows, agreement sentence) are in
:mod:`drugsim.studies.classical_common`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from drugsim import paper
from drugsim.data.records import Pair

#: The chapter's methods: the paper's four OpenCV histogram metrics and cosine, with Euclidean and SSIM
#: beside.
METHODS = (
    "hist-correl", "hist-chisqr", "hist-intersect", "hist-bhattacharyya", "cosine", "euclidean", "ssim",
)
#: The paper's scores of its Fig. 1 pair: Table 3 and the section 2.2 cosine value.
PAPER_FIG1 = {**paper.TABLE3_FIG1_HISTOGRAM, "cosine": paper.FIG1_COSINE}


def normalisation_table(pairs: Sequence[Pair], *, max_pairs: int = 100) -> list[dict[str, Any]]:
    """:func:`~drugsim.classical.histogram.normalisation_study` on the first ``max_pairs`` pairs, with the
    paper's Table 7 mean of the metric the paper names (for the four metrics it uses)."""
    from drugsim.classical.histogram import normalisation_study
    from drugsim.io import read_image

    chosen = list(pairs)[:max_pairs]
    images = [(read_image(p.path_a), read_image(p.path_b)) for p in chosen]
    rows = normalisation_study(images, [p.label for p in chosen])
    for row in rows:
        published = paper.TABLE7.get(f"hist-{row['cv2_method']}", {})
        row["paper_positive_mean"] = published.get("positive_mean", float("nan"))
        row["paper_negative_mean"] = published.get("negative_mean", float("nan"))
    return rows


def closest_normalisation(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """For each paper metric, the (normalisation, OpenCV method) whose means are closest to Table 7's, on a
    log scale (magnitudes are what the comparison can say), as a list of dicts."""
    out = {}
    for metric, published in paper.TABLE7.items():
        if not metric.startswith("hist-"):
            continue
        target = np.log10([abs(published["positive_mean"]) + 1e-12, abs(published["negative_mean"]) + 1e-12])
        best, best_gap = None, float("inf")
        for row in rows:
            values = np.array([row["positive_mean"], row["negative_mean"]], dtype=float)
            if not np.all(np.isfinite(values)):
                continue
            gap = float(np.abs(np.log10(np.abs(values) + 1e-12) - target).sum())
            if gap < best_gap:
                best, best_gap = row, gap
        if best is not None:
            out[metric] = {
                "normalisation": best["normalisation"],
                "cv2_method": best["cv2_method"],
                "positive_mean": best["positive_mean"],
                "negative_mean": best["negative_mean"],
                "log10_gap": best_gap,
            }
    return out


def closest_sentence(closest: Mapping[str, Mapping[str, Any]]) -> str:
    """One ``"; "``-joined phrase per paper metric naming the histogram scale closest to Table 7's means.

    Args:
        closest: :func:`closest_normalisation` output.
    """
    return "; ".join(
        f"{m}: closest is {r['cv2_method']} on {r['normalisation']} histograms "
        f"({r['positive_mean']:.4g} / {r['negative_mean']:.4g})"
        for m, r in closest.items()
    )
