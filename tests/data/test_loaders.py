"""Loaders for the paper, Grocery and class-per-folder layouts; layout detection; data-root errors."""

from __future__ import annotations

import shutil

import pytest
from data_helpers import folder_tree, hand_built

from drugsim.data import load_dataset, resolve_data_root
from drugsim.data.loaders import detect_layout
from drugsim.data.records import FACES
from drugsim.errors import DatasetError


def test_paper_layout_with_manifest(tiny_dataset):
    records = load_dataset(tiny_dataset)
    assert detect_layout(tiny_dataset) == "paper"
    assert len(records) == 288 and len({r.label for r in records}) == 12
    assert {r.face for r in records} == set(FACES)
    for record in records:
        assert record.label == record.path.parent.name
        assert record.feature_rich == record.path.stem.endswith("_1")
    assert records[0].group == f"{records[0].label}/{records[0].face}"


def test_paper_layout_without_manifest_has_faces_unknown(tmp_path):
    hand_built(tmp_path, {"A": [("front", 2)], "B": [("front", 2)]})
    (tmp_path / "A" / "A_0003_0.png").write_bytes((tmp_path / "A" / "A_0001_1.png").read_bytes())
    assert detect_layout(tmp_path) == "paper"
    records = load_dataset(tmp_path)
    assert len(records) == 5
    assert all(r.face is None for r in records)
    flags = {r.path.name: r.feature_rich for r in records}
    assert flags["A_0003_0.png"] is False and flags["A_0001_1.png"] is True
    assert records[0].group == "A"


def test_manifest_with_an_unknown_face_is_refused(tmp_path):
    hand_built(tmp_path, {"A": [("front", 1)], "B": [("front", 1)]})
    (tmp_path / "manifest.csv").write_text("file,face,feature_rich\nA/A_0001_1.png,top,1\n")
    with pytest.raises(DatasetError, match="A/A_0001_1.png has face 'top'; expected one of"):
        load_dataset(tmp_path)


def test_manifest_without_face_column_is_refused(tmp_path):
    hand_built(tmp_path, {"A": [("front", 1)], "B": [("front", 1)]})
    (tmp_path / "manifest.csv").write_text("file,drug\nA/A_0001_1.png,A\n")
    with pytest.raises(DatasetError, match=r"manifest lacks the column\(s\) \['face'\]"):
        load_dataset(tmp_path)


def test_folders_layout(tmp_path):
    folder_tree(tmp_path, {"cats": 2, "dogs": 3})
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    assert detect_layout(tmp_path) == "folders"
    records = load_dataset(tmp_path)
    assert [r.label for r in records] == ["cats"] * 2 + ["dogs"] * 3
    assert all(r.face is None and r.feature_rich is None for r in records)


def test_grocery_layout_on_the_shared_copy(grocery_root):
    assert detect_layout(grocery_root) == "grocery"
    records = load_dataset(grocery_root)
    assert len(records) >= 900 and len({r.label for r in records}) >= 30
    assert all(r.path.is_file() and r.face is None for r in records)
    labels = {r.label for r in records}
    assert "Arla-Standard-Milk" in labels or any("Milk" in label for label in labels)


def test_grocery_layout_skips_lines_of_absent_photos_and_checks_lines(tmp_path, grocery_root):
    root = tmp_path / "g"
    (root / "dataset").mkdir(parents=True)
    shutil.copy(grocery_root / "dataset" / "classes.csv", root / "dataset" / "classes.csv")
    first = (grocery_root / "dataset" / "train.txt").read_text().splitlines()[0]
    relative = first.split(",")[0]
    (root / "dataset" / relative).parent.mkdir(parents=True)
    shutil.copy(grocery_root / "dataset" / relative, root / "dataset" / relative)
    (root / "dataset" / "train.txt").write_text(first + "\ntrain/absent.jpg, 1, 0\n")
    records = load_dataset(root, layout="grocery")
    assert len(records) == 1 and records[0].label != ""
    (root / "dataset" / "val.txt").write_text("just one field\n")
    with pytest.raises(DatasetError, match=r"val.txt:1: expected '<path>, <class id>, <coarse id>'"):
        load_dataset(root, layout="grocery")


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="no images found"):
        load_dataset(tmp_path)


def test_missing_folder_and_unknown_layout(tmp_path):
    with pytest.raises(DatasetError, match="no such dataset folder"):
        load_dataset(tmp_path / "absent")
    with pytest.raises(DatasetError, match="layout 'coco' is not supported"):
        load_dataset(tmp_path, layout="coco")


def test_resolve_data_root(tmp_path, monkeypatch, grocery_root):
    assert resolve_data_root(str(tmp_path)) == tmp_path
    with pytest.raises(DatasetError, match="no such dataset folder"):
        resolve_data_root(str(tmp_path / "absent"))
    monkeypatch.delenv("DRUGSIM_GROCERY_ROOT", raising=False)
    with pytest.raises(
        DatasetError, match="DRUGSIM_GROCERY_ROOT is not set; get it with `drugsim data fetch grocery"
    ):
        resolve_data_root("grocery")
    monkeypatch.setenv("DRUGSIM_GROCERY_ROOT", str(tmp_path))
    with pytest.raises(DatasetError, match="no Grocery Store dataset here"):
        resolve_data_root("grocery")
    monkeypatch.setenv("DRUGSIM_GROCERY_ROOT", str(grocery_root))
    assert resolve_data_root("grocery") == grocery_root


def test_data_kind_tells_drugsims_rendered_boxes_from_photos(tiny_dataset, tmp_path, grocery_root):
    from drugsim.data.loaders import SYNTHETIC_MANIFEST_COLUMNS, data_kind
    from drugsim.data.synth import MANIFEST_COLUMNS

    assert SYNTHETIC_MANIFEST_COLUMNS <= set(MANIFEST_COLUMNS)  # the mark is what the generator writes
    assert data_kind(tiny_dataset) == "synthetic"
    assert data_kind(grocery_root) == "photos"
    # a user's paper-layout folder with a manifest of faces only is photos, not rendered boxes
    (tmp_path / "d1").mkdir()
    (tmp_path / "manifest.csv").write_text("file,face\nd1/d1_1_1.jpg,front\n", encoding="utf-8")
    assert data_kind(tmp_path) == "photos"
    assert data_kind(tmp_path / "d1") == "photos"  # no manifest at all


def test_protocol_data_carries_the_data_kind(tiny_dataset):
    from drugsim.data.protocol import load_protocol_pairs

    assert load_protocol_pairs(tiny_dataset, splits=()).kind == "synthetic"
