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
