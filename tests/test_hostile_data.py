"""Hostile input, issue 22 items 4-6, 9 and 15: stale indexes, paths that leave a dataset, bytes that are
not UTF-8, malformed settings and result files, and messages that must say what really happened."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drugsim.cli import main
from hostile_helpers import one_line_exit_2 as _one_line_exit_2
from drugsim.errors import ConfigError, DatasetError, ImageReadError
from drugsim.io import is_image_file, read_image, read_text_lines, write_image

REPO = Path(__file__).resolve().parents[1]


def _textured(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.kron(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), np.ones((8, 8, 1), np.uint8))


def _gallery(root: Path, n_classes: int = 3, per_class: int = 2, seed: int = 0) -> Path:
    for c in range(n_classes):
        for shot in range(per_class):
            write_image(root / f"g{c}" / f"g{c}_{shot}.png", np.roll(_textured(seed + c), shot, axis=0))
    return root


def _grocery(root: Path, *, val_lines: list[str] | None = None) -> Path:
    """A minimal Grocery Store copy: two products, train.txt and val.txt."""
    dataset = root / "dataset"
    lines = {"train": [], "val": []}
    for cls, name in enumerate(("Milk", "Juice")):
        for i in range(3):
            split = "train" if i < 2 else "val"
            rel = f"{split}/Packages/{name}/{name}_{i}.png"
            write_image(dataset / rel, _textured(cls * 10 + i))
            lines[split].append(f"{rel}, {cls}, {cls}")
    (dataset / "classes.csv").write_text("Class Name (str),Class ID (int)\nMilk,0\nJuice,1\n")
    (dataset / "train.txt").write_text("\n".join(lines["train"]) + "\n")
    (dataset / "val.txt").write_text("\n".join(val_lines if val_lines is not None else lines["val"]) + "\n")
    return root


# ----------------------------------------------------------------------------- item 4: stale indexes


def test_search_index_of_another_gallery_is_refused(tmp_path, capsys):
    first, second = _gallery(tmp_path / "first"), _gallery(tmp_path / "second", seed=50)
    index = tmp_path / "gallery.faiss"
    query = str(first / "g0" / "g0_0.png")
    assert main(["search", query, "--gallery", str(first), "--method", "phash", "--index", str(index),
                 "--quiet", "--jobs", "1"]) == 0
    capsys.readouterr()
    _one_line_exit_2(["search", query, "--gallery", str(second), "--method", "phash", "--index", str(index),
                      "--quiet", "--jobs", "1"], capsys, "--index", "another gallery")
    # A changed photo of the same gallery is another gallery too: never answered from the old features.
    write_image(first / "g1" / "g1_0.png", _textured(99))
    _one_line_exit_2(["search", query, "--gallery", str(first), "--method", "phash", "--index", str(index),
                      "--quiet", "--jobs", "1"], capsys, "another gallery")


def test_index_of_another_model_or_without_provenance_is_refused(tmp_path):
    from drugsim.evaluation import index as index_module

    features = [np.ones(4, np.float32) * i for i in range(1, 4)]
    gallery_index = index_module.build_index("cnn-cosine", features, ["a", "b", "c"])
    gallery_index.built_from = {"gallery_sha256": "g", "method_key": "cnn-cosine-model1"}
    path = gallery_index.save(tmp_path / "i.faiss")
    loaded = index_module.load_index(path)
    index_module.check_built_from(loaded, {"gallery_sha256": "g", "method_key": "cnn-cosine-model1"}, path=path)
    with pytest.raises(ConfigError, match="another method setting or model checkpoint"):
        index_module.check_built_from(loaded, {"gallery_sha256": "g", "method_key": "cnn-cosine-model2"}, path=path)
    loaded.built_from = {}  # an index saved before indexes recorded their sources
    with pytest.raises(ConfigError, match="stale"):
        index_module.check_built_from(loaded, {"gallery_sha256": "g"}, path=path)


@pytest.mark.parametrize("method", ["cosine", "euclidean", "ahash"])
def test_search_with_an_index_finds_the_query_itself_first(tmp_path, capsys, method):
    gallery = _gallery(tmp_path / "g")
    query = gallery / "g2" / "g2_1.png"
    argv = ["search", str(query), "--gallery", str(gallery), "--method", method, "--index",
            str(tmp_path / f"{method}.faiss"), "--json", "--quiet", "--jobs", "1", "--top-k", "3"]
    for _ in range(2):  # built, then loaded
        assert main(argv) == 0, capsys.readouterr().err
        hits = json.loads(capsys.readouterr().out)["hits"]
        assert len(hits) == 3 and Path(hits[0]["path"]).resolve() == query.resolve()


# -------------------------------------------------------------- item 5: split files confined to the root


@pytest.mark.parametrize("line", ["/etc/hostname, 0, 0", "../../../outside.png, 0, 0",
                                  "train/../../../outside.png, 1, 1"])
@pytest.mark.parametrize("command", ["info", "check", "evaluate", "search"])
def test_grocery_split_paths_outside_the_dataset_are_refused(tmp_path, capsys, line, command):
    write_image(tmp_path / "outside.png", _textured(7))
    root = _grocery(tmp_path / "copy", val_lines=[line])
    argv = {"info": ["data", "info", str(root)], "check": ["data", "check", str(root), "--quiet"],
            "evaluate": ["evaluate", "--data", str(root), "--method", "ahash", "--quiet"],
            "search": ["search", str(tmp_path / "outside.png"), "--gallery", str(root), "--method", "ahash",
                       "--quiet"]}[command]
    _one_line_exit_2(argv, capsys, "val.txt:1", "not a path inside the dataset folder")


# ---------------------------------------------------------------------- item 6: bytes that are not UTF-8


@pytest.mark.parametrize("name", ["classes.csv", "train.txt"])
def test_grocery_text_files_with_bad_bytes_name_file_and_line(tmp_path, capsys, name):
    root = _grocery(tmp_path / "copy")
    path = root / "dataset" / name
    path.write_bytes(path.read_bytes() + b"Caf\xe9,1,1\n")
    line = len(path.read_bytes().splitlines())
    _one_line_exit_2(["data", "info", str(root)], capsys, f"{name}:{line}", "not UTF-8")


def test_manifest_with_bad_bytes_names_file_and_line(tmp_path, capsys):
    root = _gallery(tmp_path / "d")
    (root / "manifest.csv").write_bytes(b"file,face\ng0/g0_0.png,front\n\xff\xfe,front\n")
    _one_line_exit_2(["data", "info", str(root)], capsys, "manifest.csv:3", "not UTF-8")


@settings(max_examples=25, deadline=None, database=None)
@given(payload=st.binary(max_size=64))
def test_any_bytes_decode_as_lines_or_name_the_line(tmp_path_factory, payload):
    path = tmp_path_factory.mktemp("bytes") / "t.txt"
    path.write_bytes(payload)
    raw = payload.removeprefix(b"\xef\xbb\xbf")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        # A newline byte never sits inside a UTF-8 sequence, so some line is at fault and is named.
        with pytest.raises(DatasetError, match=rf"^{path}:\d+: byte 0x[0-9a-f]{{2}} at column \d+ is not UTF-8"):
            read_text_lines(path)
    else:
        assert read_text_lines(path) == [line.decode("utf-8") for line in raw.splitlines()]


@pytest.mark.parametrize("bad_name", ["tab\there.png", "new\nline.png", b"caf\xe9.png"])
def test_pairs_refuses_file_names_a_pair_list_cannot_hold(tmp_path, capsys, bad_name):
    root = _gallery(tmp_path / "d")
    folder = os.fsencode(root / "g0")
    name = bad_name if isinstance(bad_name, bytes) else bad_name.encode()
    with open(os.path.join(folder, name), "wb") as handle:
        handle.write((root / "g0" / "g0_0.png").read_bytes())
    out = tmp_path / "p.txt"
    err = _one_line_exit_2(["pairs", "--data", str(root), "--split", "all", "--out", str(out)], capsys,
                           "cannot be written into a pair list")
    assert "rename the file" in err and not out.exists()


def test_profiles_with_bad_bytes_name_file_and_line(tmp_path):
    from drugsim.runner.profiles import load_profiles

    path = tmp_path / "profiles.yml"
    path.write_bytes(b"notebooks: {}\nprofiles:\n  tiny: {description: \"caf\xe9\"}\n")
    with pytest.raises(ConfigError, match=r"profiles.yml:3: .*not UTF-8"):
        load_profiles(path)


# ------------------------------------------------------------- item 9: malformed settings and results


@pytest.mark.parametrize("seed", [".nan", "\"abc\"", "[1, 2]", "-1", "1.5", "true", "99999999999"])
def test_profile_seed_that_is_no_seed_is_refused(tmp_path, seed):
    from drugsim.runner.profiles import load_profiles

    path = tmp_path / "profiles.yml"
    path.write_text(f"notebooks:\n  01_data: {{}}\nprofiles:\n  tiny:\n    global: {{seed: {seed}}}\n")
    with pytest.raises(ConfigError, match=r"profiles.tiny.global.seed: expected a whole number"):
        load_profiles(path)


def test_profile_value_that_is_not_finite_is_refused(tmp_path):
    from drugsim.runner.profiles import load_profiles

    path = tmp_path / "profiles.yml"
    path.write_text("notebooks:\n  01_data: {}\nprofiles:\n  tiny:\n    global: {lr: [0.1, .inf]}\n")
    with pytest.raises(ConfigError, match=r"global.lr: .* not a finite number"):
        load_profiles(path)


def test_reproduce_with_malformed_profiles_is_one_line(tmp_path, capsys):
    (tmp_path / "profiles.yml").write_text("notebooks:\n  01_data: {}\nprofiles:\n  tiny:\n    global: {seed: .nan}\n")
    _one_line_exit_2(["reproduce", "--profile", "tiny", "--root", str(tmp_path), "--no-book"], capsys,
                     "profiles.tiny.global.seed: expected a whole number")


def test_record_with_a_dataset_stamp_holding_a_list_still_records(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "results").mkdir(parents=True)
    (run / "results" / "r.json").write_text(json.dumps({"method": "orb"}))
    (run / "dataset.json").write_text("[1, 2]")
    assert main(["record", "rec", "--results", str(run / "results"), "--dest", str(tmp_path / "store")]) == 0
    assert "dataset_info" not in json.loads((tmp_path / "store" / "rec" / "run.json").read_text())


def test_record_with_an_unclosed_quote_in_run_is_one_line(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    _one_line_exit_2(["record", "rec", "--results", str(tmp_path / "results"), "--dest", str(tmp_path / "s"),
                      "--run", "echo 'x"], capsys, "--run", "not a command line")


@pytest.mark.parametrize("field, value", [("accuracy", "high"), ("threshold", [1]), ("ci95", "wide"),
                                          ("method", 3), ("method_config", "x")])
def test_report_readme_with_wrongly_typed_results_is_one_line(tmp_path, capsys, field, value):
    results = tmp_path / "results"
    results.mkdir()
    payload = {"method": "orb", "accuracy": 0.9, "threshold": 1.0, "ci95": {"accuracy": [0.8, 0.95]},
               "method_config": {}, field: value}
    (results / "orb.json").write_text(json.dumps(payload))
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results:start -->\n<!-- results:end -->\n")
    _one_line_exit_2(["report", "readme", "--results", str(results), "--readme", str(readme)], capsys,
                     "orb.json", repr(field))


# ---------------------------------------------------------------------------- item 15: honest messages


def test_unreadable_image_says_permission_denied(tmp_path, monkeypatch):
    path = tmp_path / "x.png"
    write_image(path, _textured(1))
    from PIL import Image

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Image, "open", refuse)  # root reads any file, so the refusal is simulated
    with pytest.raises(ImageReadError, match="permission denied"):
        read_image(path)


def test_symlink_loop_and_dangling_link_say_so(tmp_path):
    loop = tmp_path / "loop.png"
    loop.symlink_to(tmp_path / "loop.png")
    with pytest.raises(ImageReadError, match="symbolic link loop"):
        read_image(loop)
    dangling = tmp_path / "dangling.png"
    dangling.symlink_to(tmp_path / "gone.png")
    with pytest.raises(ImageReadError, match="symbolic link to a missing file"):
        read_image(dangling)


def test_macos_resource_files_are_not_images_and_do_not_abort_an_evaluation(tmp_path, capsys):
    root = _gallery(tmp_path / "d", n_classes=6, per_class=3)
    (root / "g0" / "._g0_0.png").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    assert not is_image_file(root / "g0" / "._g0_0.png") and is_image_file(root / "g0" / "g0_0.png")
    assert main(["data", "check", str(root), "--quiet"]) == 0
    assert "._g0_0" not in capsys.readouterr().out


def test_data_check_summarises_many_warnings_of_one_reason(tmp_path):
    from drugsim.cli.data import WARNINGS_PER_REASON, summarise_warnings

    limited = [(tmp_path / f"{i}.png", "ORB finds no keypoints under 63 px") for i in range(20_000)]
    limited.append((tmp_path / "other.png", "another reason"))
    lines = summarise_warnings(limited)
    assert len(lines) == WARNINGS_PER_REASON + 2
    assert lines[WARNINGS_PER_REASON] == (
        f"warning: ... and {20_000 - WARNINGS_PER_REASON} more image(s): ORB finds no keypoints under 63 px")


def test_reproduce_on_a_missing_folder_leaves_nothing_behind(tmp_path, capsys):
    _one_line_exit_2(["reproduce", "--dataset", str(tmp_path / "nowhere"), "--root", str(tmp_path), "--no-book"],
                     capsys, "nowhere", "no such dataset folder")
    assert list(tmp_path.iterdir()) == []


def test_ci_script_names_no_machine_path_for_the_photos():
    script = (REPO / ".ci" / "run").read_text()
    assert "../shared/datasets/grocery-store" in script
    assert "/work/" not in script and "/home/" not in script
