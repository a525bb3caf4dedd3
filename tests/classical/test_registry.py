"""Every registry name that points to drugsim.classical builds and behaves through the common interface."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from classical_images import box_face

from drugsim.errors import ConfigError
from drugsim.methods import _REGISTRY, create_method

CLASSICAL_NAMES = [name for name, spec in _REGISTRY.items() if spec.target.startswith("drugsim.classical.")]


def test_all_paper_methods_are_here():
    expected = {
        "hist-correl",
        "hist-chisqr",
        "hist-intersect",
        "hist-bhattacharyya",
        "cosine",
        "ahash",
        "phash",
        "dhash",
        "sift",
        "orb",
        "sift-ransac",
        "orb-ransac",
        "whash",
        "colorhash",
        "euclidean",
        "ssim",
    }
    assert set(CLASSICAL_NAMES) == expected


@pytest.mark.parametrize("name", CLASSICAL_NAMES)
def test_interface(name, face_a, face_b):
    method = create_method(name)
    assert method.name == name and method.direction in ("higher", "lower")
    assert (method.paper_section == "beyond") == (not _REGISTRY[name].in_paper)
    features = [method.describe(image) for image in (face_a, face_b, box_face(3))]
    features = [pickle.loads(pickle.dumps(feature)) for feature in features]  # cacheable across processes
    fa, fb = [features[0], features[1], features[2]], [features[1], features[2], features[0]]
    scores = method.score_pairs(fa, fb)
    assert scores.shape == (3,) and scores.dtype == np.float64
    np.testing.assert_allclose(scores, [method.score(a, b) for a, b in zip(fa, fb)], rtol=1e-12)
    assert method.score_pairs([], []).shape == (0,)
    assert method.cache_key() == create_method(name).cache_key()
    assert isinstance(method.score(features[0], features[0]), float)
    pickle.loads(pickle.dumps(method))


def test_variants_that_share_features_share_cache_keys():
    assert create_method("hist-correl").cache_key() == create_method("hist-chisqr").cache_key()
    assert create_method("hist-correl").cache_key() != create_method("hist-correl", colour=True).cache_key()
    assert create_method("orb").cache_key() == create_method("orb-ransac").cache_key()
    assert create_method("orb").cache_key() == create_method("orb", match_filter="ratio").cache_key()
    assert create_method("orb").cache_key() != create_method("orb", n_features=1000).cache_key()
    assert create_method("orb").cache_key() != create_method("sift").cache_key()


@pytest.mark.parametrize("name", CLASSICAL_NAMES)
def test_the_base_class_checks_inputs_for_every_method(name, face_a):
    method = create_method(name)
    for bad in (np.zeros((8, 8, 3)), np.zeros((0, 8, 3), np.uint8), np.zeros((2, 8, 8, 3), np.uint8)):
        with pytest.raises(ConfigError, match=r"expected a non-empty uint8 image of shape \(H, W\) or \(H, W, 3\)"):
            method.describe(bad)
        with pytest.raises(ConfigError, match=r"expected a non-empty uint8 image"):
            method.describe_batch([face_a, bad])
    feature = method.describe(face_a)
    with pytest.raises(ValueError, match="features_a has 2 items but features_b has 1"):
        method.score_pairs([feature, feature], [feature])
