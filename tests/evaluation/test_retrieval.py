"""precision@1 and MAP@R against brute-force loops and hand-worked toy cases; 1:N search."""

import numpy as np
import pytest
from evaluation_helpers import MeanGrey

from drugsim.data.records import ImageRecord
from drugsim.errors import ConfigError
from drugsim.evaluation.retrieval import retrieval_metrics
from drugsim.evaluation.search import evaluate_retrieval, search
from drugsim.io import read_image
from drugsim.methods import create_method


def brute_force(similarity, query_labels, gallery_labels, self_index=None):
    """Slow, obvious version of Musgrave et al. (2020), section 3.2, and AccuracyCalculator's lone rule."""
    p1, maps, rps = [], [], []
    for q, label in enumerate(query_labels):
        candidates = [g for g in range(len(gallery_labels)) if self_index is None or g != self_index[q]]
        r = sum(gallery_labels[g] == label for g in candidates)
        if r == 0:
            continue  # lone query: excluded
        ranked = sorted(candidates, key=lambda g: (-similarity[q][g], g))
        relevant = [gallery_labels[g] == label for g in ranked]
        p1.append(float(relevant[0]))
        total, found = 0.0, 0
        for i in range(1, r + 1):
            if relevant[i - 1]:
                found += 1
                total += found / i
        maps.append(total / r)
        rps.append(sum(relevant[:r]) / r)
    return np.mean(p1), np.mean(maps), np.mean(rps), len(p1)


def test_hand_worked_map_at_r():
    # Query "a" (R = 2): results a, b, a -> AP@R = (1/2) * (1/1 + 0) = 0.5 (the 2nd result is wrong and
    # the 3rd lies beyond R). Query "b" (R = 1): results a, b -> AP@R = 0. precision@1 = 1/2.
    similarity = np.array([[0.9, 0.5, 0.1], [0.9, 0.5, 0.1]])
    metrics = retrieval_metrics(similarity, ["a", "b"], ["a", "b", "a"])
    assert metrics["precision_at_1"] == pytest.approx(0.5)
    assert metrics["map_at_r"] == pytest.approx((0.5 + 0.0) / 2)
    assert metrics["r_precision"] == pytest.approx((0.5 + 0.0) / 2)


def test_ap_rewards_order_within_r():
    # R = 3, results rel = [1, 0, 1, 1]: AP@R = (1/1 + 0 + 2/3) / 3 = 5/9 (the 4th result lies beyond R).
    similarity = np.array([[4.0, 3.0, 2.0, 1.0]])
    metrics = retrieval_metrics(similarity, ["x"], ["x", "y", "x", "x"])
    assert metrics["map_at_r"] == pytest.approx(5 / 9)


@pytest.mark.parametrize("seed", range(5))
def test_against_brute_force_leave_one_out(seed):
    rng = np.random.default_rng(seed)
    labels = list(rng.integers(0, 5, 30).astype(str))
    similarity = np.round(rng.normal(size=(30, 30)), 1)  # rounded: ties broken by gallery order
    metrics = retrieval_metrics(similarity, labels, labels, exclude_self=True)
    expected = brute_force(similarity, labels, labels, self_index=list(range(30)))
    assert metrics["precision_at_1"] == pytest.approx(expected[0])
    assert metrics["map_at_r"] == pytest.approx(expected[1])
    assert metrics["r_precision"] == pytest.approx(expected[2])
    assert metrics["n_queries"] == expected[3]


def test_against_brute_force_separate_gallery_with_lone_queries():
    rng = np.random.default_rng(9)
    query_labels = ["a", "b", "z", "c", "a"]  # "z" is not in the gallery: lone, excluded
    gallery_labels = list(rng.choice(["a", "b", "c"], 12))
    gallery_labels[:3] = ["a", "b", "c"]
    similarity = rng.normal(size=(5, 12))
    metrics = retrieval_metrics(similarity, query_labels, gallery_labels)
    expected = brute_force(similarity, query_labels, gallery_labels)
    assert metrics["n_lone_queries"] == 1 and metrics["n_queries"] == expected[3] == 4
    assert metrics["precision_at_1"] == pytest.approx(expected[0])
    assert metrics["map_at_r"] == pytest.approx(expected[1])


def test_subset_queries_self_index_matches_brute_force():
    rng = np.random.default_rng(4)
    labels = list(rng.integers(0, 3, 15).astype(str))
    chosen = np.array([0, 4, 7, 11])
    similarity = rng.normal(size=(4, 15))
    metrics = retrieval_metrics(similarity, [labels[i] for i in chosen], labels, self_index=chosen)
    expected = brute_force(similarity, [labels[i] for i in chosen], labels, self_index=list(chosen))
    assert metrics["map_at_r"] == pytest.approx(expected[1])


def test_all_lone_gives_nan():
    metrics = retrieval_metrics(np.zeros((1, 2)), ["q"], ["a", "b"])
    assert np.isnan(metrics["map_at_r"]) and metrics["n_lone_queries"] == 1


def test_search_ranks_the_same_image_first(image_set):
    _, paths, labels = image_set
    method = create_method("ahash")
    gallery = {p: method.describe(read_image(p)) for p in paths}
    hits = search(method, paths[5], gallery, top_k=3, labels=dict(zip(paths, labels)))
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].key == paths[5] and hits[0].score == 64.0 and hits[0].label == labels[5]
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_search_respects_lower_direction(image_set):
    _, paths, _ = image_set
    method = MeanGrey()  # distance: lower = more similar
    gallery = {p: method.describe(read_image(p)) for p in paths}
    hits = search(method, paths[2], gallery, top_k=2)
    assert hits[0].key == paths[2] and hits[0].score == 0.0 and hits[1].score > 0


def test_evaluate_retrieval_on_generated_images(image_set):
    _, paths, labels = image_set
    records = [ImageRecord(p, label) for p, label in zip(paths, labels)]
    metrics = evaluate_retrieval(create_method("ahash"), records, n_jobs=1)
    assert metrics["n_queries"] == len(records) and 0.5 < metrics["precision_at_1"] <= 1.0
    subset = evaluate_retrieval(create_method("ahash"), records, max_queries=5, n_jobs=1)
    assert subset["n_queries"] == 5


def test_errors():
    with pytest.raises(ConfigError, match="similarity is 1 x 2 but there are 2 query labels"):
        retrieval_metrics(np.zeros((1, 2)), ["a", "b"], ["a", "b"])
    with pytest.raises(ConfigError, match="exclude_self needs the queries to be the gallery"):
        retrieval_metrics(np.zeros((1, 2)), ["a"], ["a", "b"], exclude_self=True)
    with pytest.raises(ConfigError, match="top_k must be at least 1"):
        search(MeanGrey(), np.zeros((4, 4, 3), np.uint8), {"a": 1.0}, top_k=0)
    with pytest.raises(ConfigError, match="the gallery is empty"):
        search(MeanGrey(), np.zeros((4, 4, 3), np.uint8), {}, top_k=1)
