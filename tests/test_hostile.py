"""Hostile input: every bad value ends in exit 2 with one line, outputs are never clobbered, odd images
and pair files give a score or a clear error. Property-based cases use Hypothesis with few examples."""

from __future__ import annotations

import io
import os
import stat
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from drugsim.cli import main, readable_warnings
from drugsim.data.pairs import read_pairs
from drugsim.errors import DatasetError, DrugsimError, OutputError
from drugsim.io import check_output_path, read_image, write_text_atomic
from drugsim.methods import _REGISTRY, create_method

FAST = settings(
    max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# ------------------------------------------------------------------------------------ CLI values

#: (sub-command words, the other required arguments, option, bad value)
_EVALUATE = ["evaluate", "--data", "d", "--method", "orb"]
_TRAIN_S = ["train", "siamese", "--data", "d", "--out", "m.pt"]
_TRAIN_C = ["train", "classifier", "--data", "d", "--out", "m.pt"]
BAD_VALUES = [
    (["compare", "a.png", "b.png", "--method", "orb"], "--threshold", "nan"),
    (["compare", "a.png", "b.png", "--method", "orb"], "--threshold", "inf"),
    (_EVALUATE, "--seed", "-1"),
    (_EVALUATE, "--seed", "1.5"),
    (_EVALUATE, "--threshold", "nan"),
    (_EVALUATE, "--n-pairs", "0"),
    (_EVALUATE, "--target-far", "1"),
    (_EVALUATE, "--target-far", "-0.1"),
    (_EVALUATE, "--n-boot", "0"),
    (_EVALUATE, "--jobs", "100000"),
    (_EVALUATE, "--json", "."),
    (_EVALUATE, "--cache-dir", "pyproject.toml"),
    (["search", "q.png", "--gallery", "g", "--method", "orb"], "--top-k", "0"),
    (["search", "q.png", "--gallery", "g", "--method", "orb"], "--jobs", "x"),
    (["search", "q.png", "--gallery", "g", "--method", "orb"], "--index", "."),
    (_TRAIN_S, "--seed", "-1"),
    (_TRAIN_S, "--lr", "nan"),
    (_TRAIN_S, "--lr", "0"),
    (_TRAIN_S, "--n-train-pairs", "0"),
    (_TRAIN_S, "--threshold", "nan"),
    (_TRAIN_S, "--epochs", "0"),
    (_TRAIN_S, "--batch-size", "-4"),
    (_TRAIN_S, "--image-size", "1"),
    (_TRAIN_S, "--workers", "-1"),
    (_TRAIN_S, "--frozen-views", "0"),
    (_TRAIN_C, "--n-train-images", "0"),
    (_TRAIN_C, "--lr", "-inf"),
    (["train", "siamese", "--data", "d"], "--out", "-"),
    (["train", "siamese", "--data", "d"], "--out", "."),
    (["bench"], "--repeats", "0"),
    (["bench"], "--per-pair-pairs", "0"),
    (["bench"], "--pairs", "-3"),
    (["bench"], "--seed", "1e3"),
    (["bench"], "--json", "."),
    (["bench", "search"], "--sizes", "10,0"),
    (["bench", "search"], "--hash-bits", "12"),
    (["bench", "search"], "--k", "0"),
    (["bench", "search"], "--dim", "nan"),
    (["bench", "search"], "--figure", "-"),
    (["data", "synth"], "--out", "pyproject.toml"),
    (["data", "synth", "--out", "x"], "--seed", "-5"),
    (["data", "synth", "--out", "x"], "--jobs", "0"),
    (["pairs", "--data", "d"], "--out", "."),
    (["pairs", "--data", "d", "--out", "p.txt"], "--n-pairs", "0"),
    (["pairs", "--data", "d", "--out", "p.txt"], "--seed", "99999999999"),
]


def _assert_one_line_exit_2(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, (argv, err)
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    "words, option, value",
    BAD_VALUES,
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_bad_option_value_is_one_line_and_exit_2(words, option, value, capsys, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # pyproject.toml is a file here
    _assert_one_line_exit_2(words + [option, value], capsys)
    monkeypatch.undo()


#: Whole command lines that must fail cleanly: sub-commands without numeric options, bad paths.
BAD_COMMANDS = [
    ["data", "info", "no-such-folder"],
    ["data", "check", "no-such-folder"],
    ["data", "fetch", "grocery", "--dest", "pyproject.toml"],
    ["methods", "--limit", "3"],
    ["compare", "no-a.png", "no-b.png", "--method", "orb"],
    ["compare", "pyproject.toml", "README.md", "--method", "no-such-method"],
    ["evaluate", "--data", "no-such-folder", "--method", "orb"],
    ["reproduce", "--profile", "no-such-profile", "--no-book"],
]


@pytest.mark.parametrize("argv", BAD_COMMANDS, ids=" ".join)
def test_bad_command_is_one_line_and_exit_2(argv, capsys, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    _assert_one_line_exit_2(argv, capsys)


def test_message_names_option_value_and_expectation(capsys):
    assert main(["train", "siamese", "--data", "d", "--out", "m.pt", "--lr", "nan"]) == 2
    err = capsys.readouterr().err
    assert "--lr" in err and "'nan'" in err and "finite number" in err


@FAST
@given(text=st.text(min_size=1, max_size=12).filter(lambda t: not t.startswith("-")))
def test_any_seed_text_parses_or_is_refused_in_one_line(capsys, text):
    from drugsim.cli import build_parser

    parser = build_parser()
    try:
        args = parser.parse_args(["pairs", "--data", "d", "--out", "-", "--seed", text])
    except SystemExit as exc:
        assert exc.code == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    else:
        assert 0 <= args.seed <= 2**32 - 1 and args.seed == int(text)


@FAST
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_threshold_option_accepts_only_finite_numbers(value):
    from drugsim.cli.options import finite_float

    if np.isfinite(value):
        assert finite_float(repr(value)) == value
    else:
        with pytest.raises(Exception, match="finite number"):
            finite_float(repr(value))


# --------------------------------------------------------------------------------------- outputs


def test_stdout_dash_is_standard_output(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_text_atomic("-", '{"a": 1}\n')
    assert capsys.readouterr().out == '{"a": 1}\n'
    assert not (tmp_path / "-").exists()


def test_device_is_written_through_not_replaced():
    before = os.stat("/dev/null")
    write_text_atomic("/dev/null", "x" * 100)
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="Linux /dev/full")
def test_full_device_is_one_clear_error():
    with pytest.raises(OutputError, match="/dev/full: could not be written"):
        write_text_atomic("/dev/full", "x" * 100_000)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_fifo_is_written_through(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    write_text_atomic(fifo, "hello\n")
    reader.join(timeout=10)
    assert received == ["hello\n"] and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_symlink_is_written_through(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    write_text_atomic(link, "new")
    assert link.is_symlink() and target.read_text() == "new"


def test_failed_write_leaves_original_and_no_partial_file(tmp_path):
    from drugsim.io import atomic_path

    target = tmp_path / "result.json"
    target.write_text("original")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_new_file_gets_the_usual_mode(tmp_path):
    write_text_atomic(tmp_path / "a.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode) == 0o666 & ~umask


def test_output_checks_before_work(tmp_path):
    with pytest.raises(OutputError, match="is a folder, expected a file name"):
        check_output_path(tmp_path, what="--json")
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output_path(tmp_path / "f" / "out.json", what="--json")
    with pytest.raises(OutputError, match="cannot go to standard output"):
        check_output_path("-", what="--out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_folder_is_refused_before_work(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="not writable"):
            check_output_path(folder / "out.json", what="--json")
    finally:
        folder.chmod(0o700)


def test_evaluate_output_checked_before_any_work(tmp_path, capsys):
    # The dataset does not exist either: the output error comes first, from parsing.
    code = main(["evaluate", "--data", str(tmp_path / "none"), "--method", "ahash", "--json", str(tmp_path)])
    assert code == 2 and "argument --json" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- images

_MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I", "F", "CMYK"]


def _save(path: Path, mode: str, height: int, width: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    rgb = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    if mode in ("I;16", "I", "F"):
        grey = rng.integers(0, 65535, (height, width))
        dtype = {"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]
        image = Image.fromarray(grey.astype(dtype))
    elif mode == "P":
        image = rgb.quantize(colors=16)
    else:
        image = rgb.convert(mode)
    suffix = ".tif" if mode in ("CMYK", "I", "F", "I;16") else ".png"
    path = path.with_suffix(suffix)
    image.save(path)
    return path


_CLASSICAL = [name for name, spec in _REGISTRY.items() if not spec.target.startswith("drugsim.deep.")]


@pytest.fixture(scope="module")
def classical_methods():
    return [create_method(name) for name in _CLASSICAL]


def _score_all(methods, image):
    for method in methods:
        feature = method.describe(image)
        score = method.score(feature, feature)
        assert isinstance(score, float), method.name


@FAST
@given(
    mode=st.sampled_from(_MODES),
    height=st.one_of(st.integers(1, 40), st.sampled_from([1, 700])),
    width=st.one_of(st.integers(1, 40), st.sampled_from([1, 1000])),
    seed=st.integers(0, 10),
)
def test_every_classical_method_scores_any_decodable_image(
    classical_methods, tmp_path, mode, height, width, seed
):
    path = _save(tmp_path / f"img-{mode.replace(';', '')}", mode, height, width, seed)
    image = read_image(path)
    assert image.shape == (height, width, 3) and image.dtype == np.uint8
    _score_all(classical_methods, image)


@pytest.mark.parametrize("shape", [(1, 1), (1, 1000), (1000, 1), (3, 1000)])
def test_orb_on_a_thin_image_scores_zero_and_says_why(shape):
    image = np.full(shape + (3,), 128, np.uint8)
    for name in ("orb", "orb-ransac"):
        method = create_method(name)
        assert method.score(method.describe(image), method.describe(image)) == 0.0
        assert "no keypoints" in method.unusable_reason(image.shape)
    assert create_method("orb").unusable_reason((480, 640, 3)) is None


@pytest.mark.parametrize("name", ["cnn-cosine", "cnn-euclidean"])
def test_embedding_methods_take_extreme_shapes(name):
    method = create_method(name)
    features = method.describe_batch([np.zeros((1, 1, 3), np.uint8), np.zeros((1, 1000, 3), np.uint8)])
    assert all(np.isfinite(f).all() for f in features)


def test_exif_rotated_jpeg_is_turned_upright(tmp_path):
    image = Image.fromarray(np.zeros((10, 30, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    image.save(tmp_path / "r.jpg", exif=exif)
    assert read_image(tmp_path / "r.jpg").shape == (30, 10, 3)


@FAST
@given(st.binary(max_size=200))
def test_random_bytes_as_image_give_a_clear_error(tmp_path, payload):
    path = tmp_path / "x.png"
    path.write_bytes(payload)
    try:
        read_image(path)
    except DrugsimError as exc:
        assert str(path) in str(exc)


def test_data_check_flags_images_some_method_cannot_use(tmp_path, capsys):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        Image.fromarray(np.zeros((80, 80, 3), np.uint8)).save(tmp_path / cls / "ok.png")
    Image.fromarray(np.zeros((1, 500, 3), np.uint8)).save(tmp_path / "a" / "strip.png")
    assert main(["data", "check", str(tmp_path), "--layout", "folders", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "strip.png: orb finds no keypoints" in out and "ok.png" not in out


# ------------------------------------------------------------------------------------ pair files


def _images(tmp_path):
    for name in ("a.png", "b.png"):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / name)


def test_pair_list_with_a_bom_reads_its_first_path(tmp_path):
    _images(tmp_path)
    (tmp_path / "p.txt").write_bytes(b"\xef\xbb\xbfa.png\tb.png\t1\n")
    (pair,) = read_pairs(tmp_path / "p.txt", root=tmp_path)
    assert pair.path_a == tmp_path / "a.png"


def test_pair_list_with_latin1_bytes_names_file_and_line(tmp_path):
    _images(tmp_path)
    (tmp_path / "p.txt").write_bytes(b"a.png\tb.png\t1\nd\xe9j\xe0.png\tb.png\t0\n")
    with pytest.raises(DatasetError, match=r"p.txt:2: byte 0xe9 at column 2 is not UTF-8"):
        read_pairs(tmp_path / "p.txt", root=tmp_path)


@FAST
@given(st.binary(max_size=120))
def test_any_bytes_as_pair_list_read_or_clear_error(tmp_path, payload):
    (tmp_path / "p.txt").write_bytes(payload)
    try:
        read_pairs(tmp_path / "p.txt", root=tmp_path)
    except DatasetError as exc:
        assert "p.txt" in str(exc) and "\n" not in str(exc)


# -------------------------------------------------------------------------------- index sidecars


def test_index_sidecar_without_checksum_is_refused(tmp_path):
    import json

    from drugsim.evaluation.index import build_index, load_index

    method = create_method("ahash")
    features = [method.describe(np.full((16, 16, 3), v, np.uint8)) for v in (0, 128, 255)]
    path = build_index(method, features, ["a", "b", "c"]).save(tmp_path / "g.faiss")
    sidecar = tmp_path / "g.faiss.json"
    meta = json.loads(sidecar.read_text())
    del meta["index_sha256"]
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="does not match its sidecar"):
        load_index(path)


# -------------------------------------------------------------------------------------- warnings


def test_library_warnings_are_one_readable_line(capsys):
    with readable_warnings():
        warnings.warn("something odd\n  happened", UserWarning, stacklevel=1)
    err = capsys.readouterr().err
    assert err == "drugsim: warning: something odd happened (UserWarning)\n"


def test_json_written_by_cli_has_no_nan():
    from drugsim.report import json_text

    text = json_text({"threshold": float("nan"), "ci": [float("inf"), 1.0]})
    assert "NaN" not in text and "Infinity" not in text
    assert io.StringIO(text).read().count("null") == 2


def test_a_method_failing_on_one_image_names_the_file(tmp_path):
    from drugsim.evaluation.engine import describe_images
    from drugsim.methods import SimilarityMethod

    class Fragile(SimilarityMethod):
        name = "fragile"
        direction = "higher"

        def _describe(self, image):
            if image.shape[0] == 1:
                raise AssertionError("cv::resize: inv_scale_x > 0")
            return float(image.mean())

        def score(self, a, b):
            return -abs(a - b)

    good, thin = tmp_path / "good.png", tmp_path / "thin.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(good)
    Image.fromarray(np.zeros((1, 8, 3), np.uint8)).save(thin)
    with pytest.raises(DrugsimError, match=r"thin.png: fragile cannot describe this image of shape \(1, 8, 3\)"):
        describe_images(Fragile(), [good, thin], n_jobs=1, progress=False)


def test_os_errors_are_one_line(monkeypatch, capsys):
    import drugsim.cli.methods as cli_methods

    def refused(args):
        raise PermissionError(13, "Permission denied", "/some/file")

    monkeypatch.setattr(cli_methods, "cmd_methods", refused)
    assert main(["methods"]) == 2
    assert capsys.readouterr().err == "drugsim: error: /some/file: Permission denied\n"
