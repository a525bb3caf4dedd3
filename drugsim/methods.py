"""One interface for every similarity method: describe an image once, score pairs from the features.

Every method of the paper (and the extras) is a :class:`SimilarityMethod`. Evaluation, caching, timing,
search and the CLI only ever call :meth:`describe`/:meth:`describe_batch` and
:meth:`score`/:meth:`score_pairs`, so they serve all methods alike. The public calls check their inputs
once and call a protected hook (imagededup's ``_hash_algo``, pytorch-metric-learning's ``compute_loss``:
one thing to override).

Example:
    >>> import numpy as np
    >>> from drugsim.methods import create_method
    >>> method = create_method("ahash")
    >>> image = np.zeros((64, 64, 3), dtype=np.uint8)
    >>> feature = method.describe(image)
    >>> method.score(feature, feature)
    64.0
"""

from __future__ import annotations

import hashlib
import importlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, List, Literal, Sequence, Tuple

import numpy as np

from drugsim.errors import ConfigError

Direction = Literal["higher", "lower"]


def check_image(image: Any) -> np.ndarray:
    """``image`` as an array, or a ConfigError when it is not a non-empty uint8 (H, W) or (H, W, 3) image."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or image.size == 0:
        raise ConfigError(
            f"expected a non-empty uint8 image of shape (H, W) or (H, W, 3), got dtype {image.dtype} "
            f"and shape {image.shape}"
        )
    return image


class SimilarityMethod(ABC):
    """Base class of all methods.

    Subclasses set :attr:`name`, :attr:`direction` and :attr:`paper_section`, and implement
    :meth:`_describe` and :meth:`score`. They may override :meth:`_describe_batch` (batched network
    forward passes) and :meth:`_score_pairs` (vectorised scoring); the defaults loop. The public
    :meth:`describe`, :meth:`describe_batch` and :meth:`score_pairs` check their inputs once, here, and
    then call these hooks (pytorch-metric-learning's ``forward`` -> ``compute_loss``), so no method repeats
    the checks.

    Images are ``numpy.ndarray`` (H, W, 3) uint8 RGB, as returned by :func:`drugsim.io.read_image`.
    Features may be any picklable object (arrays, tuples of arrays); they must not hold file paths.
    """

    #: CLI name, e.g. ``"orb"``.
    name: ClassVar[str] = ""
    #: ``"higher"`` when a larger score means more similar, ``"lower"`` when a smaller one does.
    direction: ClassVar[Direction] = "higher"
    #: Where the paper describes it (e.g. ``"2.5"``), or ``"beyond"`` for methods the paper lacks.
    paper_section: ClassVar[str] = "beyond"
    #: True when describing an image is worth parallelising over processes (CPU-bound classical code).
    parallel_describe: ClassVar[bool] = True
    #: Attributes that change features or scores: what :meth:`config` returns, by name.
    config_fields: ClassVar[Tuple[str, ...]] = ()

    def describe(self, image: np.ndarray) -> Any:
        """Compute the feature of one image (done once per image, cacheable).

        Raises:
            ConfigError: ``image`` is not a non-empty uint8 (H, W) or (H, W, 3) array.
        """
        return self._describe(check_image(image))

    def describe_batch(self, images: Sequence[np.ndarray]) -> List[Any]:
        """Features of several images (each checked as in :meth:`describe`)."""
        return self._describe_batch([check_image(image) for image in images])

    def score_pairs(self, features_a: Sequence[Any], features_b: Sequence[Any]) -> np.ndarray:
        """Scores of aligned feature lists, shape (N,) float64.

        Raises:
            ValueError: the two lists differ in length.
        """
        if len(features_a) != len(features_b):
            raise ValueError(f"features_a has {len(features_a)} items but features_b has {len(features_b)}")
        if len(features_a) == 0:
            return np.zeros(0, dtype=np.float64)
        return self._score_pairs(features_a, features_b)

    @abstractmethod
    def _describe(self, image: np.ndarray) -> Any:
        """The feature of one checked image."""

    @abstractmethod
    def score(self, feature_a: Any, feature_b: Any) -> float:
        """Similarity score of two features, oriented by :attr:`direction`."""

    def _describe_batch(self, images: List[np.ndarray]) -> List[Any]:
        """Features of checked images; override to batch (e.g. one network forward pass)."""
        return [self._describe(image) for image in images]

    def _score_pairs(self, features_a: Sequence[Any], features_b: Sequence[Any]) -> np.ndarray:
        """Scores of non-empty aligned feature lists of equal length; override to vectorise."""
        return np.array([self.score(a, b) for a, b in zip(features_a, features_b)], dtype=np.float64)

    def unusable_reason(self, shape: tuple[int, ...]) -> str | None:
        """Why this method cannot use an image of ``shape`` (H, W[, C]) (it would score it as featureless),
        or None when it can. ``drugsim data check`` reports these."""
        return None

    def config(self) -> Dict[str, Any]:
        """The options that change features or scores (JSON-serialisable); part of the cache key."""
        return {name: getattr(self, name) for name in self.config_fields}

    def feature_config(self) -> Dict[str, Any]:
        """The options that change features only; by default all of :meth:`config`."""
        return self.config()

    def cache_key(self) -> str:
        """A stable key of the method name and its feature options, for on-disk feature caches."""
        blob = json.dumps({"name": self.name, **self.feature_config()}, sort_keys=True, default=str)
        return f"{self.name}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"

    def is_similar(self, score: float, threshold: float) -> bool:
        """Decision at ``threshold`` respecting :attr:`direction` (ties count as similar)."""
        return bool(score >= threshold) if self.direction == "higher" else bool(score <= threshold)

    def oriented(self, scores: np.ndarray) -> np.ndarray:
        """Scores flipped so that higher always means more similar (for ROC curves and thresholds)."""
        scores = np.asarray(scores, dtype=np.float64)
        return scores if self.direction == "higher" else -scores

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({options})"


@dataclass(frozen=True)
class MethodSpec:
    """Where a method lives and the fixed options its CLI name implies."""

    target: str  # "module:attribute", imported lazily so classical methods never import torch
    fixed: Tuple[Tuple[str, Any], ...] = ()
    group: str = "classical"  # "classical", "deep" or "companion"
    in_paper: bool = True


_REGISTRY: Dict[str, MethodSpec] = {
    # Paper section 2.1: grey histograms with OpenCV's four metrics (eqs. 1-4).
    "hist-correl": MethodSpec("drugsim.classical.histogram:HistogramMethod", (("metric", "correl"),)),
    "hist-chisqr": MethodSpec("drugsim.classical.histogram:HistogramMethod", (("metric", "chisqr"),)),
    "hist-intersect": MethodSpec("drugsim.classical.histogram:HistogramMethod", (("metric", "intersect"),)),
    "hist-bhattacharyya": MethodSpec(
        "drugsim.classical.histogram:HistogramMethod", (("metric", "bhattacharyya"),)
    ),
    # 2.2: cosine similarity of flattened grey pixels (eq. 5).
    "cosine": MethodSpec("drugsim.classical.pixels:CosineMethod"),
    # 2.3: global hashes (imagehash), score = equal bits of 64.
    "ahash": MethodSpec("drugsim.classical.hashing:HashMethod", (("kind", "ahash"),)),
    "phash": MethodSpec("drugsim.classical.hashing:HashMethod", (("kind", "phash"),)),
    "dhash": MethodSpec("drugsim.classical.hashing:HashMethod", (("kind", "dhash"),)),
    "whash": MethodSpec("drugsim.classical.hashing:HashMethod", (("kind", "whash"),), in_paper=False),
    "colorhash": MethodSpec("drugsim.classical.hashing:HashMethod", (("kind", "colorhash"),), in_paper=False),
    # 2.4-2.5: keypoints, score = number of matches; *-ransac = homography inliers (beyond the paper).
    "sift": MethodSpec("drugsim.classical.keypoints:KeypointMethod", (("detector", "sift"),)),
    "orb": MethodSpec("drugsim.classical.keypoints:KeypointMethod", (("detector", "orb"),)),
    "sift-ransac": MethodSpec(
        "drugsim.classical.keypoints:KeypointMethod", (("detector", "sift"), ("ransac", True)), in_paper=False
    ),
    "orb-ransac": MethodSpec(
        "drugsim.classical.keypoints:KeypointMethod", (("detector", "orb"), ("ransac", True)), in_paper=False
    ),
    # Companion methods (beyond the paper).
    "euclidean": MethodSpec("drugsim.classical.pixels:EuclideanMethod", group="companion", in_paper=False),
    "ssim": MethodSpec("drugsim.classical.pixels:SSIMMethod", group="companion", in_paper=False),
    "cnn-cosine": MethodSpec(
        "drugsim.deep.embedding:EmbeddingMethod", (("metric", "cosine"),), group="companion", in_paper=False
    ),
    "cnn-euclidean": MethodSpec(
        "drugsim.deep.embedding:EmbeddingMethod", (("metric", "euclidean"),), group="companion", in_paper=False
    ),
    # Section 2.6 / Figs. 8-9: Siamese networks (need a trained checkpoint: model=PATH).
    "siamese-improved": MethodSpec("drugsim.deep.method:SiameseMethod", (("variant", "improved"),), group="deep"),
    "siamese-classic": MethodSpec("drugsim.deep.method:SiameseMethod", (("variant", "classic"),), group="deep"),
    "siamese-triplet": MethodSpec(
        "drugsim.deep.method:SiameseMethod", (("variant", "triplet"),), group="deep", in_paper=False
    ),
}


def available_methods(group: str | None = None, *, in_paper: bool | None = None) -> List[str]:
    """Names accepted by :func:`create_method`, optionally filtered by group or by presence in the paper."""
    return [
        name
        for name, spec in _REGISTRY.items()
        if (group is None or spec.group == group) and (in_paper is None or spec.in_paper == in_paper)
    ]


def method_spec(name: str) -> MethodSpec:
    """The registry entry of ``name``; a clear error lists the known names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}. Try one of: {', '.join(_REGISTRY)}") from None


def create_method(name: str, **options: Any) -> SimilarityMethod:
    """Build the method called ``name`` (see :func:`available_methods`) with keyword ``options``.

    Raises:
        ConfigError: unknown name, or an option that conflicts with the name (e.g. ``orb`` with
            ``detector="sift"``).
    """
    spec = method_spec(name)
    fixed = dict(spec.fixed)
    for key, value in options.items():
        if key in fixed and fixed[key] != value:
            raise ConfigError(f"method {name!r} fixes {key}={fixed[key]!r}; got {key}={value!r}")
    module_name, attribute = spec.target.split(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    method = factory(**{**options, **fixed})
    if not isinstance(method, SimilarityMethod):  # pragma: no cover - programming error
        raise TypeError(f"{spec.target} did not build a SimilarityMethod")
    return method
