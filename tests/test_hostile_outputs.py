"""Hostile input, issue 22 items 1-3: nothing a user owns is destroyed.

An output that is also an input (the same file after resolving links, or a path inside an input folder) is
refused before any work; ``--overwrite``/``--force`` replace only folders drugsim made; and a test runs the
command kinds of the suite on input files and checks by hash that no input changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drugsim.cli import main
from hostile_helpers import textured_images
from drugsim.errors import OutputError
from drugsim.io import MARKER_NAME, check_outputs_against_inputs, check_replaceable


@pytest.fixture
def data(tmp_path) -> Path:
    return textured_images(tmp_path / "data")


def _fingerprint(*paths: Path) -> dict[str, str]:
    """sha256 of every file under ``paths`` (files or folders), by path."""
    out = {}
    for path in paths:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            out[str(file)] = hashlib.sha256(file.read_bytes()).hexdigest()
    return out


def _refused(argv: list[str], capsys, *, names: str) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, (argv, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert names in err, err
    return err


# ------------------------------------------------------------------------- item 1: output is an input


def test_evaluate_json_over_its_own_inputs_is_refused(data, tmp_path, capsys):
    pairs = tmp_path / "p.txt"
    pairs.write_text("c4/c4_0.png\tc4/c4_1.png\t1\nc4/c4_0.png\tc5/c5_0.png\t0\n")
    result = tmp_path / "r.json"
    result.write_text(json.dumps({"method": "ahash", "threshold": 50}))
    model = tmp_path / "m.pt"
    model.write_bytes(b"not really a checkpoint, but the user's file")
    before = _fingerprint(data, pairs, result, model)
    base = ["evaluate", "--data", str(data), "--method", "ahash", "--quiet"]
    _refused(base + ["--pairs", str(pairs), "--json", str(pairs)], capsys, names="--pairs")
    _refused(base + ["--threshold-from", str(result), "--json", str(result)], capsys, names="--threshold-from")
    _refused(["evaluate", "--data", str(data), "--method", "siamese-improved", "--model", str(model),
              "--json", str(model)], capsys, names="--model")
    _refused(base + ["--json", str(data / "c0" / "c0_0.png")], capsys, names="inside the input folder --data")
    _refused(base + ["--cache-dir", str(data / "cache")], capsys, names="--cache-dir")
    link = tmp_path / "link.json"
    link.symlink_to(pairs)  # a link to an input is that input
    _refused(base + ["--pairs", str(pairs), "--json", str(link)], capsys, names="is also the input --pairs")
    assert _fingerprint(data, pairs, result, model) == before


def test_pairs_bench_train_and_search_outputs_inside_their_inputs_are_refused(data, tmp_path, capsys):
    pair_list = tmp_path / "p.txt"
    assert main(["pairs", "--data", str(data), "--split", "all", "--out", str(pair_list)]) == 0
    capsys.readouterr()
    before = _fingerprint(data, pair_list)
    _refused(["pairs", "--data", str(data), "--out", str(data / "manifest.csv")], capsys, names="--data")
    _refused(["pairs", "--data", str(data), "--out", str(data / "c0" / "c0_0.png")], capsys, names="--data")
    _refused(["bench", "--pair-list", str(pair_list), "--data", str(data), "--methods", "ahash",
              "--json", str(pair_list)], capsys, names="--pair-list")
    _refused(["train", "siamese", "--data", str(data), "--out", str(data / "m.pt")], capsys, names="--data")
    _refused(["train", "classifier", "--data", str(data), "--out", str(tmp_path / "m.pt"),
              "--weights", str(pair_list), "--json", str(pair_list)], capsys, names="--weights")
    _refused(["search", str(data / "c0" / "c0_0.png"), "--gallery", str(data), "--method", "ahash",
              "--index", str(data / "gallery.faiss")], capsys, names="--gallery")
    assert _fingerprint(data, pair_list) == before


def test_an_output_folder_holding_an_input_is_refused(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.txt").write_text("mine")
    with pytest.raises(OutputError, match="holds the input --pairs"):
        check_outputs_against_inputs({"--cache-dir": tmp_path}, files={"--pairs": tmp_path / "in" / "x.txt"})
    # Standard output, devices and distinct files pass.
    check_outputs_against_inputs({"--json": "-", "--log": "/dev/null"}, files={"--pairs": "/dev/null"})
    check_outputs_against_inputs({"--json": tmp_path / "out.json"}, folders={"--data": tmp_path / "in"})


@settings(max_examples=25, deadline=None, database=None)
@given(parts=st.lists(st.sampled_from(["a", "b", ".", "..", "c"]), min_size=1, max_size=5))
def test_any_spelling_of_a_path_inside_the_input_folder_is_caught(tmp_path_factory, parts):
    data = tmp_path_factory.mktemp("spell") / "data"
    (data / "a" / "b" / "c").mkdir(parents=True, exist_ok=True)
    candidate = data.joinpath(*parts)
    normal = Path(os.path.normpath(candidate))
    inside = normal == data or data in normal.parents
    holds = normal in data.parents
    if inside or holds:
        with pytest.raises(OutputError, match="inside the input folder|holds the input|is also the input"):
            check_outputs_against_inputs({"--out": candidate}, folders={"--data": data})
    else:
        check_outputs_against_inputs({"--out": candidate}, folders={"--data": data})


# --------------------------------------------------------------- item 2: record --force keeps the source


def _results(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "orb.json").write_text(json.dumps({"method": "orb", "accuracy": 0.5, "threshold": 1.0,
                                                 "method_config": {}, "dataset": "/home/me/data/synthetic-quick"}))
    return folder


def test_record_force_onto_the_results_being_recorded_is_refused(tmp_path, capsys):
    store = tmp_path / "store"
    results = _results(store / "r2")
    before = _fingerprint(results)
    _refused(["record", "r2", "--results", str(results), "--dest", str(store), "--force"], capsys,
             names="--results")
    _refused(["record", "r3", "--results", str(store), "--dest", str(store)], capsys, names="--results")
    assert _fingerprint(results) == before


def test_record_force_replaces_only_a_record(tmp_path, capsys):
    results = _results(tmp_path / "results")
    mine = tmp_path / "store" / "mine"
    mine.mkdir(parents=True)
    (mine / "thesis.tex").write_text("a user's file")
    _refused(["record", "mine", "--results", str(results), "--dest", str(tmp_path / "store"), "--force"], capsys,
             names="not a folder drugsim made")
    assert (mine / "thesis.tex").read_text() == "a user's file"
    assert main(["record", "run", "--results", str(results), "--dest", str(tmp_path / "store")]) == 0
    record = tmp_path / "store" / "run"
    (record / "README.md").write_text("what the run was")
    assert main(["record", "run", "--results", str(results), "--dest", str(tmp_path / "store"), "--force"]) == 0
    assert (record / "README.md").read_text() == "what the run was"  # the hand-written provenance is kept
    assert (record / MARKER_NAME).is_file() and (record / "run.json").is_file()
    assert not [p for p in record.parent.iterdir() if p.name.startswith(".")]  # no temporary left beside


# ------------------------------------------------------------------ item 3: synth --overwrite


@pytest.mark.parametrize("where", [".", ".."])
def test_synth_overwrite_of_the_current_folder_or_its_parent_is_refused(tmp_path, monkeypatch, capsys, where):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    (tmp_path / "other.txt").write_text("mine too")
    monkeypatch.chdir(work)
    before = _fingerprint(tmp_path)
    _refused(["data", "synth", "--out", where, "--preset", "tiny", "--overwrite", "--quiet"], capsys,
             names="current folder")
    assert _fingerprint(tmp_path) == before


def test_synth_overwrite_of_a_folder_drugsim_did_not_make_is_refused(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"a user's photo")
    _refused(["data", "synth", "--out", str(folder), "--preset", "tiny", "--overwrite", "--quiet"], capsys,
             names=MARKER_NAME)
    assert (folder / "holiday.jpg").read_bytes() == b"a user's photo"


def test_synth_overwrites_its_own_dataset_and_marks_what_it_made(tmp_path):
    from drugsim.data.synth import SynthPreset, generate_dataset

    small = SynthPreset(n_drugs=2, photos_per_face=(1, 1), photo_size=(48, 36), n_jobs=1)
    out = generate_dataset(tmp_path / "d", preset=small, seed=0, progress=False)
    assert (out / MARKER_NAME).is_file()
    (out / "stale.txt").write_text("left from before")
    generate_dataset(out, preset=small, seed=1, progress=False, overwrite=True)
    assert not (out / "stale.txt").exists() and (out / MARKER_NAME).is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    generate_dataset(empty, preset=small, seed=0, progress=False, overwrite=True)  # an empty folder is fine
    assert (empty / "manifest.csv").is_file()


def test_check_replaceable_accepts_missing_empty_and_marked_folders(tmp_path):
    check_replaceable(tmp_path / "missing", what="--out")
    (tmp_path / "empty").mkdir()
    check_replaceable(tmp_path / "empty", what="--out")
    (tmp_path / "marked").mkdir()
    (tmp_path / "marked" / MARKER_NAME).write_text("x")
    (tmp_path / "marked" / "data.bin").write_text("x")
    check_replaceable(tmp_path / "marked", what="--out")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        check_replaceable(tmp_path / "file", what="--out")


def test_fetch_overwrite_replaces_only_a_fetched_copy(tmp_path, capsys):
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "mine.txt").write_text("x")
    _refused(["data", "fetch", "grocery", "--dest", str(folder), "--overwrite", "--quiet"], capsys,
             names="not a folder drugsim made")
    assert (folder / "mine.txt").read_text() == "x"


# ------------------------------------------------------------ no input file is changed by any command


def test_no_command_changes_an_input_file(data, tmp_path, capsys, monkeypatch):
    """Every command kind of the suite, valid uses and refusals, on input files hashed before and after."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("c4/c4_0.png\tc4/c4_1.png\t1\nc4/c4_0.png\tc5/c5_0.png\t0\nc5/c5_0.png\tc5/c5_1.png\t1\n"
                     "c5/c5_1.png\tc4/c4_2.png\t0\n")
    result = tmp_path / "earlier.json"
    result.write_text(json.dumps({"method": "ahash", "threshold": 50, "threshold_rule": "midpoint"}))
    results = _results(tmp_path / "results")
    inputs = (data, pairs, result, results)
    before = _fingerprint(*inputs)
    a, b = str(data / "c0" / "c0_0.png"), str(data / "c0" / "c0_1.png")
    commands = [
        (["data", "info", str(data)], 0),
        (["data", "info", str(data), "--json"], 0),
        (["data", "check", str(data), "--quiet"], 0),
        (["pairs", "--data", str(data), "--split", "all", "--out", str(out / "p.txt")], 0),
        (["compare", a, b, "--method", "ahash", "--json"], 0),
        (["compare", a, b, "--method", "ahash", "--threshold-from", str(result)], 0),
        (["evaluate", "--data", str(data), "--method", "ahash", "--pairs", str(pairs), "--quiet", "--n-boot", "20",
          "--threshold-from", str(result), "--json", str(out / "e.json"), "--cache-dir", str(out / "cache"),
          "--jobs", "1"], 0),
        (["search", a, "--gallery", str(data), "--method", "ahash", "--index", str(out / "g.faiss"), "--quiet",
          "--jobs", "1"], 0),
        (["search", a, "--gallery", str(data), "--method", "ahash", "--index", str(out / "g.faiss"), "--quiet",
          "--jobs", "1"], 0),
        (["record", "rec", "--results", str(results), "--dest", str(out / "store")], 0),
        (["record", "rec", "--results", str(results), "--dest", str(out / "store"), "--force"], 0),
        (["evaluate", "--data", str(data), "--method", "ahash", "--pairs", str(pairs), "--json", str(pairs)], 2),
        (["evaluate", "--data", str(data), "--method", "ahash", "--threshold-from", str(result), "--json",
          str(result)], 2),
        (["pairs", "--data", str(data), "--out", str(data / "c1" / "c1_0.png")], 2),
        (["bench", "--pair-list", str(pairs), "--data", str(data), "--json", str(pairs)], 2),
        (["record", "results", "--results", str(results), "--dest", str(results.parent), "--force"], 2),
        (["data", "synth", "--out", str(data), "--overwrite", "--preset", "tiny", "--quiet"], 2),
        (["search", a, "--gallery", str(data), "--method", "ahash", "--index", str(data / "i.faiss")], 2),
    ]
    for argv, expected in commands:
        assert main(argv) == expected, (argv, capsys.readouterr().err)
        capsys.readouterr()
        assert _fingerprint(*inputs) == before, argv
    assert not (data / "i.faiss").exists() and not list(data.rglob(".*"))


def test_the_copy_of_a_dataset_is_what_the_hash_test_guards(tmp_path):
    """The fingerprint helper notices a changed byte (the hash test above cannot pass vacuously)."""
    data = textured_images(tmp_path / "d", n_classes=1, per_class=1)
    before = _fingerprint(data)
    image = next(data.rglob("*.png"))
    image.write_bytes(image.read_bytes() + b"\0")
    assert _fingerprint(data) != before
    shutil.rmtree(data)


def test_synth_overwrite_replaces_a_dataset_drawn_before_the_marker_existed(tmp_path):
    from drugsim.data.synth import SynthPreset, generate_dataset

    small = SynthPreset(n_drugs=2, photos_per_face=(1, 1), photo_size=(48, 36), n_jobs=1)
    out = generate_dataset(tmp_path / "old", preset=small, seed=0, progress=False)
    (out / MARKER_NAME).unlink()  # as an older drugsim left it: manifest.csv and its README.txt
    assert main(["data", "synth", "--out", str(out), "--preset", "tiny", "--overwrite", "--quiet", "--jobs", "1"]) == 0
    assert (out / MARKER_NAME).is_file()
