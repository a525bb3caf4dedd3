"""Fixtures of the chapter-backend tests (drugsim.studies).

The studies sit on top of the data, method and evaluation layers, so their tests reuse those layers' test
helpers (generated box faces, image sets, hand-built records); their folders are put on the path here, as
pytest does for a folder's own tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from drugsim.data.records import ImageRecord, Pair
from drugsim.io import write_image

TESTS = Path(__file__).resolve().parents[1]
for _helpers in ("classical", "evaluation", "data"):
    if str(TESTS / _helpers) not in sys.path:
        sys.path.append(str(TESTS / _helpers))

from evaluation_helpers import make_image_set  # noqa: E402

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def image_set(tmp_path_factory):
    """Six classes of four generated images each: ``(folder, paths, labels)``."""
    folder = tmp_path_factory.mktemp("study-images")
    paths, labels = make_image_set(folder, n_classes=6, per_class=4, seed=0)
    return folder, paths, labels


@pytest.fixture
def study_records(tmp_path) -> list[ImageRecord]:
    """A few tiny photos of two drugs: feature-rich (even index) and feature-poor faces."""
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
    """Three positive and three negative pairs of :func:`study_records`."""
    paths = [r.path for r in study_records]
    return [Pair(paths[0], paths[1], 1), Pair(paths[4], paths[5], 1), Pair(paths[2], paths[3], 1),
            Pair(paths[0], paths[4], 0), Pair(paths[1], paths[6], 0), Pair(paths[3], paths[7], 0)]
