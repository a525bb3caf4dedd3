"""Indexed 1:N search: indexes equal a brute-force scan on small galleries, survive a save/load, and
refuse what they cannot serve with a clear message."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drugsim.errors import ConfigError, DatasetError
from drugsim.evaluation.index import (
    IndexConfig,
    brute_force_search,
    build_index,
    features_to_matrix,
    load_index,
    metric_for_method,
)

RNG_SEED = 0


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(RNG_SEED)
    return rng.normal(size=(200, 24)).astype(np.float32), rng.normal(size=(7, 24)).astype(np.float32)


@pytest.fixture(scope="module")
def bits():
    rng = np.random.default_rng(RNG_SEED)
    return rng.integers(0, 256, (300, 8), dtype=np.uint8), rng.integers(0, 256, (9, 8), dtype=np.uint8)


def test_toy_cosine_by_hand():
    # Query (1, 1) is at 45 degrees to both axes: cosine 1/sqrt(2) with each, 1 with the diagonal.
    gallery = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    index = build_index("cosine", gallery, ["x", "y", "diag"])
    indices, scores = index.search(np.array([1.0, 1.0]), k=3)
    assert indices[0, 0] == 2
    np.testing.assert_allclose(scores[0], [1.0, 2**-0.5, 2**-0.5], atol=1e-6)


def test_toy_hamming_by_hand():
    gallery = np.array([[0b00000000], [0b00000111], [0b11111111]], dtype=np.uint8)
    index = build_index("ahash", gallery, ["zero", "three", "eight"])
    indices, scores = index.search(np.array([[0b00000001]], dtype=np.uint8), k=3)
    # Equal bits out of 8: zero 7, three 6, eight 1.
    assert indices.tolist() == [[0, 1, 2]]
    assert scores.tolist() == [[7.0, 6.0, 1.0]]


@pytest.mark.parametrize("metric", ["l2", "cosine", "ip", "correl"])
def test_flat_equals_brute_force(vectors, metric):
    gallery, queries = vectors
    index = build_index("custom", gallery, range(len(gallery)), metric=metric)
    indices, scores = index.search(queries, k=10)
    ref_indices, ref_scores = brute_force_search(gallery, queries, 10, metric=metric)
    np.testing.assert_array_equal(indices, ref_indices)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-4, atol=1e-4)


def test_binary_flat_equals_brute_force(bits):
    gallery, queries = bits
    index = build_index("phash", gallery, range(len(gallery)))
    indices, scores = index.search(queries, k=15)
    ref_indices, ref_scores = brute_force_search(gallery, queries, 15, metric="hamming")
    # Hamming distances tie often: the scores must agree exactly, and each returned row must have its score.
    np.testing.assert_array_equal(scores, ref_scores)
    full = brute_force_search(gallery, queries, len(gallery), metric="hamming")
    for q in range(len(queries)):
        by_row = dict(zip(full[0][q], full[1][q]))
        assert [by_row[i] for i in indices[q]] == scores[q].tolist()


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_indexes_find_nearly_all_neighbours(vectors, bits, kind):
    gallery, queries = vectors
    exact, _ = brute_force_search(gallery, queries, 5, metric="l2")
    approx, _ = build_index("euclidean", gallery, range(200), kind=kind, nprobe=4).search(queries, k=5)
    recall = np.mean([len(set(a) & set(e)) / 5 for a, e in zip(approx, exact)])
    assert recall >= 0.8
    hashes, hash_queries = bits
    _, exact_scores = brute_force_search(hashes, hash_queries, 5, metric="hamming")
    _, approx_scores = build_index("dhash", hashes, range(300), kind=kind).search(hash_queries, k=5)
    assert (approx_scores[:, 0] == exact_scores[:, 0]).mean() >= 0.8


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_save_load_round_trip(tmp_path, vectors, kind):
    gallery, queries = vectors
    index = build_index(
        "cnn-cosine",
        gallery,
        [f"drug{i % 5}" for i in range(200)],
        paths=[f"img{i}.jpg" for i in range(200)],
        kind=kind,
    )
    path = index.save(tmp_path / "gallery.faiss")
    meta = json.loads((tmp_path / "gallery.faiss.json").read_text())
    assert meta["method"] == "cnn-cosine" and meta["metric"] == "cosine" and meta["paths"][3] == "img3.jpg"
    loaded = load_index(path)
    assert loaded.labels == index.labels and loaded.config == index.config
    for got, want in zip(loaded.search(queries, k=4), index.search(queries, k=4)):
        np.testing.assert_array_equal(got, want)
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_binary_save_load_round_trip(tmp_path, bits):
    gallery, queries = bits
    index = build_index("ahash", [row for row in gallery], range(300))
    loaded = load_index(index.save(tmp_path / "hashes.faiss"))
    for got, want in zip(loaded.search(queries, k=3), index.search(queries, k=3)):
        np.testing.assert_array_equal(got, want)


def test_hash_features_in_other_formats_agree():
    bool_bits = np.random.default_rng(1).integers(0, 2, (4, 64)).astype(bool)
    packed = features_to_matrix([b for b in bool_bits], "hamming")
    assert packed.shape == (4, 8)
    np.testing.assert_array_equal(packed, np.packbits(bool_bits, axis=1))


def test_index_agrees_with_hash_method_scores():
    from drugsim.classical import hashing
    from drugsim.methods import create_method

    method = create_method("ahash")
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, (40, 40, 3), dtype=np.uint8) for _ in range(12)]
    features = [method.describe(image) for image in images]
    index = build_index(method, features, range(12))
    indices, scores = index.search(features[0], k=12)
    for i, score in zip(indices[0], scores[0]):
        assert score == pytest.approx(method.score(features[0], features[i]))
    del hashing


def test_errors_name_the_problem(tmp_path, vectors):
    gallery, _ = vectors
    with pytest.raises(ConfigError, match="'orb' cannot be indexed"):
        metric_for_method("orb")
    with pytest.raises(ConfigError, match="index kind 'annoy' is not supported"):
        IndexConfig(kind="annoy")
    with pytest.raises(DatasetError, match="3 labels for 200 gallery features"):
        build_index("euclidean", gallery, ["a", "b", "c"])
    with pytest.raises(DatasetError, match="gallery is empty"):
        build_index("euclidean", [], [])
    with pytest.raises(DatasetError, match="IVF index needs at least 39"):
        build_index("euclidean", gallery[:10], range(10), kind="ivf")
    index = build_index("euclidean", gallery, range(200))
    with pytest.raises(ConfigError, match="query features have 5 values, the index of 'euclidean' holds 24"):
        index.search(np.zeros(5), k=1)
    with pytest.raises(DatasetError, match="no such index file"):
        load_index(tmp_path / "missing.faiss")
    path = index.save(tmp_path / "g.faiss")
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(DatasetError, match="does not match its sidecar"):
        load_index(path)


def test_leave_one_out_ranking_scored_by_retrieval_module():
    """Neighbours from the index, turned into a similarity, score as the full similarity matrix does."""
    from drugsim.evaluation.index import leave_one_out_search, neighbour_similarity
    from drugsim.evaluation.retrieval import retrieval_metrics

    rng = np.random.default_rng(3)
    centres = rng.normal(size=(6, 8))
    labels = [str(i % 6) for i in range(40)]
    vectors = centres[[int(label) for label in labels]] + 0.9 * rng.normal(size=(40, 8))
    index = build_index("cnn-cosine", vectors, labels)
    indices, _ = leave_one_out_search(index, vectors, k=10)
    assert all(q not in row for q, row in enumerate(indices))
    from_index = retrieval_metrics(neighbour_similarity(indices, 40), labels, labels, exclude_self=True)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    full = retrieval_metrics(unit @ unit.T, labels, labels, exclude_self=True)
    for key in ("precision_at_1", "map_at_r", "r_precision", "n_queries"):
        assert from_index[key] == pytest.approx(full[key])


def test_neighbour_similarity_by_hand():
    from drugsim.evaluation.index import neighbour_similarity

    similarity = neighbour_similarity(np.array([[2, 0], [0, -1]]), 3)
    assert similarity[0].tolist() == [1.0, -np.inf, 2.0]
    assert similarity[1].tolist() == [2.0, -np.inf, -np.inf]


def test_dataset_search_exact_index_equals_brute_force():
    from drugsim.evaluation.search_speed import dataset_search
    from drugsim.studies.search import search_table

    rng = np.random.default_rng(4)
    labels = [i % 8 for i in range(120)]
    vectors = rng.normal(size=(8, 16))[labels] + 0.5 * rng.normal(size=(120, 16))
    result = dataset_search("euclidean", vectors, labels, approx_kind="hnsw", repeats=1)
    rows = result["rows"]
    from drugsim.evaluation.retrieval import retrieval_metrics

    distances = np.linalg.norm(vectors[:, None, :] - vectors[None, :, :], axis=2)
    full = retrieval_metrics(-distances, labels, labels, exclude_self=True)
    assert rows["brute_force"]["map_at_r"] == pytest.approx(full["map_at_r"])
    assert rows["brute_force"]["precision_at_1"] == pytest.approx(full["precision_at_1"])
    assert rows["flat"]["scores_equal_brute_force"] == 1.0
    assert rows["flat"]["map_at_r"] == pytest.approx(rows["brute_force"]["map_at_r"])
    assert rows["hnsw"]["map_at_r"] >= rows["flat"]["map_at_r"] - 0.05
    hashes = np.packbits(rng.integers(0, 2, (120, 64)).astype(bool), axis=1)
    hash_result = dataset_search("dhash", hashes, labels, approx_kind="ivf", repeats=1)
    assert hash_result["rows"]["flat"]["scores_equal_brute_force"] == 1.0
    table = search_table([result, hash_result])
    assert table.shape == (6, 4)
