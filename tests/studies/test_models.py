"""The one finder of trained Siamese checkpoints and the one ``build_methods`` (issue 15 item 3).

The speed benchmark and the thresholds chapter each had a finder; they disagreed. The benchmark took any
checkpoint whose stem *contained* a variant, so the transfer ablation's ``ablation-...-improved-64px-...``
could stand in for a headline model; the thresholds chapter looked only at ``models/siamese`` itself.
"""

from __future__ import annotations

import pytest

from drugsim.errors import ConfigError, DrugsimError
from drugsim.studies import models


def test_find_checkpoints(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in (
        "resnet18-improved.pt",
        "resnet18-improved.last.pt",
        "siamese-classic.pt",
        "vgg16-classic.pt",
        "notes.txt",
    ):
        (tmp_path / "sub" / name).write_bytes(b"x")
    found = models.find_checkpoints(tmp_path)
    assert found == {
        "siamese-improved": tmp_path / "sub" / "resnet18-improved.pt",
        "siamese-classic": tmp_path / "sub" / "siamese-classic.pt",
    }
    assert models.find_checkpoints(tmp_path / "missing") == {}


def test_find_checkpoints_prefers_resnet18_and_skips_the_seed_copies(tmp_path):
    (tmp_path / "siamese").mkdir()
    (tmp_path / "siamese_seeds" / "seed1").mkdir(parents=True)
    for name in ("efficientnet-lite0-frozen-improved.pt", "resnet18-improved.pt", "vgg16-triplet.pt"):
        (tmp_path / "siamese" / name).write_bytes(b"x")
    (tmp_path / "siamese_seeds" / "seed1" / "resnet18-classic.pt").write_bytes(b"x")
    found = models.find_checkpoints(tmp_path)
    assert found == {
        "siamese-improved": tmp_path / "siamese" / "resnet18-improved.pt",
        "siamese-triplet": tmp_path / "siamese" / "vgg16-triplet.pt",
    }


def test_an_ablation_checkpoint_is_no_headline_model(tmp_path):
    siamese = tmp_path / "models" / "siamese"
    (siamese / "ablation").mkdir(parents=True)
    # Sorted first, and "improved" inside its stem: the old benchmark finder took this one.
    ablation = siamese / "ablation" / "ablation-efficientnet-lite0-imagenet-frozen-improved-64px-200pairs.pt"
    ablation.write_bytes(b"x")
    (siamese / "vgg16-improved.pt").write_bytes(b"x")
    assert models.find_checkpoints(tmp_path / "models") == {"siamese-improved": siamese / "vgg16-improved.pt"}
    assert models.siamese_checkpoints(siamese) == {"vgg16-improved": siamese / "vgg16-improved.pt"}


def test_siamese_checkpoints_keys_every_backbone_by_stem(tmp_path):
    folder = tmp_path / "models" / "siamese"
    folder.mkdir(parents=True)
    for name in ("resnet18-improved.pt", "vgg16-classic.pt", "resnet18-improved.last.pt", "notes.pt"):
        (folder / name).write_bytes(b"")
    found = models.siamese_checkpoints(folder)
    assert found == {"resnet18-improved": folder / "resnet18-improved.pt",
                     "vgg16-classic": folder / "vgg16-classic.pt"}
    assert models.trained_model_labels(found) == {
        "siamese-improved (resnet18)": folder / "resnet18-improved.pt",
        "siamese-classic (vgg16)": folder / "vgg16-classic.pt",
    }
    assert models.siamese_checkpoints(tmp_path / "missing") == {} == models.siamese_checkpoints("")


def test_build_methods_by_name_and_by_default():
    built = models.build_methods("ahash, orb")
    assert list(built) == ["ahash", "orb"] and [m.name for m in built.values()] == ["ahash", "orb"]
    assert list(models.build_methods()) == list(models.DEFAULT_METHODS)
    # A checkpoint given for a method that takes none is ignored, as before.
    assert list(models.build_methods(["orb"], models={"orb": "x.pt"})) == ["orb"]


def test_build_methods_errors_name_the_problem():
    with pytest.raises(ConfigError, match="method 'siamese-classic' needs a trained checkpoint"):
        models.build_methods(["siamese-classic"])
    with pytest.raises(DrugsimError, match="no-such-method"):
        models.build_methods(["no-such-method"])


def test_unloadable_checkpoints_are_skipped_only_when_asked(tmp_path):
    folder = tmp_path / "siamese"
    folder.mkdir()
    (folder / "resnet18-improved.pt").write_bytes(b"")
    labels = models.trained_model_labels(models.siamese_checkpoints(folder))
    built = models.build_methods(["ahash"], models=labels, include_checkpointed=True, skip_unloadable=True)
    assert list(built) == ["ahash"]
    with pytest.raises((DrugsimError, ImportError, RuntimeError)):
        models.build_methods(["ahash"], models=labels, include_checkpointed=True)
