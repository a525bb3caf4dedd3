"""Hostile input, issue 22 items 7, 8 and 10-14: absurd sizes, divergence, full disks, Ctrl-C, a closed pipe,
and options that would be ignored without a word."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drugsim.cli import main
from hostile_helpers import one_line_exit_2 as _one_line_exit_2
from hostile_helpers import textured_images
from drugsim.errors import DrugsimError, OutputError

REPO = Path(__file__).resolve().parents[1]
HUGE = str(10**30)


# ------------------------------------------------------------------- item 7: finite but absurd values

_TRAIN = ["train", "siamese", "--data", "d", "--out", "m.pt"]
_BENCH_SEARCH = ["bench", "search"]
ABSURD = [
    (_TRAIN, "--batch-size", HUGE, "from 1 to 65536"),
    (_TRAIN, "--epochs", HUGE, "from 1 to 10000"),
    (_TRAIN, "--lr", "1e300", "(0, 10]"),
    (_TRAIN, "--lr", "1e30", "(0, 10]"),
    (_TRAIN, "--n-train-pairs", HUGE, "from 1 to 10000000"),
    (_TRAIN, "--frozen-views", HUGE, "from 1 to 64"),
    (["train", "classifier", "--data", "d", "--out", "m.pt"], "--n-train-images", HUGE, "from 1 to 10000000"),
    (_BENCH_SEARCH, "--sizes", f"1000,{HUGE}", "from 1 to 10000000"),
    (_BENCH_SEARCH, "--dim", HUGE, "from 1 to 65536"),
    (_BENCH_SEARCH, "--queries", HUGE, "from 1 to 1000000"),
    (_BENCH_SEARCH, "--hash-bits", HUGE, "from 8 to 65536"),
    (_BENCH_SEARCH, "--k", HUGE, "from 1 to 1000000"),
    (_BENCH_SEARCH, "--repeats", HUGE, "from 1 to 1000"),
    (["bench"], "--repeats", HUGE, "from 1 to 1000"),
    (["bench"], "--pairs", HUGE, "from 0 to 10000000"),
    (["bench"], "--per-pair-pairs", HUGE, "from 1 to 10000000"),
    (["evaluate", "--data", "d", "--method", "orb"], "--n-boot", HUGE, "from 1 to 1000000"),
    (["evaluate", "--data", "d", "--method", "orb"], "--n-pairs", HUGE, "from 1 to 10000000"),
    (["pairs", "--data", "d", "--out", "p.txt", "--algorithm", "1"], "--n-pairs", HUGE, "from 1 to 10000000"),
    (["search", "q.png", "--gallery", "g", "--method", "orb"], "--top-k", HUGE, "from 1 to 1000000"),
    (["data", "synth", "--out", "x"], "--jobs", HUGE, "from 1 to 256"),
    (["reproduce"], "--jobs", HUGE, "from 1 to 256"),
]


@pytest.mark.parametrize("words, option, value, bound", ABSURD, ids=lambda v: v if isinstance(v, str) else "")
def test_absurd_sizes_are_refused_while_parsing_with_the_bound(words, option, value, bound, capsys, tmp_path,
                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    _one_line_exit_2(words + [option, value], capsys, option, bound)


@settings(max_examples=30, deadline=None, database=None)
@given(value=st.integers(min_value=-(10**40), max_value=10**40))
def test_any_whole_number_for_n_boot_parses_or_names_the_bound(value):
    from drugsim.cli import options

    parse = options.int_range(1, options.MAX_BOOT)
    if 1 <= value <= options.MAX_BOOT:
        assert parse(str(value)) == value
    else:
        with pytest.raises(Exception, match=f"from 1 to {options.MAX_BOOT}, got {value}"):
            parse(str(value))


def test_a_400_digit_threshold_in_a_result_is_one_line(tmp_path, capsys):
    result = tmp_path / "r.json"
    result.write_text('{"method": "ahash", "threshold": ' + "9" * 400 + "}")
    a = textured_images(tmp_path / "d", n_classes=1, per_class=2) / "c0" / "c0_0.png"
    _one_line_exit_2(["compare", str(a), str(a), "--method", "ahash", "--threshold-from", str(result)], capsys,
                     "--threshold-from", "expected a finite number")


# ------------------------------------------------------------------------------ item 8: divergence


def _toy_pairs(root: Path):
    from drugsim.data.records import Pair

    paths = sorted(textured_images(root, n_classes=4, per_class=3).rglob("*.png"))
    pairs = []
    for i in range(0, len(paths) - 1):
        pairs.append(Pair(paths[i], paths[i + 1], int(paths[i].parent == paths[i + 1].parent)))
    return pairs


def test_diverging_training_stops_with_no_checkpoint(tmp_path):
    from drugsim.deep.config import siamese_config
    from drugsim.deep.training import train_siamese

    pairs = _toy_pairs(tmp_path / "toy")
    config = siamese_config("tiny", image_size=32, batch_size=4, epochs=2, n_train_pairs=None, n_val_pairs=None,
                            augment=False, device="cpu", head_hidden=8, train_eval_pairs=4, lr=1e30)
    out = tmp_path / "m.pt"
    with pytest.raises(DrugsimError, match="training diverged"):
        train_siamese(config, pairs, pairs, out=out, progress=False)
    assert not out.exists() and not (tmp_path / "m.last.pt").exists()


def test_a_checkpoint_with_a_nan_threshold_is_never_used_for_a_decision(tmp_path, capsys):
    from drugsim.deep.checkpoints import CheckpointError, load_checkpoint, save_checkpoint

    path = save_checkpoint(tmp_path / "nan.pt", {"kind": "siamese", "config": {"threshold": float("nan")},
                                                  "model": {}})
    with pytest.raises(CheckpointError, match="decision threshold is nan, expected a finite number"):
        load_checkpoint(path, kind="siamese")
    a = textured_images(tmp_path / "d", n_classes=1, per_class=1) / "c0" / "c0_0.png"
    err = _one_line_exit_2(["compare", str(a), str(a), "--method", "siamese-improved", "--model", str(path)],
                           capsys, "nan.pt", "decision threshold")
    assert "DIFFERENT" not in err


# -------------------------------------------------------------------- items 10 and 12: full disks


def test_checkpoint_to_a_full_disk_is_one_line_naming_the_path(tmp_path):
    from drugsim.deep.checkpoints import save_checkpoint

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    with pytest.raises(OutputError, match=r"^/dev/full: .*No space left on device"):
        save_checkpoint(Path("/dev/full"), {"kind": "siamese", "model": {}})


def test_torch_write_failure_names_the_checkpoint(tmp_path, monkeypatch):
    import torch

    from drugsim.deep.checkpoints import save_checkpoint

    def full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:778] . PytorchStreamWriter failed writing file "
                           "data/0: file write failed\nframe #0 ...\nframe #1 ...")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(OutputError, match=r"m.pt: the checkpoint could not be written \(no space left"):
        save_checkpoint(tmp_path / "m.pt", {"kind": "siamese"})
    assert list(tmp_path.iterdir()) == []  # no partial file


def test_train_to_a_device_is_refused_before_training(capsys):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    _one_line_exit_2(["train", "siamese", "--data", "no-such-data", "--out", "/dev/full"], capsys,
                     "--out /dev/full", "regular file")
    assert not Path("/dev/full.last.pt").exists()


def test_a_full_cache_degrades_to_no_cache_with_one_warning(tmp_path, capsys, monkeypatch):
    from drugsim.evaluation.cache import FeatureCache

    data = textured_images(tmp_path / "d", per_class=3)
    pairs = tmp_path / "p.txt"
    pairs.write_text("c4/c4_0.png\tc4/c4_1.png\t1\nc4/c4_0.png\tc5/c5_0.png\t0\n")

    def full(path, payload):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(FeatureCache, "_write_atomic", staticmethod(full))
    code = main(["evaluate", "--data", str(data), "--method", "ahash", "--pairs", str(pairs), "--threshold", "50",
                 "--cache-dir", str(tmp_path / "cache"), "--quiet", "--n-boot", "10", "--jobs", "1",
                 "--ci-unit", "pair"])
    err = capsys.readouterr().err
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "feature cache" in line]
    assert len(warnings) == 1 and "No space left on device" in warnings[0] and "without the cache" in warnings[0]


# ------------------------------------------------------------------ items 11 and 13: Ctrl-C, closed pipe


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_ends_a_command_with_one_line_and_exit_130(tmp_path, jobs):
    out = tmp_path / "synth"
    # Its own process group, signalled as a whole: what a terminal's Ctrl-C does (worker processes included).
    process = subprocess.Popen([sys.executable, "-m", "drugsim", "data", "synth", "--out", str(out), "--preset",
                                "tiny", "--jobs", jobs, "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=_env(), cwd=tmp_path, start_new_session=True)
    deadline = time.monotonic() + 120
    while not any(p.name.endswith(".partial") for p in tmp_path.iterdir()):  # generation has started
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    time.sleep(0.5)  # the workers are drawing
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err.decode().strip().splitlines() == ["drugsim: interrupted; no partial output was kept"]
    assert not out.exists() and not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


def test_kernel_keyboard_interrupt_is_the_users_ctrl_c():
    from papermill.exceptions import PapermillExecutionError

    from drugsim.runner.execute import is_interrupt

    kernel_error = PapermillExecutionError(cell_index=3, exec_count=3, source="train()", ename="KeyboardInterrupt",
                                           evalue="", traceback=["..."] * 20)
    assert is_interrupt(kernel_error) and is_interrupt(KeyboardInterrupt())
    other = PapermillExecutionError(cell_index=3, exec_count=3, source="x", ename="ValueError", evalue="",
                                    traceback=[])
    assert not is_interrupt(other)


def test_ctrl_c_in_reproduce_is_one_line_and_130(monkeypatch, capsys, tmp_path):
    import drugsim.runner

    def interrupted(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(drugsim.runner, "reproduce", interrupted)
    assert main(["reproduce", "--root", str(tmp_path), "--no-book"]) == 130
    assert capsys.readouterr().err.strip().splitlines() == ["drugsim: interrupted; no partial output was kept"]


def test_a_closed_pipe_ends_quietly():
    process = subprocess.Popen([sys.executable, "-m", "drugsim", "methods"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=_env())
    process.stdout.close()  # the reader went away before the first line (as `| head -0` would)
    err = process.stderr.read()
    process.wait(timeout=120)
    assert process.returncode == 0 and err == b""


# ------------------------------------------------------------------------ item 14: ignored options


def test_options_that_would_be_ignored_are_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = textured_images(tmp_path / "d", per_class=3)
    _one_line_exit_2(["evaluate", "--data", str(data), "--method", "ahash", "--target-far", "0.05"], capsys,
                     "--target-far", "--threshold-rule far")
    _one_line_exit_2(["evaluate", "--data", str(data), "--method", "ahash", "--threshold-rule", "far",
                      "--threshold", "3", "--target-far", "0.05"], capsys, "--target-far")
    _one_line_exit_2(["train", "siamese", "--data", str(data), "--out", "m.pt", "--train", "full",
                      "--frozen-views", "2"], capsys, "--frozen-views", "full")
    _one_line_exit_2(["train", "siamese", "--data", str(data), "--out", "m.pt", "--variant", "improved",
                      "--contrastive-form", "hadsell"], capsys, "--contrastive-form", "classic")
    _one_line_exit_2(["pairs", "--data", str(data), "--out", "p.txt", "--protocol", "unseen-products"], capsys,
                     "--protocol", "Grocery")
    _one_line_exit_2(["bench", "--data", str(data), "--methods", ",,,"], capsys, "--methods", "no method name")
    _one_line_exit_2(["bench", "search", "--kinds", ", ,"], capsys, "--kinds")
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "p.txt").exists()

