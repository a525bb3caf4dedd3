"""Fixtures of the chapter-backend tests (drugsim.studies).

The studies sit on top of the data, method and evaluation layers, so their tests reuse those layers' test
helpers (generated box faces, image sets, hand-built records); their folders are put on the path here, as
pytest does for a folder's own tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
for _helpers in ("classical", "evaluation", "data"):
    if str(TESTS / _helpers) not in sys.path:
        sys.path.append(str(TESTS / _helpers))

from evaluation_helpers import make_image_set


@pytest.fixture(scope="session")
def image_set(tmp_path_factory):
    """Six classes of four generated images each: ``(folder, paths, labels)``."""
    folder = tmp_path_factory.mktemp("study-images")
    paths, labels = make_image_set(folder, n_classes=6, per_class=4, seed=0)
    return folder, paths, labels
