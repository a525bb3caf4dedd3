"""The training loop: it learns (overfits a handful of pairs), resumes exactly, keeps the best epoch,
refuses corrupt checkpoints with a clear message, and trains the same model on two DDP processes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from drugsim.deep.checkpoints import CheckpointError, last_checkpoint_path, load_checkpoint
from drugsim.deep.config import siamese_config
from drugsim.deep.datasets import ImageCache
from drugsim.deep.training import load_siamese, pair_scores, train_siamese
from drugsim.errors import ConfigError, DatasetError, DrugsimError


def small_config(**overrides):
    values = dict(image_size=32, batch_size=16, epochs=2, n_train_pairs=None, n_val_pairs=None, augment=True,
                  device="cpu", head_hidden=16, train_eval_pairs=24)
    values.update(overrides)
    return siamese_config("tiny", **values)


@pytest.mark.parametrize("variant", ["improved", pytest.param("classic", marks=pytest.mark.slow)])
def test_a_tiny_model_overfits_a_handful_of_pairs(tmp_path, toy_pair_list, variant):
    pairs = toy_pair_list[:12]
    config = small_config(variant=variant, epochs=15, batch_size=12, augment=False, lr=1e-3,
                          contrastive_form="hadsell", bn_recalibration_images=24)
    result = train_siamese(config, pairs, pairs, out=tmp_path / "m.pt", progress=False)
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.4 * losses[0]
    model, _ = load_siamese(tmp_path / "m.pt")
    cache = ImageCache([p for pair in pairs for p in (pair.path_a, pair.path_b)], 32)
    scores = model_scores = pair_scores(model, cache, pairs)
    oriented = scores if variant == "improved" else -model_scores
    positives = oriented[[p.label == 1 for p in pairs]]
    negatives = oriented[[p.label == 0 for p in pairs]]
    assert positives.min() > negatives.max()  # every training pair separated


def test_resume_after_interruption_equals_an_uninterrupted_run(tmp_path, toy_pair_list):
    # lr_step_epochs=1: the resumed epoch must also pick up the scheduler's state.
    full = train_siamese(small_config(epochs=2, lr_step_epochs=1), toy_pair_list, toy_pair_list,
                         out=tmp_path / "full.pt", progress=False)
    # "Interrupted" after epoch 1, then resumed with the full epoch count.
    train_siamese(small_config(epochs=1, lr_step_epochs=1), toy_pair_list, toy_pair_list, out=tmp_path / "part.pt",
                  progress=False)
    assert last_checkpoint_path(tmp_path / "part.pt").is_file()
    resumed = train_siamese(small_config(epochs=2, lr_step_epochs=1), toy_pair_list, toy_pair_list,
                            out=tmp_path / "part.pt", resume=True, progress=False)
    assert [row["lr"] for row in resumed.history] == [row["lr"] for row in full.history]
    assert [row["train_loss"] for row in resumed.history] == [row["train_loss"] for row in full.history]
    state_full = load_checkpoint(last_checkpoint_path(tmp_path / "full.pt"))["model"]
    state_resumed = load_checkpoint(last_checkpoint_path(tmp_path / "part.pt"))["model"]
    for key in state_full:
        torch.testing.assert_close(state_resumed[key], state_full[key], rtol=0, atol=0)


def test_checkpoint_records_config_weights_and_history(tmp_path, toy_pair_list, capsys):
    out = tmp_path / "m.pt"
    result = train_siamese(small_config(epochs=2), toy_pair_list, toy_pair_list, out=out, progress=False)
    # Without bars, one line per epoch (what the runner's heartbeat shows while a notebook trains).
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("siamese epoch")]
    assert [line.split(":")[0] for line in lines] == ["siamese epoch 1/2", "siamese epoch 2/2"]
    payload = load_checkpoint(out, kind="siamese")
    assert payload["weights"] == "random" and payload["config"]["variant"] == "improved"
    assert [row["epoch"] for row in payload["history"]] == [1, 2]
    assert payload["best_epoch"] == result.best_epoch
    best = max(row["val_accuracy"] for row in result.history)
    assert payload["best_val_accuracy"] == best
    model, _ = load_siamese(out)
    assert not model.training


def test_resume_with_different_settings_is_refused(tmp_path, toy_pair_list):
    train_siamese(small_config(epochs=1), toy_pair_list, toy_pair_list, out=tmp_path / "m.pt", progress=False)
    with pytest.raises(ConfigError, match="cannot resume from .*differ in lr"):
        train_siamese(small_config(epochs=2, lr=0.1), toy_pair_list, toy_pair_list, out=tmp_path / "m.pt",
                      resume=True, progress=False)


def test_corrupt_or_missing_checkpoints_give_clear_errors(tmp_path, toy_pair_list):
    with pytest.raises(CheckpointError, match="checkpoint .*missing.pt does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    out = tmp_path / "m.pt"
    train_siamese(small_config(epochs=1), toy_pair_list, toy_pair_list, out=out, progress=False)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(out.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated.pt is corrupt or not a PyTorch checkpoint"):
        load_checkpoint(truncated)
    garbage = tmp_path / "garbage.pt"
    garbage.write_text("hello")
    with pytest.raises(DrugsimError, match="garbage.pt is corrupt"):
        load_siamese(garbage)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="foreign.pt is not a drugsim checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="holds a 'siamese' model, expected a 'classifier' model"):
        load_checkpoint(out, kind="classifier")
    # Weights that do not fit the network the checkpoint's settings describe: one short line.
    payload = torch.load(out, weights_only=True)
    payload["model"] = {k: v for k, v in payload["model"].items() if "head" not in k}
    payload["model"]["stray.weight"] = torch.zeros(1)
    torch.save(payload, tmp_path / "misfit.pt")
    with pytest.raises(CheckpointError, match="misfit.pt does not fit the network") as caught:
        load_siamese(tmp_path / "misfit.pt")
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 300
    # A corrupt resume file is refused too, not silently ignored.
    last_checkpoint_path(out).write_bytes(b"\x00" * 10)
    with pytest.raises(CheckpointError, match="m.last.pt is corrupt"):
        train_siamese(small_config(epochs=2), toy_pair_list, toy_pair_list, out=out, resume=True, progress=False)


def test_empty_pair_lists_are_refused(tmp_path, toy_pair_list):
    with pytest.raises(DatasetError, match="no training pairs"):
        train_siamese(small_config(), [], toy_pair_list, out=tmp_path / "m.pt", progress=False)
    with pytest.raises(DatasetError, match="no validation pairs"):
        train_siamese(small_config(), toy_pair_list, [], out=tmp_path / "m.pt", progress=False)


def test_triplet_variant_trains(tmp_path, toy_pair_list):
    result = train_siamese(small_config(variant="triplet", epochs=1), toy_pair_list, toy_pair_list,
                           out=tmp_path / "t.pt", progress=False)
    assert result.extra["n_train_items"] == sum(p.label for p in toy_pair_list)
    assert 0.0 <= result.best_val_accuracy <= 1.0


def _ddp_worker_weights(rank, pairs, out_dir):

    from drugsim.deep import training

    captured = {}
    original = training.fit

    def capture_fit(model, **kwargs):
        result = original(model, **kwargs)
        captured["state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return result

    training.fit = capture_fit
    try:
        train_siamese(small_config(epochs=2, batch_size=8), pairs, pairs, out=Path(out_dir) / "ddp.pt",
                      progress=False)
    finally:
        training.fit = original
    torch.save(captured["state"], Path(out_dir) / f"rank{rank}.pt")


@pytest.mark.slow
def test_two_process_ddp_ends_with_identical_weights(tmp_path, toy_pair_list):
    from drugsim.deep.distributed import spawn

    spawn(_ddp_worker_weights, 2, toy_pair_list, str(tmp_path))
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        torch.testing.assert_close(rank1[key], rank0[key], rtol=0, atol=0)
    payload = load_checkpoint(tmp_path / "ddp.pt")
    assert payload["world_size"] == 2 and len(payload["history"]) == 2
    for key, value in payload["model"].items():  # rank 0's checkpoint is the model both ranks hold
        torch.testing.assert_close(value, rank0[key], rtol=0, atol=0)


def test_batchnorm_is_recalibrated_on_training_images_only(tmp_path, toy_pair_list, monkeypatch):
    # The validation images choose the epoch: statistics re-estimated on them would leak into that choice.
    import drugsim.deep.training as training

    train_pairs, val_pairs = toy_pair_list[:8], toy_pair_list[8:16]
    val_only = ({p for pair in val_pairs for p in (pair.path_a, pair.path_b)}
                - {p for pair in train_pairs for p in (pair.path_a, pair.path_b)})
    assert val_only
    drawn = []
    original = training.subsample

    def spy(items, n, *, seed):
        if n == 24:  # the recalibration sample (bn_recalibration_images below)
            drawn.append(list(items))
        return original(items, n, seed=seed)

    monkeypatch.setattr(training, "subsample", spy)
    train_siamese(small_config(epochs=1, bn_recalibration_images=24, train_eval_pairs=4), train_pairs, val_pairs,
                  out=tmp_path / "m.pt", progress=False)
    assert drawn and not set(drawn[0]) & val_only
