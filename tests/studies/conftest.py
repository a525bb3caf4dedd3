"""A few tiny photos for the chapter studies' tests: two drugs, feature-rich and feature-poor faces."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from drugsim.data.records import ImageRecord, Pair
from drugsim.io import write_image

matplotlib.use("Agg")


@pytest.fixture
def study_records(tmp_path) -> list[ImageRecord]:
    rng = np.random.default_rng(0)
    records = []
    for drug in range(2):
        base = rng.integers(0, 256, size=(24, 24, 3))
        for index in range(4):
            rich = index % 2 == 0
            image = np.clip(base + rng.normal(0, 6, size=base.shape), 0, 255).astype(np.uint8)
            path = write_image(tmp_path / f"drug{drug}" / f"{index}.png", image)
            records.append(ImageRecord(path=path, label=f"drug{drug}", face="front", feature_rich=rich))
    return records


@pytest.fixture
def study_pairs(study_records) -> list[Pair]:
    paths = [r.path for r in study_records]
    return [Pair(paths[0], paths[1], 1), Pair(paths[4], paths[5], 1), Pair(paths[2], paths[3], 1),
            Pair(paths[0], paths[4], 0), Pair(paths[1], paths[6], 0), Pair(paths[3], paths[7], 0)]
