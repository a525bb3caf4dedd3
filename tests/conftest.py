"""Fixtures shared by every test folder: a tiny synthetic dataset and the Grocery Store photos.

Sub-folder conftests (tests/deep, tests/evaluation, ...) keep their own self-contained fixtures; these two
are the real data layer's.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Where the Grocery Store photos are looked for, in order, after $DRUGSIM_GROCERY_ROOT.
GROCERY_CANDIDATES = (
    Path("/work/shared/datasets/grocery-store"),
    REPO.parent / "shared" / "datasets" / "grocery-store",
)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """The ``tiny`` synthetic preset (12 drugs, 288 photos), generated once per session (per xdist worker)."""
    from drugsim.data import generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("tiny") / "data", preset="tiny", seed=0, progress=False)


@pytest.fixture(scope="session")
def grocery_root() -> Path:
    """Root of a Grocery Store copy (holding ``dataset/train.txt``); skips when none is found."""
    candidates = [Path(os.environ["DRUGSIM_GROCERY_ROOT"])] if os.environ.get("DRUGSIM_GROCERY_ROOT") else []
    candidates += list(GROCERY_CANDIDATES)
    for root in candidates:
        if (root / "dataset" / "train.txt").is_file():
            return root
    pytest.skip(
        "Grocery Store photos not found (looked in $DRUGSIM_GROCERY_ROOT, "
        + ", ".join(str(c) for c in GROCERY_CANDIDATES)
        + "); get them with `drugsim data fetch grocery --dest DIR` and set DRUGSIM_GROCERY_ROOT=DIR"
    )
