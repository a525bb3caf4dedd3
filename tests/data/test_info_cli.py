"""Table 5 for any dataset, `drugsim data info|check|synth`, `drugsim pairs`, and the Grocery checksums."""

import json
import shutil
from pathlib import Path

import pytest

from drugsim.cli import main
from drugsim.data import load_dataset
from drugsim.data.fetch import (
    Manifest,
    fetch_grocery,
    read_manifest,
    sha256_file,
    verify_files,
    verify_grocery_copy,
)
from drugsim.data.info import dataset_info
from drugsim.errors import DatasetError

REPO = Path(__file__).resolve().parents[2]


def test_info_is_table5_for_the_tiny_set(tiny_dataset):
    info = dataset_info(load_dataset(tiny_dataset))
    assert info["n_images"] == 288 and info["n_classes"] == 12 and info["faces_known"]
    assert info["per_face"]["front"] == {**info["per_face"]["front"], "min": 4, "max": 4, "mean": 4.0}
    assert info["n_feature_rich"] + info["n_feature_poor"] == 288


def test_info_json_cli(tiny_dataset, capsys):
    assert main(["data", "info", str(tiny_dataset), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_images"] == 288


def test_info_on_grocery_has_no_faces(grocery_root):
    info = dataset_info(load_dataset(grocery_root))
    assert info["n_classes"] == 31 and not info["faces_known"] and info["per_face"] == {}


def _bad_folder(tmp_path, tiny_dataset):
    root = tmp_path / "mine"
    good = sorted((tiny_dataset / "d001").glob("*.jpg"))[:2]
    (root / "a").mkdir(parents=True)
    for path in good:
        shutil.copy(path, root / "a" / path.name)
    (root / "b").mkdir()
    (root / "b" / "empty.jpg").write_bytes(b"")
    (root / "b" / "text.jpg").write_text("hello, I am not a JPEG")
    data = good[0].read_bytes()
    (root / "b" / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (root / "c").mkdir()
    shutil.copy(good[0], root / "c" / "only.jpg")
    return root


def test_check_lists_each_bad_file_and_fails(tmp_path, tiny_dataset, capsys):
    root = _bad_folder(tmp_path, tiny_dataset)
    assert main(["data", "check", str(root), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "empty.jpg: file is empty (0 bytes)" in out
    assert "text.jpg: not a readable image" in out
    assert "truncated.jpg: image is truncated or corrupt" in out
    assert "class 'c' has a single image" in out
    assert "3 bad" in out


def test_check_passes_a_good_set(tiny_dataset, capsys):
    assert main(["data", "check", str(tiny_dataset), "--quiet"]) == 0


def test_pairs_cli_writes_relative_paths(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "p.txt"
    assert main(["pairs", "--data", str(tiny_dataset), "--algorithm", "2", "--split", "test", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines and all(len(line.split("\t")) == 3 and not line.startswith("/") for line in lines)
    assert "positives" in capsys.readouterr().out


def test_cli_errors_exit_2_with_the_message(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DRUGSIM_GROCERY_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["data", "info", "grocery"]) == 2
    assert "drugsim data fetch grocery" in capsys.readouterr().err
    assert main(["data", "info", str(tmp_path / "nowhere")]) == 2


def test_committed_manifest_is_the_upstream_list():
    manifest = read_manifest()
    assert len(manifest.commit) == 40
    assert "dataset/train.txt" in manifest.files and len(manifest.files) > 1000
    upstream = Path("/work/shared/datasets/grocery-store/SHA256SUMS-upstream.txt")
    if upstream.is_file():
        assert read_manifest(upstream) == manifest


def test_shared_copy_photos_match_upstream(grocery_root):
    report = verify_grocery_copy(grocery_root)
    assert report["problems"] == [] and report["n_checked"] > 900


def test_checksum_verification_on_local_files(tmp_path):
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "a.txt").write_text("alpha")
    (tmp_path / "dataset" / "b.txt").write_text("beta")
    good = {"dataset/a.txt": sha256_file(tmp_path / "dataset" / "a.txt"),
            "dataset/b.txt": sha256_file(tmp_path / "dataset" / "b.txt")}
    assert verify_files(tmp_path, good) == []
    (tmp_path / "dataset" / "b.txt").write_text("tampered")
    problems = verify_files(tmp_path, {**good, "dataset/c.txt": "0" * 64})
    assert problems[0].startswith("dataset/b.txt: sha256 ") and "differs from the expected" in problems[0]
    assert problems[1] == "dataset/c.txt: missing"
    with pytest.raises(DatasetError, match="must be relative and stay inside"):
        verify_files(tmp_path, {"../etc/passwd": "0" * 64})


def test_fetch_from_a_local_mirror_verifies_and_keeps_nothing_on_failure(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "dataset").mkdir(parents=True)
    (mirror / "dataset" / "train.txt").write_text("x.jpg, 0, 0\n")
    manifest = Manifest(commit="0" * 40, files={"dataset/train.txt": sha256_file(mirror / "dataset" / "train.txt")})
    dest = fetch_grocery(tmp_path / "copy", manifest=manifest, base_url=mirror.as_uri(), progress=False)
    assert (dest / "dataset" / "train.txt").read_text() == "x.jpg, 0, 0\n"
    bad = Manifest(commit="0" * 40, files={"dataset/train.txt": "f" * 64})
    with pytest.raises(DatasetError, match="failed verification"):
        fetch_grocery(tmp_path / "copy2", manifest=bad, base_url=mirror.as_uri(), progress=False)
    assert not (tmp_path / "copy2").exists()
    with pytest.raises(DatasetError, match="exists"):
        fetch_grocery(dest, manifest=manifest, base_url=mirror.as_uri(), progress=False)
