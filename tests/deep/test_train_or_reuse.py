"""Train-or-reuse: a checkpoint that cannot be read is retrained, not an error."""

from __future__ import annotations

from drugsim.deep.checkpoints import load_checkpoint
from drugsim.deep.train_or_reuse import train_or_reuse_siamese


def test_an_unreadable_checkpoint_is_retrained(tmp_path, toy_pair_list):
    (tmp_path / "resnet18-frozen-improved.pt").write_bytes(b"not a checkpoint")
    trained = train_or_reuse_siamese("resnet18-frozen-improved", "tiny", toy_pair_list, toy_pair_list,
                                     models_dir=tmp_path, device="cpu", image_size=32, epochs=1, head_hidden=16)
    assert trained["reused"] is False
    assert load_checkpoint(trained["checkpoint"], kind="siamese")["fingerprint"]


def test_many_runs_in_worker_processes_give_what_one_after_another_gives(tmp_path, toy_pair_list):
    import pytest

    from drugsim.deep.train_or_reuse import train_or_reuse_many
    from drugsim.errors import ConfigError

    def requests(folder):
        common = {"profile": "tiny", "train_pairs": toy_pair_list, "val_pairs": toy_pair_list, "device": "cpu",
                  "image_size": 32, "epochs": 1, "head_hidden": 16, "models_dir": folder}
        return [{"name": "resnet18-frozen-improved", **common},
                {"name": "resnet18-frozen-improved", "file_stem": "seed1", "seed": 1, **common}]

    lines = []
    parallel = train_or_reuse_many(requests(tmp_path / "a"), workers=2, log=lines.append)
    serial = train_or_reuse_many(requests(tmp_path / "b"), workers=1)
    assert [r["checkpoint"].name for r in parallel] == ["resnet18-frozen-improved.pt", "seed1.pt"]  # request order
    for p, s in zip(parallel, serial):
        assert not p["reused"] and p["config"] == s["config"]
        assert [h["train_loss"] for h in p["history"]] == pytest.approx([h["train_loss"] for h in s["history"]],
                                                                         rel=1e-4)
    assert len(lines) == 2 and all("trained in" in line for line in lines)
    again = train_or_reuse_many(requests(tmp_path / "a"), workers=2, log=lines.append)
    assert all(r["reused"] for r in again) and "reused" in lines[-1]
    with pytest.raises(ConfigError, match="workers: expected 1 or more"):
        train_or_reuse_many(requests(tmp_path / "c"), workers=0)
