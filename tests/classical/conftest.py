"""Fixtures of the classical-method tests."""

from __future__ import annotations

import numpy as np
import pytest
from classical_images import box_face


@pytest.fixture(scope="session")
def face_a() -> np.ndarray:
    return box_face(1)


@pytest.fixture(scope="session")
def face_b() -> np.ndarray:
    return box_face(2)
