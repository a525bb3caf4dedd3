"""Partial fine-tuning of EfficientNet-Lite0 on cached features (drugsim.deep.transfer): the split is exact,
the recipe learns, only the unfrozen layers change, the checkpoint works through the method interface, and
bad settings fail with one-line messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from drugsim.cli import main
from drugsim.deep.config import default_training_mode, siamese_config, training_mode_flags
from drugsim.deep.training import build_siamese, load_siamese, train_siamese
from drugsim.deep.transfer import FeatureSplit, freeze_all_but
from drugsim.errors import ConfigError



def partial_config(**overrides):
    values = {"backbone": "efficientnet-lite0", "weights": "imagenet", "partial_fine_tune": True, "image_size": 64,
              "batch_size": 8, "epochs": 6, "device": "cpu", "head_hidden": 32, "lr": 1e-2, "backbone_lr": 1e-3,
              "fine_tune_from": 13, "frozen_views": 2, "seed": 0}
    values.update(overrides)
    return siamese_config("tiny", **values)


def test_prefix_then_suffix_equals_the_whole_backbone():
    torch.manual_seed(0)
    model = build_siamese(siamese_config("tiny", backbone="efficientnet-lite0", head_hidden=8)).eval()
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        whole = model.embed(images)
        for start in (0, 11, 16):
            split = FeatureSplit(start)
            torch.testing.assert_close(split.suffix(model, split.prefix(model, images)), whole)


def test_only_the_unfrozen_layers_are_trainable():
    model = build_siamese(siamese_config("tiny", backbone="efficientnet-lite0", head_hidden=8))
    freeze_all_but(model, FeatureSplit(14))
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert any(name.startswith("pair_head.") for name in trainable)
    assert any("_blocks.14." in name for name in trainable) and any("_conv_head" in name for name in trainable)
    assert not any("_blocks.13." in name or "_conv_stem" in name for name in trainable)


def test_partial_fine_tuning_learns_and_changes_only_the_unfrozen_layers(tmp_path, toy_pair_list):
    config = partial_config()
    result = train_siamese(config, toy_pair_list, toy_pair_list, out=tmp_path / "m.pt", progress=False)
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < losses[0]
    assert result.history[-1]["val_auc"] > 0.75  # chance is 0.5
    assert result.extra["frozen_views"] == 2 and result.extra["n_trainable_parameters"] > 0

    initial = build_siamese(config).state_dict()  # ImageNet weights + seeded head
    trained = load_siamese(tmp_path / "m.pt")[0].state_dict()
    trainable = ("backbone.trunk.net._blocks.13.", "backbone.trunk.net._blocks.14.", "backbone.trunk.net._blocks.15.",
                 "backbone.trunk.net._conv_head.", "backbone.trunk.net._bn1.", "pair_head.")
    changed = {k for k in trained if trained[k].is_floating_point() and not torch.equal(trained[k], initial[k])}
    assert changed and all(k.startswith(trainable) for k in changed), sorted(changed)[:3]
    assert any(k.startswith("backbone.trunk.net._blocks.15.") for k in changed)


def test_partial_checkpoint_evaluates_through_the_method_interface(tmp_path, toy_pair_list):
    from drugsim.evaluation.evaluate import evaluate_method
    from drugsim.methods import create_method

    config = partial_config(epochs=1, frozen_views=1)
    train_siamese(config, toy_pair_list, toy_pair_list, out=tmp_path / "m.pt", progress=False)
    method = create_method("siamese-improved", model=str(tmp_path / "m.pt"), device="cpu")
    result, scores = evaluate_method(method, toy_pair_list, val_pairs=toy_pair_list, threshold_rule="max_accuracy",
                                     progress=False, n_boot=10)
    assert result["threshold_fitted_on"] == "val"
    assert scores.shape == (len(toy_pair_list),) and 0.0 <= scores.min() <= scores.max() <= 1.0


def test_small_pair_lists_get_more_epochs_up_to_min_steps():
    from drugsim.deep.transfer import epochs_for

    config = partial_config(epochs=1, batch_size=64, min_steps=200)
    assert epochs_for(config, 15200) == 1  # 238 steps in one epoch
    assert epochs_for(config, 2070) == 7  # 33 steps per epoch
    assert epochs_for(partial_config(epochs=2, min_steps=0), 10) == 2


def test_quick_profile_recipe_and_defaults():
    config = siamese_config("quick", backbone="efficientnet-lite0", weights="imagenet", partial_fine_tune=True)
    assert (config.fine_tune_from, config.frozen_views, config.n_train_pairs) == (11, 3, None)
    assert siamese_config("paper", backbone="efficientnet-lite0", weights="imagenet",
                          partial_fine_tune=True).image_size == 224
    assert default_training_mode("quick", variant="improved", backbone="efficientnet-lite0",
                                 weights="imagenet") == "partial"
    assert default_training_mode("paper", variant="improved", backbone="efficientnet-lite0",
                                 weights="imagenet") == "full"
    assert default_training_mode("quick", variant="improved", backbone="resnet18", weights="random") == "full"
    assert training_mode_flags("frozen") == {"freeze_backbone": True, "partial_fine_tune": False}


def test_quick_partial_recipe_on_photos_uses_a_larger_input_and_a_pair_sample():
    boxes = siamese_config("quick", backbone="efficientnet-lite0", weights="imagenet", partial_fine_tune=True)
    photos = siamese_config("quick", data_kind="photos", backbone="efficientnet-lite0", weights="imagenet",
                            partial_fine_tune=True)
    assert photos.image_size > boxes.image_size and photos.n_train_pairs is not None
    assert (photos.fine_tune_from, photos.frozen_views) == (boxes.fine_tune_from, boxes.frozen_views)
    # an explicit setting still wins, and the kind changes nothing outside partial fine-tuning
    assert siamese_config("quick", data_kind="photos", backbone="efficientnet-lite0", weights="imagenet",
                          partial_fine_tune=True, image_size=96).image_size == 96
    assert siamese_config("quick", data_kind="photos") == siamese_config("quick")
    for profile in ("tiny", "paper"):
        assert siamese_config(profile, data_kind="photos", backbone="efficientnet-lite0", weights="imagenet",
                              partial_fine_tune=True) == siamese_config(profile, backbone="efficientnet-lite0",
                                                                        weights="imagenet", partial_fine_tune=True)
    with pytest.raises(ConfigError, match="data_kind='drawings' is not supported"):
        siamese_config("quick", data_kind="drawings")


@pytest.mark.parametrize("overrides, message", [
    ({"backbone": "resnet18"}, "backbone 'resnet18' has none"),
    ({"variant": "classic"}, "the classic variant is not supported"),
    ({"freeze_backbone": True}, "not both"),
    ({"fine_tune_from": 17}, "fine_tune_from must be a block index from 0 to 16, got 17"),
    ({"backbone_lr": 0.0}, "backbone_lr must be > 0"),
    ({"min_steps": -1}, "min_steps must be 0 \\(off\\) or a positive integer, got -1"),
])
def test_bad_partial_settings_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        partial_config(**overrides)


def test_unknown_training_mode_is_refused():
    with pytest.raises(ConfigError, match="training mode='half' is not supported"):
        training_mode_flags("half")


def test_cli_trains_a_pretrained_efficientnet_partially_by_default(tmp_path, toy_data):
    code = main(["train", "siamese", "--variant", "improved", "--backbone", "efficientnet-lite0", "--weights",
                 "imagenet", "--profile", "tiny", "--data", "toy", "--image-size", "64", "--frozen-views", "1",
                 "--fine-tune-from", "14", "--device", "cpu", "--quiet", "--out", str(tmp_path / "m.pt"),
                 "--json", str(tmp_path / "r.json")])
    assert code == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["training_mode"] == "partial" and report["config"]["partial_fine_tune"] is True
    assert report["config"]["fine_tune_from"] == 14
    assert report["data_kind"] == "photos"  # the toy images are not drugsim's rendered boxes


@pytest.mark.parametrize("flags, message", [
    (["--train", "full", "--fine-tune-from", "12"], "--fine-tune-from applies to --train partial, not full"),
    (["--train", "partial", "--freeze-backbone"], "--freeze-backbone contradicts --train partial"),
    (["--train", "partial", "--backbone", "resnet18"], "backbone 'resnet18' has none"),
])
def test_cli_refuses_contradictory_training_modes(tmp_path, toy_data, capsys, flags, message):
    argv = ["train", "siamese", "--data", "toy", "--profile", "tiny", "--out", str(tmp_path / "m.pt"), "--quiet"]
    if "--backbone" not in flags:
        argv += ["--backbone", "efficientnet-lite0", "--weights", "imagenet"]
    code = main(argv + flags)
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["synthetic", "photos"])
def test_the_cpu_recipes_are_the_ones_their_validation_sweeps_chose(kind):
    # Issue 20: a recipe is justified by validation numbers only; the sweep's record holds no test number.
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / f"sweep-{kind}.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["test_split_used"] is False and record["data"]["kind"] == kind
    assert not [key for row in record["candidates"] for key in row if "test" in key]
    chosen = record["candidates"][record["chosen"]]
    admitted = [row for row in record["candidates"] if row["settings"]["epochs"] <= record["budget"]["max_epochs"]]
    assert chosen in admitted
    best_auc = max(row["val_roc_auc"] for row in admitted)
    assert chosen["val_roc_auc"] >= best_auc - 0.002 - 1e-12  # the rule the sweep declares
    recipe = siamese_config("quick", data_kind=kind, backbone="efficientnet-lite0", weights="imagenet",
                            partial_fine_tune=True).to_dict()
    for key, value in chosen["settings"].items():
        assert recipe[key] == value, key
