"""Grocery Store download and verification, on local files only (never the network)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import pytest

from drugsim.cli import main
from drugsim.data import fetch
from drugsim.data.fetch import (
    GROCERY_MANIFEST,
    Manifest,
    fetch_grocery,
    read_manifest,
    sha256_file,
    verify_files,
    verify_grocery_copy,
)
from drugsim.errors import DatasetError

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def upstream(tmp_path) -> Path:
    """A fake upstream repository with three files."""
    root = tmp_path / "upstream"
    files = {
        "dataset/classes.csv": b"Class Name (str),Class ID (int)\nMilk,0\n",
        "dataset/train.txt": b"train/Packages/Milk/Milk_001.jpg, 0, 0\n",
        "dataset/train/Packages/Milk/Milk_001.jpg": b"\xff\xd8 not really a jpeg",
    }
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    return root


def _manifest(root: Path) -> Manifest:
    return Manifest(
        COMMIT,
        {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()},
    )


def test_verify_files_right_wrong_and_missing(upstream):
    manifest = _manifest(upstream)
    assert verify_files(upstream, manifest) == []
    photo = upstream / "dataset/train/Packages/Milk/Milk_001.jpg"
    photo.write_bytes(b"changed")
    (upstream / "dataset/classes.csv").unlink()
    problems = verify_files(upstream, manifest)
    assert problems == [
        "dataset/classes.csv: missing",
        (
            f"dataset/train/Packages/Milk/Milk_001.jpg: sha256 {_sha(b'changed')} differs from the expected "
            f"{manifest.files['dataset/train/Packages/Milk/Milk_001.jpg']}"
        ),
    ]
    assert verify_files(upstream, manifest, missing_ok=True) == problems[1:]


def test_read_manifest(tmp_path):
    committed = read_manifest()
    assert len(committed.commit) == 40 and len(committed.files) > 1000
    assert all(path.startswith("dataset/") for path in committed.files)
    path = tmp_path / "sums.txt"
    path.write_text(f"# files at commit {COMMIT}\n{'a' * 64}  dataset/x.jpg\n")
    assert read_manifest(path) == Manifest(COMMIT, {"dataset/x.jpg": "a" * 64})
    path.write_text(f"# commit {COMMIT}\nnot a checksum line\n")
    with pytest.raises(DatasetError, match=r"sums.txt:2: expected '<64 hex digits>  <relative path>'"):
        read_manifest(path)
    path.write_text(f"# commit {COMMIT}\n{'a' * 64}  ../escape.jpg\n")
    with pytest.raises(DatasetError, match="must be relative and stay inside the dataset root"):
        read_manifest(path)
    path.write_text(f"{'a' * 64}  dataset/x.jpg\n")
    with pytest.raises(DatasetError, match="no 'commit <40 hex digits>'"):
        read_manifest(path)


def test_committed_manifest_matches_the_shared_upstream_list():
    shared = Path("/work/shared/datasets/grocery-store/SHA256SUMS-upstream.txt")
    if not shared.is_file():
        pytest.skip(f"{shared} not here")
    assert read_manifest(shared) == read_manifest(GROCERY_MANIFEST)


def test_fetch_downloads_verifies_and_renames(upstream, tmp_path):
    dest = tmp_path / "copy"
    fetch_grocery(dest, manifest=_manifest(upstream), base_url=upstream.as_uri(), progress=False, n_threads=2)
    assert verify_files(dest, _manifest(upstream)) == []
    assert COMMIT in (dest / "FETCHED.txt").read_text()
    with pytest.raises(DatasetError, match="copy exists; verify it with"):
        fetch_grocery(dest, manifest=_manifest(upstream), base_url=upstream.as_uri(), progress=False)


def test_fetch_with_a_bad_checksum_keeps_nothing(upstream, tmp_path):
    manifest = _manifest(upstream)
    manifest.files["dataset/train.txt"] = "0" * 64
    dest = tmp_path / "out" / "copy"
    with pytest.raises(
        DatasetError, match=r"1 downloaded file\(s\) failed verification (?s:.*)dataset/train.txt: sha256"
    ):
        fetch_grocery(dest, manifest=manifest, base_url=upstream.as_uri(), progress=False)
    assert list((tmp_path / "out").iterdir()) == []


def test_fetch_with_a_failed_download_keeps_nothing(upstream, tmp_path):
    manifest = _manifest(upstream)
    manifest.files["dataset/absent.jpg"] = "0" * 64
    dest = tmp_path / "out" / "copy"
    with pytest.raises(DatasetError, match="absent.jpg: download failed after 1 attempts"):
        fetch_grocery(
            dest,
            manifest=manifest,
            base_url=upstream.as_uri(),
            progress=False,
            n_threads=1,
            download=functools.partial(fetch._download, retries=1),
        )
    assert list((tmp_path / "out").iterdir()) == []


def test_verify_the_shared_copy(grocery_root, capsys):
    report = verify_grocery_copy(grocery_root)
    assert report["problems"] == []
    assert report["n_checked"] > 900
    # The shared copy is filtered to packages and has no test split: said, not failed.
    assert set(report["metadata_differs"]) <= {"dataset/train.txt", "dataset/val.txt", "dataset/classes.csv"}
    assert "dataset/test.txt" in report["missing"]
    assert verify_grocery_copy(grocery_root, complete=True)["problems"][0].endswith(": missing")
    assert main(["data", "fetch", "grocery", "--verify-only", "--dest", str(grocery_root), "--quiet"]) == 0
    assert "verified: every photo present matches upstream" in capsys.readouterr().out


def test_verify_only_names_a_changed_photo(grocery_root, tmp_path, capsys):
    manifest = read_manifest()
    photo = next(k for k in manifest.files if "/train/" in k and (grocery_root / k).is_file())
    (tmp_path / photo).parent.mkdir(parents=True)
    (tmp_path / photo).write_bytes((grocery_root / photo).read_bytes()[:-10])
    assert main(["data", "fetch", "grocery", "--verify-only", "--dest", str(tmp_path), "--quiet"]) == 1
    assert f"BAD  {photo}: sha256" in capsys.readouterr().out
    assert (
        main(["data", "fetch", "grocery", "--verify-only", "--dest", str(tmp_path / "none"), "--quiet"]) == 2
    )
