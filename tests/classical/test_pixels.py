"""Cosine (paper section 2.2), Euclidean and SSIM (beyond the paper)."""

from __future__ import annotations

import numpy as np
import pytest
from classical_images import ATOL, RTOL, box_face, brighten
from skimage.metrics import structural_similarity

from drugsim.classical.pixels import CosineMethod, EuclideanMethod, SSIMMethod, cosine_similarity, ssim_batch
from drugsim.errors import ConfigError
from drugsim.methods import create_method


def test_cosine_hand_worked():
    # [[255, 0], [0, 0]] vs [[255, 255], [0, 0]]: dot = 255^2, norms 255 and 255*sqrt(2) -> 1/sqrt(2)
    method = CosineMethod(size=2)
    a = method.describe(np.array([[255, 0], [0, 0]], np.uint8))
    b = method.describe(np.array([[255, 255], [0, 0]], np.uint8))
    assert method.score(a, b) == pytest.approx(1 / np.sqrt(2))


def test_cosine_ignores_uniform_scaling_but_not_structure(face_a, face_b):
    # Eq. 5 is scale invariant: a uniformly darker copy of an image has cosine 1 with it.
    method = CosineMethod()
    darker = (method.describe(face_a) // 2).astype(np.uint8)
    assert cosine_similarity(darker.reshape(1, -1) * 2.0, method.describe(face_a).reshape(1, -1))[0] > 0.999
    assert method.score(method.describe(face_a), method.describe(face_b)) < 0.99


def test_cosine_of_zero_images_is_defined():
    method = CosineMethod(size=4)
    black, white = (
        method.describe(np.zeros((3, 3), np.uint8)),
        method.describe(np.full((3, 3), 255, np.uint8)),
    )
    assert method.score(black, black) == 1.0 and method.score(black, white) == 0.0


def test_euclidean_range_and_direction(face_a):
    method = create_method("euclidean")
    assert method.direction == "lower" and method.paper_section == "beyond"
    black, white = (
        method.describe(np.zeros((9, 9, 3), np.uint8)),
        method.describe(np.full((9, 9, 3), 255, np.uint8)),
    )
    assert method.score(black, white) == pytest.approx(1.0)
    assert method.score(black, black) == 0.0
    fa = method.describe(face_a)
    assert method.score(fa, method.describe(brighten(face_a, 10))) < method.score(fa, white)


def test_ssim_equals_scikit_image(face_a, face_b):
    method = SSIMMethod(size=64)
    fa, fb = method.describe(face_a), method.describe(face_b)
    fc = method.describe(brighten(face_a, 30))
    expected = [structural_similarity(x, y, data_range=255) for x, y in [(fa, fb), (fa, fc), (fb, fb)]]
    np.testing.assert_allclose(method.score_pairs([fa, fa, fb], [fb, fc, fb]), expected, rtol=RTOL, atol=ATOL)
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 256, (2, 3, 20, 31), dtype=np.uint8)
    np.testing.assert_allclose(
        ssim_batch(x, y),
        [structural_similarity(a, b, data_range=255) for a, b in zip(x, y)],
        rtol=RTOL,
        atol=ATOL,
    )


@pytest.mark.parametrize("name", ["cosine", "euclidean", "ssim"])
def test_vectorised_equals_loop_and_direction(name, face_a, face_b):
    method = create_method(name)
    images = [face_a, face_b, box_face(3), brighten(face_a, 15)]
    features = [method.describe(image) for image in images]
    fa, fb = features[:2] + features[2:], features[1:] + features[:1]
    looped = [method.score(a, b) for a, b in zip(fa, fb)]
    np.testing.assert_allclose(method.score_pairs(fa, fb), looped, rtol=1e-12)
    same = method.oriented(np.array([method.score(features[0], features[3])]))[0]
    different = method.oriented(np.array([method.score(features[0], features[1])]))[0]
    assert same > different


@pytest.mark.parametrize("name", ["cosine", "euclidean", "ssim"])
def test_tiny_blank_and_grey_input(name, face_a):
    method = create_method(name)
    tiny, blank = (
        method.describe(np.zeros((1, 1, 3), np.uint8)),
        method.describe(np.full((40, 40), 200, np.uint8)),
    )
    assert np.isfinite(method.score(tiny, blank)) and np.isfinite(method.score(blank, blank))
    grey = face_a.mean(axis=2).astype(np.uint8)
    assert method.describe(grey).shape == method.describe(face_a).shape


def test_bad_options_raise_config_error():
    with pytest.raises(ConfigError, match=r"size must be an integer number of pixels in \[1, 4096\], got 0"):
        CosineMethod(size=0)
    with pytest.raises(ConfigError, match=r"size must be an integer number of pixels in \[7, 4096\], got 5"):
        SSIMMethod(size=5)
    with pytest.raises(ConfigError, match=r"got dtype float32 and shape \(4, 4\)"):
        EuclideanMethod().describe(np.zeros((4, 4), np.float32))
