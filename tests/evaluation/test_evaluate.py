"""evaluate_scores / evaluate_method: the keys every consumer relies on; the validation split respected."""

import json
from pathlib import Path

import numpy as np
import pytest
from evaluation_helpers import MeanGrey

from drugsim.data.records import ImageRecord
from drugsim.errors import ConfigError
from drugsim.evaluation import evaluate as evaluate_module
from drugsim.evaluation import thresholds as thresholds_module
from drugsim.evaluation.engine import pair_classes
from drugsim.evaluation.evaluate import (
    PAPER_PROTOCOL_LABEL,
    evaluate_method,
    evaluate_scores,
    fitted_on_label,
)
from drugsim.evaluation.thresholds import fit_threshold
from drugsim.report import _plain

REQUIRED_KEYS = {
    # issue 4
    "n_pairs",
    "positive_mean",
    "negative_mean",
    "threshold",
    "threshold_rule",
    "accuracy",
    # issue 6 and the common brief
    "threshold_fitted_on",
    "balanced_accuracy",
    "roc_auc",
    "eer",
    "precision",
    "recall",
    "thresholds",
    "ci95",
}


def _toy(seed=0, n=200, shift=0.0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    return labels + shift + rng.normal(0, 0.8, n), labels


#: Ten classes of twenty pairs each, for the class-level bootstrap of the toy scores.
CLASSES = np.repeat([f"drug{i}" for i in range(10)], 20)


def test_keys_and_validation_default():
    scores, labels = _toy()
    val_scores, val_labels = _toy(seed=5)
    result = evaluate_scores(
        scores, labels, direction="higher", val_scores=val_scores, val_labels=val_labels, clusters=CLASSES,
        n_boot=100,
    )
    assert REQUIRED_KEYS <= set(result)
    assert set(result["thresholds"]) == {"midpoint", "max_accuracy", "youden", "eer", "far"}
    assert {"accuracy", "balanced_accuracy", "roc_auc", "eer", "precision", "recall"} <= set(result["ci95"])
    assert result["threshold_rule"] == "midpoint" and result["threshold_fitted_on"] == "val"
    assert result["protocol"] == "val" and result["ci_unit"] == "class" and result["n_classes"] == 10
    expected = (val_scores[val_labels == 1].mean() + val_scores[val_labels == 0].mean()) / 2
    assert result["threshold"] == pytest.approx(expected)
    low, high = result["ci95"]["accuracy"]
    assert low <= result["accuracy"] <= high
    json.dumps(_plain(result), allow_nan=False)  # JSON-ready once NaN -> null


def test_paper_protocol_only_when_asked():
    scores, labels = _toy()
    with pytest.raises(ConfigError, match="no validation pairs to fit the 'midpoint' threshold on"):
        evaluate_scores(scores, labels, direction="higher", clusters=CLASSES, n_boot=20)
    paper = evaluate_scores(scores, labels, direction="higher", protocol="paper", clusters=CLASSES, n_boot=50)
    assert paper["threshold_fitted_on"] == "test" and paper["protocol"] == "paper"
    expected = (scores[labels == 1].mean() + scores[labels == 0].mean()) / 2
    assert paper["threshold"] == pytest.approx(expected)
    assert paper["bootstrap"]["threshold_refitted"]
    assert fitted_on_label("test") == PAPER_PROTOCOL_LABEL and "paper's protocol" in PAPER_PROTOCOL_LABEL


def test_protocol_errors():
    scores, labels = _toy()
    with pytest.raises(ConfigError, match="protocol 'ours' is not supported"):
        evaluate_scores(scores, labels, direction="higher", protocol="ours", clusters=CLASSES)
    with pytest.raises(ConfigError, match="give a threshold or protocol='paper', not both"):
        evaluate_scores(scores, labels, direction="higher", protocol="paper", threshold=0.5, clusters=CLASSES)
    with pytest.raises(ConfigError, match="the paper's protocol is the midpoint rule"):
        evaluate_scores(scores, labels, direction="higher", protocol="paper", threshold_rule="youden",
                        clusters=CLASSES)


def test_ci_unit_errors_and_pair_level_on_request():
    scores, labels = _toy()
    with pytest.raises(ConfigError, match="class-level intervals need the class of every test pair"):
        evaluate_scores(scores, labels, direction="higher", threshold=0.5)
    with pytest.raises(ConfigError, match="ci_unit 'drug' is not supported"):
        evaluate_scores(scores, labels, direction="higher", threshold=0.5, ci_unit="drug")
    with pytest.raises(ConfigError, match="got 3 classes for 200 test pairs"):
        evaluate_scores(scores, labels, direction="higher", threshold=0.5, clusters=["a", "b", "c"])
    pairs = evaluate_scores(scores, labels, direction="higher", threshold=0.5, ci_unit="pair", n_boot=50)
    assert pairs["ci_unit"] == "pair" and pairs["bootstrap"]["unit"] == "pair" and pairs["n_classes"] is None
    assert pairs["ci_method"] == "pair-percentile-bootstrap"


def test_class_level_intervals_are_the_jackknife_t_intervals():
    from drugsim.evaluation.inference import class_jackknife_intervals

    scores, labels = _toy()
    result = evaluate_scores(scores, labels, direction="higher", threshold=0.5, clusters=CLASSES, n_boot=7)
    assert result["ci_unit"] == "class" and result["ci_method"] == "class-jackknife-t"
    assert result["bootstrap"]["method"] == "class-jackknife-t" and result["bootstrap"]["n_boot"] == 0
    expected = class_jackknife_intervals(scores, labels, 0.5, direction="higher", clusters=CLASSES)
    for metric, interval in expected.items():
        assert result["ci95"][metric] == pytest.approx(list(interval), nan_ok=True)


def test_threshold_fitted_on_validation_never_sees_test(monkeypatch):
    val_scores, val_labels = _toy(seed=1)
    test_scores, test_labels = _toy(seed=2, shift=5.0)  # a shifted test set: its own fit would differ a lot
    seen = []
    original = thresholds_module.fit_threshold

    def spy(scores, labels, **kwargs):
        seen.append(np.asarray(scores).copy())
        return original(scores, labels, **kwargs)

    monkeypatch.setattr(evaluate_module._thresholds, "fit_threshold", spy)
    result = evaluate_scores(
        test_scores,
        test_labels,
        direction="higher",
        val_scores=val_scores,
        val_labels=val_labels,
        threshold_rule="youden",
        clusters=CLASSES,
        n_boot=50,
    )
    # Every fit saw the validation scores and only them.
    assert seen and all(np.array_equal(s, val_scores) for s in seen)
    assert result["threshold_fitted_on"] == "val" and result["thresholds_fitted_on"] == "val"
    assert result["threshold"] == pytest.approx(fit_threshold(val_scores, val_labels, rule="youden"))
    assert result["threshold"] != pytest.approx(fit_threshold(test_scores, test_labels, rule="youden"))
    # Changing the test scores changes the metrics but never the threshold.
    again = evaluate_scores(
        test_scores * 3,
        test_labels,
        direction="higher",
        val_scores=val_scores,
        val_labels=val_labels,
        threshold_rule="youden",
        clusters=CLASSES,
        n_boot=50,
    )
    assert again["threshold"] == result["threshold"] and again["thresholds"] == result["thresholds"]


def test_given_threshold_is_used_unchanged():
    scores, labels = _toy()
    result = evaluate_scores(
        scores,
        labels,
        direction="higher",
        threshold=0.25,
        threshold_rule="eer",
        threshold_source="file:earlier.json",
        clusters=CLASSES,
        n_boot=50,
    )
    assert result["threshold"] == 0.25
    assert result["threshold_fitted_on"] == "file:earlier.json" and result["threshold_rule"] == "eer"
    assert not result["bootstrap"]["threshold_refitted"]
    # Nothing else is fitted on the test pairs behind the given threshold's back.
    assert result["thresholds_fitted_on"] is None and set(result["thresholds"].values()) == {None}


def test_lower_direction_means_on_method_scale():
    scores, labels = _toy()
    distances = 10 - scores
    common = {"protocol": "paper", "clusters": CLASSES, "n_boot": 50}
    higher = evaluate_scores(scores, labels, direction="higher", **common)
    lower = evaluate_scores(distances, labels, direction="lower", **common)
    assert lower["positive_mean"] == pytest.approx(10 - higher["positive_mean"])
    assert lower["accuracy"] == pytest.approx(higher["accuracy"])
    assert lower["roc_auc"] == pytest.approx(higher["roc_auc"])


def test_evaluate_scores_errors():
    with pytest.raises(ConfigError, match="give both val_scores and val_labels"):
        evaluate_scores([0.1, 0.9], [0, 1], direction="higher", val_scores=[0.3])
    with pytest.raises(ConfigError, match="threshold rule 'best'"):
        evaluate_scores([0.1, 0.9], [0, 1], direction="higher", threshold_rule="best", threshold=0.5)
    with pytest.raises(ConfigError, match="validation scores: labels must be 0"):
        evaluate_scores([0.1, 0.9], [0, 1], direction="higher", val_scores=[0.2, 0.3], val_labels=[0, 3])


def test_evaluate_method_engine_and_per_pair_agree(pair_list):
    method = MeanGrey()
    result, scores = evaluate_method(method, pair_list, protocol="paper", progress=False, n_boot=50)
    per_pair, per_pair_scores = evaluate_method(
        method, pair_list, protocol="paper", per_pair=True, progress=False, n_boot=50
    )
    np.testing.assert_allclose(scores, per_pair_scores)
    assert result["method"] == "mean-grey-test" and result["n_pairs"] == len(pair_list)
    assert result["timing"]["mode"] == "engine" and per_pair["timing"]["mode"] == "per-pair"
    timing = result["timing"]
    assert result["pairs_per_second"] == pytest.approx(
        len(pair_list) / (timing["describe_seconds"] + timing["score_seconds"])
    )
    assert result["accuracy"] == per_pair["accuracy"]
    # Classes come from the pairs' folders (class0 ... class5): the interval resamples them.
    assert result["ci_unit"] == "class" and result["n_classes"] == 6
    assert result["threshold_fitted_on"] == "test" and result["protocol"] == "paper"


def test_evaluate_method_fits_on_val_pairs_only(pair_list, monkeypatch):
    method = MeanGrey()
    half = len(pair_list) // 2
    val_pairs = pair_list[::2]
    test_pairs = pair_list[1::2]
    captured = {}
    original = evaluate_module.evaluate_scores

    def spy(scores, labels, **kwargs):
        captured.update(kwargs, test_n=len(scores))
        return original(scores, labels, **kwargs)

    monkeypatch.setattr(evaluate_module, "evaluate_scores", spy)
    result, _ = evaluate_method(
        method, test_pairs, val_pairs=val_pairs, threshold_rule="max_accuracy", progress=False, n_boot=20
    )
    assert captured["test_n"] == len(test_pairs) and len(captured["val_scores"]) == len(val_pairs) > 0
    assert result["threshold_fitted_on"] == "val" and result["n_val_pairs"] == len(val_pairs)
    assert half >= 1


def test_evaluate_method_empty_pairs():
    with pytest.raises(ConfigError, match="no test pairs"):
        evaluate_method(MeanGrey(), [])


def test_evaluate_method_refuses_before_scoring_without_val_pairs(pair_list):
    method = MeanGrey()
    with pytest.raises(ConfigError, match="no validation pairs"):
        evaluate_method(method, pair_list, progress=False)
    assert method.batches == []  # nothing was described: the error comes first


def test_pair_classes_from_records_or_folders(pair_list):
    classes = pair_classes(pair_list)
    assert list(classes) == [Path(pair.path_a).parent.name for pair in pair_list]
    records = [ImageRecord(Path(pair_list[0].path_a), "drug-x")]
    assert pair_classes(pair_list[:1], records)[0] == "drug-x"
