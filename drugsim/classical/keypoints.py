"""Local keypoints (paper sections 2.4-2.5): SIFT and ORB, brute-force matching, score = number of matches.

Describe: the image is converted to grey, shrunk so that its long side is at most ``max_side`` pixels
(default 320; never enlarged), and OpenCV's SIFT or ORB finds up to ``n_features`` keypoints (default
500). The paper's images appear to be small: the axes of its match drawings (Figs. 6-7, two images side by
side) run to about 500 x 250 pixels, i.e. about 250 pixels per image, and it reports 391/368 SIFT and
410/387 ORB keypoints on its example pair. 500 is OpenCV's own ORB default, and both of the paper's counts
lie below it, so a cap of 500 is consistent with the paper for ORB and, for SIFT (whose OpenCV default is
"no cap"), keeps matching time bounded while not cutting the paper's example. ORB uses the paper's pyramid
scale factor 1.2 (eq. 14), which is also OpenCV's default.

Score: brute-force matching of descriptors with the L1 (Manhattan) distance for SIFT, as the paper says,
and the Hamming distance for ORB; the score is the number of matches kept. The paper does not say how raw
matches are filtered, and without a filter every keypoint of the first image has a nearest neighbour, so
the "score" would just be its keypoint count. The options (``match_filter``):

* ``"none"``: every nearest-neighbour match (score = keypoints of image A when B has any).
* ``"crosscheck"`` (default): keep mutual nearest neighbours (``cv2.BFMatcher(crossCheck=True)``). Chosen
  as the paper-style default: it is OpenCV's one-line brute-force recipe, and its counts have the paper's
  shape (Fig. 6: 240 matches from 391 and 368 keypoints, a large fraction; Table 7: negatives still keep
  about 93 of some 400 keypoints, which a ratio test would almost all reject). The notebook compares all
  filters on the validation drugs (:func:`drugsim.studies.keypoints.compare_match_filters`) and reports which separates best.
* ``"distance"``: nearest-neighbour matches with distance <= ``max_distance`` (default 50 bits of 256 for
  ORB, 1500 for SIFT's L1 distance between descriptors of L2 norm about 512).
* ``"ratio"``: Lowe's ratio test, nearest distance < ``ratio`` x second nearest (default 0.75).

Beyond the paper, ``ransac=True`` scores the number of inliers of a RANSAC homography
(``cv2.findHomography``, reprojection threshold 5 pixels) fitted to the ratio-test matches: matches must
agree on one geometric transform of the box face. Fewer than 4 matches give 0 inliers.

An image with no keypoints (blank, tiny) gets an empty feature and scores 0 against anything: "no match".

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> image = rng.integers(0, 256, (120, 120, 3), dtype=np.uint8)
    >>> method = KeypointMethod(detector="orb")
    >>> feature = method.describe(image)
    >>> method.score(feature, feature) == len(feature)
    True
    >>> method.score(feature, method.describe(np.zeros((50, 50, 3), np.uint8)))
    0.0

References:
    Paper sections 2.4 (SIFT, L1 brute force, Fig. 6) and 2.5 (ORB, scale 1.2, Hamming, Fig. 7), Tables 7-8.
    Lowe, "Distinctive Image Features from Scale-Invariant Keypoints", IJCV 2004 (ratio test).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import cv2
import numpy as np

from drugsim.errors import ConfigError
from drugsim.io import to_grey
from drugsim.methods import SimilarityMethod

DETECTORS = ("sift", "orb")
MATCH_FILTERS = ("none", "crosscheck", "distance", "ratio")
DEFAULT_MATCH_FILTER = "crosscheck"
#: Default distance cut per detector for ``match_filter="distance"``.
DEFAULT_MAX_DISTANCE = {"orb": 50.0, "sift": 1500.0}
_DESCRIPTOR_DIM = {"sift": 128, "orb": 32}
_DESCRIPTOR_DTYPE = {"sift": np.float32, "orb": np.uint8}
#: ORB ignores a border of ``edgeThreshold`` (31) pixels, so an image whose short side is under
#: 2 * 31 + 1 px has no keypoints; OpenCV's pyramid even fails an assertion on a 1-pixel side.
ORB_MIN_SIDE = 63


@dataclass(frozen=True)
class KeypointFeatures:
    """Keypoints and descriptors of one image, as plain numpy arrays (picklable, no OpenCV objects).

    Attributes:
        points: (N, 2) float32 keypoint x, y in the described (shrunk) image.
        sizes: (N,) float32 keypoint diameters; angles: (N,) float32 orientations in degrees.
        descriptors: (N, 128) float32 for SIFT, (N, 32) uint8 for ORB.
        image_shape: (height, width) of the described image; scale: its size / the original size.
    """

    points: np.ndarray
    sizes: np.ndarray
    angles: np.ndarray
    descriptors: np.ndarray
    image_shape: tuple
    scale: float

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def cv_keypoints(self) -> List[cv2.KeyPoint]:
        """OpenCV KeyPoint objects (for drawing)."""
        return [
            cv2.KeyPoint(float(x), float(y), float(s), float(a))
            for (x, y), s, a in zip(self.points, self.sizes, self.angles)
        ]


class KeypointMethod(SimilarityMethod):
    """SIFT or ORB keypoint matching; score = number of kept matches (or RANSAC inliers).

    Args:
        detector: ``"sift"`` (section 2.4) or ``"orb"`` (section 2.5).
        ransac: score RANSAC homography inliers over ratio-test matches (beyond the paper).
        match_filter: ``"none"``, ``"crosscheck"`` (default), ``"distance"`` or ``"ratio"`` (see module doc).
            Ignored when ``ransac`` (which always starts from ratio-test matches).
        ratio: Lowe's ratio for ``"ratio"`` and RANSAC (default 0.75).
        max_distance: cut for ``"distance"`` (default per detector, :data:`DEFAULT_MAX_DISTANCE`).
        n_features: keypoints kept per image (default 500).
        max_side: long side, in pixels, that larger images are shrunk to before detection (default 320).
        scale_factor: ORB pyramid scale (default 1.2, the paper's); unused by SIFT.
        ransac_threshold: RANSAC reprojection threshold in pixels (default 5.0).

    Higher = more similar.
    """

    direction = "higher"
    config_fields = (
        "detector", "ransac", "match_filter", "ratio", "max_distance", "n_features", "max_side",
        "scale_factor", "ransac_threshold",
    )

    def __init__(
        self,
        detector: str = "orb",
        *,
        ransac: bool = False,
        match_filter: str = DEFAULT_MATCH_FILTER,
        ratio: float = 0.75,
        max_distance: Optional[float] = None,
        n_features: int = 500,
        max_side: int = 320,
        scale_factor: float = 1.2,
        ransac_threshold: float = 5.0,
    ) -> None:
        if detector not in DETECTORS:
            raise ConfigError(
                f"keypoint detector {detector!r} is not supported. Try one of {list(DETECTORS)}"
            )
        if match_filter not in MATCH_FILTERS:
            raise ConfigError(
                f"match_filter {match_filter!r} is not supported. Try one of {list(MATCH_FILTERS)}"
            )
        if not 0.0 < float(ratio) < 1.0:
            raise ConfigError(f"ratio must lie strictly between 0 and 1, got {ratio!r}")
        if max_distance is not None and not float(max_distance) > 0:
            raise ConfigError(f"max_distance must be positive, got {max_distance!r}")
        if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)) or n_features < 1:
            raise ConfigError(f"n_features must be a positive integer, got {n_features!r}")
        if isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)) or max_side < 32:
            raise ConfigError(f"max_side must be an integer of at least 32 pixels, got {max_side!r}")
        if not 1.0 < float(scale_factor) <= 2.0:
            raise ConfigError(f"scale_factor must lie in (1, 2], got {scale_factor!r}")
        if not float(ransac_threshold) > 0:
            raise ConfigError(f"ransac_threshold must be positive, got {ransac_threshold!r}")
        self.detector = detector
        self.ransac = bool(ransac)
        self.match_filter = "ratio" if self.ransac else match_filter
        self.ratio = float(ratio)
        self.max_distance = (
            float(max_distance) if max_distance is not None else DEFAULT_MAX_DISTANCE[detector]
        )
        self.n_features = int(n_features)
        self.max_side = int(max_side)
        self.scale_factor = float(scale_factor)
        self.ransac_threshold = float(ransac_threshold)
        self.name = f"{detector}-ransac" if self.ransac else detector  # type: ignore[misc]
        self.paper_section = "beyond" if self.ransac else ("2.4" if detector == "sift" else "2.5")  # type: ignore[misc]
        self._extractor: Any = None

    # -- describe -------------------------------------------------------------------------------------
    def _get_extractor(self) -> Any:
        if self._extractor is None:
            if self.detector == "sift":
                self._extractor = cv2.SIFT_create(nfeatures=self.n_features)
            else:
                self._extractor = cv2.ORB_create(nfeatures=self.n_features, scaleFactor=self.scale_factor)
        return self._extractor

    def __getstate__(self) -> Dict[str, Any]:
        # OpenCV detectors do not pickle; rebuild them lazily in worker processes.
        state = dict(self.__dict__)
        state["_extractor"] = None
        return state

    def prepare(self, image: np.ndarray) -> tuple:
        """Grey image shrunk to ``max_side`` (the image keypoints are found in) and its scale factor."""
        grey = to_grey(image)
        long_side = max(grey.shape)
        scale = 1.0
        if long_side > self.max_side:
            scale = self.max_side / long_side
            size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(grey), scale

    def unusable_reason(self, shape: tuple[int, ...]) -> str | None:
        """Why an image of ``shape`` (H, W[, C]) gets no keypoints from this method, or None."""
        height, width = int(shape[0]), int(shape[1])
        scale = min(1.0, self.max_side / max(height, width))
        short_side = max(1, round(min(height, width) * scale))
        if self.detector == "orb" and short_side < ORB_MIN_SIDE:
            return (
                f"{self.name} finds no keypoints when the short side is under {ORB_MIN_SIDE} px after "
                f"shrinking to {self.max_side} px (here {short_side} px; score 0)"
            )
        return None

    def _describe(self, image: np.ndarray) -> KeypointFeatures:
        grey, scale = self.prepare(image)
        dim, dtype = _DESCRIPTOR_DIM[self.detector], _DESCRIPTOR_DTYPE[self.detector]
        if self.detector == "orb" and min(grey.shape) < ORB_MIN_SIDE:
            keypoints, descriptors = (), None  # no room for a keypoint; OpenCV would assert on 1 px
        else:
            keypoints, descriptors = self._get_extractor().detectAndCompute(grey, None)
        if descriptors is None or len(keypoints) == 0:
            keypoints, descriptors = (), np.zeros((0, dim), dtype=dtype)
        return KeypointFeatures(
            points=np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2),
            sizes=np.array([k.size for k in keypoints], dtype=np.float32),
            angles=np.array([k.angle for k in keypoints], dtype=np.float32),
            descriptors=np.ascontiguousarray(descriptors, dtype=dtype),
            image_shape=tuple(int(v) for v in grey.shape),
            scale=float(scale),
        )

    # -- match and score ------------------------------------------------------------------------------
    @property
    def norm_type(self) -> int:
        """L1 for SIFT (the paper's Manhattan distance), Hamming for ORB."""
        return cv2.NORM_L1 if self.detector == "sift" else cv2.NORM_HAMMING

    def match(self, feature_a: KeypointFeatures, feature_b: KeypointFeatures) -> np.ndarray:
        """Kept matches as an (M, 3) float array: index in A, index in B, descriptor distance.

        With ``ransac``, only the homography inliers are returned.
        """
        empty = np.zeros((0, 3), dtype=np.float64)
        da, db = feature_a.descriptors, feature_b.descriptors
        if len(da) == 0 or len(db) == 0:
            return empty
        if self.match_filter == "crosscheck":
            raw = cv2.BFMatcher(self.norm_type, crossCheck=True).match(da, db)
            kept = [(m.queryIdx, m.trainIdx, m.distance) for m in raw]
        elif self.match_filter in ("none", "distance"):
            raw = cv2.BFMatcher(self.norm_type).match(da, db)
            cut = np.inf if self.match_filter == "none" else self.max_distance
            kept = [(m.queryIdx, m.trainIdx, m.distance) for m in raw if m.distance <= cut]
        else:
            kept = []
            for neighbours in cv2.BFMatcher(self.norm_type).knnMatch(da, db, k=2):
                # With a single descriptor in B there is no second neighbour, so the test cannot be passed
                # (keeping it would let one keypoint "match" every keypoint of A).
                if len(neighbours) == 2 and neighbours[0].distance < self.ratio * neighbours[1].distance:
                    m = neighbours[0]
                    kept.append((m.queryIdx, m.trainIdx, m.distance))
        matches = np.array(kept, dtype=np.float64).reshape(-1, 3)
        if self.ransac:
            matches = self._ransac_inliers(feature_a, feature_b, matches)
        return matches

    def _ransac_inliers(
        self, feature_a: KeypointFeatures, feature_b: KeypointFeatures, matches: np.ndarray
    ) -> np.ndarray:
        if len(matches) < 4:
            return matches[:0]
        src = feature_a.points[matches[:, 0].astype(int)].reshape(-1, 1, 2)
        dst = feature_b.points[matches[:, 1].astype(int)].reshape(-1, 1, 2)
        try:
            homography, mask = cv2.findHomography(src, dst, cv2.RANSAC, self.ransac_threshold)
        except cv2.error:  # degenerate point sets (all points equal)
            return matches[:0]
        if homography is None or mask is None:
            return matches[:0]
        return matches[mask.ravel().astype(bool)]

    def score(self, feature_a: KeypointFeatures, feature_b: KeypointFeatures) -> float:
        return float(len(self.match(feature_a, feature_b)))


    def feature_config(self) -> Dict[str, Any]:
        config = {"detector": self.detector, "n_features": self.n_features, "max_side": self.max_side}
        if self.detector == "orb":
            config["scale_factor"] = self.scale_factor
        return config

    def cache_key(self) -> str:
        # Match filters and RANSAC change only the scoring: every variant shares the detector's features.
        blob = json.dumps({"name": self.detector, **self.feature_config()}, sort_keys=True)
        return f"{self.detector}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


__all__ = [
    "DEFAULT_MATCH_FILTER",
    "DETECTORS",
    "MATCH_FILTERS",
    "KeypointFeatures",
    "KeypointMethod",
]
