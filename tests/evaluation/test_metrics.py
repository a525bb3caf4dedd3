"""Metrics: hand-worked values, scikit-learn as an outside reference, ties, directions."""

import numpy as np
import pytest
from sklearn import metrics as skm

from drugsim.errors import ConfigError
from drugsim.evaluation.metrics import (
    accuracy,
    balanced_accuracy,
    compute_metrics,
    eer,
    precision_recall,
    roc_auc,
    roc_curve,
)

SCORES = np.array([0.9, 0.8, 0.4, 0.6, 0.3, 0.1])
LABELS = np.array([1, 1, 1, 0, 0, 0])


def test_hand_worked_confusion_at_half():
    # Accept 0.9, 0.8, 0.6: TP 2, FP 1, TN 2, FN 1.
    values = compute_metrics(SCORES, LABELS, 0.5, direction="higher")
    assert (values["true_positives"], values["false_positives"]) == (2, 1)
    assert (values["true_negatives"], values["false_negatives"]) == (2, 1)
    assert values["accuracy"] == pytest.approx(4 / 6)
    assert values["precision"] == pytest.approx(2 / 3)
    assert values["recall"] == pytest.approx(2 / 3)
    assert values["positive_mean"] == pytest.approx(0.7)
    assert values["negative_mean"] == pytest.approx(1 / 3)


def test_roc_auc_by_hand_and_ties_count_half():
    # 8 of 9 positive/negative pairs ordered correctly (0.4 < 0.6).
    assert roc_auc(SCORES, LABELS, direction="higher") == pytest.approx(8 / 9)
    # All tied: every pair counts one half.
    assert roc_auc(np.ones(4), np.array([1, 0, 1, 0]), direction="higher") == pytest.approx(0.5)
    # One tie (0.4 vs 0.4) of 4 pairs, the other 3 correct -> 3.5 / 4.
    assert roc_auc(
        np.array([0.9, 0.4, 0.4, 0.1]), np.array([1, 1, 0, 0]), direction="higher"
    ) == pytest.approx(3.5 / 4)


def test_lower_direction_flips():
    assert roc_auc(-SCORES, LABELS, direction="lower") == pytest.approx(8 / 9)
    assert accuracy(-SCORES, LABELS, -0.5, direction="lower") == pytest.approx(4 / 6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_sklearn(seed):
    # Outside reference: scikit-learn's roc_auc_score, balanced_accuracy_score, precision/recall.
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    scores = np.round(labels + rng.normal(0, 1.2, 300), 1)  # rounding makes many ties
    assert roc_auc(scores, labels, direction="higher") == pytest.approx(skm.roc_auc_score(labels, scores))
    predicted = scores >= 0.5
    assert balanced_accuracy(scores, labels, 0.5, direction="higher") == pytest.approx(
        skm.balanced_accuracy_score(labels, predicted)
    )
    precision, recall = precision_recall(scores, labels, 0.5, direction="higher")
    assert precision == pytest.approx(skm.precision_score(labels, predicted))
    assert recall == pytest.approx(skm.recall_score(labels, predicted))
    fpr, tpr, _ = roc_curve(scores, labels, direction="higher")
    sk_fpr, sk_tpr, _ = skm.roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)


def test_eer_by_hand():
    # Perfect separation -> 0; the toy set: ROC points (fpr, fnr): ... (1/3, 1/3) lies on the curve.
    assert eer(np.array([3.0, 2.0, 1.0, 0.0]), np.array([1, 1, 0, 0]), direction="higher") == pytest.approx(
        0.0
    )
    assert eer(SCORES, LABELS, direction="higher") == pytest.approx(1 / 3)
    # Fully inverted -> 1.
    assert eer(np.array([0.0, 1.0]), np.array([1, 0]), direction="higher") == pytest.approx(1.0)


def test_eer_interpolates_between_roc_points():
    # Positives 2, 0; negatives 1, -1: ROC points (fpr, tpr): (0,0) (0,.5) (.5,.5) (.5,1) (1,1).
    # FNR - FPR: 1, .5, 0 -> crosses exactly at (0.5, 0.5): EER 0.5.
    assert eer(np.array([2.0, 0.0, 1.0, -1.0]), np.array([1, 1, 0, 0]), direction="higher") == pytest.approx(
        0.5
    )


def test_roc_curve_thresholds_on_method_scale():
    _, _, thresholds = roc_curve(np.array([1.0, 2.0]), np.array([1, 0]), direction="lower")
    assert thresholds.tolist() == [-np.inf, 1.0, 2.0]


def test_single_class_gives_nan_auc():
    assert np.isnan(roc_auc(np.array([0.1, 0.2]), np.array([1, 1]), direction="higher"))


def test_errors():
    with pytest.raises(ConfigError, match="direction 'sideways'"):
        roc_auc(SCORES, LABELS, direction="sideways")
    with pytest.raises(ConfigError, match="6 scores but 2 labels"):
        accuracy(SCORES, LABELS[:2], 0.5, direction="higher")


def test_training_and_match_filter_metrics_are_the_evaluation_metrics():
    """Training-time validation (deep/training.py) and the match-filter ranking (classical/keypoints.py)
    compute accuracy and ROC-AUC with drugsim.evaluation.metrics: same numbers as evaluation, and as a
    by-hand Mann-Whitney count."""
    from sklearn.metrics import roc_auc_score

    from drugsim.studies.keypoints import _midpoint_accuracy
    from drugsim.deep.training import validation_metrics, variant_direction
    from drugsim.evaluation import metrics
    from drugsim.evaluation.thresholds import fit_threshold

    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 120)
    probability = np.clip(0.5 + 0.3 * (labels - 0.5) + rng.normal(0, 0.2, 120), 0, 1).round(2)  # ties too
    distance = 1.0 - probability
    for variant, scores, direction in (("improved", probability, "higher"), ("classic", distance, "lower")):
        assert variant_direction(variant) == direction
        accuracy, auc = validation_metrics(scores, labels, 0.5, direction=direction)
        assert accuracy == metrics.accuracy(scores, labels, 0.5, direction=direction)
        assert auc == metrics.roc_auc(scores, labels, direction=direction)
        similar = scores >= 0.5 if direction == "higher" else scores <= 0.5
        assert accuracy == pytest.approx(np.mean(similar == (labels == 1)))
        assert auc == pytest.approx(roc_auc_score(labels, probability))
    assert all(np.isnan(validation_metrics(np.array([np.nan, 0.2]), [1, 0], 0.5, direction="higher")))

    counts = rng.poisson(4 + 6 * labels).astype(float)
    row = _midpoint_accuracy(counts, labels)
    threshold = fit_threshold(counts, labels, rule="midpoint", direction="higher")
    expected = metrics.compute_metrics(counts, labels, threshold, direction="higher")
    assert row["threshold"] == threshold
    assert row["accuracy"] == expected["accuracy"] and row["roc_auc"] == expected["roc_auc"]
    assert row["roc_auc"] == pytest.approx(roc_auc_score(labels, counts))
