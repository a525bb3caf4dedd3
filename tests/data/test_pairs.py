"""Pair lists: Algorithm 1 and Algorithm 2 as the paper's boxes, files in and out, bad pair lists."""

from pathlib import Path

import pytest

from drugsim.data import (
    ImageRecord,
    Pair,
    algorithm1_pairs,
    algorithm2_pairs,
    load_dataset,
    make_pairs,
    pair_statistics,
    read_pairs,
    write_pairs,
)
from drugsim.data.protocol import ProtocolSettings, select_split
from drugsim.errors import ConfigError, DatasetError


def _hand_built():
    """Drug A: 3 front + 2 back photos; drug B: 2 front; drug C: 1 front (no positive possible)."""
    spec = [("A", "front", 3), ("A", "back", 2), ("B", "front", 2), ("C", "front", 1)]
    return [ImageRecord(Path(f"/d/{drug}/{drug}_{face}_{i}.jpg"), drug, face, True)
            for drug, face, n in spec for i in range(n)]


def test_algorithm2_exact_counts_on_a_hand_built_set():
    records = _hand_built()
    with pytest.warns(UserWarning, match="class 'C' has a single photo"):
        pairs = make_pairs(records, algorithm=2, seed=0)
    # Positives: C(3,2) = 3 for A/front, 1 for A/back, 1 for B/front, 0 for C; one negative each.
    assert len(pairs) == 10
    assert [p.label for p in pairs] == [1, 0] * 5
    by_path = {r.path: r for r in records}
    for positive, negative in zip(pairs[::2], pairs[1::2]):
        a, b = by_path[positive.path_a], by_path[positive.path_b]
        assert a.group == b.group and a.path != b.path
        assert negative.path_a == positive.path_a, "each negative shares the positive's first photo"
        assert by_path[negative.path_b].group != a.group
    # B has a single face: its negative must come from another drug.
    b_negative = [n for p, n in zip(pairs[::2], pairs[1::2]) if by_path[p.path_a].label == "B"][0]
    assert by_path[b_negative.path_b].label != "B"


def test_algorithm2_balance_and_intra_share(tiny_dataset):
    records = select_split(load_dataset(tiny_dataset), "train", ProtocolSettings())
    pairs = make_pairs(records, algorithm=2, seed=0)
    stats = pair_statistics(pairs, records)
    assert stats["positives"] == stats["intra_class_negatives"] + stats["inter_class_negatives"]
    # 12 drugs x 6 faces x C(4, 2) positives in the tiny set, restricted to the training drugs.
    n_train = len({r.label for r in records})
    assert stats["positives"] == n_train * 6 * 6
    assert 0.35 < stats["intra_class_negatives"] / stats["positives"] < 0.65
    assert make_pairs(records, algorithm=2, seed=0) == pairs


def test_no_pair_crosses_splits(tiny_dataset):
    records = load_dataset(tiny_dataset)
    for split in ("train", "val", "test"):
        chosen = select_split(records, split, ProtocolSettings())
        labels = {r.label for r in chosen}
        for algorithm in (1, 2):
            for pair in make_pairs(chosen, algorithm=algorithm, seed=0, n_pairs=200):
                assert pair.path_a.parent.name in labels and pair.path_b.parent.name in labels


def test_algorithm1_only_inter_class_negatives_and_balanced(tiny_dataset):
    records = load_dataset(tiny_dataset)
    # Well below the distinct positives the photos allow, so the p = 0.5 draw stays balanced.
    n_positives = sum(1 for p in algorithm2_pairs(records, rng=0) if p.label == 1)
    n_pairs = n_positives // 2
    pairs = algorithm1_pairs(records, n_pairs, rng=0)
    stats = pair_statistics(pairs, records)
    assert stats["n_pairs"] == n_pairs and stats["intra_class_negatives"] == 0
    assert 0.4 * n_pairs < stats["positives"] < 0.6 * n_pairs
    by_path = {r.path: r for r in records}
    assert all(by_path[p.path_a].group == by_path[p.path_b].group and p.path_a != p.path_b
               for p in pairs if p.label == 1)


def test_unknown_faces_pair_by_class():
    records = [ImageRecord(Path(f"/g/{c}/{i}.jpg"), c) for c in "XYZ" for i in range(3)]
    pairs = make_pairs(records, algorithm=2, seed=1)
    assert len(pairs) == 3 * 3 * 2
    for pair in pairs:
        same_class = pair.path_a.parent == pair.path_b.parent
        assert same_class == (pair.label == 1)


def test_subsample_keeps_balance(tiny_dataset):
    pairs = make_pairs(load_dataset(tiny_dataset), algorithm=2, seed=0, n_pairs=100)
    assert len(pairs) == 100 and sum(p.label for p in pairs) == 50


def test_bad_pairing_requests():
    with pytest.raises(ConfigError, match="algorithm must be 1 or 2"):
        make_pairs(_hand_built(), algorithm=3)
    with pytest.raises(DatasetError, match="at least 2 classes"):
        make_pairs([r for r in _hand_built() if r.label == "A"])
    with pytest.raises(DatasetError, match="the split is empty"):
        make_pairs([])


def test_write_read_round_trip_relative_to_root(tiny_dataset, tmp_path):
    records = load_dataset(tiny_dataset)
    pairs = make_pairs(records, algorithm=2, seed=0, n_pairs=20)
    out = write_pairs(tmp_path / "pairs.txt", pairs, root=tiny_dataset)
    first = out.read_text().splitlines()[0].split("\t")
    assert len(first) == 3 and not first[0].startswith("/") and first[2] in ("0", "1")
    assert read_pairs(out, root=tiny_dataset) == [Pair(p.path_a, p.path_b, p.label) for p in pairs]
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("line, message", [
    ("d001/nope.jpg\t{b}\t1", r"pairs.txt:2: image .*nope.jpg does not exist"),
    ("../outside.jpg\t{b}\t0", r"pairs.txt:2: ../outside.jpg is outside the dataset root"),
    ("{b}\t{b}\t2", r"pairs.txt:2: label must be 0 or 1"),
    ("{b} {b} 1", r"pairs.txt:2: expected 'path A<TAB>path B<TAB>label'"),
])
def test_bad_pair_lists_name_the_line(tiny_dataset, tmp_path, line, message):
    good = sorted(p.relative_to(tiny_dataset).as_posix() for p in tiny_dataset.glob("d001/*.jpg"))[0]
    (tmp_path / "pairs.txt").write_text(f"{good}\t{good}\t1\n" + line.format(b=good) + "\n")
    with pytest.raises(DatasetError, match=message):
        read_pairs(tmp_path / "pairs.txt", root=tiny_dataset)


def test_pair_statistics_matches_relative_record_paths_to_absolute_pair_paths(tmp_path, monkeypatch):
    from drugsim.data.records import ImageRecord, Pair

    for name in ("a/1.jpg", "a/2.jpg", "b/1.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    records = [ImageRecord(path=Path(n), label=n[0], face="front") for n in ("a/1.jpg", "a/2.jpg", "b/1.jpg")]
    pairs = [Pair(tmp_path / "a/1.jpg", tmp_path / "a/2.jpg", 0), Pair(tmp_path / "a/1.jpg", tmp_path / "b/1.jpg", 0)]
    stats = pair_statistics(pairs, records)
    assert (stats["intra_class_negatives"], stats["inter_class_negatives"]) == (1, 1)


def _unordered(pairs):
    return [frozenset((str(p.path_a), str(p.path_b))) for p in pairs]


@pytest.mark.parametrize("algorithm", [1, 2])
def test_no_pair_occurs_twice_in_either_order(tiny_dataset, algorithm):
    records = load_dataset(tiny_dataset)
    pairs = (algorithm2_pairs(records, rng=3) if algorithm == 2
             else algorithm1_pairs(records, len(records) * 4, rng=3))
    keys = _unordered(pairs)
    assert len(keys) == len(set(keys))


def test_negatives_without_replacement_on_a_set_where_replacement_would_repeat():
    # Three classes of 4 photos: 18 negatives from 48 possible cross-class pairs; drawing with replacement
    # repeats one almost surely (for seed 0, it did), without replacement none repeats.
    records = [ImageRecord(Path(f"/d/{c}/{i}.jpg"), c) for c in "abc" for i in range(4)]
    pairs = algorithm2_pairs(records, rng=0)
    keys = _unordered(pairs)
    assert len(keys) == len(set(keys))
    assert sum(p.label == 0 for p in pairs) == sum(p.label == 1 for p in pairs) == 18


def test_too_many_distinct_algorithm1_pairs_is_an_error():
    records = [ImageRecord(Path(f"/d/{c}/{i}.jpg"), c) for c in "ab" for i in range(2)]
    with pytest.raises(DatasetError, match="distinct"):
        algorithm1_pairs(records, 10**30, rng=0)
