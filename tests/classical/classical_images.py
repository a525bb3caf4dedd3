"""Test images and tolerances for the classical-method tests (one place, as kornia's testing/base.py)."""

from __future__ import annotations

import cv2
import numpy as np

#: Floating-point agreement with OpenCV / scikit-image reference implementations.
RTOL, ATOL = 1e-6, 1e-9


def box_face(seed: int, size: tuple = (240, 320)) -> np.ndarray:
    """A deterministic, textured 'box face': light card with coloured blocks, lines and text-like marks."""
    rng = np.random.default_rng(seed)
    height, width = size
    image = np.full((height, width, 3), 235, np.uint8)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, width - 20)), int(rng.integers(0, height - 20))
        x1, y1 = x0 + int(rng.integers(10, 90)), y0 + int(rng.integers(10, 60))
        colour = tuple(int(c) for c in rng.integers(0, 200, 3))
        cv2.rectangle(image, (x0, y0), (x1, y1), colour, -1)
    for _ in range(8):
        org = (int(rng.integers(0, width - 80)), int(rng.integers(15, height)))
        text = "".join(rng.choice(list("ABCDEFGHKMNPRSTXZ0123456789"), 6))
        cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (20, 20, 20), 2, cv2.LINE_AA)
    for _ in range(6):
        p0 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(image, p0, p1, (int(rng.integers(0, 255)), 40, 120), 2, cv2.LINE_AA)
    return image


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the centre, replicating the border (a slightly turned photo of the same face)."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


def brighten(image: np.ndarray, delta: int) -> np.ndarray:
    return np.clip(image.astype(np.int16) + delta, 0, 255).astype(np.uint8)
