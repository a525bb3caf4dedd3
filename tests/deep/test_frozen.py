"""Frozen-backbone training (only the improved head learns), model-name tags, checkpoint reuse across
code revisions, and the seed study."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from drugsim.deep import training
from drugsim.deep.config import siamese_config
from drugsim.deep.train_or_reuse import parse_model_name, train_or_reuse_siamese
from drugsim.deep.training import build_siamese, load_siamese, train_siamese
from drugsim.errors import ConfigError
from drugsim.studies.siamese import seed_frame, seed_study, seed_summary


def frozen_config(**overrides):
    values = dict(image_size=32, batch_size=8, epochs=12, device="cpu", head_hidden=16, lr=1e-2, augment=False,
                  freeze_backbone=True)
    values.update(overrides)
    return siamese_config("tiny", **values)


def test_frozen_training_changes_the_head_only_and_learns(tmp_path, toy_pair_list):
    config = frozen_config()
    result = train_siamese(config, toy_pair_list, toy_pair_list, out=tmp_path / "m.pt", progress=False)
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.5 * losses[0]

    torch.manual_seed(config.seed)
    initial = build_siamese(config).state_dict()
    trained, _ = load_siamese(tmp_path / "m.pt")
    state = trained.state_dict()
    backbone_keys = [k for k in state if k.startswith("backbone.") and state[k].is_floating_point()]
    head_keys = [k for k in state if k.startswith("pair_head.")]
    assert backbone_keys and head_keys
    # weights=random: BatchNorm statistics are re-estimated on the training images, nothing else moves.
    fixed = [k for k in backbone_keys if not k.endswith(("running_mean", "running_var"))]
    for key in fixed:
        torch.testing.assert_close(state[key], initial[key], msg=key)
    assert any(not torch.equal(state[k], initial[k]) for k in head_keys)


def test_frozen_training_with_augmented_views_runs_and_records_them(tmp_path, toy_pair_list):
    config = frozen_config(augment=True, frozen_views=3, epochs=2)
    result = train_siamese(config, toy_pair_list, toy_pair_list, out=tmp_path / "m.pt", progress=False)
    assert result.extra["frozen_views"] == 3
    assert len(result.history) == 2


def test_random_efficientnet_features_do_not_collapse_when_frozen(tmp_path, toy_pair_list):
    # Eval-mode EfficientNet-Lite0 with identity BatchNorm statistics gives ~1e-9 for every image.
    config = frozen_config(backbone="efficientnet-lite0", epochs=1)
    train_siamese(config, toy_pair_list, toy_pair_list, out=tmp_path / "m.pt", progress=False)
    model, _ = load_siamese(tmp_path / "m.pt")
    from drugsim.deep.datasets import ImageCache

    paths = list(dict.fromkeys(p for pair in toy_pair_list for p in (pair.path_a, pair.path_b)))
    cache = ImageCache(paths, 32)
    with torch.no_grad():
        features = model.embed(torch.stack([cache.get(p) for p in paths]))
    assert features.std(0).mean() > 1e-3


@pytest.mark.parametrize("variant", ["classic", "triplet"])
def test_freezing_a_variant_without_a_head_is_a_clear_error(variant):
    with pytest.raises(ConfigError, match=f"the {variant} variant has no weights outside its backbone"):
        siamese_config("tiny", variant=variant, freeze_backbone=True)


def test_frozen_views_must_be_positive():
    with pytest.raises(ConfigError, match="frozen_views must be a positive integer, got 0"):
        siamese_config("tiny", frozen_views=0)


def test_freezing_applies_the_profiles_frozen_settings_unless_overridden():
    config = siamese_config("quick", freeze_backbone=True)
    assert (config.image_size, config.n_train_pairs, config.frozen_views) == (128, None, 1)
    assert siamese_config("paper", freeze_backbone=True).frozen_views == 2
    assert siamese_config("quick", freeze_backbone=True, image_size=96).image_size == 96
    assert siamese_config("quick").image_size == 48


@pytest.mark.parametrize("name, expected", [
    ("resnet18-improved", ("resnet18", "improved", {})),
    ("efficientnet-lite0-imagenet-frozen-improved",
     ("efficientnet-lite0", "improved", {"weights": "imagenet", "freeze_backbone": True})),
    ("vgg16-imagenet-classic", ("vgg16", "classic", {"weights": "imagenet"})),
    ("efficientnet-lite0-frozen-improved", ("efficientnet-lite0", "improved", {"freeze_backbone": True})),
])
def test_model_names_carry_their_tags(name, expected):
    assert parse_model_name(name) == expected


def test_a_model_name_without_a_variant_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"model name 'resnet18-imagenet' should be <backbone>\[-imagenet\]"):
        parse_model_name("resnet18-imagenet")


def test_a_checkpoint_is_reused_only_by_the_same_training_revision(tmp_path, toy_pair_list, monkeypatch):
    kwargs = dict(models_dir=tmp_path, device="cpu", image_size=32, epochs=1, head_hidden=16)
    first = train_or_reuse_siamese("resnet18-frozen-improved", "tiny", toy_pair_list, toy_pair_list, **kwargs)
    again = train_or_reuse_siamese("resnet18-frozen-improved", "tiny", toy_pair_list, toy_pair_list, **kwargs)
    assert (first["reused"], again["reused"]) == (False, True)
    monkeypatch.setattr(training, "TRAINING_REVISION", training.TRAINING_REVISION + 1)
    changed = train_or_reuse_siamese("resnet18-frozen-improved", "tiny", toy_pair_list, toy_pair_list, **kwargs)
    assert changed["reused"] is False


def test_seed_study_trains_each_seed_and_summarises_the_spread(tmp_path, toy_pair_list):
    pairs = {"train": toy_pair_list, "val": toy_pair_list}
    rows = seed_study(["resnet18-frozen-improved"], "tiny", pairs, seeds=[0, 1, 2], models_dir=tmp_path / "main",
                      seeds_dir=tmp_path / "seeds", base_seed=0, test_pairs=toy_pair_list, device="cpu",
                      n_boot=20, image_size=32, epochs=2, head_hidden=16)
    assert [(row["model"], row["seed"]) for row in rows] == [("resnet18-frozen-improved", s) for s in (0, 1, 2)]
    assert (tmp_path / "main" / "resnet18-frozen-improved.pt").is_file()
    assert (tmp_path / "seeds" / "seed2" / "resnet18-frozen-improved.pt").is_file()
    summary = seed_summary(rows)["resnet18-frozen-improved"]["test_accuracy"]
    values = [row["test_accuracy"] for row in rows]
    assert summary["n"] == 3
    assert summary["mean"] == pytest.approx(np.mean(values))
    assert summary["std"] == pytest.approx(np.std(values, ddof=1))
    frame = seed_frame(seed_summary(rows), rows)
    assert list(frame.index) == ["resnet18-frozen-improved"] and frame.loc["resnet18-frozen-improved", "seeds"] == 3
    assert frame.loc["resnet18-frozen-improved", "threshold fitted on"] == "val"
    # two worker processes reuse the same checkpoints and give the same rows
    parallel = seed_study(["resnet18-frozen-improved"], "tiny", pairs, seeds=[0, 1, 2], models_dir=tmp_path / "main",
                          seeds_dir=tmp_path / "seeds", base_seed=0, test_pairs=toy_pair_list, device="cpu",
                          n_boot=20, image_size=32, epochs=2, head_hidden=16, workers=2)
    assert all(row["reused"] for row in parallel)
    assert [r["test_accuracy"] for r in parallel] == [r["test_accuracy"] for r in rows]


def test_evaluating_in_worker_processes_gives_the_rows_of_one_after_another(tmp_path, toy_pair_list):
    from drugsim.studies.siamese import evaluate_many

    trained = [train_or_reuse_siamese("resnet18-frozen-improved", "tiny", toy_pair_list, toy_pair_list,
                                      models_dir=tmp_path, device="cpu", image_size=32, epochs=1, head_hidden=16,
                                      file_stem=f"m{seed}", seed=seed) for seed in (0, 1)]
    serial = evaluate_many(trained, toy_pair_list, toy_pair_list, toy_pair_list, device="cpu", n_boot=20)
    parallel = evaluate_many(trained, toy_pair_list, toy_pair_list, toy_pair_list, device="cpu", n_boot=20, workers=2)
    keys = ("model", "test_accuracy", "roc_auc", "threshold", "threshold_fitted_on", "test_accuracy_ci95")
    assert [{k: r[k] for k in keys} for r in parallel] == [{k: r[k] for k in keys} for r in serial]


def test_seed_study_needs_a_seed(tmp_path, toy_pair_list):
    with pytest.raises(ConfigError, match="seed_study needs at least one seed"):
        seed_study(["resnet18-improved"], "tiny", {"train": toy_pair_list, "val": toy_pair_list}, seeds=[],
                   models_dir=tmp_path, seeds_dir=tmp_path, test_pairs=toy_pair_list)


def test_plain_features_are_stored_once_and_reused_by_other_seeds_and_never_for_random_weights(tmp_path,
                                                                                               toy_pair_list):
    from drugsim.deep.transfer import FEATURE_CACHE

    config = frozen_config(backbone="efficientnet-lite0", weights="imagenet", epochs=2)
    first = train_siamese(config, toy_pair_list, toy_pair_list, out=tmp_path / "s0.pt", progress=False)
    stored = list((tmp_path / FEATURE_CACHE).glob("*.features"))
    assert len(stored) == 1 and not list((tmp_path / FEATURE_CACHE).glob("*.tmp"))
    before = stored[0].stat().st_mtime_ns
    second = train_siamese(frozen_config(backbone="efficientnet-lite0", weights="imagenet", epochs=2, seed=1),
                           toy_pair_list, toy_pair_list, out=tmp_path / "s1.pt", progress=False)
    assert stored[0].stat().st_mtime_ns == before  # read, not rewritten
    assert second.extra["feature_cache_seconds"] < first.extra["feature_cache_seconds"]
    # the same model trained from the stored features equals one trained from features computed afresh
    stored[0].write_bytes(b"damaged")  # a damaged file is recomputed, not trusted
    again = train_siamese(frozen_config(backbone="efficientnet-lite0", weights="imagenet", epochs=2, seed=1),
                          toy_pair_list, toy_pair_list, out=tmp_path / "s1b.pt", progress=False)
    assert [h["train_loss"] for h in again.history] == pytest.approx([h["train_loss"] for h in second.history])
    # random weights: BatchNorm statistics come from a seeded sample, so nothing is stored
    train_siamese(frozen_config(backbone="efficientnet-lite0", epochs=1), toy_pair_list, toy_pair_list,
                  out=tmp_path / "random" / "m.pt", progress=False)
    assert not (tmp_path / "random" / FEATURE_CACHE).exists()
