"""SIFT and ORB (paper sections 2.4-2.5): matching, filters, RANSAC, robustness and edge cases."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest
from classical_images import box_face, brighten, rotate

from drugsim.classical.keypoints import MATCH_FILTERS, KeypointFeatures, KeypointMethod
from drugsim.studies.keypoints import compare_match_filters
from drugsim.data.records import Pair
from drugsim.errors import ConfigError
from drugsim.methods import create_method


@pytest.fixture(scope="module")
def orb_features(face_a, face_b):
    method = KeypointMethod("orb")
    return method, method.describe(face_a), method.describe(face_b)


def test_paper_settings():
    sift, orb = create_method("sift"), create_method("orb")
    assert sift.norm_type == cv2.NORM_L1  # "Manhattan distance", section 2.4
    assert orb.norm_type == cv2.NORM_HAMMING and orb.scale_factor == 1.2  # section 2.5, eq. 14
    assert sift.paper_section == "2.4" and orb.paper_section == "2.5"
    assert (
        create_method("orb-ransac").name == "orb-ransac"
        and create_method("sift-ransac").paper_section == "beyond"
    )
    assert all(m.direction == "higher" for m in (sift, orb))


def test_features_are_plain_picklable_arrays(orb_features):
    _, feature, _ = orb_features
    assert isinstance(feature, KeypointFeatures)
    assert feature.points.shape == (len(feature), 2) and feature.descriptors.shape == (len(feature), 32)
    assert feature.descriptors.dtype == np.uint8 and 50 < len(feature) <= 500
    restored = pickle.loads(pickle.dumps(feature))
    np.testing.assert_array_equal(restored.descriptors, feature.descriptors)
    method = pickle.loads(pickle.dumps(KeypointMethod("sift")))  # the OpenCV detector is rebuilt lazily
    assert method.describe(box_face(1)).descriptors.shape[1] == 128


def test_large_images_are_shrunk_to_max_side():
    method = KeypointMethod("orb", max_side=320)
    big = cv2.resize(box_face(1), (1000, 750))
    feature = method.describe(big)
    assert feature.image_shape == (240, 320) and feature.scale == pytest.approx(0.32)
    assert method.describe(box_face(1)).image_shape == (240, 320)  # never enlarged


def test_filters_by_their_definitions(orb_features):
    _, fa, fb = orb_features
    score = {f: KeypointMethod("orb", match_filter=f).score(fa, fb) for f in MATCH_FILTERS}
    assert score["none"] == len(fa)  # every keypoint of A has a nearest neighbour in B
    assert score["crosscheck"] <= score["none"] and score["ratio"] <= score["none"]
    loose = KeypointMethod("orb", match_filter="distance", max_distance=80).score(fa, fb)
    strict = KeypointMethod("orb", match_filter="distance", max_distance=30).score(fa, fb)
    assert strict <= score["distance"] <= loose <= score["none"]
    matches = KeypointMethod("orb", match_filter="distance", max_distance=30).match(fa, fb)
    assert (matches[:, 2] <= 30).all()


@pytest.mark.parametrize("name", ["orb", "sift", "orb-ransac", "sift-ransac"])
def test_robust_to_small_changes_sensitive_to_other_images(name, face_a):
    method = create_method(name)
    reference = method.describe(face_a)
    itself = method.score(reference, reference)
    assert itself >= 0.95 * len(reference)
    assert method.score(reference, method.describe(rotate(face_a, 1.0))) >= 0.6 * itself
    assert method.score(reference, method.describe(brighten(face_a, 20))) >= 0.8 * itself
    others = [method.score(reference, method.describe(box_face(seed))) for seed in (2, 3)]
    assert max(others) <= 0.4 * itself


def test_ransac_counts_geometrically_consistent_matches(face_a, face_b):
    method = KeypointMethod("orb", ransac=True)
    reference = method.describe(face_a)
    shifted = np.roll(face_a, (7, 11), axis=(0, 1))
    inliers = method.match(reference, method.describe(shifted))
    assert len(inliers) >= 50
    assert len(method.match(reference, method.describe(face_b))) < 0.1 * len(inliers)
    assert method.match_filter == "ratio"  # RANSAC starts from ratio-test matches


@pytest.mark.parametrize("name", ["orb", "sift", "orb-ransac", "sift-ransac"])
def test_blank_tiny_and_grey_images_score_zero_not_crash(name, face_a):
    method = create_method(name)
    blank = method.describe(np.full((100, 100, 3), 128, np.uint8))
    tiny = method.describe(np.zeros((3, 2, 3), np.uint8))
    textured = method.describe(face_a)
    assert len(blank) == 0 and len(tiny) == 0
    assert method.score(blank, textured) == 0.0 and method.score(textured, tiny) == 0.0
    assert method.score(blank, tiny) == 0.0
    grey = method.describe(cv2.cvtColor(face_a, cv2.COLOR_RGB2GRAY))
    np.testing.assert_array_equal(grey.descriptors, textured.descriptors)
    np.testing.assert_array_equal(
        method.score_pairs([blank, textured], [textured, grey]), [0.0, method.score(textured, grey)]
    )


def test_single_keypoint_image_does_not_crash(orb_features):
    _, fa, _ = orb_features
    one = KeypointFeatures(
        fa.points[:1], fa.sizes[:1], fa.angles[:1], fa.descriptors[:1], fa.image_shape, 1.0
    )
    score = {f: KeypointMethod("orb", match_filter=f).score(fa, one) for f in MATCH_FILTERS}
    assert score["none"] == len(fa) and score["crosscheck"] == 1.0  # the keypoint matches itself, mutually
    assert score["ratio"] == 0.0  # no second neighbour: the ratio test cannot be passed
    assert KeypointMethod("orb", match_filter="ratio").score(one, fa) == 1.0
    assert KeypointMethod("orb", ransac=True).score(one, fa) == 0.0


def test_compare_match_filters_ranks_on_validation_pairs():
    images = {f"img{seed}": box_face(seed) for seed in (1, 2, 3)}
    images.update({f"img{seed}r": rotate(box_face(seed), 2.0) for seed in (1, 2, 3)})
    pairs = [Pair(f"img{s}", f"img{s}r", 1) for s in (1, 2, 3)]
    pairs += [Pair("img1", "img2r", 0), Pair("img2", "img3r", 0), Pair("img3", "img1r", 0)]
    rows = compare_match_filters("orb", pairs, read_image=images.__getitem__)
    by_filter = {row["match_filter"]: row for row in rows}
    assert list(by_filter) == list(MATCH_FILTERS)
    assert by_filter["none"]["accuracy"] == 0.5  # the unfiltered count carries no information
    assert by_filter["ratio"]["accuracy"] == 1.0 and by_filter["crosscheck"]["roc_auc"] == 1.0
    assert by_filter["ratio"]["positive_mean"] > by_filter["ratio"]["negative_mean"]


def test_bad_options_raise_config_error():
    with pytest.raises(
        ConfigError, match=r"keypoint detector 'surf' is not supported. Try one of \['sift', 'orb'\]"
    ):
        KeypointMethod("surf")
    with pytest.raises(
        ConfigError, match=r"match_filter 'knn' is not supported. Try one of \['none', 'crosscheck'"
    ):
        KeypointMethod("orb", match_filter="knn")
    with pytest.raises(ConfigError, match=r"ratio must lie strictly between 0 and 1, got 1.5"):
        KeypointMethod("orb", ratio=1.5)
    with pytest.raises(ConfigError, match=r"max_side must be an integer of at least 32 pixels, got 10"):
        KeypointMethod("orb", max_side=10)
    with pytest.raises(ConfigError, match=r"method 'sift' fixes detector='sift'; got detector='orb'"):
        create_method("sift", detector="orb")
    with pytest.raises(ConfigError, match=r"match_filter 'best' is not supported"):
        compare_match_filters("orb", [], filters=["best"])
