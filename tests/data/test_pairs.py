"""Pair lists: Algorithm 2's exact counts, Algorithm 1's balance, splits, files and their errors."""

from __future__ import annotations

from collections import Counter

import pytest
from data_helpers import hand_built

from drugsim.data import (
    algorithm1_pairs, algorithm2_pairs, load_dataset, make_pairs, pair_statistics, read_pairs, split_dataset,
    write_pairs,
)
from drugsim.data.records import Pair
from drugsim.errors import ConfigError, DatasetError


@pytest.fixture
def small(tmp_path):
    """Drug A: front x3, back x2; drug B: front x2 (worked by hand below)."""
    return hand_built(tmp_path, {"A": [("front", 3), ("back", 2)], "B": [("front", 2)]})


def test_algorithm2_counts_worked_by_hand(small):
    # Positives: A/front C(3,2)=3, A/back C(2,2)=1, B/front 1 -> 5; one negative each -> 5.
    pairs = algorithm2_pairs(small, rng=0)
    by_path = {r.path: r for r in small}
    positives = [p for p in pairs if p.label == 1]
    negatives = [p for p in pairs if p.label == 0]
    assert len(positives) == 5 and len(negatives) == 5
    assert Counter(by_path[p.path_a].group for p in positives) == {"A/front": 3, "A/back": 1, "B/front": 1}
    for positive, negative in zip(pairs[0::2], pairs[1::2]):  # each positive is followed by its negative
        assert positive.label == 1 and negative.label == 0 and negative.path_a == positive.path_a
        assert by_path[positive.path_a].group == by_path[positive.path_b].group
        assert positive.path_a != positive.path_b
        assert by_path[negative.path_a].group != by_path[negative.path_b].group
    for negative in negatives:  # B has one face only: its negatives come from another drug
        if by_path[negative.path_a].label == "B":
            assert by_path[negative.path_b].label == "A"
    stats = pair_statistics(pairs, small)
    assert stats["positives"] == 5
    assert stats["intra_class_negatives"] + stats["inter_class_negatives"] == 5


def test_algorithm2_intra_class_negatives_only_for_drugs_with_several_faces(small):
    by_path = {r.path: r for r in small}
    intra_anchors = set()
    for seed in range(30):
        for pair in algorithm2_pairs(small, rng=seed):
            a, b = by_path[pair.path_a], by_path[pair.path_b]
            if pair.label == 0 and a.label == b.label:
                intra_anchors.add(a.label)
                assert a.face != b.face
    assert intra_anchors == {"A"}


def test_algorithm2_is_seeded(small):
    assert algorithm2_pairs(small, rng=3) == algorithm2_pairs(small, rng=3)


def test_algorithm1_balance_and_inter_class_negatives_only(small):
    by_path = {r.path: r for r in small}
    pairs = algorithm1_pairs(small, 2000, rng=0)
    assert len(pairs) == 2000
    share = sum(p.label for p in pairs) / len(pairs)
    assert 0.45 < share < 0.55
    for pair in pairs:
        a, b = by_path[pair.path_a], by_path[pair.path_b]
        if pair.label == 1:
            assert a.group == b.group and a.path != b.path
        else:
            assert a.label != b.label
    assert pair_statistics(pairs, small)["intra_class_negatives"] == 0


def test_make_pairs_options(small):
    assert len(make_pairs(small, algorithm=1, seed=0)) == 10  # as many as Algorithm 2 gives
    sub = make_pairs(small, algorithm=2, seed=0, n_pairs=4)
    assert len(sub) == 4 and sum(p.label for p in sub) == 2
    with pytest.raises(ConfigError, match="algorithm must be 1 or 2, got 3"):
        make_pairs(small, algorithm=3)
    with pytest.raises(ConfigError, match="n_pairs must be at least 1, got 0"):
        algorithm1_pairs(small, 0)


def test_one_class_and_single_photo_classes(tmp_path):
    records = hand_built(tmp_path, {"A": [("front", 2)], "C": [("front", 1)]})
    with pytest.warns(UserWarning, match=r"class 'C' has a single photo .*C_0001_1.png.*: it gives no positive pair"):
        pairs = algorithm2_pairs(records, rng=0)
    assert len(pairs) == 2
    with pytest.raises(DatasetError, match=r"pairs need at least 2 classes for negatives; got only \['A'\]"):
        algorithm2_pairs([r for r in records if r.label == "A"])
    with pytest.raises(DatasetError, match="the split is empty"):
        algorithm2_pairs([])


def test_no_pair_crosses_splits(tiny_dataset):
    records = load_dataset(tiny_dataset)
    splits = split_dataset(records, seed=0)
    for algorithm in (1, 2):
        for name, members in splits.items():
            paths = {r.path for r in members}
            for pair in make_pairs(members, algorithm=algorithm, seed=0, n_pairs=300):
                assert pair.path_a in paths and pair.path_b in paths, name


def test_splits_are_class_disjoint_complete_and_seeded(tiny_dataset):
    records = load_dataset(tiny_dataset)
    splits = split_dataset(records, seed=0)
    labels = {name: {r.label for r in members} for name, members in splits.items()}
    assert not labels["train"] & labels["val"] and not labels["train"] & labels["test"]
    assert not labels["val"] & labels["test"]
    assert sum(len(m) for m in splits.values()) == len(records)
    assert all(labels.values())
    assert split_dataset(records, seed=0) == splits
    assert any(split_dataset(records, seed=s)["test"] != splits["test"] for s in range(1, 6))


def test_pair_file_round_trip(small, tmp_path):
    pairs = algorithm2_pairs(small, rng=0)
    out = write_pairs(tmp_path / "lists" / "pairs.txt", pairs, root=tmp_path)
    first = out.read_text().splitlines()[0].split("\t")
    assert first[0].startswith("A/") and first[2] == "1"  # relative to the root, tab-separated
    back = read_pairs(out, root=tmp_path)
    assert [(p.path_a.resolve(), p.path_b.resolve(), p.label) for p in back] == [
        (p.path_a.resolve(), p.path_b.resolve(), p.label) for p in pairs]
    assert not list((tmp_path / "lists").glob("*.partial"))


def test_read_pairs_errors(small, tmp_path):
    root = tmp_path
    a, b = (r.path.relative_to(root).as_posix() for r in small[:2])
    bad = tmp_path / "bad.txt"
    with pytest.raises(DatasetError, match="missing.txt: no such pair list"):
        read_pairs(tmp_path / "missing.txt", root=root)
    cases = [
        (f"{a}\t{b}\t2\n", r"bad.txt:1: label must be 0 or 1, got '2'"),
        (f"{a}\t{b}\n", r"bad.txt:1: expected 'path A<TAB>path B<TAB>label', got 2 field\(s\)"),
        (f"{a}\t{b}\t1\n{a}\t../outside.png\t0\n", r"bad.txt:2: ../outside.png is outside the dataset root"),
        (f"{a}\tA/absent.png\t1\n", r"bad.txt:1: image .*A/absent.png does not exist"),
    ]
    for text, message in cases:
        bad.write_text(text)
        with pytest.raises(DatasetError, match=message):
            read_pairs(bad, root=root)
    bad.write_text(f"{a}\t{b}\t1\n")
    with pytest.raises(DatasetError, match="needs the dataset root"):
        read_pairs(bad)


def test_write_pairs_refuses_paths_outside_the_root(small, tmp_path):
    pairs = [Pair(small[0].path, tmp_path.parent / "elsewhere.png", 0)]
    with pytest.raises(DatasetError, match="elsewhere.png is outside the dataset root"):
        write_pairs(tmp_path / "p.txt", pairs, root=tmp_path / "A")
    assert not (tmp_path / "p.txt").exists()
