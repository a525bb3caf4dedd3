"""Small hand-made datasets for the data-layer tests (a few tiny PNGs, built in a temp folder)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from drugsim.data.records import ImageRecord
from drugsim.io import write_image


def tiny_image(seed: int, size: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(size, size, 3), dtype=np.uint8)


def hand_built(root: Path, layout: dict[str, Sequence[tuple[str, int]]]) -> list[ImageRecord]:
    """``{drug: [(face, n_photos), ...]}`` -> PNGs ``root/<drug>/<drug>_<index>_1.png`` and their records."""
    records = []
    seed = 0
    for drug, faces in layout.items():
        index = 0
        for face, count in faces:
            for _ in range(count):
                index += 1
                seed += 1
                path = write_image(root / drug / f"{drug}_{index:04d}_1.png", tiny_image(seed))
                records.append(ImageRecord(path=path, label=drug, face=face, feature_rich=True))
    return records


def folder_tree(root: Path, counts: dict[str, int]) -> Path:
    """Class-per-folder images with free names: ``root/<class>/img<k>.png``."""
    seed = 100
    for label, count in counts.items():
        for k in range(count):
            seed += 1
            write_image(root / label / f"img{k}.png", tiny_image(seed))
    return root
