"""Histogram method (paper section 2.1): hand-worked values, OpenCV agreement, directions, edge cases."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from classical_images import ATOL, RTOL

from drugsim.classical.histogram import (
    METRICS,
    HistogramMethod,
    colour_histogram,
    compare_histograms,
    grey_histogram,
    normalisation_study,
)
from drugsim.errors import ConfigError
from drugsim.methods import create_method


def test_hand_worked_half_black_half_white_vs_black():
    # A: 8 black + 8 white pixels -> L1 histogram 0.5 at 0 and 0.5 at 255; B: all black -> 1 at 0.
    half = np.zeros((4, 4), np.uint8)
    half[:2] = 255
    black = np.zeros((4, 4), np.uint8)
    ha, hb = grey_histogram(half), grey_histogram(black)
    assert ha[0] == 0.5 and ha[255] == 0.5 and hb[0] == 1.0
    # intersect: min(0.5, 1) + min(0.5, 0) = 0.5
    assert compare_histograms(ha, hb, "intersect") == pytest.approx(0.5)
    # chisqr over bins with H1 != 0: (0.5 - 1)^2 / 0.5 + (0.5 - 0)^2 / 0.5 = 0.5 + 0.5 = 1
    assert compare_histograms(ha, hb, "chisqr") == pytest.approx(1.0)
    # bhattacharyya: sqrt(1 - sqrt(0.5 * 1) / sqrt(1 * 1)) = sqrt(1 - 0.70711) = 0.54120
    assert compare_histograms(ha, hb, "bhattacharyya") == pytest.approx(np.sqrt(1 - np.sqrt(0.5)))
    # correl with 256 bins, means 1/256: num = 0.5 - 1/256, var terms 0.5 - 1/256 and 1 - 1/256
    n = 256
    expected = (0.5 - 1 / n) / np.sqrt((0.5 - 1 / n) * (1 - 1 / n))
    assert compare_histograms(ha, hb, "correl") == pytest.approx(expected)


def test_identical_histograms_match_opencv_tutorial(face_a):
    # OpenCV's "Histogram Comparison" tutorial
    # (docs.opencv.org/4.x/d8/dc8/tutorial_histogram_comparison.html):
    # comparing a histogram with itself gives Correlation 1 and Chi-square and Bhattacharyya 0 (a perfect
    # match); Intersection equals the histogram's total, 1 for our L1-normalised histograms.
    expected = {"correl": 1.0, "chisqr": 0.0, "intersect": 1.0, "bhattacharyya": 0.0}
    for metric, value in expected.items():
        method = HistogramMethod(metric)
        feature = method.describe(face_a)
        assert method.score(feature, feature) == pytest.approx(value, abs=1e-6)


@pytest.mark.parametrize("metric", list(METRICS))
def test_vectorised_equals_cv2_compare_hist(metric):
    rng = np.random.default_rng(0)
    hists_a = rng.random((20, 256)).astype(np.float32)
    hists_b = rng.random((20, 256)).astype(np.float32)
    hists_a[:, ::7] = 0  # empty bins exercise chisqr's skip of H1 == 0
    hists_a[3] = 0  # an all-zero histogram exercises the degenerate branches
    expected = [cv2.compareHist(a, b, METRICS[metric]) for a, b in zip(hists_a, hists_b)]
    np.testing.assert_allclose(compare_histograms(hists_a, hists_b, metric), expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("metric", list(METRICS))
def test_method_scores_equal_opencv_on_images(metric, face_a, face_b):
    method = HistogramMethod(metric)
    fa, fb = method.describe(face_a), method.describe(face_b)
    assert method.score(fa, fb) == pytest.approx(cv2.compareHist(fa, fb, METRICS[metric]), rel=RTOL, abs=ATOL)
    batch = method.score_pairs([fa, fb, fa], [fb, fa, fa])
    np.testing.assert_allclose(batch, [method.score(fa, fb), method.score(fb, fa), method.score(fa, fa)])


def test_directions_follow_equations():
    assert {m: create_method(f"hist-{m}").direction for m in METRICS} == {
        "correl": "higher",
        "chisqr": "lower",
        "intersect": "higher",
        "bhattacharyya": "lower",
    }
    assert create_method("hist-chisqr").name == "hist-chisqr"


@pytest.mark.parametrize("metric", list(METRICS))
def test_same_image_is_more_similar_than_a_different_one(metric, face_a, face_b):
    method = HistogramMethod(metric)
    fa, fb = method.describe(face_a), method.describe(face_b)
    same, different = method.oriented(np.array([method.score(fa, fa), method.score(fa, fb)]))
    assert same > different


def test_grey_and_colour_input_agree(face_a):
    grey = cv2.cvtColor(face_a, cv2.COLOR_RGB2GRAY)
    method = HistogramMethod("correl")
    np.testing.assert_array_equal(method.describe(grey), method.describe(face_a))
    np.testing.assert_array_equal(method.describe(np.stack([grey] * 3, axis=2)), method.describe(grey))


def test_colour_option_uses_hue_saturation(face_a):
    method = HistogramMethod("correl", colour=True)
    feature = method.describe(face_a)
    assert feature.shape == (30 * 32,) and feature.sum() == pytest.approx(1.0, rel=1e-5)
    # A grey image has zero saturation: all mass in the first saturation bin.
    grey_feature = colour_histogram(np.full((5, 5), 90, np.uint8)).reshape(30, 32)
    assert grey_feature[:, 0].sum() == pytest.approx(1.0)
    assert method.cache_key() != HistogramMethod("correl").cache_key()


@pytest.mark.parametrize("metric", list(METRICS))
def test_blank_and_tiny_images_have_defined_scores(metric):
    method = HistogramMethod(metric)
    blank = method.describe(np.full((50, 50, 3), 255, np.uint8))
    tiny = method.describe(np.zeros((1, 1, 3), np.uint8))
    for score in (method.score(blank, blank), method.score(blank, tiny), method.score(tiny, tiny)):
        assert np.isfinite(score)
    assert method.score(tiny, tiny) == method.score(blank, blank)


def test_bhattacharyya_never_exceeds_one_whatever_the_normalisation(face_a, face_b):
    # The paper's Table 7 reports a "Bhattacharyya" mean of 4.1986; OpenCV's definition is bounded by 1.
    rows = normalisation_study([(face_a, face_b), (face_a, face_a)], [0, 1])
    values = [r for r in rows if r["cv2_method"] == "bhattacharyya"]
    assert len(values) == 4
    assert all(0.0 <= r["negative_mean"] <= 1.0 and 0.0 <= r["positive_mean"] <= 1.0 for r in values)
    assert {r["normalisation"] for r in rows} == {"none", "l1", "minmax", "minmax255"}


def test_bad_options_raise_config_error():
    with pytest.raises(
        ConfigError, match=r"histogram metric 'cosine' is not supported. Try one of \['correl'"
    ):
        HistogramMethod("cosine")
    with pytest.raises(ConfigError, match=r"bins must be an integer in \[2, 256\], got 1000"):
        HistogramMethod("correl", bins=1000)
    with pytest.raises(ConfigError, match=r"normalisation 'l2' is not supported"):
        HistogramMethod("correl", normalisation="l2")
    with pytest.raises(ConfigError, match=r"expected a non-empty uint8 image .* dtype float64"):
        HistogramMethod("correl").describe(np.zeros((4, 4)))
    with pytest.raises(ConfigError, match=r"method 'hist-correl' fixes metric='correl'"):
        create_method("hist-correl", metric="chisqr")
