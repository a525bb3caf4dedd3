"""`drugsim train siamese|classifier` end to end on the toy images (data loading stubbed to the toy split)."""

from __future__ import annotations

import json

from drugsim.cli import main


def test_train_siamese_cli_writes_a_usable_checkpoint(tmp_path, toy_data, capsys):
    out = tmp_path / "m.pt"
    code = main(["train", "siamese", "--variant", "classic", "--backbone", "resnet18", "--data", "toy",
                 "--profile", "tiny", "--epochs", "1", "--device", "cpu", "--quiet", "--out", str(out),
                 "--json", str(tmp_path / "r.json")])
    assert code == 0 and out.is_file()
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["config"]["variant"] == "classic" and report["weights"] == "random"
    assert len(report["history"]) == 1
    from drugsim.methods import create_method

    assert create_method("siamese-classic", model=str(out)).direction == "lower"


def test_train_classifier_cli(tmp_path, toy_data):
    out = tmp_path / "clf.pt"
    code = main(["train", "classifier", "--data", "toy", "--profile", "tiny", "--epochs", "1", "--device", "cpu",
                 "--quiet", "--out", str(out), "--json", str(tmp_path / "c.json")])
    assert code == 0
    report = json.loads((tmp_path / "c.json").read_text())
    assert 0.0 <= report["test_accuracy"] <= 1.0 and report["images_per_second"] > 0


def test_cli_errors_are_one_line_messages(tmp_path, toy_data, capsys):
    code = main(["train", "siamese", "--data", "toy", "--profile", "tiny", "--weights", str(tmp_path / "w.pth"),
                 "--out", str(tmp_path / "m.pt"), "--quiet"])
    assert code == 2
    assert "w.pth does not exist" in capsys.readouterr().err


def test_help_has_examples(capsys):
    assert main(["train", "siamese", "--help"]) == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "torchrun" in text


def test_train_siamese_cli_freezes_the_backbone(tmp_path, toy_data):
    out = tmp_path / "frozen.pt"
    code = main(["train", "siamese", "--data", "toy", "--profile", "tiny", "--freeze-backbone", "--frozen-views", "1",
                 "--image-size", "32", "--epochs", "1", "--device", "cpu", "--quiet", "--out", str(out),
                 "--json", str(tmp_path / "r.json")])
    assert code == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["config"]["freeze_backbone"] is True and report["config"]["frozen_views"] == 1


def test_train_siamese_cli_refuses_to_freeze_the_classic_variant(tmp_path, toy_data, capsys):
    code = main(["train", "siamese", "--variant", "classic", "--freeze-backbone", "--data", "toy", "--profile", "tiny",
                 "--out", str(tmp_path / "m.pt"), "--quiet"])
    assert code == 2
    assert "the classic variant has no weights outside its backbone" in capsys.readouterr().err
