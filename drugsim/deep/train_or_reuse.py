"""Train a deep model once and reuse it: checkpoints keyed by a fingerprint of their settings and pairs.

Models are trained into a folder (the chapters use ``<work_dir>/models/siamese`` and
``<work_dir>/models/classifier``) and reused when a checkpoint there was trained with the same settings on
the same pairs (a fingerprint of both is stored in the checkpoint); anything else retrains. Model names
``<backbone>[-imagenet][-frozen|-partial]-<variant>`` say what to train (:func:`parse_model_name`).

Example:
    >>> split_model_name("resnet18-improved")
    ('resnet18', 'improved')
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from drugsim.data.records import ImageRecord, Pair
from drugsim.errors import ConfigError, DrugsimError


def _fingerprint(config: dict[str, Any], items: Sequence[Any]) -> str:
    # Where a model trained (device, loader workers) does not change what it is.
    from drugsim.deep.training import TRAINING_REVISION

    config = {k: v for k, v in config.items() if k not in ("device", "num_workers", "amp")}
    config["training_revision"] = TRAINING_REVISION
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    for item in items:
        digest.update(repr(item).encode())
    return digest.hexdigest()[:20]


def _train_unless_reusable(out: Path, kind: str, fingerprint: str, train: Callable[[], Any]
                           ) -> tuple[bool, dict[str, Any]]:
    """Reuse ``out`` when it is a ``kind`` checkpoint trained with these settings on these pairs
    (``fingerprint``), else call ``train`` to write it; an unreadable old file is simply retrained.

    Returns:
        (whether the checkpoint was reused, its payload).
    """
    from drugsim.deep.checkpoints import load_checkpoint

    reused = False
    if out.is_file():
        try:
            reused = load_checkpoint(out, kind=kind).get("fingerprint") == fingerprint
        except DrugsimError:
            reused = False
    if not reused:
        train()
    return reused, load_checkpoint(out, kind=kind)


def _pair_key(pair: Pair) -> tuple[str, str, int]:
    return (str(pair.path_a), str(pair.path_b), int(pair.label))


#: Tags a model name may carry between its backbone and its variant, and the settings they stand for.
NAME_TAGS = {"imagenet": {"weights": "imagenet"}, "frozen": {"freeze_backbone": True},
             "partial": {"partial_fine_tune": True}}


def parse_model_name(name: str) -> tuple[str, str, dict[str, Any]]:
    """``<backbone>[-imagenet][-frozen|-partial]-<variant>`` -> backbone, variant and the settings the tags fix.

    ``imagenet``: start from ImageNet weights; ``frozen``: train only the improved head on a fixed backbone;
    ``partial``: fine-tune EfficientNet-Lite0's last blocks on cached features (:mod:`drugsim.deep.transfer`).

    Example:
        >>> parse_model_name("efficientnet-lite0-imagenet-frozen-improved")
        ('efficientnet-lite0', 'improved', {'weights': 'imagenet', 'freeze_backbone': True})
    """
    rest, _, variant = name.rpartition("-")
    if not rest or variant not in ("improved", "classic", "triplet"):
        raise ConfigError(f"model name {name!r} should be <backbone>[-imagenet][-frozen|-partial]-"
                          f"<improved|classic|triplet>, "
                          f"e.g. resnet18-improved or efficientnet-lite0-imagenet-frozen-improved")
    found = []
    for tag in reversed(list(NAME_TAGS)):  # tags appear in NAME_TAGS order; peel them off the end
        if rest.endswith(f"-{tag}"):
            rest = rest[: -len(tag) - 1]
            found.append(tag)
    return rest, variant, {key: value for tag in NAME_TAGS if tag in found for key, value in NAME_TAGS[tag].items()}


def split_model_name(name: str) -> tuple[str, str]:
    """``"resnet18-improved"`` -> ``("resnet18", "improved")``; backbone names may hold dashes."""
    backbone, variant, _ = parse_model_name(name)
    return backbone, variant


def train_or_reuse_siamese(name: str, profile: str, train_pairs: Sequence[Pair], val_pairs: Sequence[Pair], *,
                           models_dir: str | Path, progress: bool = False, file_stem: str | None = None,
                           **overrides: Any) -> dict[str, Any]:
    """Train ``<backbone>-<variant>`` with the ``profile`` settings, or reuse the checkpoint of the same run.

    Tags in the name (:func:`parse_model_name`) override ``overrides``: ``efficientnet-lite0-imagenet-frozen-
    improved`` starts from ImageNet weights and trains only its head, whatever ``weights`` the notebook passes.
    ``file_stem`` names the checkpoint (default: ``name``), for several settings of one model.

    Returns:
        ``{"name", "checkpoint", "reused", "train_seconds", "history", "results", "config", "weights"}``.
    """
    from drugsim.deep.config import siamese_config
    from drugsim.deep.training import train_siamese

    backbone, variant, fixed = parse_model_name(name)
    config = siamese_config(profile, **{**overrides, "variant": variant, "backbone": backbone, **fixed})
    fingerprint = _fingerprint(config.to_dict(), [_pair_key(p) for p in list(train_pairs) + list(val_pairs)])
    out = Path(models_dir) / f"{file_stem or name}.pt"
    def train() -> Any:
        print(f"training {file_stem or name}: {config.epochs} epochs at {config.image_size} px", flush=True)
        return train_siamese(config, train_pairs, val_pairs, out=out, progress=progress,
                             extra={"fingerprint": fingerprint})

    reused, payload = _train_unless_reusable(out, "siamese", fingerprint, train)
    return {"name": name, "checkpoint": out, "reused": reused, "train_seconds": float(payload["train_seconds"]),
            "train_cpu_seconds": payload.get("train_cpu_seconds"), "history": payload["history"],
            "results": payload.get("results", {}), "config": payload["config"], "weights": payload.get("weights")}


def train_or_reuse_classifier(profile: str, train_records: Sequence[ImageRecord], val_records: Sequence[ImageRecord],
                              *, models_dir: str | Path, progress: bool = False, name: str = "classifier",
                              **overrides: Any) -> dict[str, Any]:
    """Train the feature-face classifier with the ``profile`` settings, or reuse the same run's checkpoint."""
    from drugsim.deep.classifier import train_classifier
    from drugsim.deep.config import classifier_config

    config = classifier_config(profile, **overrides)
    fingerprint = _fingerprint(config.to_dict(), [(str(r.path), r.feature_rich) for r in
                                                  list(train_records) + list(val_records)])
    out = Path(models_dir) / f"{name}.pt"
    reused, payload = _train_unless_reusable(out, "classifier", fingerprint, lambda: train_classifier(
        config, train_records, val_records, out=out, progress=progress, extra={"fingerprint": fingerprint}))
    return {"name": name, "checkpoint": out, "reused": reused, "train_seconds": float(payload["train_seconds"]),
            "history": payload["history"], "results": payload.get("results", {}), "config": payload["config"]}


def _longest_first(request: Mapping[str, Any]) -> bool:
    # Partial fine-tuning takes several times longer than any other CPU run here; started first, it leaves
    # the other workers the short runs, so none waits idle at the end.
    return bool(parse_model_name(request["name"])[2].get("partial_fine_tune"))


def train_or_reuse_many(requests: Sequence[Mapping[str, Any]], *, workers: int = 1,
                        log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """:func:`train_or_reuse_siamese` for each request (its keyword arguments), up to ``workers`` at once in
    worker processes (:func:`drugsim.parallel.run_in_processes`), partial fine-tuning first. Results come back
    in the order of ``requests``; ``log`` gets a line as each run finishes. On a GPU keep ``workers`` at 1.
    """
    from drugsim.parallel import run_in_processes

    def report(index: int, count: int, result: dict[str, Any], seconds: float) -> None:
        label = requests[index].get("file_stem") or requests[index]["name"]
        how = "reused" if result["reused"] else f"trained in {result['train_seconds']:.0f} s"
        log(f"[{count}/{len(requests)}] {label}: {how} ({seconds:.0f} s since the start)")

    return run_in_processes(train_or_reuse_siamese, requests, workers=workers, first=_longest_first,
                            on_done=report)
