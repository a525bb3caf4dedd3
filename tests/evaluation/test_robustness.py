"""Robustness study: each transform does what its name says, and the study runs end to end on a toy method."""

from __future__ import annotations

import numpy as np
import pytest

from drugsim.errors import ConfigError, DatasetError
from drugsim.evaluation import robustness as rb
from drugsim.methods import SimilarityMethod


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    img = np.full((60, 80, 3), 100, np.uint8)
    img[10:40, 20:60] = rng.integers(0, 200, (30, 40, 3), dtype=np.uint8)
    return img


class MeanGrey(SimilarityMethod):
    """Toy method: the feature is the mean grey level; score = minus the absolute difference."""

    name = "toy-mean"
    direction = "higher"

    def _describe(self, image):
        return float(np.asarray(image, dtype=np.float64).mean())

    def score(self, feature_a, feature_b):
        return -abs(feature_a - feature_b)


def test_rotation_180_twice_is_identity(image):
    once = rb.apply_condition(image, "rotation_180")
    assert not np.array_equal(once, image)
    np.testing.assert_array_equal(once[0, 0], image[-1, -1])
    np.testing.assert_array_equal(rb.apply_condition(once, "rotation_180"), image)
    np.testing.assert_array_equal(rb.rotate(rb.rotate(image, 90), 270), image)


def test_brightness_scales_the_mean(image):
    assert rb.apply_condition(image, "brightness_0.5").mean() == pytest.approx(image.mean() * 0.5, abs=0.6)
    bright = rb.apply_condition(image, "brightness_1.5").astype(float)
    unclipped = image.astype(float) * 1.5 <= 255
    np.testing.assert_allclose(bright[unclipped], image.astype(float)[unclipped] * 1.5, atol=0.51)
    assert bright.max() <= 255


def test_blur_smooths_and_keeps_the_mean(image):
    blurred = rb.apply_condition(image, "blur").astype(float)
    gradient = lambda a: np.abs(np.diff(a, axis=1)).mean()  # noqa: E731
    assert gradient(blurred) < 0.5 * gradient(image.astype(float))
    assert blurred.mean() == pytest.approx(image.mean(), abs=1.5)


def test_jpeg_is_lossy_but_close(image):
    compressed = rb.apply_condition(image, "jpeg_15")
    assert compressed.shape == image.shape and not np.array_equal(compressed, image)
    assert np.abs(compressed.astype(float) - image).mean() < 30


def test_occlusion_covers_the_stated_width(image):
    covered = rb.occlude(image, 0.25)
    changed_columns = np.flatnonzero((covered != image).any(axis=(0, 2)))
    width = changed_columns.max() - changed_columns.min() + 1
    assert 0.15 * 80 <= width <= 0.35 * 80  # a tilted ellipse 25 % of the width wide
    assert (covered[covered != image] != 0).all()
    np.testing.assert_array_equal(rb.occlude(image, 0.0), image)


def test_perspective_keeps_size_and_moves_corners(image):
    warped = rb.apply_condition(image, "perspective")
    assert warped.shape == image.shape
    assert not np.array_equal(warped, image)
    np.testing.assert_array_equal(rb.perspective_warp(image, 0.0), image)


def test_clean_is_a_copy(image):
    out = rb.apply_condition(image, "clean")
    np.testing.assert_array_equal(out, image)
    assert out is not image


def test_errors_name_the_problem(image):
    with pytest.raises(ConfigError, match="condition 'fog' is not supported"):
        rb.apply_condition(image, "fog")
    with pytest.raises(ConfigError, match="rotation must be a multiple of 90 degrees, got 45"):
        rb.rotate(image, 45)
    with pytest.raises(ConfigError, match="expected an RGB uint8 image"):
        rb.apply_condition(image.astype(np.float32), "blur")
    with pytest.raises(ConfigError, match="jpeg quality must be in 1-100, got 0"):
        rb.jpeg_compress(image, 0)
    with pytest.raises(ConfigError, match="condition 'snow' is not supported"):
        rb.RobustnessConfig(conditions=("clean", "snow"))
    with pytest.raises(DatasetError, match="need test and validation pairs"):
        rb.photo_study([MeanGrey()], [], [])


def test_synthetic_study_on_toy_method():
    config = rb.RobustnessConfig(conditions=("clean", "brightness_0.5", "rotation_180"))
    result = rb.synthetic_study(
        [MeanGrey()],
        n_drugs=4,
        n_val_drugs=2,
        faces=("front", "back"),
        photo_size=(96, 72),
        config=config,
        seed=1,
    )
    table = rb.robustness_table(result)
    assert list(table.columns) == ["clean", "brightness_0.5", "rotation_180"]
    assert result["n_pairs_per_condition"] == 8 and result["n_positive"] == 4
    assert ((table >= 0) & (table <= 1)).all().all()
    # Mean grey ignores orientation entirely, and halving the brightness moves it far from the threshold.
    assert table.loc["toy-mean", "rotation_180"] == pytest.approx(table.loc["toy-mean", "clean"], abs=0.13)
    drop = rb.accuracy_drop(result)["toy-mean"]
    assert set(drop) == {"brightness_0.5", "rotation_180"}
    ax = rb.plot_robustness(table, title="toy")
    assert ax.get_title() == "toy"


def test_photo_study_on_toy_method(tmp_path, image):
    from drugsim.data.records import Pair
    from drugsim.io import write_image

    paths = [
        write_image(tmp_path / f"{i}.png", rb.adjust_brightness(image, 0.4 + 0.15 * i)) for i in range(6)
    ]
    val = [
        Pair(paths[0], paths[0], 1),
        Pair(paths[0], paths[5], 0),
        Pair(paths[1], paths[1], 1),
        Pair(paths[1], paths[4], 0),
    ]
    test = [
        Pair(paths[2], paths[2], 1),
        Pair(paths[3], paths[3], 1),
        Pair(paths[2], paths[5], 0),
        Pair(paths[3], paths[0], 0),
    ]
    config = rb.RobustnessConfig(conditions=("clean", "brightness_1.5", "rotation_180"))
    result = rb.photo_study([MeanGrey()], test, val, config=config)
    row = result["accuracy"]["toy-mean"]
    assert row["clean"] == 1.0 and row["rotation_180"] == 1.0  # mean grey cannot see a rotation
    assert row["brightness_1.5"] < 1.0  # but sees the exposure change on every positive
    assert result["source"] == "photos" and result["threshold_fitted_on"] == "unperturbed validation pairs"


def test_glue_robustness_and_photo_root(tmp_path, monkeypatch):
    result = {
        "accuracy": {
            "a": {"clean": 0.9, "blur": 0.6, "rotation_180": 0.8},
            "b": {"clean": 0.8, "blur": 0.7, "rotation_180": 0.5},
        },
        "conditions": ["clean", "blur", "rotation_180"],
        "threshold_rule": "max_accuracy",
        "n_pairs_per_condition": 10,
    }
    values = rb.glue_robustness(result, None)
    # Means over methods: blur 0.65, rotation 0.65 -> the first of the tie (blur); clean 0.85.
    assert values["robust_synthetic_worst_condition"] == "blur sigma 2.5"
    assert values["robust_synthetic_clean_accuracy"] == "0.850"
    assert values["robust_synthetic_b_rotation_180"] == "0.500"
    assert "No real photos" in values["robust_photos_note"]
    monkeypatch.delenv("DRUGSIM_GROCERY_ROOT", raising=False)
    assert rb.real_photo_root("", dataset="synthetic", data_dir=tmp_path) is None
    assert rb.real_photo_root("", dataset="grocery", data_dir=tmp_path) == tmp_path
    monkeypatch.setenv("DRUGSIM_GROCERY_ROOT", str(tmp_path))
    assert rb.real_photo_root("", dataset="synthetic") == tmp_path
    with pytest.raises(DatasetError, match="photos_dir .*missing: no such folder"):
        rb.real_photo_root(tmp_path / "missing")
