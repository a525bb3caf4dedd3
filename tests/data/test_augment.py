"""The paper's augmentation (section 4.1.3)."""

import numpy as np
import pytest
import torch
from PIL import Image

from drugsim.data import eval_transform, paper_augmentation


def _image():
    array = np.zeros((40, 60, 3), np.uint8)
    array[:20, :30] = (250, 20, 20)  # a red top-left corner shows flips and rotations
    array[20:, 30:] = (20, 20, 250)
    return Image.fromarray(array)


def test_shapes_and_normalisation():
    out = paper_augmentation(32)(_image())
    assert out.shape == (3, 32, 32) and out.dtype == torch.float32
    plain = eval_transform(32, normalize=False)(_image())
    assert plain.shape == (3, 32, 32) and 0.0 <= plain.min() and plain.max() <= 1.0
    assert torch.allclose(eval_transform(32, normalize=False)(_image()), plain)


def test_flips_rotations_and_jitter_all_happen():
    torch.manual_seed(0)
    import random

    random.seed(0)
    transform = paper_augmentation(16, normalize=False)
    corners = set()
    means = []
    for _ in range(80):
        out = transform(_image())
        # Which corner is red: the flips and 180-degree rotations move it to each of the four corners.
        quadrants = [out[0, :8, :8], out[0, :8, 8:], out[0, 8:, :8], out[0, 8:, 8:]]
        corners.add(int(np.argmax([q.mean().item() for q in quadrants])))
        means.append(out.mean().item())
    assert corners == {0, 1, 2, 3}
    # Brightness 0.5-1.5 changes the mean intensity a lot from draw to draw.
    assert max(means) / min(means) > 1.5


def test_parameters_are_the_papers():
    jitter = [t for t in paper_augmentation(224).transforms if type(t).__name__ == "ColorJitter"][0]
    assert jitter.brightness == pytest.approx((0.5, 1.5))
    assert jitter.contrast == pytest.approx((0.9, 1.1))
    assert jitter.saturation == pytest.approx((0.9, 1.1))
    assert jitter.hue == pytest.approx((-0.1, 0.1))
