"""Class-level inference: the jackknife t interval's coverage, the paired class-level test, Holm."""

import math

import numpy as np
import pytest

from drugsim.errors import ConfigError
from drugsim.evaluation.bootstrap import bootstrap_intervals
from drugsim.evaluation.inference import (
    class_jackknife_intervals,
    class_jackknife_samples,
    holm_adjust,
    jackknife_standard_error,
    paired_class_test,
    t_quantile,
)
from drugsim.evaluation.metrics import accuracy

TRUE_ACCURACY = 0.8
#: Between-class spread of the per-class accuracy, as issue 20's simulation.
BETWEEN_CLASS_SD = 0.03


def _class_accuracies(rng, n_classes, *, mean_pairs=40):
    """Unequal class sizes (10 to 69 pairs) and per-class accuracies around TRUE_ACCURACY."""
    sizes = rng.integers(mean_pairs // 4, 2 * mean_pairs - mean_pairs // 4, n_classes)
    per_class = np.clip(TRUE_ACCURACY + rng.normal(0, BETWEEN_CLASS_SD, n_classes), 0, 1)
    return sizes, per_class


def _clustered_pairs(rng, n_classes):
    """Scored pairs whose correctness at threshold 0.5 follows each class's accuracy (classes independent,
    so the pooled accuracy estimates TRUE_ACCURACY)."""
    sizes, per_class = _class_accuracies(rng, n_classes)
    classes = np.repeat(np.arange(n_classes), sizes)
    correct = rng.random(classes.size) < per_class[classes]
    labels = rng.integers(0, 2, classes.size)
    scores = np.where(correct, labels, 1 - labels).astype(float)
    return scores, labels, classes


def _coverage(interval, n_classes, repetitions, seed):
    rng = np.random.default_rng(seed)
    hits = 0
    for repetition in range(repetitions):
        scores, labels, classes = _clustered_pairs(rng, n_classes)
        low, high = interval(scores, labels, classes, repetition)
        hits += low <= TRUE_ACCURACY <= high
    return hits / repetitions


def _jackknife(scores, labels, classes, _):
    return class_jackknife_intervals(scores, labels, 0.5, direction="higher", clusters=classes)["accuracy"]


def _percentile_bootstrap(scores, labels, classes, repetition):
    return bootstrap_intervals(scores, labels, 0.5, direction="higher", clusters=classes, n_boot=200,
                               seed=repetition)["accuracy"]


@pytest.mark.parametrize("n_classes", [20, 40])
def test_jackknife_t_interval_covers_the_true_accuracy_at_the_runs_class_counts(n_classes):
    # 1000 seeded repetitions: the coverage estimate's own standard error is about 0.007.
    assert _coverage(_jackknife, n_classes, 1000, seed=0) >= 0.93


def test_percentile_bootstrap_under_covers_with_few_classes_where_the_jackknife_does_not():
    # 8 test classes: the old quick split. The percentile interval's coverage falls short of 95 %.
    bootstrap = _coverage(_percentile_bootstrap, 8, 300, seed=1)
    jackknife = _coverage(_jackknife, 8, 300, seed=1)
    assert bootstrap < 0.91 and jackknife >= 0.93


def test_jackknife_samples_match_a_slow_leave_one_class_out_loop():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=90)
    labels = (scores + rng.normal(0, 1, 90) > 0).astype(int)
    classes = np.repeat(list("abcdef"), 15)
    samples = class_jackknife_samples(scores, labels, 0.1, direction="higher", clusters=classes)
    slow = [accuracy(scores[classes != c], labels[classes != c], 0.1, direction="higher") for c in "abcdef"]
    np.testing.assert_allclose(samples["accuracy"], slow)
    lower = class_jackknife_samples(-scores, labels, -0.1, direction="lower", clusters=classes)
    np.testing.assert_allclose(lower["accuracy"], slow)


def test_jackknife_interval_by_hand():
    # Classes a, b, c of 2 pairs each; correct: a both, b one, c none -> accuracy 1/2.
    # Leave-one-out accuracies 1/4, 2/4, 3/4: se = sqrt(2/3 * 2/16) = sqrt(1/12); t_{2, 0.975} = 4.3027.
    scores = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    labels = np.array([1, 0, 1, 0, 1, 0])
    classes = ["a", "a", "b", "b", "c", "c"]
    ci = class_jackknife_intervals(scores, labels, 0.5, direction="higher", clusters=classes)
    half = 4.302652729911275 * math.sqrt(1 / 12)
    assert half > 0.5 and ci["accuracy"] == pytest.approx((0.0, 1.0))  # clipped to the possible range
    samples = class_jackknife_samples(scores, labels, 0.5, direction="higher", clusters=classes)
    np.testing.assert_allclose(samples["accuracy"], [0.25, 0.5, 0.75])
    # Positive scores 1, 1, 0 (one per class): leave-one-out means 1/2, 1/2, 1 -> se = sqrt(2/3 * 1/6) = 1/3;
    # a mean score is no rate, so its interval is not clipped.
    assert ci["positive_mean"] == pytest.approx((2 / 3 - 4.302652729911275 / 3, 2 / 3 + 4.302652729911275 / 3))
    assert jackknife_standard_error(np.array([0.25, 0.5, 0.75])) == pytest.approx(math.sqrt(1 / 12))
    assert t_quantile(0.95, 2) == pytest.approx(4.302652729911275)


def test_paired_class_test_by_hand():
    # Differences per pair: class a (0, 1), b (0, 0), c (1, 0): pooled 2/6 = 1/3.
    # Leave-one-out differences 1/4, 1/2, 1/4 -> se = sqrt(2/3 * 1/24) = 1/6, t = 2 on 2 degrees of freedom.
    # P(T_2 > 2) = (1 - 2 / sqrt(6)) / 2 (closed form of the t distribution with 2 degrees of freedom).
    a = [1, 1, 1, 0, 1, 1]
    b = [1, 0, 1, 0, 0, 1]
    result = paired_class_test(a, b, ["a", "a", "b", "b", "c", "c"])
    assert result["difference"] == pytest.approx(1 / 3)
    assert result["standard_error"] == pytest.approx(1 / 6)
    assert result["t"] == pytest.approx(2.0)
    assert result["p_value"] == pytest.approx(1 - 2 / math.sqrt(6))
    # 1/3 +- 4.3027 / 6: the upper end, 1.05, is clipped to 1 (a difference of accuracies lies in [-1, 1]).
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((1 / 3 - 4.302652729911275 / 6, 1.0))
    assert (result["accuracy_a"], result["accuracy_b"], result["n_classes"]) == (5 / 6, 0.5, 3)
    assert paired_class_test(a, a, ["a", "a", "b", "b", "c", "c"])["p_value"] == 1.0
    assert paired_class_test([1, 1, 1, 1], [0, 0, 0, 0], ["a", "a", "b", "b"])["p_value"] == 0.0


def _paired_rejections(gap, repetitions=1000, n_classes=40, seed=0):
    rng = np.random.default_rng(seed)
    rejected = 0
    for _ in range(repetitions):
        sizes, per_class = _class_accuracies(rng, n_classes)
        classes = np.repeat(np.arange(n_classes), sizes)
        other = per_class if gap == 0 else np.clip(per_class - gap + rng.normal(0, 0.03, n_classes), 0, 1)
        correct_a = rng.random(classes.size) < per_class[classes]
        correct_b = rng.random(classes.size) < other[classes]
        rejected += paired_class_test(correct_a, correct_b, classes)["p_value"] < 0.05
    return rejected / repetitions


def test_paired_class_test_keeps_its_type_one_error_near_five_percent_at_40_classes():
    assert 0.025 <= _paired_rejections(0.0) <= 0.08


def test_paired_class_test_detects_a_planted_five_point_gap_at_40_classes():
    assert _paired_rejections(0.05) >= 0.8


def test_holm_adjust_by_hand():
    np.testing.assert_allclose(holm_adjust([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])


def test_bad_input_says_what_was_expected():
    with pytest.raises(ConfigError, match="same non-empty pair list"):
        paired_class_test([1, 0], [1], ["a", "b"])
    with pytest.raises(ConfigError, match="at least 2 classes"):
        paired_class_test([1, 0], [1, 1], ["x", "x"])
    with pytest.raises(ConfigError, match="one class per pair"):
        class_jackknife_intervals([0.1, 0.9, 0.2], [0, 1, 0], 0.5, direction="higher", clusters=[1, 2])
    with pytest.raises(ConfigError, match="level"):
        t_quantile(95, 3)
