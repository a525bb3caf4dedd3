"""Pixel-level similarity: cosine of flattened grey pixels (paper section 2.2), and two companions beyond
the paper, Euclidean pixel distance and SSIM.

All three resize both images to one common square size, convert to grey (ITU-R BT.601 weights, as OpenCV)
and compare pixel by pixel. The paper says "resize both images to the same size" without the size; we use
64 x 64 for cosine and Euclidean (4,096 values; a global grey-level comparison gains nothing from more
pixels, and the cached feature of an image stays at 4 KiB) and 128 x 128 for SSIM (its 7 x 7 windows need
some detail). Resizing uses ``cv2.INTER_AREA`` (pixel averaging, no aliasing when shrinking).

Features are the resized grey images as uint8 arrays; ``score_pairs`` is vectorised (matrix operations over
all pairs at once).

Example:
    >>> import numpy as np
    >>> method = CosineMethod(size=8)
    >>> image = np.full((20, 30, 3), 100, np.uint8)
    >>> method.score(method.describe(image), method.describe(image))
    1.0

References:
    Paper section 2.2, eq. (5). SSIM: Wang et al., "Image Quality Assessment: From Error Visibility to
    Structural Similarity", IEEE TIP 2004, as implemented by ``skimage.metrics.structural_similarity``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import cv2
import numpy as np

from drugsim.errors import ConfigError
from drugsim.io import to_grey
from drugsim.methods import SimilarityMethod

#: SSIM constants, as scikit-image's defaults (Wang et al. 2004).
SSIM_K1, SSIM_K2, SSIM_WIN_SIZE = 0.01, 0.03, 7


def _check_size(size: Any, *, minimum: int = 1) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not minimum <= size <= 4096:
        raise ConfigError(f"size must be an integer number of pixels in [{minimum}, 4096], got {size!r}")
    return int(size)


def grey_resized(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` (H, W, 3) RGB or (H, W) grey uint8 -> grey (size, size) uint8, resized with INTER_AREA."""
    grey = to_grey(image)
    if grey.shape != (size, size):
        grey = cv2.resize(np.ascontiguousarray(grey), (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(grey)


def _stack(features: Sequence[np.ndarray]) -> np.ndarray:
    return np.stack([np.asarray(f) for f in features]).reshape(len(features), -1).astype(np.float64)


def cosine_similarity(vectors_a: np.ndarray, vectors_b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity (eq. 5) of (N, D) arrays.

    A zero vector (an all-black image) has no direction: two zero vectors score 1 (identical), a zero
    vector against anything else scores 0.

    Example:
        >>> cosine_similarity(np.array([[1.0, 0.0]]), np.array([[1.0, 1.0]])).round(4)
        array([0.7071])
    """
    a = np.asarray(vectors_a, dtype=np.float64)
    b = np.asarray(vectors_b, dtype=np.float64)
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    dots = np.einsum("...i,...i->...", a, b)
    both_zero = (np.linalg.norm(a, axis=-1) == 0) & (np.linalg.norm(b, axis=-1) == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)
    return np.clip(np.where(both_zero, 1.0, cos), -1.0, 1.0)


class _GreyPixelMethod(SimilarityMethod):
    """Shared by the pixel methods: the feature is the grey image at a common size; subclasses score
    non-empty aligned feature lists in :meth:`_score_pairs`."""

    #: Smallest side length the method accepts, and its default side length.
    minimum_size = 1
    default_size = 64
    config_fields = ("size",)

    def __init__(self, size: Optional[int] = None) -> None:
        self.size = _check_size(self.default_size if size is None else size, minimum=self.minimum_size)

    def _describe(self, image: np.ndarray) -> np.ndarray:
        return grey_resized(image, self.size)

    def score(self, feature_a: np.ndarray, feature_b: np.ndarray) -> float:
        return float(self.score_pairs([feature_a], [feature_b])[0])



class CosineMethod(_GreyPixelMethod):
    """Cosine similarity of flattened grey pixels at a common size (paper section 2.2, eq. 5).

    Args:
        size: common side length in pixels (default 64; the paper does not give one).

    Higher = more similar; for non-negative pixels the score lies in [0, 1]. Feature: (size, size) uint8.
    """

    name = "cosine"
    direction = "higher"
    paper_section = "2.2"

    def _score_pairs(self, features_a: Sequence[Any], features_b: Sequence[Any]) -> np.ndarray:
        return cosine_similarity(_stack(features_a), _stack(features_b))


class EuclideanMethod(_GreyPixelMethod):
    """Euclidean distance of grey pixels at a common size, as a root-mean-square difference (beyond paper).

    The score is ``||a - b||_2 / sqrt(size * size)`` with pixels scaled to [0, 1]: the Euclidean distance
    divided by its largest possible value, so it lies in [0, 1] whatever ``size`` is.
    Lower = more similar.

    Args:
        size: common side length in pixels (default 64).
    """

    name = "euclidean"
    direction = "lower"
    paper_section = "beyond"

    def _score_pairs(self, features_a: Sequence[Any], features_b: Sequence[Any]) -> np.ndarray:
        a, b = _stack(features_a) / 255.0, _stack(features_b) / 255.0
        return np.linalg.norm(a - b, axis=1) / np.sqrt(a.shape[1])


def _uniform_filter_2d(stack: np.ndarray, win_size: int) -> np.ndarray:
    """Mean over win_size x win_size windows of each (H, W) plane of an (N, H, W) float64 stack.

    One OpenCV box filter over the planes stacked into a tall (N * H, W) image. Within half a window of a
    plane's border the values mix neighbouring planes (or reflect), but SSIM's mean leaves out exactly
    those pixels, so the SSIM equals scikit-image's (scipy 'reflect' borders), as the tests check.
    """
    n, height, width = stack.shape
    tall = np.ascontiguousarray(stack.reshape(n * height, width))
    filtered = cv2.boxFilter(tall, -1, (win_size, win_size), normalize=True, borderType=cv2.BORDER_REFLECT)
    return filtered.reshape(n, height, width)


def ssim_batch(
    images_a: np.ndarray, images_b: np.ndarray, *, data_range: float = 255.0, win_size: int = SSIM_WIN_SIZE
) -> np.ndarray:
    """Mean SSIM of each pair of (N, H, W) grey images, vectorised over N.

    Reproduces ``skimage.metrics.structural_similarity(a, b, data_range=data_range)`` with its defaults
    (uniform 7 x 7 window, sample covariance, K1 = 0.01, K2 = 0.03, mean over the image cropped by half a
    window at each border); tested against it.

    Example:
        >>> a = np.arange(64, dtype=np.uint8).reshape(1, 8, 8)
        >>> float(ssim_batch(a, a)[0])
        1.0
    """
    x = np.asarray(images_a, dtype=np.float64)
    y = np.asarray(images_b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 3:
        raise ValueError(f"expected two (N, H, W) stacks of equal shape, got {x.shape} and {y.shape}")
    if min(x.shape[1:]) < win_size:
        raise ConfigError(f"SSIM needs images of at least {win_size}x{win_size} pixels, got {x.shape[1:]}")
    n_window = win_size * win_size
    cov_norm = n_window / (n_window - 1)
    ux, uy = _uniform_filter_2d(x, win_size), _uniform_filter_2d(y, win_size)
    uxx, uyy = _uniform_filter_2d(x * x, win_size), _uniform_filter_2d(y * y, win_size)
    uxy = _uniform_filter_2d(x * y, win_size)
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = (win_size - 1) // 2
    return s[:, pad : s.shape[1] - pad, pad : s.shape[2] - pad].mean(axis=(1, 2))


class SSIMMethod(_GreyPixelMethod):
    """Structural similarity (SSIM) of grey images at a common size (beyond the paper; companion article).

    Args:
        size: common side length in pixels (default 128, at least 7 for the 7 x 7 window).

    Higher = more similar (1 = identical). Feature: (size, size) uint8.
    """

    name = "ssim"
    direction = "higher"
    paper_section = "beyond"

    minimum_size = SSIM_WIN_SIZE
    default_size = 128

    def _score_pairs(self, features_a: Sequence[Any], features_b: Sequence[Any]) -> np.ndarray:
        scores = np.empty(len(features_a))
        chunk = 256  # bounds memory: six float64 planes per pair
        for start in range(0, len(features_a), chunk):
            a = np.stack(features_a[start : start + chunk])
            b = np.stack(features_b[start : start + chunk])
            scores[start : start + chunk] = ssim_batch(a, b)
        return scores
