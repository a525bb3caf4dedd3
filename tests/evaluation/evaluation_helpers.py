"""Shared helpers of the evaluation tests: generated images, pair lists, a tiny batched method."""

from pathlib import Path
from typing import Any, List, Tuple

import numpy as np

from drugsim.data.records import Pair
from drugsim.io import write_image
from drugsim.methods import SimilarityMethod


class MeanGrey(SimilarityMethod):
    """A deep-style method stand-in: batched describe, no processes; counts calls."""

    name = "mean-grey-test"
    direction = "lower"
    parallel_describe = False

    def __init__(self):
        self.batches: List[int] = []

    def _describe(self, image: np.ndarray) -> Any:
        return float(image.mean())

    def _describe_batch(self, images):
        self.batches.append(len(images))
        return [self._describe(image) for image in images]

    def score(self, feature_a, feature_b) -> float:
        return abs(feature_a - feature_b)


def _textured(rng: np.random.Generator, size: int = 96) -> np.ndarray:
    """Blocky random texture with edges and corners, so keypoint detectors find something."""
    coarse = rng.integers(0, 256, size=(12, 12, 3), dtype=np.uint8)
    return np.kron(coarse, np.ones((size // 12, size // 12, 1), dtype=np.uint8))


def make_image_set(
    folder: Path, *, n_classes: int = 4, per_class: int = 3, seed: int = 0
) -> Tuple[List[Path], List[str]]:
    """``n_classes`` textures, each photographed ``per_class`` times with small noise and shifts."""
    rng = np.random.default_rng(seed)
    paths, labels = [], []
    for class_index in range(n_classes):
        base = _textured(rng)
        for shot in range(per_class):
            noise = rng.integers(-12, 13, size=base.shape)
            image = np.clip(np.roll(base, shot, axis=1).astype(int) + noise, 0, 255).astype(np.uint8)
            path = write_image(folder / f"class{class_index}" / f"class{class_index}_{shot}.png", image)
            paths.append(path)
            labels.append(f"class{class_index}")
    return paths, labels


def make_pairs_from(paths: List[Path], labels: List[str], *, seed: int = 0) -> List[Pair]:
    """Every within-class pair (positive) and as many random cross-class pairs (negative)."""
    rng = np.random.default_rng(seed)
    positives = [
        Pair(a, b, 1)
        for i, (a, la) in enumerate(zip(paths, labels))
        for b, lb in zip(paths[i + 1 :], labels[i + 1 :])
        if la == lb
    ]
    negatives = []
    while len(negatives) < len(positives):
        i, j = rng.integers(0, len(paths), 2)
        if labels[i] != labels[j]:
            negatives.append(Pair(paths[i], paths[j], 0))
    return positives + negatives
