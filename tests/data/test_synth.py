"""Synthetic drug boxes: determinism, feature flags, manifest, atomic generation."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from drugsim.data import generate_dataset, load_dataset, synth
from drugsim.data.records import FACES
from drugsim.errors import ConfigError
from drugsim.io import read_image, to_grey


def _hashes(root: Path) -> dict:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _manifest(root: Path) -> list:
    with (root / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_same_seed_gives_the_same_bytes(tiny_dataset, tmp_path):
    again = generate_dataset(tmp_path / "again", preset="tiny", seed=0, progress=False)
    first, second = _hashes(tiny_dataset), _hashes(again)
    assert len(first) == 12 * 6 * 4 + 4  # photos + manifest.csv + README.txt + splits.json + the .drugsim-made marker
    assert first == second


def test_another_seed_gives_other_photos(tmp_path):
    preset = synth.SynthPreset(n_drugs=2, photos_per_face=(1, 1), photo_size=(64, 48), n_jobs=1)
    a = _hashes(generate_dataset(tmp_path / "a", preset=preset, seed=0, progress=False))
    b = _hashes(generate_dataset(tmp_path / "b", preset=preset, seed=1, progress=False))
    assert a.keys() != b.keys() or a != b


def test_manifest_columns_and_rows(tiny_dataset):
    rows = _manifest(tiny_dataset)
    assert list(rows[0]) == synth.MANIFEST_COLUMNS
    for column in (
        "file",
        "drug",
        "family",
        "face",
        "feature_rich",
        "face_kind",
        "brightness",
        "rotation",
        "jpeg_quality",
        "blur",
        "glare",
        "perspective",
    ):
        assert column in rows[0]
    files = {p.relative_to(tiny_dataset).as_posix() for p in tiny_dataset.glob("*/*.jpg")}
    assert {row["file"] for row in rows} == files
    assert {row["face"] for row in rows} == set(FACES)
    assert all(0.5 <= float(row["brightness"]) <= 1.5 for row in rows)
    assert {row["rotation"] for row in rows} == {"0", "180"}


def test_flags_in_names_and_manifest_agree(tiny_dataset):
    rows = _manifest(tiny_dataset)
    for row in rows:
        flag_in_name = row["file"].rsplit("_", 1)[1].split(".")[0]
        assert flag_in_name == row["feature_rich"]
        assert (row["face_kind"] == "rich") == (row["feature_rich"] == "1")
    assert {row["feature_rich"] for row in rows} == {"0", "1"}
    # One face of one drug has one flag for all its photos.
    per_face = {}
    for row in rows:
        per_face.setdefault((row["drug"], row["face"]), set()).add(row["feature_rich"])
    assert all(len(flags) == 1 for flags in per_face.values())


def test_feature_poor_faces_are_visibly_poorer(tiny_dataset):
    records = load_dataset(tiny_dataset)
    rng = np.random.default_rng(0)
    orb = cv2.ORB_create(500)

    def measures(group):
        chosen = [group[i] for i in rng.permutation(len(group))[:30]]
        greys = [to_grey(read_image(r.path)) for r in chosen]
        edges = np.mean([(cv2.Canny(g, 100, 200) > 0).mean() for g in greys])
        keypoints = np.mean([len(orb.detect(g, None)) for g in greys])
        return edges, keypoints

    rich_edges, rich_keypoints = measures([r for r in records if r.feature_rich])
    poor_edges, poor_keypoints = measures([r for r in records if not r.feature_rich])
    assert poor_edges < 0.5 * rich_edges
    assert poor_keypoints < 0.5 * rich_keypoints


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    calls = []
    real = synth._render_drug

    def failing(job):
        calls.append(job)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the second drug
        return real(job)

    monkeypatch.setattr(synth, "_render_drug", failing)
    preset = synth.SynthPreset(n_drugs=3, photos_per_face=(1, 1), photo_size=(64, 48), n_jobs=1)
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(out, preset=preset, seed=0, progress=False)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no hidden partial folder either


def test_existing_folder_needs_overwrite(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(ConfigError, match="taken exists; pass overwrite=True"):
        generate_dataset(tmp_path / "taken", preset="tiny", overwrite=False, progress=False)


def test_unknown_preset_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="preset 'huge' is not supported"):
        generate_dataset(tmp_path / "x", preset="huge", progress=False)


def test_presets_declare_enough_classes_for_class_level_statements():
    quick, paper = synth.PRESETS["quick"], synth.PRESETS["paper"]
    assert quick.n_test >= 40 and quick.n_val >= 40 and quick.n_drugs - quick.n_val - quick.n_test >= 40
    # The paper's split: drugs 1-133 train (validation carved from their end), 134-153 the unseen test drugs.
    assert paper.n_drugs == 153 and paper.n_test == 20
    assert [paper.split_of(n) for n in (1, 113, 114, 133, 134, 153)] == ["train", "train", "val", "val", "test", "test"]


def test_the_declared_split_is_written_and_followed(tiny_dataset):
    declared = json.loads((tiny_dataset / synth.SPLIT_FILE).read_text())
    tiny = synth.PRESETS["tiny"]
    assert [len(declared[s]) for s in ("train", "val", "test")] == [tiny.n_drugs - tiny.n_val - tiny.n_test,
                                                                   tiny.n_val, tiny.n_test]
    assert declared["test"] == [f"d{n:03d}" for n in range(tiny.n_drugs - tiny.n_test + 1, tiny.n_drugs + 1)]
    from drugsim.data.protocol import load_protocol_pairs

    data = load_protocol_pairs(tiny_dataset, splits=())
    assert all(sorted({r.label for r in data.records_by_split[s]}) == declared[s] for s in ("train", "val", "test"))


def test_evaluation_drugs_get_the_evaluation_photo_counts(tmp_path):
    preset = synth.SynthPreset(n_drugs=4, n_val=1, n_test=1, photos_per_face=(3, 3), eval_photos_per_face=(1, 1),
                               photo_size=(64, 48), n_jobs=1)
    rows = _manifest(generate_dataset(tmp_path / "d", preset=preset, progress=False))
    per_drug = {drug: sum(1 for r in rows if r["drug"] == drug) for drug in ("d001", "d002", "d003", "d004")}
    assert per_drug == {"d001": 18, "d002": 18, "d003": 6, "d004": 6}


def test_a_preset_needs_a_training_drug():
    with pytest.raises(ConfigError, match="no training drug"):
        synth.SynthPreset(n_drugs=2, n_val=1, n_test=1)
    with pytest.raises(ConfigError, match="both"):
        synth.SynthPreset(n_drugs=5, n_val=0, n_test=1)
