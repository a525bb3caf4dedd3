"""Checkpoint files of the deep models: written atomically, read safely, weights checked against the network.

Checkpoints are plain dicts of tensors, numbers, strings and lists (the config as a dict), loaded with
``torch.load(weights_only=True)``; :mod:`drugsim.deep.training` writes them (``OUT`` with the best
epoch's weights, ``OUT.last.pt`` with the resumable state).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from drugsim.errors import DrugsimError, OutputError
from drugsim.io import atomic_path

CHECKPOINT_FORMAT = "drugsim-checkpoint-v1"


class CheckpointError(DrugsimError):
    """A checkpoint file is missing, unreadable, or not a drugsim checkpoint of the expected kind."""


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (or ``model`` itself)."""
    return model.module if hasattr(model, "module") else model


def last_checkpoint_path(out: Path) -> Path:
    """Where the resumable training state of ``out`` lives (``model.pt`` -> ``model.last.pt``)."""
    out = Path(out)
    return out.with_name(f"{out.stem}.last{out.suffix or '.pt'}")


def save_checkpoint(path: Path, payload: dict[str, Any]) -> Path:
    """Write a checkpoint atomically (a crash never leaves half a file under the final name).

    Raises:
        OutputError: the disk is full or the folder refuses the write; one line naming ``path`` (torch's
            own error is a long C++ traceback).
    """
    with atomic_path(path, suffix=".pt") as tmp:
        try:
            torch.save({"format": CHECKPOINT_FORMAT, **payload}, tmp)
        except (OSError, RuntimeError) as exc:
            reason = getattr(exc, "strerror", None) or _first_line(exc)
            raise OutputError(f"{path}: the checkpoint could not be written ({reason})") from None
    return Path(path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if "No space left" in text or "file write failed" in text:
        return "no space left on the device"
    return text.splitlines()[0][:200] if text else type(exc).__name__


def load_checkpoint(path: Path | str, *, kind: str | None = None) -> dict[str, Any]:
    """Read a drugsim checkpoint safely (``weights_only=True``).

    Args:
        path: the file.
        kind: ``"siamese"`` or ``"classifier"`` to insist on one.

    Raises:
        CheckpointError: missing file, unreadable or corrupt file, or not a drugsim checkpoint of ``kind``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist (train one with `drugsim train ...`)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated zips, pickles and garbage raise many kinds
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"checkpoint {path} is corrupt or not a PyTorch checkpoint ({reason})") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a drugsim checkpoint (expected format {CHECKPOINT_FORMAT!r})")
    if kind is not None and payload.get("kind") != kind:
        raise CheckpointError(f"{path} holds a {payload.get('kind')!r} model, expected a {kind!r} model")
    config = payload.get("config")
    if isinstance(config, dict) and "threshold" in config:
        # A NaN threshold makes every comparison false ("DIFFERENT" for every pair): never used for a decision.
        threshold = config["threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
            raise CheckpointError(f"checkpoint {path}: its decision threshold is {threshold!r}, expected a finite "
                                  "number")
    return payload


def load_weights(model: nn.Module, state: Any, path: Path | str) -> None:
    """Load checkpoint weights into ``model``; a mismatch is one line, not kilobytes of key names.

    Raises:
        CheckpointError: ``state`` is not a state dict, or its keys or shapes do not fit ``model``.
    """
    if not isinstance(state, dict):
        raise CheckpointError(
            f"checkpoint {path}: weights are a {type(state).__name__}, expected a state dict"
        )
    expected = unwrap(model).state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    reshaped = [
        k for k in expected
        if k in state and getattr(state[k], "shape", None) != expected[k].shape
    ]
    if missing or unexpected or reshaped:
        raise CheckpointError(
            f"checkpoint {path} does not fit the network its settings describe: {len(missing)} missing, "
            f"{len(unexpected)} unexpected and {len(reshaped)} wrongly shaped weights "
            f"(first: {(missing or unexpected or reshaped)[0]!r}); was it saved by another drugsim version?"
        )
    unwrap(model).load_state_dict(state)
