"""Histogram similarity (paper section 2.1, eqs. 1-4): grey-level histograms compared with OpenCV's metrics.

An image is described by its grey histogram (256 bins over 0-255, one bin per grey level, as the paper
says) or, as an option beyond the paper, by a hue-saturation (HSV) histogram. Two histograms are compared
with one of OpenCV's four ``cv2.compareHist`` metrics, keeping OpenCV's own definitions:

============== ============================================================ ============== ==========
metric         OpenCV definition (sums over bins I)                         more similar   paper eq.
============== ============================================================ ============== ==========
correl         sum((H1-mean1)(H2-mean2)) / sqrt(sum((H1-mean1)^2) sum(...)) higher, <= 1   (1)
chisqr         sum((H1-H2)^2 / H1)   (bins with H1 = 0 skipped)             lower, >= 0    (2)
intersect      sum(min(H1, H2))                                             higher         (3)
bhattacharyya  sqrt(1 - sum(sqrt(H1 H2)) / sqrt(sum(H1) sum(H2)))          lower, [0, 1]  (4)
============== ============================================================ ============== ==========

Normalisation. OpenCV does not normalise inside ``compareHist``; the caller's normalisation decides the
scale of chisqr and intersect (correl and bhattacharyya are scale-free). We divide each histogram by its
sum (``normalisation="l1"``: the histogram is the fraction of pixels at each grey level), which makes
scores independent of image size and puts intersect in [0, 1] (the shared fraction of pixels). This is
what the paper's Table 3 implies: its intersection value 0.0769 is below 1 and its Bhattacharyya value
0.9993 lies in the [0, 1] range the paper itself states. Table 7 (intersection about 197, Bhattacharyya
about 4.2, chi-square about 0.05) is not consistent with Table 3 or with OpenCV: OpenCV's Bhattacharyya
distance can never exceed 1, whatever the normalisation, so the "Bhattacharyya" column of Table 7 cannot
be OpenCV's Bhattacharyya distance. :func:`normalisation_study` computes every OpenCV metric under the usual
normalisations (raw counts, L1, min-max to [0, 1] as in the companion article's code, min-max to [0, 255])
so the notebook can show which, if any, reproduces the magnitudes of Table 7. ``"minmax"`` and ``"none"``
are available as options for that study.

Example:
    >>> import numpy as np
    >>> method = HistogramMethod(metric="intersect")
    >>> black = np.zeros((8, 8, 3), np.uint8)
    >>> half = black.copy(); half[:4] = 255
    >>> method.score(method.describe(black), method.describe(half))  # half the pixels share a grey level
    0.5

References:
    Paper section 2.1, eqs. (1)-(4) and Tables 3 and 7; OpenCV ``compareHist`` documentation
    (https://docs.opencv.org/4.x/d8/dc8/tutorial_histogram_comparison.html).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, List, Sequence, Tuple

import cv2
import numpy as np

from drugsim.errors import ConfigError
from drugsim.io import to_grey
from drugsim.methods import SimilarityMethod

#: OpenCV's ``compareHist`` method codes of the four metrics the paper uses.
METRICS: Dict[str, int] = {
    "correl": cv2.HISTCMP_CORREL,
    "chisqr": cv2.HISTCMP_CHISQR,
    "intersect": cv2.HISTCMP_INTERSECT,
    "bhattacharyya": cv2.HISTCMP_BHATTACHARYYA,
}
#: Which way each metric points (eqs. 1-4): chi-square and Bhattacharyya are distances.
DIRECTIONS: Dict[str, str] = {
    "correl": "higher",
    "chisqr": "lower",
    "intersect": "higher",
    "bhattacharyya": "lower",
}
NORMALISATIONS = ("l1", "minmax", "none")
#: Hue-saturation bins of the colour (HSV) histogram: hue spans 0-179 in OpenCV, saturation 0-255.
COLOUR_BINS: Tuple[int, int] = (30, 32)

_DBL_EPSILON = np.finfo(np.float64).eps
_FLT_EPSILON = float(np.finfo(np.float32).eps)


def _normalise(hist: np.ndarray, normalisation: str) -> np.ndarray:
    if normalisation == "l1":
        total = float(hist.sum())
        return hist / total if total > 0 else hist
    if normalisation == "minmax":
        # As cv2.normalize(hist, hist, 0, 1, cv2.NORM_MINMAX) in the companion article's code.
        low, high = float(hist.min()), float(hist.max())
        return (hist - low) / (high - low) if high > low else np.zeros_like(hist)
    return hist


def grey_histogram(image: np.ndarray, *, bins: int = 256, normalisation: str = "l1") -> np.ndarray:
    """Grey-level histogram of an image, ``bins`` equal bins over grey levels 0-255.

    Args:
        image: (H, W, 3) RGB or (H, W) grey, uint8.
        bins: number of bins (the paper: 256, one per grey level).
        normalisation: ``"l1"`` (sum 1), ``"minmax"`` (min 0, max 1) or ``"none"`` (pixel counts).

    Returns:
        Array of shape (bins,), float32.

    Example:
        >>> float(grey_histogram(np.full((2, 2), 7, np.uint8))[7])
        1.0
    """
    grey = to_grey(image)
    hist = cv2.calcHist([np.ascontiguousarray(grey)], [0], None, [bins], [0, 256]).ravel()
    return _normalise(hist, normalisation).astype(np.float32)


def colour_histogram(
    image: np.ndarray, *, bins: Tuple[int, int] = COLOUR_BINS, normalisation: str = "l1"
) -> np.ndarray:
    """Hue-saturation histogram in HSV space (beyond the paper; the companion article's colour histogram).

    Args:
        image: (H, W, 3) RGB uint8 (a grey image is treated as RGB with equal channels).
        bins: (hue bins, saturation bins).
        normalisation: as :func:`grey_histogram`.

    Returns:
        Array of shape (bins[0] * bins[1],), float32 (the 2-D histogram flattened row by row).
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    hsv = cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, list(bins), [0, 180, 0, 256]).ravel()
    return _normalise(hist, normalisation).astype(np.float32)


def compare_histograms(hists_a: np.ndarray, hists_b: np.ndarray, metric: str) -> np.ndarray:
    """OpenCV's ``compareHist`` for many pairs at once (same formulas, same edge cases, float64).

    Args:
        hists_a: (N, B) or (B,) histograms.
        hists_b: same shape as ``hists_a``.
        metric: one of :data:`METRICS`.

    Returns:
        (N,) scores (a 0-d array for 1-D inputs), equal to ``cv2.compareHist`` on each row up to
        floating-point rounding.

    Example:
        >>> h1 = np.array([0.5, 0.5, 0.0]); h2 = np.array([0.0, 0.5, 0.5])
        >>> float(compare_histograms(h1, h2, "intersect"))
        0.5
    """
    if metric not in METRICS:
        raise ConfigError(f"histogram metric {metric!r} is not supported. Try one of {list(METRICS)}")
    a = np.asarray(hists_a, dtype=np.float64)
    b = np.asarray(hists_b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"histogram shapes differ: {a.shape} vs {b.shape}")
    if metric == "correl":
        n_bins = a.shape[-1]
        s1, s2 = a.sum(-1), b.sum(-1)
        num = (a * b).sum(-1) - s1 * s2 / n_bins
        denom2 = ((a * a).sum(-1) - s1 * s1 / n_bins) * ((b * b).sum(-1) - s2 * s2 / n_bins)
        safe = np.abs(denom2) > _DBL_EPSILON
        return np.where(safe, num / np.sqrt(np.where(safe, denom2, 1.0)), 1.0)
    if metric == "chisqr":
        nonzero = np.abs(a) > _DBL_EPSILON
        return np.where(nonzero, (a - b) ** 2 / np.where(nonzero, a, 1.0), 0.0).sum(-1)
    if metric == "intersect":
        return np.minimum(a, b).sum(-1)
    # bhattacharyya
    total = a.sum(-1) * b.sum(-1)
    scale = np.where(np.abs(total) > _FLT_EPSILON, 1.0 / np.sqrt(np.where(total > 0, total, 1.0)), 1.0)
    return np.sqrt(np.maximum(1.0 - np.sqrt(a * b).sum(-1) * scale, 0.0))


class HistogramMethod(SimilarityMethod):
    """Histogram comparison with one of OpenCV's four metrics (paper section 2.1).

    Args:
        metric: ``"correl"``, ``"chisqr"``, ``"intersect"`` or ``"bhattacharyya"`` (eqs. 1-4).
        colour: False = grey histogram (the paper); True = HSV hue-saturation histogram (beyond).
        bins: grey bins over 0-255 (the paper: 256). Ignored when ``colour`` (see :data:`COLOUR_BINS`).
        normalisation: ``"l1"`` (default, see the module docstring), ``"minmax"`` or ``"none"``.

    The feature is the histogram, float32 of shape (bins,).
    """

    paper_section = "2.1"
    config_fields = ("metric", "colour", "bins", "normalisation")

    def __init__(
        self, metric: str = "correl", *, colour: bool = False, bins: int = 256, normalisation: str = "l1"
    ) -> None:
        if metric not in METRICS:
            raise ConfigError(f"histogram metric {metric!r} is not supported. Try one of {list(METRICS)}")
        if normalisation not in NORMALISATIONS:
            raise ConfigError(
                f"histogram normalisation {normalisation!r} is not supported. "
                f"Try one of {list(NORMALISATIONS)}"
            )
        if not isinstance(bins, (int, np.integer)) or isinstance(bins, bool) or not 2 <= bins <= 256:
            raise ConfigError(f"histogram bins must be an integer in [2, 256], got {bins!r}")
        self.metric = metric
        self.colour = bool(colour)
        self.bins = int(bins)
        self.normalisation = normalisation
        self.name = f"hist-{metric}"  # type: ignore[misc]  # instance attribute shadows the ClassVar
        self.direction = DIRECTIONS[metric]  # type: ignore[misc]

    def _describe(self, image: np.ndarray) -> np.ndarray:
        if self.colour:
            return colour_histogram(image, normalisation=self.normalisation)
        return grey_histogram(image, bins=self.bins, normalisation=self.normalisation)

    def score(self, feature_a: np.ndarray, feature_b: np.ndarray) -> float:
        return float(compare_histograms(feature_a, feature_b, self.metric))

    def _score_pairs(self, features_a: Sequence[Any], features_b: Sequence[Any]) -> np.ndarray:
        return compare_histograms(np.stack(features_a), np.stack(features_b), self.metric).astype(np.float64)


    def feature_config(self) -> Dict[str, Any]:
        return {"colour": self.colour, "bins": self.bins, "normalisation": self.normalisation}

    def cache_key(self) -> str:
        # The four metrics share one feature: cache it once, not once per metric.
        blob = json.dumps({"name": "hist", **self.feature_config()}, sort_keys=True)
        return f"hist-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def normalisation_study(
    grey_pairs: Sequence[Tuple[np.ndarray, np.ndarray]],
    labels: Sequence[int],
    *,
    normalisations: Sequence[str] = ("none", "l1", "minmax", "minmax255"),
) -> List[Dict[str, Any]]:
    """Mean positive and negative scores of every OpenCV compareHist method under several normalisations.

    Used to investigate which histogram set-up could have produced the magnitudes of the paper's Table 7.
    ``"minmax255"`` is ``cv2.normalize(h, h, 0, 255, cv2.NORM_MINMAX)``; the OpenCV methods beyond the
    four of the paper (``chisqr_alt``, ``kl_div``) are included because a mis-numbered method argument is
    one way to get a "Bhattacharyya" value above 1.

    Args:
        grey_pairs: (image_a, image_b) uint8 images (grey or RGB).
        labels: 1 for positive pairs, 0 for negative ones, aligned with ``grey_pairs``.
        normalisations: which normalisations to try.

    Returns:
        One dict per (normalisation, OpenCV method): keys ``normalisation``, ``cv2_method``,
        ``cv2_code``, ``positive_mean``, ``negative_mean``.
    """
    codes = {**METRICS, "chisqr_alt": cv2.HISTCMP_CHISQR_ALT, "kl_div": cv2.HISTCMP_KL_DIV}
    labels_arr = np.asarray(labels, dtype=int)
    raw = [
        (grey_histogram(a, normalisation="none"), grey_histogram(b, normalisation="none"))
        for a, b in grey_pairs
    ]
    rows: List[Dict[str, Any]] = []
    for normalisation in normalisations:
        scores = np.zeros((len(raw), len(codes)))
        for i, (ha, hb) in enumerate(raw):
            if normalisation == "minmax255":
                na, nb = (_normalise(h, "minmax") * 255.0 for h in (ha, hb))
            else:
                na, nb = _normalise(ha, normalisation), _normalise(hb, normalisation)
            na, nb = na.astype(np.float32), nb.astype(np.float32)
            scores[i] = [cv2.compareHist(na, nb, code) for code in codes.values()]
        for j, (method, code) in enumerate(codes.items()):
            with np.errstate(all="ignore"):
                rows.append(
                    {
                        "normalisation": normalisation,
                        "cv2_method": method,
                        "cv2_code": int(code),
                        "positive_mean": float(np.mean(scores[labels_arr == 1, j]))
                        if (labels_arr == 1).any()
                        else float("nan"),
                        "negative_mean": float(np.mean(scores[labels_arr == 0, j]))
                        if (labels_arr == 0).any()
                        else float("nan"),
                    }
                )
    return rows
