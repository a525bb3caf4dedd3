"""Training loops for the Siamese networks and the feature-face classifier (paper section 4.2).

One loop serves every model: Adam, StepLR, optional mixed precision on CUDA, a tqdm bar with the running
loss, validation accuracy after every epoch, the best checkpoint kept, and resumption after an
interruption. Under ``torchrun --nproc_per_node=N`` the same code runs with DistributedDataParallel and a
DistributedSampler (gloo on CPU, NCCL on CUDA); rank 0 writes the checkpoints.

Reproducibility: each epoch reseeds torch from ``(seed, epoch)``, so the shuffling, augmentation and
dropout of epoch ``e`` do not depend on what ran before; a run resumed at an epoch boundary replays
exactly what the uninterrupted run would have done (tested).

Checkpoints are plain dicts of tensors, numbers, strings and lists (the config as a dict), loaded with
``torch.load(weights_only=True)``:

* ``OUT`` (e.g. ``model.pt``): the weights of the best validation epoch, the config, the history and the
  final results; what :class:`drugsim.deep.method.SiameseMethod` loads.
* ``OUT.last.pt``: the full training state after the latest epoch (optimizer, scheduler, scaler), used by
  ``resume=True``.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler

from drugsim.data.protocol import sample_items as subsample
from drugsim.data.records import Pair
from drugsim.deep.backbones import build_backbone
from drugsim.deep.checkpoints import (
    last_checkpoint_path,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    unwrap,
)
from drugsim.deep.config import SiameseConfig
from drugsim.deep.datasets import (
    ImageCache,
    make_triplets,
)
from drugsim.deep.device_input import CachedBatches, cached_step, row_dataset, to_unit_float
from drugsim.deep.losses import contrastive_loss, pair_bce_loss, triplet_loss
from drugsim.deep.siamese import SiameseNetwork
from drugsim.errors import ConfigError, DatasetError, DrugsimError

#: Bumped whenever a change here alters what a given config trains to; part of the fingerprint that lets
#: chapters reuse a checkpoint, so older models are retrained instead of silently reused.
TRAINING_REVISION = 3


#: ``make_optimizer(model, steps_per_epoch) -> (optimizer, scheduler, scheduler steps per batch?)``.
OptimizerFactory = Callable[[nn.Module, int], Tuple[torch.optim.Optimizer, Any, bool]]


@dataclass
class TrainResult:
    """What a training run produced.

    Attributes:
        checkpoint: the best-validation checkpoint file.
        history: one dict per epoch: epoch, train_loss, val_accuracy, val_auc, lr, seconds.
        best_epoch, best_val_accuracy: the epoch kept in ``checkpoint`` and its validation accuracy.
        train_accuracy: accuracy of the kept model on un-augmented training pairs/images.
        seconds: wall time of the whole run (this process).
        weights: the initial weights used (``random``, ``imagenet`` or a path).
        device: where it ran.
    """

    checkpoint: Path
    history: List[Dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_accuracy: float = float("nan")
    train_accuracy: float = float("nan")
    seconds: float = 0.0
    weights: str = "random"
    device: str = "cpu"
    extra: Dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- devices


def resolve_device(spec: str = "auto", *, local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA when available (the process's local rank under torchrun), else CPU."""
    if spec == "cpu" or (spec == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was requested but CUDA is not available; use --device cpu or auto")
    return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))


@dataclass
class _Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    started_here: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _setup_distributed(device_spec: str) -> _Dist:
    """Join the process group torchrun (or a test's spawn) described in the environment, if any."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return _Dist()
    import torch.distributed as dist

    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    started = False
    if not dist.is_initialized():
        use_cuda = device_spec != "cpu" and torch.cuda.is_available()
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", rank=rank, world_size=world_size)
        started = True
    return _Dist(rank=rank, world_size=world_size, local_rank=local_rank, started_here=started)


def _barrier(dist_info: _Dist) -> None:
    if dist_info.enabled:
        import torch.distributed as dist

        dist.barrier()


def _sync_buffers(model: nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank.

    DDP broadcasts buffers at the start of each forward pass, so after the last batch of an epoch every
    rank holds statistics of its own shard; validation and checkpoints must see one model.
    """
    import torch.distributed as dist

    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=0)


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, forward: Callable[[torch.Tensor], Any], batches: Sequence[torch.Tensor]
                          ) -> None:
    """Re-estimate BatchNorm running statistics as exact averages over ``batches`` (un-augmented images).

    With few optimisation steps (the tiny and quick profiles) the running averages have not caught up with
    the trained weights, and eval-mode outputs drift from train-mode ones; one forward pass over a sample
    of training images with ``momentum=None`` (cumulative average) fixes that.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or not len(batches):
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    was_training = model.training
    model.train()
    device = next(model.parameters()).device
    for batch in batches:
        forward(batch.to(device))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.train(was_training)


def _sum_over_ranks(total: float, count: int, device: torch.device) -> Tuple[float, int]:
    """The epoch's loss sum and sample count over all ranks (so every rank logs the same mean loss)."""
    import torch.distributed as dist

    values = torch.tensor([float(total), float(count)], dtype=torch.float64, device=device)  # NCCL: on the GPU
    dist.all_reduce(values)
    return float(values[0]), int(values[1])


def _seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(seed) * 1000 + int(epoch) + 1


def build_siamese(config: SiameseConfig, *, weights: Optional[str] = None) -> SiameseNetwork:
    """The network ``config`` describes (backbone weights from ``weights`` or ``config.weights``)."""
    backbone = build_backbone(config.backbone, weights=weights or config.weights, pool_size=config.pool_size)
    return SiameseNetwork(backbone, variant=config.variant, head_hidden=config.head_hidden)


def load_siamese(path: Path | str, *, device: str | torch.device = "cpu") -> Tuple[SiameseNetwork, Dict[str, Any]]:
    """A trained Siamese network in eval mode and its checkpoint dict."""
    payload = load_checkpoint(path, kind="siamese")
    config = SiameseConfig.from_dict(payload["config"])
    model = build_siamese(config, weights="random")
    load_weights(model, payload.get("model"), path)
    return model.to(device).eval(), payload


# ----------------------------------------------------------------------------------------- the loop


def _cpu_state(model: nn.Module) -> Dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in unwrap(model).state_dict().items()}


def fit(
    model: nn.Module,
    *,
    kind: str,
    config: Any,
    train_dataset: Dataset,
    step: Callable[[nn.Module, Sequence[torch.Tensor]], torch.Tensor],
    validate: Callable[[nn.Module], Tuple[float, float]],
    final_scores: Callable[[nn.Module], Dict[str, Any]],
    out: Path,
    resume: bool = False,
    progress: bool = True,
    extra: Optional[Dict[str, Any]] = None,
    recalibrate: Optional[Callable[[nn.Module], None]] = None,
    clock: Optional[Tuple[float, float]] = None,
    make_optimizer: Optional[OptimizerFactory] = None,
) -> TrainResult:
    """The training loop shared by every model.

    Args:
        model: the network (unwrapped; DDP is applied here when running distributed).
        kind: ``"siamese"`` or ``"classifier"`` (stored in the checkpoint).
        config: a :class:`SiameseConfig` or :class:`ClassifierConfig`.
        train_dataset: yields tuples of tensors; ``step(model, batch)`` returns the mean loss.
        validate: ``validate(model) -> (accuracy, roc_auc)`` on the validation set (model in eval mode).
        final_scores: called once on the best model, returns results stored with it (e.g. train_accuracy).
        out: best checkpoint path; the resumable state goes to :func:`last_checkpoint_path`.
        resume: continue from ``OUT.last.pt`` when it exists (same config required).
        progress: tqdm bar with the running loss (rank 0 only).
        extra: more plain values to store in the checkpoint (e.g. the image lists used).
        recalibrate: called on the model after each epoch, before validation (BatchNorm recalibration).
        clock: ``(time.perf_counter(), time.process_time())`` when the run began, so that the reported
            training time includes the caller's set-up (decoding images, embedding them for a frozen
            backbone); default: now.
        make_optimizer: ``make_optimizer(model, steps_per_epoch) -> (optimizer, scheduler, per_batch)``;
            the scheduler steps after every batch when ``per_batch`` (e.g. one-cycle), else after every
            epoch. Default: the paper's Adam over all parameters with StepLR.
    """
    started, cpu_started = clock or (time.perf_counter(), time.process_time())
    out = Path(out)
    dist_info = _setup_distributed(config.device)
    device = resolve_device(config.device, local_rank=dist_info.local_rank)
    use_amp = bool(config.amp and device.type == "cuda")
    _seed_everything(config.seed)
    model = model.to(device)
    if make_optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_step_epochs,
                                                    gamma=config.lr_gamma)
        per_batch = False
    else:
        steps_per_epoch = math.ceil(len(train_dataset) / max(dist_info.world_size, 1) / config.batch_size)
        optimizer, scheduler, per_batch = make_optimizer(model, steps_per_epoch)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    history: List[Dict[str, float]] = []
    best_val, best_epoch, start_epoch = -math.inf, 0, 0
    best_key: Tuple[float, float] = (-math.inf, -math.inf)
    best_state: Optional[Dict[str, torch.Tensor]] = None

    last = last_checkpoint_path(out)
    if resume and last.is_file():
        state = load_checkpoint(last, kind=kind)
        saved = {k: v for k, v in state["config"].items() if k not in ("epochs", "num_workers", "device", "amp")}
        now = {k: v for k, v in config.to_dict().items() if k not in ("epochs", "num_workers", "device", "amp")}
        if saved != now:
            changed = sorted(k for k in now if saved.get(k) != now[k])
            raise ConfigError(f"cannot resume from {last}: its settings differ in {', '.join(changed)}")
        load_weights(model, state.get("model"), last)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if use_amp and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        history = list(state["history"])
        start_epoch = int(state["epoch"])
        best_val, best_epoch = float(state["best_val_accuracy"]), int(state["best_epoch"])
        best_key = tuple(state["best_key"])
        best_state = state.get("best_model")

    train_model: nn.Module = model
    if dist_info.enabled:
        from torch.nn.parallel import DistributedDataParallel

        train_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    generator = torch.Generator()
    if dist_info.enabled:
        sampler = DistributedSampler(train_dataset, num_replicas=dist_info.world_size, rank=dist_info.rank,
                                     shuffle=True, seed=config.seed)
    else:
        sampler = RandomSampler(train_dataset, generator=generator)
    loader = DataLoader(train_dataset, batch_size=config.batch_size, sampler=sampler,
                        num_workers=config.num_workers, pin_memory=device.type == "cuda",
                        persistent_workers=False, drop_last=False, generator=generator)

    for epoch in range(start_epoch, config.epochs):
        epoch_started = time.perf_counter()
        epoch_seed = _epoch_seed(config.seed, epoch)
        torch.manual_seed(epoch_seed + 7919 * dist_info.rank)
        generator.manual_seed(epoch_seed)
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)
        train_model.train()
        total, count = 0.0, 0
        batches = loader
        bar = None
        if progress and dist_info.is_main:
            from tqdm.auto import tqdm

            bar = tqdm(loader, desc=f"{kind} epoch {epoch + 1}/{config.epochs}", unit="batch", leave=False)
            batches = bar
        for batch in batches:
            batch = [t.to(device, non_blocking=True) for t in batch]
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                loss = step(train_model, batch)
            if not torch.isfinite(loss):
                raise DrugsimError(f"training diverged: loss is {float(loss.detach())} in epoch {epoch + 1}; lower the lr")
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            if per_batch:
                scheduler.step()
            total += float(loss.detach()) * len(batch[0])
            count += len(batch[0])
            if bar is not None:
                bar.set_postfix(loss=f"{total / max(count, 1):.4f}")
        if bar is not None:
            bar.close()
        if dist_info.enabled:
            _sync_buffers(model)
            total, count = _sum_over_ranks(total, count, device)
        lr = optimizer.param_groups[0]["lr"]
        if not per_batch:
            scheduler.step()
        if recalibrate is not None:
            recalibrate(model)
        model.eval()
        val_accuracy, val_auc = validate(model)
        if not math.isfinite(val_accuracy) and _has_non_finite_weights(model):
            # Diverged (NaN or infinite weights, e.g. --lr 1e30): no epoch after this can recover, and a
            # checkpoint of it would score NaN for every pair. Stop before writing anything.
            raise DrugsimError(f"training diverged: the network's weights are not finite after epoch {epoch + 1} "
                               f"(lr {config.lr:g}); nothing was saved: lower the learning rate")
        history.append({"epoch": epoch + 1, "train_loss": total / max(count, 1), "val_accuracy": float(val_accuracy),
                        "val_auc": float(val_auc), "lr": lr, "seconds": time.perf_counter() - epoch_started})
        # Accuracy at the fixed threshold first; ROC AUC breaks ties (a short run often sits on one side of
        # the paper's 0.8 for every epoch); remaining ties go to the later, longer-trained epoch.
        if not progress and dist_info.is_main:
            # Without bars, one line per epoch: what a runner's heartbeat shows while a notebook trains.
            row = history[-1]
            print(f"{kind} epoch {epoch + 1}/{config.epochs}: train loss {row['train_loss']:.4f}, "
                  f"val accuracy {row['val_accuracy']:.3f} ({row['seconds']:.0f} s)", flush=True)
        key = (float(val_accuracy), _nan_low(val_auc))
        if best_state is None or key >= best_key:
            best_key, best_val, best_epoch, best_state = key, float(val_accuracy), epoch + 1, _cpu_state(model)
        if dist_info.is_main:
            save_checkpoint(last, {
                "kind": kind, "config": config.to_dict(), "model": _cpu_state(model),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if use_amp else {}, "epoch": epoch + 1, "history": history,
                "best_val_accuracy": best_val, "best_epoch": best_epoch, "best_model": best_state,
                "best_key": list(best_key),
                "weights": str(config.weights),
            })
        _barrier(dist_info)

    if best_state is None:
        best_state = _cpu_state(model)
    model.load_state_dict(best_state)
    model.eval()
    results = dict(final_scores(model))
    seconds = time.perf_counter() - started
    result = TrainResult(checkpoint=out, history=history, best_epoch=best_epoch, best_val_accuracy=best_val,
                         train_accuracy=float(results.get("train_accuracy", float("nan"))), seconds=seconds,
                         weights=str(config.weights), device=str(device), extra=results)
    if dist_info.is_main:
        save_checkpoint(out, {
            "kind": kind, "config": config.to_dict(), "model": best_state, "history": history,
            "epoch": len(history), "best_epoch": best_epoch, "best_val_accuracy": best_val,
            "weights": str(config.weights), "device": str(device), "world_size": dist_info.world_size,
            "torch_version": str(torch.__version__), "results": {k: v for k, v in results.items()
                                                            if isinstance(v, (int, float, str))},
            # CPU seconds of this process (all its threads): unlike wall time, barely inflated when other
            # work shares the machine; about train_seconds x threads on an otherwise idle one.
            "train_seconds": seconds, "train_cpu_seconds": time.process_time() - cpu_started,
            "torch_threads": torch.get_num_threads(), **(extra or {}),
        })
    _barrier(dist_info)
    if dist_info.started_here:
        import torch.distributed as dist

        dist.destroy_process_group()
    return result


# ------------------------------------------------------------------------------------------- Siamese


@torch.no_grad()
def pair_scores(model: SiameseNetwork, cache: ImageCache, pairs: Sequence[Pair], *, batch_size: int = 128,
                device: Optional[torch.device] = None) -> np.ndarray:
    """Scores of ``pairs`` from cached (un-augmented) images: probability (improved) or distance.

    Each distinct image is embedded once; the head then scores the pairs.
    """
    model.eval()
    device = device or next(model.parameters()).device
    paths = list(dict.fromkeys([Path(p.path_a) for p in pairs] + [Path(p.path_b) for p in pairs]))
    rows = {path: i for i, path in enumerate(paths)}
    embeddings = []
    for start in range(0, len(paths), batch_size):
        cache_rows = torch.tensor([cache.index[p] for p in paths[start:start + batch_size]])
        images = to_unit_float(cache.pixels[cache_rows], device)  # the training batches' path, unaugmented
        embeddings.append(model.embed(images).float())
    if not embeddings:
        return np.zeros(0)
    table = torch.cat(embeddings)
    index_a = torch.tensor([rows[Path(p.path_a)] for p in pairs], device=table.device)
    index_b = torch.tensor([rows[Path(p.path_b)] for p in pairs], device=table.device)
    raw = model.head(table[index_a], table[index_b])
    return model.similarity(raw).double().cpu().numpy()


def variant_direction(variant: str) -> str:
    """Which way a Siamese variant's score means "more similar": a probability (improved) or a distance."""
    return "higher" if variant == "improved" else "lower"


def validation_metrics(scores: np.ndarray, labels: Sequence[int], threshold: float, *, direction: str
                       ) -> tuple[float, float]:
    """(accuracy at ``threshold``, ROC-AUC) of scored pairs or images, by :mod:`drugsim.evaluation.metrics`,
    the functions every evaluation uses. A diverged network's NaN scores give (NaN, NaN): that epoch is then
    never the best, instead of stopping the training. AUC is NaN when there is one label only."""
    from drugsim.evaluation.metrics import accuracy, roc_auc

    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if scores.size == 0 or not np.all(np.isfinite(scores)):
        return float("nan"), float("nan")
    return accuracy(scores, labels, threshold, direction=direction), roc_auc(scores, labels, direction=direction)


def _has_non_finite_weights(model: nn.Module) -> bool:
    return any(not bool(torch.isfinite(tensor).all()) for tensor in unwrap(model).state_dict().values()
               if tensor.is_floating_point())


def _nan_low(value: float) -> float:
    return -math.inf if value is None or not math.isfinite(value) else float(value)


def _siamese_step(config: SiameseConfig) -> Callable[[nn.Module, Sequence[torch.Tensor]], torch.Tensor]:
    if config.variant == "triplet":
        def step(model, batch):
            anchor, positive, negative = model(batch[0], batch[1], batch[2])
            return triplet_loss(anchor.float(), positive.float(), negative.float(), margin=config.margin)
    elif config.variant == "classic":
        def step(model, batch):
            return contrastive_loss(model(batch[0], batch[1]).float(), batch[2], margin=config.margin,
                                    form=config.contrastive_form)
    else:
        def step(model, batch):
            return pair_bce_loss(model(batch[0], batch[1]).float(), batch[2])
    return step


def train_siamese(config: SiameseConfig, train_pairs: Sequence[Pair], val_pairs: Sequence[Pair], *,
                  out: Path | str, resume: bool = False, progress: bool = True,
                  extra: Optional[Dict[str, Any]] = None) -> TrainResult:
    """Train a Siamese (or triplet) network on Algorithm 2 pair lists.

    Args:
        config: settings (:func:`drugsim.deep.config.siamese_config`).
        train_pairs: pairs of the training drugs (``n_train_pairs`` of them are used; for the triplet
            variant they are joined into triplets, see :func:`~drugsim.deep.datasets.make_triplets`).
        val_pairs: pairs of the validation drugs, scored after each epoch at ``config.threshold``.
        out: checkpoint of the best validation epoch.
        resume: continue an interrupted run from ``OUT.last.pt``.
        progress: show progress bars.
        extra: plain values stored in the checkpoint (e.g. a fingerprint of the data it was trained on).

    Returns:
        A :class:`TrainResult`; ``extra`` holds ``train_accuracy``, ``val_accuracy`` and
        ``train_pairs_per_second``.

    References:
        Paper sections 2.6 and 4.2, Table 9.
    """
    clock = (time.perf_counter(), time.process_time())
    if not train_pairs:
        raise DatasetError("no training pairs: the training split has no pairs (need >= 2 images per face)")
    if not val_pairs:
        raise DatasetError("no validation pairs: the validation split has no pairs")
    train_pairs = subsample(list(train_pairs), config.n_train_pairs, seed=config.seed)
    val_pairs = subsample(list(val_pairs), config.n_val_pairs, seed=config.seed + 1)
    eval_pairs = subsample(train_pairs, config.train_eval_pairs, seed=config.seed + 2)
    if config.freeze_backbone or config.partial_fine_tune:
        from drugsim.deep.transfer import train_on_cached_features

        return train_on_cached_features(config, train_pairs, val_pairs, eval_pairs, out=Path(out), resume=resume,
                                        progress=progress, extra=extra, clock=clock)
    if config.variant == "triplet":
        items = make_triplets(train_pairs, seed=config.seed)
        if not items:
            raise DatasetError("no triplets could be formed: the training pairs need positives and negatives")
        paths = [p for triplet in items for p in triplet]
    else:
        items = train_pairs
        paths = [p for pair in train_pairs for p in (pair.path_a, pair.path_b)]
    training_paths = list(paths)
    paths += [p for pair in list(val_pairs) + eval_pairs for p in (pair.path_a, pair.path_b)]
    cache = ImageCache(paths, config.image_size, progress=progress)
    # Batches are row indices into the uint8 cache, gathered and augmented on the training device
    # (drugsim.deep.device_input): at 224 px per-image augmentation on the CPU would bound a GPU.
    cached = CachedBatches(cache, augment=config.augment)
    dataset, n_images = row_dataset(items, cached, triplets=config.variant == "triplet")
    torch.manual_seed(config.seed)  # the initial weights are part of the seeded run
    model = build_siamese(config)
    val_labels = [p.label for p in val_pairs]

    recalibrate = None
    if config.bn_recalibration_images:
        # Training images only: statistics re-estimated on validation images would tune the network to the
        # photos that then choose its epoch.
        sample = subsample(list(dict.fromkeys(training_paths)), config.bn_recalibration_images, seed=config.seed + 3)
        batches = [torch.stack([cache.get(p) for p in sample[i:i + config.batch_size]])
                   for i in range(0, len(sample), config.batch_size)]

        def recalibrate(net: nn.Module) -> None:
            recalibrate_batchnorm(net, net.embed, batches)

    def validate(net: nn.Module) -> Tuple[float, float]:
        return validation_metrics(pair_scores(net, cache, val_pairs), val_labels, config.threshold, direction=variant_direction(config.variant))

    def final_scores(net: nn.Module) -> Dict[str, Any]:
        started = time.perf_counter()
        scores = pair_scores(net, cache, eval_pairs)
        rate = len(eval_pairs) / max(time.perf_counter() - started, 1e-9)
        val_accuracy, val_auc = validation_metrics(pair_scores(net, cache, val_pairs), val_labels, config.threshold,
                                                   direction=variant_direction(config.variant))
        return {
            "train_accuracy": validation_metrics(scores, [p.label for p in eval_pairs], config.threshold,
                                                 direction=variant_direction(config.variant))[0],
            "val_accuracy": val_accuracy,
            "val_auc": val_auc,
            "cached_pairs_per_second": rate,
            "n_train_items": len(items), "n_val_pairs": len(val_pairs),
        }

    return fit(model, kind="siamese", config=config, train_dataset=dataset,
               step=cached_step(_siamese_step(config), cached, n_images),
               validate=validate, final_scores=final_scores, out=Path(out), resume=resume, progress=progress,
               recalibrate=recalibrate, extra=extra, clock=clock)
