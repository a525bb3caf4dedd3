"""Bootstrap intervals: coverage on simulated data, vectorised = loop, paired tests, seeds summary."""

import numpy as np
import pytest
from scipy.stats import norm

from drugsim.errors import ConfigError
from drugsim.evaluation.bootstrap import (
    bootstrap_intervals,
    bootstrap_metric_samples,
    cluster_sign_test,
    mcnemar_test,
    paired_bootstrap_difference,
    resample_counts,
    resample_weights,
    summarise_seeds,
)
from drugsim.evaluation.metrics import compute_metrics


def test_counts_sum_to_n_and_chunking_does_not_change_draws():
    rng = np.random.default_rng(0)
    counts = np.concatenate(list(resample_counts(50, 30, rng, chunk_cells=50 * 7)))
    assert counts.shape == (30, 50)
    assert np.all(counts.sum(axis=1) == 50)


def test_vectorised_equals_slow_loop():
    # Slow, obvious re-implementation: draw the same indices, recompute each metric pair by pair.
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 40)
    scores = np.round(labels + rng.normal(0, 1, 40), 1)
    samples = bootstrap_metric_samples(scores, labels, 0.5, direction="higher", n_boot=20, seed=11)
    draw_rng = np.random.default_rng(11)
    counts = next(resample_counts(40, 20, draw_rng))
    for row in range(20):
        index = np.repeat(np.arange(40), counts[row].astype(int))
        expected = compute_metrics(scores[index], labels[index], 0.5, direction="higher")
        for name in ("accuracy", "balanced_accuracy", "roc_auc", "eer", "precision", "positive_mean"):
            assert samples[name][row] == pytest.approx(expected[name], nan_ok=True), name


def test_interval_covers_true_accuracy_at_about_the_stated_rate():
    # Population: label ~ Bernoulli(1/2), score = label + N(0, 1), threshold 0.5.
    # True accuracy = P(N > -0.5) = Phi(0.5) = 0.6915 for both classes.
    true_accuracy = norm.cdf(0.5)
    # True AUC = P(N1 + 1 > N0) = Phi(1 / sqrt(2)).
    true_auc = norm.cdf(1 / np.sqrt(2))
    rng = np.random.default_rng(2024)
    n_trials, covered_acc, covered_auc = 200, 0, 0
    for trial in range(n_trials):
        labels = rng.integers(0, 2, 300)
        scores = labels + rng.normal(0, 1, 300)
        ci = bootstrap_intervals(scores, labels, 0.5, direction="higher", n_boot=300, seed=trial)
        covered_acc += ci["accuracy"][0] <= true_accuracy <= ci["accuracy"][1]
        covered_auc += ci["roc_auc"][0] <= true_auc <= ci["roc_auc"][1]
    # 95 % nominal; binomial sd over 200 trials is 1.5 %, percentile intervals run slightly narrow.
    assert 0.89 <= covered_acc / n_trials <= 0.99
    assert 0.89 <= covered_auc / n_trials <= 0.99


def test_refit_midpoint_reports_threshold_spread():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = labels + rng.normal(0, 1, 200)
    samples = bootstrap_metric_samples(
        scores, labels, 0.5, direction="higher", n_boot=50, seed=0, refit_midpoint=True
    )
    assert samples["threshold"].shape == (50,)
    assert np.std(samples["threshold"]) > 0


def test_same_seed_same_interval():
    scores = np.linspace(0, 1, 30)
    labels = (scores > 0.4).astype(int)
    a = bootstrap_intervals(scores, labels, 0.5, direction="higher", n_boot=50, seed=5)
    b = bootstrap_intervals(scores, labels, 0.5, direction="higher", n_boot=50, seed=5)
    assert a == b


def test_paired_difference_and_mcnemar():
    # A right on all 100 pairs, B wrong on 20 of them: difference 0.2, clearly real.
    correct_a = np.ones(100, bool)
    correct_b = np.ones(100, bool)
    correct_b[:20] = False
    paired = paired_bootstrap_difference(correct_a, correct_b, n_boot=500, seed=0)
    assert paired["difference"] == pytest.approx(0.2)
    assert paired["ci_low"] > 0 and paired["p_value"] < 0.01
    test = mcnemar_test(correct_a, correct_b)
    # Exact: 2 * P(Binomial(20, 1/2) <= 0) = 2 / 2**20.
    assert test["a_only_correct"] == 20 and test["b_only_correct"] == 0
    assert test["p_value"] == pytest.approx(2 / 2**20)
    # Identical methods: no difference.
    assert mcnemar_test(correct_a, correct_a)["p_value"] == 1.0


def test_mcnemar_hand_worked_small_case():
    # Discordant 3 vs 1: p = 2 * P(Bin(4, .5) <= 1) = 2 * 5/16 = 0.625.
    a = np.array([1, 1, 1, 0, 1], bool)
    b = np.array([0, 0, 0, 1, 1], bool)
    assert mcnemar_test(a, b)["p_value"] == pytest.approx(0.625)


def test_summarise_seeds():
    summary = summarise_seeds([0.9, 0.8, 1.0])
    assert summary["mean"] == pytest.approx(0.9)
    assert summary["std"] == pytest.approx(0.1)
    assert summarise_seeds([0.5])["std"] is None
    with pytest.raises(ConfigError, match="at least one value"):
        summarise_seeds([])


def test_errors():
    with pytest.raises(ConfigError, match="n_boot must be a positive"):
        bootstrap_intervals([0.1, 0.9], [0, 1], 0.5, direction="higher", n_boot=0)
    with pytest.raises(ConfigError, match="same non-empty pair list"):
        paired_bootstrap_difference([1, 0], [1])


# ------------------------------------------------------------------------------- class-level (cluster)


def test_cluster_bootstrap_by_hand():
    # Class A: two pairs, both decided right; class B: two pairs, both wrong. A cluster resample draws two
    # classes, so its accuracy is (number of A drawn) / 2, one of 0, 0.5, 1, never the pair-level 0.25.
    scores = np.array([0.9, 0.1, 0.2, 0.8])
    labels = np.array([1, 0, 1, 0])
    classes = np.array(["A", "A", "B", "B"])
    samples = bootstrap_metric_samples(
        scores, labels, 0.5, direction="higher", n_boot=200, seed=4, clusters=classes
    )
    class_counts = next(resample_counts(2, 200, np.random.default_rng(4)))
    np.testing.assert_allclose(samples["accuracy"], class_counts[:, 0] / 2)
    assert set(np.unique(samples["accuracy"])) == {0.0, 0.5, 1.0}
    weights = next(resample_weights(4, 3, np.random.default_rng(4), clusters=classes))
    np.testing.assert_array_equal(weights, class_counts[:3][:, [0, 0, 1, 1]])


def _correlated(seed=0, n_classes=20, per_class=30):
    """Pairs whose difficulty depends on their class: a class-wide shift of every score."""
    rng = np.random.default_rng(seed)
    classes = np.repeat(np.arange(n_classes), per_class)
    labels = rng.integers(0, 2, classes.size)
    class_shift = rng.normal(0, 1.5, n_classes)[classes]
    scores = labels + class_shift * (2 * labels - 1) + rng.normal(0, 0.3, classes.size)
    return scores, labels, classes


def test_cluster_intervals_wider_than_pair_intervals_for_correlated_pairs():
    scores, labels, classes = _correlated()
    by_pair = bootstrap_intervals(scores, labels, 0.5, direction="higher", n_boot=400, seed=0)
    by_class = bootstrap_intervals(
        scores, labels, 0.5, direction="higher", n_boot=400, seed=0, clusters=classes
    )
    for metric in ("accuracy", "roc_auc"):
        pair_width = by_pair[metric][1] - by_pair[metric][0]
        class_width = by_class[metric][1] - by_class[metric][0]
        assert class_width > 1.5 * pair_width, metric


def test_cluster_bootstrap_is_seeded():
    scores, labels, classes = _correlated(seed=1)
    a = bootstrap_intervals(scores, labels, 0.5, direction="higher", n_boot=60, seed=7, clusters=classes)
    b = bootstrap_intervals(scores, labels, 0.5, direction="higher", n_boot=60, seed=7, clusters=classes)
    c = bootstrap_intervals(scores, labels, 0.5, direction="higher", n_boot=60, seed=8, clusters=classes)
    assert a == b and a != c
    # Chunking the draws does not change them.
    whole = np.concatenate(list(resample_weights(600, 30, np.random.default_rng(2), clusters=classes)))
    chunked = np.concatenate(
        list(resample_weights(600, 30, np.random.default_rng(2), clusters=classes, chunk_cells=600 * 7))
    )
    np.testing.assert_array_equal(whole, chunked)


def test_paired_difference_on_one_class_is_not_real_at_class_level():
    # B errs on every pair of one class out of ten: pair-level resampling calls it a clear difference; at the
    # class level it is one class's worth of evidence, and the interval reaches zero.
    classes = np.repeat(np.arange(10), 20)
    correct_a = np.ones(200, bool)
    correct_b = classes != 3
    by_pair = paired_bootstrap_difference(correct_a, correct_b, n_boot=1000, seed=0)
    by_class = paired_bootstrap_difference(correct_a, correct_b, n_boot=1000, seed=0, clusters=classes)
    assert by_pair["difference"] == by_class["difference"] == pytest.approx(0.1)
    assert by_pair["ci_low"] > 0.05 and by_pair["p_value"] < 0.01
    assert by_class["ci_low"] == 0.0 and by_class["p_value"] > 0.05


def test_cluster_errors():
    with pytest.raises(ConfigError, match="got 3 classes for 4 pairs"):
        bootstrap_intervals([0.1, 0.9, 0.2, 0.8], [0, 1, 0, 1], 0.5, direction="higher", clusters=[1, 2, 3])
    with pytest.raises(ConfigError, match="at least 2 classes; all 2 pairs belong to 'x'"):
        paired_bootstrap_difference([1, 0], [1, 1], clusters=["x", "x"])


def test_cluster_sign_test_by_hand():
    # A right and B wrong on one pair in each of three classes: the observed total (+3) is matched only by
    # all-plus and all-minus of the 2**3 sign assignments, so p = 2 / 8.
    classes = np.array(["a", "a", "b", "b", "c", "c"])
    correct_a = np.array([1, 1, 1, 1, 1, 1], bool)
    correct_b = np.array([0, 1, 0, 1, 0, 1], bool)
    test = cluster_sign_test(correct_a, correct_b, classes)
    assert test == {"p_value": 0.25, "n_classes": 3, "exact": True}
    # Two classes can never show a real difference; identical methods give p = 1.
    assert cluster_sign_test(correct_a[:4], correct_b[:4], classes[:4])["p_value"] == 0.5
    assert cluster_sign_test(correct_a, correct_a, classes)["p_value"] == 1.0
    # Ten classes all one way: 2 / 2**10, exact; many classes fall back to seeded random flips.
    many = np.repeat(np.arange(10), 2)
    one_wrong_each = np.tile([False, True], 10)
    assert cluster_sign_test(np.ones(20, bool), one_wrong_each, many)["p_value"] == pytest.approx(2 / 2**10)
    wide = np.repeat(np.arange(30), 2)
    b_wide = np.tile([False, True], 30)
    first = cluster_sign_test(np.ones(60, bool), b_wide, wide, n_perm=500, seed=3)
    assert not first["exact"] and first == cluster_sign_test(np.ones(60, bool), b_wide, wide, n_perm=500, seed=3)
    assert first["p_value"] < 0.01
    with pytest.raises(ConfigError, match="same non-empty pair list"):
        cluster_sign_test([1, 0], [1], ["a", "b"])
