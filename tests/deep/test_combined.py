"""The feature-face classifier and the combined pipeline of Table 10."""

from __future__ import annotations

from pathlib import Path

import pytest

from drugsim.data.records import ImageRecord, Pair
from drugsim.deep.classifier import (
    FeatureFacePredictor,
    evaluate_classifier,
    feature_flag_from_name,
    feature_labels,
    feature_rich_map,
    train_classifier,
)
from drugsim.deep.combined import filter_pairs
from drugsim.deep.config import classifier_config
from drugsim.errors import DatasetError


def test_filter_pairs_keeps_pairs_with_a_feature_rich_image():
    p = {name: Path(name) for name in "abcdef"}
    pairs = [Pair(p["a"], p["b"], 1), Pair(p["c"], p["d"], 0), Pair(p["e"], p["f"], 1), Pair(p["d"], p["a"], 0)]
    flags = {p["a"]: True, p["b"]: True, p["c"]: False, p["d"]: False, p["e"]: False, p["f"]: True}
    kept, compared = filter_pairs(pairs, flags)
    assert compared.tolist() == [True, False, True, True]
    assert kept == [pairs[0], pairs[2], pairs[3]]
    with pytest.raises(DatasetError, match="no feature-rich flag for image x"):
        filter_pairs([Pair(Path("x"), p["a"], 1)], flags)


def test_feature_flags_from_records_and_names(tmp_path):
    assert feature_flag_from_name("3_0012_1.jpg") is True
    assert feature_flag_from_name("3_0012_0.png") is False
    assert feature_flag_from_name("IMG_1234.jpg") is None
    records = [ImageRecord(Path("a/3_1_0.jpg"), "3", feature_rich=True), ImageRecord(Path("a/3_2_0.jpg"), "3"),
               ImageRecord(Path("a/photo.jpg"), "3")]
    paths, labels = feature_labels(records)
    assert labels == [1, 0] and paths == [Path("a/3_1_0.jpg"), Path("a/3_2_0.jpg")]
    with pytest.raises(DatasetError, match="no image has a feature-rich flag"):
        feature_labels([ImageRecord(Path("photo.jpg"), "x")])


def test_classifier_trains_predicts_and_filters(tmp_path, toy_records, toy_pair_list):
    config = classifier_config("tiny", epochs=3, image_size=32, device="cpu", n_train_images=None)
    result = train_classifier(config, toy_records, toy_records, out=tmp_path / "clf.pt", progress=False)
    assert len(result.history) == 3 and 0.0 <= result.train_accuracy <= 1.0
    predictor = FeatureFacePredictor(tmp_path / "clf.pt", device="cpu")
    report = evaluate_classifier(predictor, toy_records)
    assert set(report) == {"accuracy", "images_per_second", "n_images", "feature_rich_share"}
    assert report["n_images"] == len(toy_records) and report["images_per_second"] > 0
    # The toy faces are trivially separable (texture vs blank): the classifier learns them.
    assert report["accuracy"] >= 0.75
    flags = predictor.predict_paths([r.path for r in toy_records])
    kept, compared = filter_pairs(toy_pair_list, flags)
    oracle_kept, _ = filter_pairs(toy_pair_list, feature_rich_map(toy_records))
    assert len(kept) == compared.sum() and len(oracle_kept) <= len(toy_pair_list)


def test_run_combined_fits_on_validation_never_on_test(toy_records, toy_pair_list):
    from drugsim.deep.combined import run_combined
    from drugsim.errors import ConfigError
    from drugsim.methods import create_method

    method = create_method("ahash")
    flags = {record.path: bool(record.feature_rich) for record in toy_records}
    val_pairs = [p for p in toy_pair_list if Path(p.path_a).parent.name in ("drug0", "drug1")]
    test_pairs = [p for p in toy_pair_list if p not in val_pairs]
    with pytest.raises(ConfigError, match="needs validation pairs to fit its threshold on"):
        run_combined(method, test_pairs, classifier=flags)
    result = run_combined(method, test_pairs, classifier=flags, val_pairs=val_pairs, n_boot=20)
    assert result["threshold_fitted_on"] == "val"
    assert result["evaluation"]["threshold_fitted_on"] == "val"
    # Every flag False: the filtered validation pairs are empty, so all of them are used (and it says so).
    poor = {path: False for path in flags}
    poor.update({p.path_a: True for p in test_pairs})
    fallback = run_combined(method, test_pairs, classifier=poor, val_pairs=val_pairs, n_boot=20)
    assert fallback["val_filtered"] is False and fallback["threshold_fitted_on"] == "val"
    assert fallback["evaluation"]["n_val_pairs"] == len(val_pairs)
