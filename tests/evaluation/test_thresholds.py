"""Threshold rules on toy score sets worked by hand, both directions, and their errors."""

import numpy as np
import pytest

from drugsim.errors import ConfigError
from drugsim.evaluation.thresholds import (
    THRESHOLD_RULES,
    candidate_thresholds,
    fit_all_thresholds,
    fit_threshold,
    predict,
)

# Toy set, worked by hand below. Positives 0.9, 0.8, 0.4; negatives 0.6, 0.3, 0.1.
# Distinct values 0.1 0.3 0.4 0.6 0.8 0.9 -> candidates 0.0 0.2 0.35 0.5 0.7 0.85 0.95.
#   candidate:      0.0   0.2   0.35  0.5   0.7   0.85  0.95
#   TP (of 3):       3     3     3     2     2     1     0
#   FP (of 3):       3     2     1     1     0     0     0
#   correct (of 6):  3     4     5     4     5     4     3
SCORES = np.array([0.9, 0.8, 0.4, 0.6, 0.3, 0.1])
LABELS = np.array([1, 1, 1, 0, 0, 0])


def test_candidates_lie_between_distinct_scores():
    np.testing.assert_allclose(
        candidate_thresholds(SCORES), [0.0, 0.2, 0.35, 0.5, 0.7, 0.85, 0.95], atol=1e-12
    )


def test_midpoint_is_mean_of_the_two_means():
    # (0.9 + 0.8 + 0.4) / 3 = 0.7 and (0.6 + 0.3 + 0.1) / 3 = 1/3 -> (0.7 + 1/3) / 2
    assert fit_threshold(SCORES, LABELS, rule="midpoint") == pytest.approx((0.7 + 1 / 3) / 2)


def test_max_accuracy_takes_the_middle_of_equal_optima():
    # 5 of 6 correct at 0.35 and 0.7; with two optima the lower-middle one (index 0 of 2) is taken.
    assert fit_threshold(SCORES, LABELS, rule="max_accuracy") == pytest.approx(0.35)


def test_youden_by_hand():
    # TPR - FPR at each candidate: 0, 1/3, 2/3, 1/3, 2/3, 1/3, 0 -> optima 0.35 and 0.7 -> 0.35.
    assert fit_threshold(SCORES, LABELS, rule="youden") == pytest.approx(0.35)


def test_youden_differs_from_max_accuracy_on_unbalanced_pairs():
    # One positive 0.5 among negatives 0.1 0.2 0.6 0.7 0.8: candidates
    #   0.05 0.15 0.35 0.55 0.65 0.75 0.85 accept, TP/FP: 1/5 1/4 1/3 0/3 0/2 0/1 0/0
    #   correct: 1, 2, 3, 2, 3, 4, 5 -> max accuracy accepts nothing (0.85)
    #   TPR-FPR: 0, .2, .4, -.6, -.4, -.2, 0 -> Youden 0.35
    scores = np.array([0.5, 0.1, 0.2, 0.6, 0.7, 0.8])
    labels = np.array([1, 0, 0, 0, 0, 0])
    assert fit_threshold(scores, labels, rule="max_accuracy") == pytest.approx(0.85)
    assert fit_threshold(scores, labels, rule="youden") == pytest.approx(0.35)


def test_eer_by_hand():
    # |FAR - FRR| at each candidate: FAR = FP/3, FRR = 1 - TP/3
    #   0.0: |1 - 0| = 1; 0.2: |2/3 - 0| ; 0.35: |1/3 - 0| = 1/3; 0.5: |1/3 - 1/3| = 0 <- minimum
    assert fit_threshold(SCORES, LABELS, rule="eer") == pytest.approx(0.5)


def test_far_is_most_permissive_threshold_within_target():
    # FAR at candidates: 1, 2/3, 1/3, 1/3, 0, 0, 0.
    assert fit_threshold(SCORES, LABELS, rule="far", target_far=0.01) == pytest.approx(0.7)
    assert fit_threshold(SCORES, LABELS, rule="far", target_far=0.34) == pytest.approx(0.35)
    assert fit_threshold(SCORES, LABELS, rule="far", target_far=1.0) == pytest.approx(0.0)


@pytest.mark.parametrize("rule", THRESHOLD_RULES)
def test_lower_direction_mirrors_higher(rule):
    # Negating the scores and flipping the direction must negate the threshold and keep decisions.
    higher = fit_threshold(SCORES, LABELS, rule=rule, direction="higher")
    lower = fit_threshold(-SCORES, LABELS, rule=rule, direction="lower")
    assert lower == pytest.approx(-higher)
    np.testing.assert_array_equal(
        predict(SCORES, higher, direction="higher"), predict(-SCORES, lower, direction="lower")
    )


def test_lower_direction_by_hand():
    # Distances: positives 1, 2; negatives 5, 9. Midpoint (1.5 + 7) / 2 = 4.25; accept when <= 4.25.
    distances = np.array([1.0, 2.0, 5.0, 9.0])
    labels = np.array([1, 1, 0, 0])
    assert fit_threshold(distances, labels, rule="midpoint", direction="lower") == pytest.approx(4.25)
    # Perfectly separated: max accuracy lies halfway between 2 and 5.
    assert fit_threshold(distances, labels, rule="max_accuracy", direction="lower") == pytest.approx(3.5)
    assert predict(distances, 3.5, direction="lower").tolist() == [True, True, False, False]


def test_fit_all_thresholds_has_every_rule():
    values = fit_all_thresholds(SCORES, LABELS)
    assert list(values) == ["midpoint", "max_accuracy", "youden", "eer", "far"]


def test_constant_scores_do_not_crash():
    value = fit_threshold(np.ones(4), np.array([1, 0, 1, 0]), rule="max_accuracy")
    assert np.isfinite(value)


def test_errors_name_the_problem():
    with pytest.raises(ConfigError, match="threshold rule 'median' is not supported"):
        fit_threshold(SCORES, LABELS, rule="median")
    with pytest.raises(ConfigError, match="direction 'up' is not supported"):
        fit_threshold(SCORES, LABELS, direction="up")
    with pytest.raises(ConfigError, match="6 scores but 5 labels"):
        fit_threshold(SCORES, LABELS[:5])
    with pytest.raises(ConfigError, match="labels must be 0"):
        fit_threshold(SCORES, np.array([1, 2, 1, 0, 0, 0]))
    with pytest.raises(ConfigError, match="NaN or infinite"):
        fit_threshold(np.array([np.nan, 1.0]), np.array([1, 0]))
    with pytest.raises(ConfigError, match="needs positive and negative pairs; got 3 positive, 0 negative"):
        fit_threshold(SCORES[:3], LABELS[:3], rule="youden")
    with pytest.raises(ConfigError, match="target_far must be a rate"):
        fit_threshold(SCORES, LABELS, rule="far", target_far=5)
    with pytest.raises(ConfigError, match="no pairs"):
        fit_threshold([], [])
