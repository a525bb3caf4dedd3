"""Transfer learning on cached features: a frozen backbone, or one fine-tuned from a given block on (beyond
the paper).

Training a pretrained network end to end at the paper's settings needs a GPU; on two CPU cores most of the
cost is the early layers, which change least when a network is fine-tuned. So the network is split in two:

* a **frozen prefix** that runs once per image and view (the plain image, plus ``frozen_views - 1`` copies
  with the paper's augmentation, training images only), its outputs cached as float16;
* a **trainable suffix** that every training step runs on two cached views drawn at random.

``freeze_backbone``: the prefix is the whole backbone, the suffix nothing; only the improved head trains
(Adam with the profile's StepLR). ``partial_fine_tune``: EfficientNet-Lite's stem and MBConv blocks
``0 .. fine_tune_from - 1`` are the prefix; blocks ``fine_tune_from ..``, the head convolution and the
improved head train, with AdamW and a one-cycle schedule (head ``lr``, backbone ``backbone_lr``).

Either way the checkpoint holds the whole :class:`~drugsim.deep.siamese.SiameseNetwork`, so it loads and
evaluates like any other (``drugsim evaluate --method siamese-improved --model M.pt``).

Example:
    >>> from drugsim.deep.config import siamese_config
    >>> cfg = siamese_config("quick", backbone="efficientnet-lite0", weights="imagenet", partial_fine_tune=True)
    >>> cfg.fine_tune_from, cfg.frozen_views
    (11, 3)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from drugsim.data.records import Pair
from drugsim.deep.config import SiameseConfig
from drugsim.data.protocol import sample_items
from drugsim.deep.datasets import ImageCache, training_augmentation
from drugsim.deep.losses import pair_bce_loss
from drugsim.deep.siamese import SiameseNetwork
from drugsim.deep.training import (
    TrainResult,
    build_siamese,
    fit,
    pair_scores,
    recalibrate_batchnorm,
    resolve_device,
    validation_metrics,
    variant_direction,
)
from drugsim.errors import ConfigError

Transform = Callable[[torch.Tensor], torch.Tensor]


# ------------------------------------------------------------------------------------ network split


def lite_network(model: SiameseNetwork) -> nn.Module:
    """The EfficientNet-Lite model inside a Siamese network's backbone (ConfigError for other backbones)."""
    net = getattr(model.backbone.trunk, "net", None)
    if net is None or not hasattr(net, "_blocks"):
        raise ConfigError(f"partial fine-tuning splits EfficientNet-Lite's blocks; backbone "
                          f"{model.backbone.name!r} has none. Use --backbone efficientnet-lite0")
    return net


@dataclass
class FeatureSplit:
    """Where the frozen prefix ends: ``start_block`` None = the whole backbone is frozen (head-only)."""

    start_block: Optional[int] = None

    def prefix(self, model: SiameseNetwork, images: torch.Tensor) -> torch.Tensor:
        """Float images (B, 3, H, W) in [0, 1] -> the cached representation (model in eval mode)."""
        if self.start_block is None:
            return model.embed(images)
        net = lite_network(model)
        x = net._swish(net._bn0(net._conv_stem(model.backbone.normalize(images))))
        for block_index in range(self.start_block):
            x = net._blocks[block_index](x, drop_connect_rate=_drop_rate(net, block_index))
        return x

    def suffix(self, model: SiameseNetwork, features: torch.Tensor) -> torch.Tensor:
        """Cached representation -> embedding (B, D), through the trainable layers."""
        if self.start_block is None:
            return features
        net = lite_network(model)
        x = features
        for block_index in range(self.start_block, len(net._blocks)):
            x = net._blocks[block_index](x, drop_connect_rate=_drop_rate(net, block_index))
        x = net._swish(net._bn1(net._conv_head(x)))
        return torch.flatten(model.backbone.pool(x), 1)

    def trainable(self, model: SiameseNetwork) -> Dict[str, List[nn.Parameter]]:
        """Parameters that train, as ``{"head": [...], "backbone": [...]}``."""
        head = list(model.pair_head.parameters())
        if self.start_block is None:
            return {"head": head, "backbone": []}
        net = lite_network(model)
        backbone = [p for block in net._blocks[self.start_block:] for p in block.parameters()]
        backbone += list(net._conv_head.parameters()) + list(net._bn1.parameters())
        return {"head": head, "backbone": backbone}


def _drop_rate(net: nn.Module, block_index: int) -> Optional[float]:
    """The drop-connect rate EfficientNet's own ``extract_features`` gives block ``block_index``."""
    rate = net._global_params.drop_connect_rate
    return rate * float(block_index) / len(net._blocks) if rate else rate


def freeze_all_but(model: SiameseNetwork, split: FeatureSplit) -> None:
    """requires_grad only for the parameters ``split`` trains."""
    trainable = {id(p) for group in split.trainable(model).values() for p in group}
    for parameter in model.parameters():
        parameter.requires_grad_(id(parameter) in trainable)


def config_split(config: SiameseConfig) -> FeatureSplit:
    """The split a config asks for (``freeze_backbone`` or ``partial_fine_tune``)."""
    return FeatureSplit(int(config.fine_tune_from) if config.partial_fine_tune else None)


# ------------------------------------------------------------------------------------ feature cache


@torch.no_grad()
def cached_features(model: SiameseNetwork, split: FeatureSplit, images: torch.Tensor, *, device: torch.device,
                    transform: Optional[Transform] = None, batch_size: int = 64) -> torch.Tensor:
    """The prefix's output for uint8 images (N, 3, H, W), each optionally transformed first (eval mode).

    Returns:
        (N, ...) tensor on ``device``: float16 feature maps for a trainable suffix (half the memory; the
        suffix computes in float32), float32 embeddings for a frozen backbone.
    """
    dtype = torch.float32 if split.start_block is None else torch.float16
    model.eval()
    rows = []
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size].float().div_(255.0)
        if transform is not None:
            chunk = torch.stack([transform(image) for image in chunk])
        chunk = chunk.to(device).contiguous(memory_format=torch.channels_last)
        rows.append(split.prefix(model, chunk).to(dtype))
    if not rows:
        raise ConfigError("no images to cache features of")
    return torch.cat(rows)


#: Folder, beside the checkpoints, of plain prefix features that later runs may reuse.
FEATURE_CACHE = ".feature-cache"


def plain_feature_key(config: SiameseConfig, split: "FeatureSplit", paths: Sequence[Path]) -> Optional[str]:
    """What the un-augmented prefix features of ``paths`` depend on, hashed: backbone, weights (a weights file
    by its size and time), input size, split, torch version and each image file by path, size and time.
    None where they also depend on the seed (random weights: BatchNorm statistics from a seeded sample)."""
    if config.weights == "random":
        return None
    weights = str(config.weights)
    if Path(weights).is_file():
        stat = Path(weights).stat()
        weights = f"{Path(weights).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    files = [(str(Path(p).resolve()), Path(p).stat().st_size, Path(p).stat().st_mtime_ns) for p in paths]
    identity = [config.backbone, weights, int(config.image_size), split.start_block, torch.__version__, files]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:24]


def plain_features(model: SiameseNetwork, split: "FeatureSplit", cache: ImageCache, config: SiameseConfig, *,
                   device: torch.device, folder: Path) -> torch.Tensor:
    """:func:`cached_features` of every image of ``cache``, un-augmented, through ``folder``: the seeds of a
    frozen-backbone study (or a rerun) compute the same features, so the first run stores them (a tensor file,
    read back with ``weights_only``) and the others read them. Nothing is stored for random weights."""
    key = plain_feature_key(config, split, list(cache.index))
    path = folder / f"{key}.features" if key else None
    if path is not None and path.is_file():
        try:
            stored = torch.load(path, map_location=device, weights_only=True)
            if isinstance(stored, torch.Tensor) and len(stored) == len(cache):
                return stored
        except Exception:  # noqa: BLE001 - a damaged cache file is recomputed, never trusted
            pass
    features = cached_features(model, split, cache.pixels, device=device)
    if path is not None:
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        torch.save(features.cpu(), partial)
        os.replace(partial, path)  # whole or absent: a concurrent reader never sees half a file
    return features


@torch.no_grad()
def embed_cached(model: SiameseNetwork, split: FeatureSplit, features: torch.Tensor, *,
                 batch_size: int = 256) -> torch.Tensor:
    """Embeddings (N, D) of cached features through the suffix, model in eval mode."""
    model.eval()
    rows = [split.suffix(model, _as_input(features[i:i + batch_size])).float()
            for i in range(0, len(features), batch_size)]
    return torch.cat(rows)


def _as_input(features: torch.Tensor) -> torch.Tensor:
    features = features.float()
    return features.contiguous(memory_format=torch.channels_last) if features.ndim == 4 else features


# ------------------------------------------------------------------------------------------ training


def epochs_for(config: SiameseConfig, n_train_pairs: int) -> int:
    """``config.epochs``, or more when that gives fewer than ``config.min_steps`` optimisation steps."""
    steps_per_epoch = max(1, math.ceil(n_train_pairs / config.batch_size))
    return max(int(config.epochs), math.ceil(int(config.min_steps) / steps_per_epoch))


def _partial_optimizer(config: SiameseConfig, split: FeatureSplit):
    """AdamW over the head (``lr``) and the unfrozen blocks (``backbone_lr``), one-cycle per batch."""

    def make(model: nn.Module, steps_per_epoch: int):
        groups = split.trainable(model)
        param_groups = [{"params": groups["head"], "lr": config.lr}]
        if groups["backbone"]:
            param_groups.append({"params": groups["backbone"], "lr": config.backbone_lr})
        optimizer = torch.optim.AdamW(param_groups, weight_decay=1e-4)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[group["lr"] for group in param_groups],
            total_steps=max(1, steps_per_epoch * int(config.epochs)), pct_start=0.2)
        return optimizer, scheduler, True

    return make


def train_on_cached_features(config: SiameseConfig, train_pairs: List[Pair], val_pairs: List[Pair],
                             eval_pairs: List[Pair], *, out: Path, resume: bool, progress: bool,
                             extra: Optional[Dict[str, Any]], clock: Tuple[float, float]) -> TrainResult:
    """Train the improved network's head (and, with ``partial_fine_tune``, the last blocks) on cached features.

    Every distinct image goes through the frozen prefix once (training images once per view, see
    ``frozen_views``); an epoch then costs the trainable layers only. Called by
    :func:`drugsim.deep.training.train_siamese` when ``freeze_backbone`` or ``partial_fine_tune`` is set.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("training on cached features runs in one process; start it without torchrun")
    device = resolve_device(config.device)
    split = config_split(config)
    paths = [p for pair in list(train_pairs) + list(val_pairs) + list(eval_pairs) for p in (pair.path_a, pair.path_b)]
    cache = ImageCache(paths, config.image_size, progress=progress)
    torch.manual_seed(config.seed)
    model = build_siamese(config).to(device)
    freeze_all_but(model, split)
    # channels_last: 2-3x faster CPU inference for EfficientNet's depthwise convolutions (measured).
    model.backbone.to(memory_format=torch.channels_last)
    train_paths = list(dict.fromkeys(Path(p) for pair in train_pairs for p in (pair.path_a, pair.path_b)))
    if config.weights == "random":
        # A randomly initialised network in eval mode has identity BatchNorm statistics, and in a deep one
        # (EfficientNet-Lite0) the activations then fade to ~1e-9: every image gets the same features.
        # Statistics from the training images keep random features informative (what "random features"
        # should mean); pretrained statistics are left as they are.
        sample = sample_items(train_paths, 512, seed=config.seed + 3)
        batches = [cache.pixels[[cache.index[p] for p in sample[i:i + 64]]].float().div_(255.0)
                   .contiguous(memory_format=torch.channels_last) for i in range(0, len(sample), 64)]
        recalibrate_batchnorm(model, model.embed, batches)
    cache_started = time.perf_counter()
    # every image, un-augmented; reused from disk when another run computed the same (e.g. the other seeds)
    plain = plain_features(model, split, cache, config, device=device, folder=Path(out).parent / FEATURE_CACHE)
    train_rows = {path: i for i, path in enumerate(train_paths)}
    train_cache_rows = [cache.index[p] for p in train_paths]
    augmentation = training_augmentation(config.image_size) if config.augment else None
    n_views = config.frozen_views if augmentation is not None else 1
    torch.manual_seed(config.seed + 11)  # the augmented views are part of the seeded run
    views = [plain[train_cache_rows]]
    for _ in range(n_views - 1):
        views.append(cached_features(model, split, cache.pixels[train_cache_rows], device=device,
                                     transform=augmentation))
    table = torch.stack(views)  # (views, training images, ...)
    del views
    cache_seconds = time.perf_counter() - cache_started

    def index(pairs: Sequence[Pair], rows: Dict[Path, int]) -> Tuple[torch.Tensor, torch.Tensor]:
        return (torch.tensor([rows[Path(p.path_a)] for p in pairs], device=device),
                torch.tensor([rows[Path(p.path_b)] for p in pairs], device=device))

    train_a, train_b = index(train_pairs, train_rows)
    labels = torch.tensor([float(p.label) for p in train_pairs])
    dataset = torch.utils.data.TensorDataset(train_a.cpu(), train_b.cpu(), labels)

    def step(net: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        rows_a, rows_b, target = batch
        network = net.module if hasattr(net, "module") else net
        view_a = torch.randint(n_views, (len(rows_a),), device=rows_a.device)
        view_b = torch.randint(n_views, (len(rows_b),), device=rows_b.device)
        # One pass over both sides: BatchNorm of the trainable blocks sees one batch, as in SiameseNetwork.
        both = _as_input(torch.cat([table[view_a, rows_a], table[view_b, rows_b]]))
        embeddings = split.suffix(network, both)
        logits = network.head(embeddings[:len(rows_a)], embeddings[len(rows_a):])
        return pair_bce_loss(logits.float(), target)

    def scores(net: nn.Module, pairs: Sequence[Pair]) -> np.ndarray:
        rows = list(dict.fromkeys(cache.index[Path(p)] for pair in pairs for p in (pair.path_a, pair.path_b)))
        position = {row: i for i, row in enumerate(rows)}
        embeddings = embed_cached(net, split, plain[rows])
        a = torch.tensor([position[cache.index[Path(p.path_a)]] for p in pairs], device=embeddings.device)
        b = torch.tensor([position[cache.index[Path(p.path_b)]] for p in pairs], device=embeddings.device)
        with torch.no_grad():
            return net.similarity(net.head(embeddings[a], embeddings[b])).double().cpu().numpy()

    val_labels = [p.label for p in val_pairs]

    direction = variant_direction(config.variant)

    def validate(net: nn.Module) -> Tuple[float, float]:
        return validation_metrics(scores(net, val_pairs), val_labels, config.threshold, direction=direction)

    def final_scores(net: nn.Module) -> Dict[str, Any]:
        started = time.perf_counter()
        train = pair_scores(net, cache, eval_pairs)  # timed through the whole network, like every other model
        rate = len(eval_pairs) / max(time.perf_counter() - started, 1e-9)
        val_accuracy, val_auc = validation_metrics(scores(net, val_pairs), val_labels, config.threshold,
                                                   direction=direction)
        return {
            "train_accuracy": validation_metrics(train, [p.label for p in eval_pairs], config.threshold,
                                                 direction=direction)[0],
            "val_accuracy": val_accuracy,
            "val_auc": val_auc,
            "cached_pairs_per_second": rate,
            "n_train_items": len(train_pairs), "n_val_pairs": len(val_pairs), "frozen_views": n_views,
            "feature_cache_seconds": cache_seconds, "n_cached_views": int(len(plain) + (n_views - 1) * len(train_paths)),
            "n_trainable_parameters": int(sum(p.numel() for g in split.trainable(net).values() for p in g)),
        }

    make_optimizer = None
    if config.partial_fine_tune:
        config = dataclasses.replace(config, epochs=epochs_for(config, len(dataset)))
        make_optimizer = _partial_optimizer(config, split)
    return fit(model, kind="siamese", config=config, train_dataset=dataset, step=step, validate=validate,
               final_scores=final_scores, out=out, resume=resume, progress=progress, extra=extra, clock=clock,
               make_optimizer=make_optimizer)
