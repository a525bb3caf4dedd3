"""The one protocol: capping, sampling, splits (class-disjoint and the Grocery official split), pair files
reused only for the same settings, the pair-list hash, and every error message of drugsim.data.protocol."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from data_helpers import tiny_image

from drugsim.cli import main
from drugsim.data import ImageRecord, Pair, load_dataset, protocol, read_pairs, write_pairs
from drugsim.data.protocol import ProtocolSettings, load_protocol_pairs, pairs_sha256
from drugsim.errors import ConfigError, DatasetError
from drugsim.io import write_image

# ------------------------------------------------------------------------------------ sampling rules


def test_sample_pairs_is_balanced_seeded_ordered_and_bounded():
    pairs = [Pair(Path(f"a{i}"), Path(f"b{i}"), int(i < 30)) for i in range(100)]
    sample = protocol.sample_pairs(pairs, 20, seed=1)
    assert len(sample) == 20 and sum(p.label for p in sample) == 10
    assert sample == protocol.sample_pairs(pairs, 20, seed=1) and sample != protocol.sample_pairs(pairs, 20, seed=2)
    assert sample == [p for p in pairs if p in sample]  # original order kept
    assert protocol.sample_pairs(pairs, 0) == pairs and protocol.sample_pairs(pairs, None) == pairs
    assert protocol.sample_pairs(pairs, 500) == pairs
    few_positive = [Pair(Path("a"), Path("b"), 1)] + [Pair(Path(f"c{i}"), Path("d"), 0) for i in range(9)]
    assert len(protocol.sample_pairs(few_positive, 6)) == 6  # fills up with negatives


def test_sample_items_is_seeded_and_keeps_order():
    items = list(range(100))
    chosen = protocol.sample_items(items, 10, seed=1)
    assert chosen == sorted(chosen) and chosen == protocol.sample_items(items, 10, seed=1) and len(set(chosen)) == 10
    assert protocol.sample_items(items, None, seed=0) == items
    assert np.array_equal(protocol.sample_items(items, 500, seed=0), items)


def test_cap_photos_per_group_or_class():
    records = [ImageRecord(Path(f"{c}/{f}{i}.jpg"), c, f) for c in "ab" for f in ("front", "back") for i in range(5)]
    capped = protocol.cap_photos(records, 2, seed=3)
    assert len(capped) == 8 and {sum(r.group == g for r in capped) for g in {r.group for r in records}} == {2}
    assert capped == protocol.cap_photos(records, 2, seed=3) and capped != protocol.cap_photos(records, 2, seed=4)
    assert protocol.cap_photos(records, 0) == records
    assert len(protocol.cap_photos(records, 3, by="class")) == 6
    with pytest.raises(ConfigError, match="cap_photos groups by 'group' or 'class', got 'face'"):
        protocol.cap_photos(records, 2, by="face")


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="algorithm must be 1 or 2, got 3"):
        ProtocolSettings(algorithm=3)
    with pytest.raises(ConfigError, match="max_images_per_class must be 0 .all. or more, got -1"):
        ProtocolSettings(max_images_per_class=-1)
    with pytest.raises(ConfigError, match="grocery_protocol 'paper' is not supported"):
        ProtocolSettings(grocery_protocol="paper")
    with pytest.raises(ConfigError, match="n_pairs must be at least 1, got 0"):
        protocol.make_pairs([], n_pairs=0)
    with pytest.raises(DatasetError, match="split 'dev' is not supported"):
        protocol.select_split([], "dev", ProtocolSettings())
    with pytest.raises(ConfigError, match="unknown protocol 'mine'"):
        protocol.protocol_sentence("mine")


# ------------------------------------------------------------------------- one list, hashed, reused


def test_pairs_sha256_is_the_hash_of_the_written_file(tiny_dataset, tmp_path):
    data = load_protocol_pairs(tiny_dataset, splits=("test",))
    written = protocol.write_protocol_pairs(data, tmp_path)
    digest = hashlib.sha256((tmp_path / "pairs" / "test.txt").read_bytes()).hexdigest()
    assert pairs_sha256(data.pairs("test"), data.root) == digest == written["test"]["sha256"] == data.sha256()
    record = protocol.results_record(data, scored=data.pairs("test")[:4])
    assert record["test_pairs_sha256"] == digest
    assert record["protocol"]["scored_test_pairs_sha256"] == pairs_sha256(data.pairs("test")[:4], data.root)
    assert record["protocol"]["n_scored_test_pairs"] == 4 and record["protocol"]["name"] == protocol.CLASS_DISJOINT


def test_data_chapter_files_are_reused_only_for_the_same_settings(tiny_dataset, tmp_path):
    built = load_protocol_pairs(tiny_dataset)
    assert built.source.startswith("built here")
    val_drugs = {r.label for r in built.records_by_split["val"]}
    assert val_drugs and not val_drugs & {r.label for r in built.records_by_split["test"]}
    protocol.write_protocol_pairs(built, tmp_path)
    reused = load_protocol_pairs(tiny_dataset, work_dir=tmp_path, splits=("val", "test"))
    assert reused.source.endswith("(data chapter)")
    assert reused.pairs("test") == built.pairs("test") and reused.sha256() == built.sha256()
    other = load_protocol_pairs(tiny_dataset, work_dir=tmp_path, settings=ProtocolSettings(seed=1))
    assert other.source.startswith("built here") and other.sha256() != built.sha256()
    # A hand-edited list no longer matches its recorded hash: rebuilt, not scored.
    test_file = tmp_path / "pairs" / "test.txt"
    test_file.write_text("".join(test_file.read_text().splitlines(keepends=True)[2:]))
    again = load_protocol_pairs(tiny_dataset, work_dir=tmp_path)
    assert again.source.startswith("built here") and again.sha256() == built.sha256()
    with pytest.raises(ConfigError, match="the 'train' pairs were not built here"):
        reused.pairs("train")
    with pytest.raises(ConfigError, match=r"unknown split\(s\) \['dev'\]"):
        load_protocol_pairs(tiny_dataset, splits=("dev",))


def test_capped_lists_keep_at_most_the_cap_per_group(tiny_dataset):
    data = load_protocol_pairs(tiny_dataset, settings=ProtocolSettings(max_images_per_class=2))
    for records in data.records_by_split.values():
        groups = [r.group for r in records]
        assert max(groups.count(g) for g in groups) == 2


def test_results_record_of_a_chapter_without_test_pairs_must_say_why():
    assert protocol.results_record(None, note="scores photos") == {"test_pairs_sha256": None,
                                                                    "protocol": {"note": "scores photos"}}
    with pytest.raises(ConfigError, match="a chapter without test pairs must say why"):
        protocol.results_record(None)


def test_evaluation_pairs_needs_data_or_a_file():
    with pytest.raises(ConfigError, match="give a dataset .--data DIR.grocery. or a pair list"):
        protocol.evaluation_pairs(None)
    with pytest.raises(ConfigError, match="split 'dev' is not supported"):
        protocol.evaluation_pairs(None, split="dev")


def test_evaluation_pairs_refuse_a_pair_file_that_shares_photos_with_validation(tiny_dataset, tmp_path):
    data = load_protocol_pairs(tiny_dataset, splits=("val",))
    pair_file = tmp_path / "val_pairs.txt"
    write_pairs(pair_file, data.pairs("val")[:4], root=data.root)
    with pytest.raises(DatasetError, match="images of the evaluated pairs belong to the validation split"):
        protocol.evaluation_pairs(tiny_dataset, pair_file=pair_file, with_val=True)


def test_evaluation_pairs_of_the_test_split_are_the_chapters_list(tiny_dataset):
    data = load_protocol_pairs(tiny_dataset, splits=("val", "test"))
    pairs = protocol.evaluation_pairs(tiny_dataset, with_val=True, n_pairs=30)
    assert pairs.test == protocol.sample_pairs(data.pairs("test"), 30)
    assert pairs.val == protocol.sample_pairs(data.pairs("val"), 30) and pairs.source == "algorithm2:test"


# ------------------------------------------------------------------------------ the Grocery split

PRODUCTS = ("Milk", "Juice", "Oatghurt", "Soy-Milk", "Yoghurt", "Cream")


def fake_grocery(root: Path, *, with_test: bool = True, with_val: bool = True) -> Path:
    """A Grocery Store layout: 6 products, 4 train, 2 val and 3 test photos each (as many as listed)."""
    dataset = root / "dataset"
    dataset.mkdir(parents=True)
    lines = ["Class Name (str),Class ID (int),Coarse Class Name (str),Coarse Class ID (int)"]
    lines += [f"{name},{i},Packages,{i}" for i, name in enumerate(PRODUCTS)]
    (dataset / "classes.csv").write_text("\n".join(lines) + "\n")
    seed = 0
    counts = {"train": 4, "val": 2, "test": 3 if with_test else 0}
    if not with_val:
        counts["val"] = 0
    for split, count in counts.items():
        if not count:
            continue
        listed = []
        for i, name in enumerate(PRODUCTS):
            for k in range(count):
                seed += 1
                relative = f"{split}/Packages/{name}/{name}_{k:03d}.png"
                write_image(dataset / relative, tiny_image(seed))
                listed.append(f"{relative}, {i}, {i}")
        (dataset / f"{split}.txt").write_text("\n".join(listed) + "\n")
    return root


def _official(records, split):
    return {r.path.resolve() for r in records if r.official_split == split}


def test_official_split_never_puts_a_test_photo_in_a_train_or_val_pair(tmp_path):
    root = fake_grocery(tmp_path / "grocery")
    records = load_dataset(root)
    assert {r.official_split for r in records} == {"train", "val", "test"}
    data = load_protocol_pairs(root)
    assert data.protocol == protocol.OFFICIAL
    test_photos = _official(records, "test")
    for split in ("train", "val"):
        photos = {p for pair in data.pairs(split) for p in (pair.path_a.resolve(), pair.path_b.resolve())}
        assert photos and not photos & test_photos
    assert {p for pair in data.pairs("val") for p in (pair.path_a.resolve(), pair.path_b.resolve())} <= \
        _official(records, "val")
    test_pair_photos = {p for pair in data.pairs("test") for p in (pair.path_a.resolve(), pair.path_b.resolve())}
    assert test_pair_photos <= test_photos
    assert {r.label for r in data.records_by_split["test"]} == set(PRODUCTS)  # known products, new photos
    assert "new photos of known products" in protocol.protocol_sentence(data.protocol)


def test_unseen_products_protocol_keeps_test_photos_and_products_out_of_training(tmp_path):
    root = fake_grocery(tmp_path / "grocery")
    records = load_dataset(root)
    data = load_protocol_pairs(root, settings=ProtocolSettings(grocery_protocol="unseen-products"),
                               splits=())  # one test and one validation product: records only
    assert data.protocol == protocol.UNSEEN_PRODUCTS
    test_products = {r.label for r in data.records_by_split["test"]}
    assert test_products and not test_products & {r.label for r in data.records_by_split["train"]}
    assert {r.path.resolve() for r in data.records_by_split["test"]} <= _official(records, "test")
    trained_on = {r.path.resolve() for s in ("train", "val") for r in data.records_by_split[s]}
    assert trained_on and not trained_on & _official(records, "test")
    assert "unseen-product" in protocol.protocol_sentence(data.protocol)


def test_without_test_txt_the_official_shape_stays(tmp_path):
    root = fake_grocery(tmp_path / "grocery", with_test=False)
    records = load_dataset(root)
    data = load_protocol_pairs(root)
    assert data.protocol == protocol.OFFICIAL_VAL_AS_TEST
    photos = {split: {r.path.resolve() for r in part} for split, part in data.records_by_split.items()}
    assert photos["test"] == _official(records, "val")  # every val.txt photo, every class of val.txt
    assert photos["val"] and photos["val"] <= _official(records, "train")
    assert not photos["val"] & photos["train"] and not photos["test"] & (photos["train"] | photos["val"])
    assert {r.label for r in data.records_by_split["val"]} == set(PRODUCTS)  # carved from every product
    for split in ("train", "val"):
        paired = {p.resolve() for pair in data.pairs(split) for p in (pair.path_a, pair.path_b)}
        assert not paired & photos["test"]
    assert "new photos of known products" in protocol.protocol_sentence(data.protocol)


def test_without_test_txt_the_class_carve_stays_available_by_name(tmp_path):
    root = fake_grocery(tmp_path / "grocery", with_test=False)
    data = load_protocol_pairs(root, settings=ProtocolSettings(grocery_protocol="unseen-products"), splits=())
    assert data.protocol == protocol.CLASS_DISJOINT
    labels = {split: {r.label for r in records} for split, records in data.records_by_split.items()}
    assert not labels["test"] & labels["train"] and not labels["val"] & labels["train"]


def test_a_data_change_rebuilds_the_pair_lists(tmp_path):
    root = fake_grocery(tmp_path / "grocery", with_test=False)
    work = tmp_path / "run"
    first = load_protocol_pairs(root, work_dir=work)
    protocol.write_protocol_pairs(first, work)
    assert "data chapter" in load_protocol_pairs(root, work_dir=work).source  # unchanged data: reused
    # Adding the official test.txt changes the protocol: the lists must not be reused under the old split.
    dataset = root / "dataset"
    listed = []
    for i, name in enumerate(PRODUCTS):
        for k in range(2):
            relative = f"test/Packages/{name}/{name}_90{k}.png"
            write_image(dataset / relative, tiny_image(900 + 2 * i + k))
            listed.append(f"{relative}, {i}, {i}")
    (dataset / "test.txt").write_text("\n".join(listed) + "\n")
    again = load_protocol_pairs(root, work_dir=work)
    assert again.protocol == protocol.OFFICIAL and again.source.startswith("built here")
    assert again.data_sha256 != first.data_sha256
    assert again.sha256("test") != first.sha256("test")


def test_results_record_names_the_protocol_data_and_class_counts(tiny_dataset):
    data = load_protocol_pairs(tiny_dataset)
    record = protocol.results_record(data)["protocol"]
    assert record["name"] == protocol.CLASS_DISJOINT and record["data_sha256"] == data.data_sha256
    assert record["classes"] == {s: len({r.label for r in data.records_by_split[s]}) for s in protocol.SPLITS}
    assert str(tiny_dataset) not in json.dumps(record)  # no absolute path of this machine
    sentence = protocol.protocol_sentence(record["name"], record["classes"])
    assert f"test ({record['classes']['test']} classes)" in sentence


def test_official_split_without_val_txt_is_an_error(tmp_path):
    root = fake_grocery(tmp_path / "grocery", with_val=False)
    with pytest.raises(DatasetError, match="lists test.txt photos but no val.txt photos"):
        load_protocol_pairs(root)


def test_pairs_cli_test_split_lists_only_test_txt_photos(tmp_path, capsys):
    root = fake_grocery(tmp_path / "grocery")
    out = tmp_path / "test_pairs.txt"
    assert main(["pairs", "--data", str(root), "--split", "test", "--out", str(out)]) == 0
    pairs = read_pairs(out, root=root)
    test_photos = _official(load_dataset(root), "test")
    assert pairs and {p for pair in pairs for p in (pair.path_a.resolve(), pair.path_b.resolve())} <= test_photos
    unseen = tmp_path / "unseen.txt"
    assert main(["pairs", "--data", str(root), "--split", "train", "--protocol", "unseen-products",
                 "--out", str(unseen)]) == 0
    train_photos = {p for pair in read_pairs(unseen, root=root) for p in (pair.path_a.resolve(), pair.path_b.resolve())}
    assert train_photos and not train_photos & test_photos


def test_a_runs_sentence_about_its_splits_is_glued_from_its_protocol_record(tmp_path):
    root = fake_grocery(tmp_path / "grocery", with_test=False)
    data = load_protocol_pairs(root, splits=())
    counts = data.class_counts()
    assert counts == {"train": len(PRODUCTS), "val": len(PRODUCTS), "test": len(PRODUCTS)}
    assert data.sentence() == protocol.protocol_sentence(protocol.OFFICIAL_VAL_AS_TEST, counts)
    assert f"test split ({counts['test']} products)" in data.sentence()
    assert "unseen" not in data.sentence()  # validation and test photos show the training products


def test_the_sentence_warns_when_few_test_classes_stand_behind_the_intervals():
    assert "Only 4 test classes" in protocol.protocol_sentence(protocol.CLASS_DISJOINT, {"test": 4})
    assert "Only" not in protocol.protocol_sentence(protocol.CLASS_DISJOINT, {"test": 40})
