"""``drugsim data info|check|synth`` and ``drugsim pairs`` end to end."""

from __future__ import annotations

import json
import re

import pytest
from data_helpers import folder_tree

from drugsim.cli import build_parser, main
from drugsim.data import read_pairs


def test_help_has_examples(capsys):
    for argv in (
        ["data", "--help"],
        ["data", "synth", "--help"],
        ["data", "info", "--help"],
        ["data", "check", "--help"],
        ["data", "fetch", "--help"],
        ["pairs", "--help"],
    ):
        with pytest.raises(SystemExit):
            build_parser().parse_args(argv)
        assert "examples:" in capsys.readouterr().out


def test_info_json(tiny_dataset, capsys):
    assert main(["data", "info", str(tiny_dataset), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_images"] == 288 and info["n_classes"] == 12
    assert info["per_face"]["side4"]["mean"] == 4.0


def test_info_text_on_grocery(grocery_root, monkeypatch, capsys):
    monkeypatch.setenv("DRUGSIM_GROCERY_ROOT", str(grocery_root))
    assert main(["data", "info", "grocery"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\d+ images, \d+ classes; images per class min \d+", out)
    assert "faces: unknown" in out


def test_check_names_the_bad_file(tmp_path, capsys):
    folder_tree(tmp_path, {"a": 2, "b": 1})
    (tmp_path / "a" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    assert main(["data", "check", str(tmp_path), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert f"BAD  {tmp_path / 'a' / 'broken.jpg'}: not a readable image" in out
    assert "warning: class 'b' has a single image: it cannot give a positive pair" in out
    assert "3 of 4 images decoded; 1 bad" in out
    (tmp_path / "a" / "broken.jpg").unlink()
    assert main(["data", "check", str(tmp_path), "--quiet"]) == 0


def test_pairs_writes_a_readable_file(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "test_pairs.txt"
    assert (
        main(
            [
                "pairs",
                "--data",
                str(tiny_dataset),
                "--algorithm",
                "2",
                "--split",
                "test",
                "--out",
                str(out),
                "--seed",
                "0",
                "--n-pairs",
                "40",
            ]
        )
        == 0
    )
    pairs = read_pairs(out, root=tiny_dataset)
    assert len(pairs) == 40 and sum(p.label for p in pairs) == 20
    assert "positives 20" in capsys.readouterr().out
    assert (
        main(
            [
                "pairs",
                "--data",
                str(tiny_dataset),
                "--algorithm",
                "1",
                "--split",
                "val",
                "--out",
                str(out),
                "--n-pairs",
                "30",
            ]
        )
        == 0
    )
    assert "intra-class negatives 0" in capsys.readouterr().out


def test_errors_exit_2_with_a_message(tmp_path, capsys):
    assert main(["data", "info", str(tmp_path / "absent")]) == 2
    assert "absent: no such dataset folder" in capsys.readouterr().err
    assert main(["data", "synth", "--out", str(tmp_path), "--preset", "tiny", "--quiet"]) == 2
    assert "exists; pass --overwrite to replace a dataset drugsim made there" in capsys.readouterr().err


def test_synth_and_fetch_pass_their_options(tmp_path, monkeypatch, capsys):
    from drugsim import data
    from drugsim.data import fetch

    calls = {}
    monkeypatch.setattr(data, "generate_dataset", lambda out, **kw: calls.setdefault("synth", (out, kw))[0])
    assert (
        main(
            [
                "data",
                "synth",
                "--out",
                str(tmp_path / "s"),
                "--preset",
                "quick",
                "--seed",
                "3",
                "--jobs",
                "2",
                "--overwrite",
                "--quiet",
            ]
        )
        == 0
    )
    assert calls["synth"][1] == {
        "preset": "quick",
        "seed": 3,
        "progress": False,
        "n_jobs": 2,
        "overwrite": True,
    }
    monkeypatch.setattr(fetch, "fetch_grocery", lambda dest, **kw: calls.setdefault("fetch", (dest, kw))[0])
    assert main(["data", "fetch", "grocery", "--dest", str(tmp_path / "g"), "--quiet"]) == 0
    assert calls["fetch"][0] == tmp_path / "g" and calls["fetch"][1]["overwrite"] is False
    assert "export DRUGSIM_GROCERY_ROOT=" in capsys.readouterr().out
    (tmp_path / "g").mkdir()
    assert main(["data", "fetch", "grocery", "--dest", str(tmp_path / "g"), "--quiet"]) == 2
    assert "exists; check it with --verify-only or pass --overwrite" in capsys.readouterr().err
