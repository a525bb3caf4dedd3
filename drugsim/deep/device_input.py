"""The input path of GPU-scale training: photos decoded once, augmented on the device in batches.

At the paper's scale (3.1 M pairs x 5 epochs at 224 px) decoding a JPEG and colour-jittering it with PIL
or per-sample tensor ops costs more CPU time than the network's forward pass costs GPU time, so the GPU
waits. Here every distinct photo is decoded and resized once into the uint8 tensor of an
:class:`~drugsim.deep.datasets.ImageCache` (150 KB per image at 224 px); a batch is then a gather of rows
from that tensor (kept on the device when it fits), one uint8 -> float conversion on the device, and the
paper's augmentation (section 4.1.3) applied to the whole batch with tensor ops. Training
(:func:`drugsim.deep.training.train_siamese`) and the deep similarity methods' ``describe_batch`` share
:func:`to_unit_float`; the same code runs on a CPU.

The batched augmentation draws its random numbers on the CPU (torch's global generator unless one is
given), so a seed gives the same augmentation on any device, and the trainer's per-epoch reseeding keeps
resumed runs exact. Colour jitter applies brightness, contrast, saturation and hue in that fixed order
(torchvision's ``ColorJitter`` shuffles the order per image); each factor is the same per-image
transform as torchvision's functional ops (tested against them).

Example:
    >>> import torch
    >>> images = torch.full((2, 3, 8, 8), 128, dtype=torch.uint8)
    >>> batch = augment_batch(to_unit_float(images, torch.device("cpu")), generator=torch.Generator().manual_seed(0))
    >>> tuple(batch.shape), batch.dtype, bool(batch.min() >= 0 and batch.max() <= 1)
    ((2, 3, 8, 8), torch.float32, True)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from drugsim import paper
from drugsim.deep.datasets import ImageCache, resize_image

#: ITU-R 601-2 luma weights, as torchvision's ``rgb_to_grayscale`` (contrast and saturation blend with it).
_LUMA = (0.2989, 0.587, 0.114)


def uint8_batch(images: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """RGB uint8 arrays of any size -> one uint8 tensor (N, 3, size, size) (resized on the CPU, once)."""
    batch = np.stack([resize_image(np.asarray(image), size) for image in images])
    return torch.from_numpy(batch).permute(0, 3, 1, 2)


def to_unit_float(pixels: torch.Tensor, device: torch.device, *, channels_last: bool = False) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float32 in [0, 1] on ``device``; the bytes move before the conversion (4x less copy)."""
    if pixels.dtype != torch.uint8:
        raise TypeError(f"expected a uint8 image tensor, got {pixels.dtype}")
    on_device = pixels.to(device, non_blocking=True).float().div_(255.0)
    return on_device.contiguous(memory_format=torch.channels_last) if channels_last else on_device


# ------------------------------------------------------------------------------------- augmentation


@dataclass(frozen=True)
class AugmentationParams:
    """One batch's random draws of the paper's augmentation (one entry per image, all on the CPU).

    Attributes:
        vflip, hflip, rot180: bool (N,): flip vertically, horizontally, rotate by 180 degrees.
        brightness, contrast, saturation: float (N,): blend factors (1 = unchanged).
        hue: float (N,): hue shift as a fraction of the colour circle (0 = unchanged).
    """

    vflip: torch.Tensor
    hflip: torch.Tensor
    rot180: torch.Tensor
    brightness: torch.Tensor
    contrast: torch.Tensor
    saturation: torch.Tensor
    hue: torch.Tensor


def _uniform(n: int, bounds: Sequence[float], generator: torch.Generator | None) -> torch.Tensor:
    low, high = float(bounds[0]), float(bounds[1])
    return low + (high - low) * torch.rand(n, generator=generator)


def sample_augmentation(n: int, *, generator: torch.Generator | None = None) -> AugmentationParams:
    """Draw section 4.1.3's augmentation for ``n`` images (settings from :data:`drugsim.paper.TRAINING`).

    Args:
        n: images in the batch.
        generator: a CPU generator; default torch's global one (which the trainer seeds per epoch).
    """
    settings = paper.TRAINING["augmentation"]
    return AugmentationParams(
        vflip=torch.rand(n, generator=generator) < settings["vflip_p"],
        hflip=torch.rand(n, generator=generator) < settings["hflip_p"],
        rot180=torch.rand(n, generator=generator) < 0.5,  # rotation by 0 or 180 degrees
        brightness=_uniform(n, settings["brightness"], generator),
        contrast=_uniform(n, settings["contrast"], generator),
        saturation=_uniform(n, settings["saturation"], generator),
        hue=_uniform(n, settings["hue"], generator),
    )


def _per_image(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(N,) -> (N, 1, 1, 1) on ``like``'s device and dtype, to broadcast over an image batch."""
    return values.to(device=like.device, dtype=like.dtype).view(-1, 1, 1, 1)


def _grayscale(images: torch.Tensor) -> torch.Tensor:
    r, g, b = images.unbind(dim=-3)
    return (_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b).unsqueeze(-3)


def _blend(images: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (factor * images + (1.0 - factor) * other).clamp_(0.0, 1.0)


def _rgb_to_hsv(images: torch.Tensor) -> torch.Tensor:
    """As torchvision's tensor ``_rgb2hsv`` (so the hue shift matches ``adjust_hue``), batched."""
    r, g, b = images.unbind(dim=-3)
    maxc = images.max(dim=-3).values
    minc = images.min(dim=-3).values
    equal = maxc == minc
    chroma = maxc - minc
    ones = torch.ones_like(maxc)
    saturation = chroma / torch.where(equal, ones, maxc)
    divisor = torch.where(equal, ones, chroma)
    rc, gc, bc = (maxc - r) / divisor, (maxc - g) / divisor, (maxc - b) / divisor
    hue = ((maxc == r) * (bc - gc) + ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
           + ((maxc != g) & (maxc != r)) * (4.0 + gc - rc))
    hue = torch.fmod(hue / 6.0 + 1.0, 1.0)
    return torch.stack((hue, saturation, maxc), dim=-3)


def _hsv_to_rgb(images: torch.Tensor) -> torch.Tensor:
    """HSV -> RGB in closed form (channel n: v - v s clamp(min(k, 4 - k), 0, 1), k = (n + 6 h) mod 6).

    The same values as torchvision's piecewise ``_hsv2rgb`` (tested), without its six stacked copies of
    the batch.
    """
    h, s, v = (channel.unsqueeze(-3) for channel in images.unbind(dim=-3))
    offsets = torch.tensor([5.0, 3.0, 1.0], device=images.device, dtype=images.dtype).view(3, 1, 1)
    k = torch.remainder(offsets + 6.0 * h, 6.0)
    return v - v * s * torch.minimum(k, 4.0 - k).clamp_(0.0, 1.0)


def _shift_hue(images: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    hsv = _rgb_to_hsv(images)
    hue = torch.remainder(hsv[:, :1] + shift, 1.0)
    return _hsv_to_rgb(torch.cat((hue, hsv[:, 1:]), dim=1))


def apply_augmentation(images: torch.Tensor, params: AugmentationParams) -> torch.Tensor:
    """The paper's augmentation of a float batch (N, 3, H, W) in [0, 1] with drawn ``params``, on its device.

    Flips first (a 180-degree rotation is both flips), then brightness, contrast, saturation and hue,
    each as torchvision's functional op of the same name with that image's factor; the result stays in
    [0, 1].

    Raises:
        ValueError: ``images`` is not a float (N, 3, H, W) batch or ``params`` holds another N.
    """
    if images.ndim != 4 or images.shape[1] != 3 or not images.is_floating_point():
        raise ValueError(f"expected a float image batch of shape (N, 3, H, W), got {tuple(images.shape)} "
                         f"{images.dtype}")
    if len(params.vflip) != len(images):
        raise ValueError(f"augmentation drawn for {len(params.vflip)} images, batch has {len(images)}")
    vertical = _per_image(params.vflip ^ params.rot180, images).bool()
    horizontal = _per_image(params.hflip ^ params.rot180, images).bool()
    out = torch.where(vertical, images.flip(-2), images)
    out = torch.where(horizontal, out.flip(-1), out)
    out = (out * _per_image(params.brightness, out)).clamp_(0.0, 1.0)
    mean = _grayscale(out).mean(dim=(-3, -2, -1), keepdim=True)
    out = _blend(out, mean, _per_image(params.contrast, out))
    out = _blend(out, _grayscale(out), _per_image(params.saturation, out))
    return _shift_hue(out, _per_image(params.hue, out)).clamp_(0.0, 1.0)


def augment_batch(images: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw (:func:`sample_augmentation`) and apply (:func:`apply_augmentation`) the paper's augmentation."""
    return apply_augmentation(images, sample_augmentation(len(images), generator=generator))


# ------------------------------------------------------------------------------------- cached batches


def fits_on_device(nbytes: int, device: torch.device, *, share: float = 0.5) -> bool:
    """Whether a cache of ``nbytes`` may live on ``device`` (CUDA: at most ``share`` of its free memory)."""
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes <= share * free


class CachedBatches:
    """Batches of cached images by row index, moved to (and kept on) the device of the request.

    The uint8 pixels of ``cache`` are copied to a device once, the first time a batch is asked for there,
    when they fit (:func:`fits_on_device`); otherwise rows are gathered on the CPU and only the batch moves.

    Args:
        cache: the decoded images.
        augment: apply the paper's augmentation to training batches.
    """

    def __init__(self, cache: ImageCache, *, augment: bool) -> None:
        self.cache = cache
        self.augment = augment
        self._copies: dict[torch.device, torch.Tensor] = {}

    def rows(self, paths: Sequence[Path]) -> torch.Tensor:
        """Row indices of ``paths`` in the cache."""
        return torch.tensor([self.cache.index[Path(p)] for p in paths], dtype=torch.long)

    def pixels_on(self, device: torch.device) -> torch.Tensor:
        """The uint8 cache on ``device`` when it fits there, else on the CPU."""
        device = torch.device(device)
        if device not in self._copies:
            pixels = self.cache.pixels
            self._copies[device] = pixels.to(device) if fits_on_device(pixels.nbytes, device) else pixels
        return self._copies[device]

    def images(self, rows: torch.Tensor, device: torch.device, *, train: bool = False) -> torch.Tensor:
        """Float images (N, 3, S, S) in [0, 1] on ``device`` for cache ``rows``; augmented when ``train``."""
        pixels = self.pixels_on(device)
        batch = to_unit_float(pixels[rows.to(pixels.device)], device)
        return augment_batch(batch) if (train and self.augment) else batch


def row_dataset(items: Sequence, batches: CachedBatches, *, triplets: bool) -> tuple[torch.utils.data.Dataset, int]:
    """Training items as cache row indices, and how many images each has.

    Pairs (:class:`~drugsim.data.records.Pair`) give ``(rows_a, rows_b, label)``, triplets of paths
    ``(anchor, positive, negative)``; :func:`cached_step` turns the rows into images on the device.
    """
    if triplets:
        columns = [batches.rows([triplet[k] for triplet in items]) for k in range(3)]
        return torch.utils.data.TensorDataset(*columns), 3
    columns = [batches.rows([pair.path_a for pair in items]), batches.rows([pair.path_b for pair in items]),
               torch.tensor([float(pair.label) for pair in items])]
    return torch.utils.data.TensorDataset(*columns), 2


def cached_step(step: Callable, batches: CachedBatches, n_images: int) -> Callable:
    """Wrap a training ``step(model, batch)`` so that its batch arrives as row indices of ``batches``' cache.

    The first ``n_images`` tensors of each batch are row indices (a pair: 2, a triplet: 3); they become
    augmented images on the rows' device, the rest (labels) pass through.
    """

    def step_on_rows(model: torch.nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        images = [batches.images(rows, rows.device, train=True) for rows in batch[:n_images]]
        return step(model, [*images, *batch[n_images:]])

    return step_on_rows


# ------------------------------------------------------------------------------------- benchmark


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def input_throughput(paths: Sequence[Path], *, size: int, batch_size: int, n_batches: int,
                     device: torch.device, seed: int = 0) -> dict[str, float]:
    """Images per second of three ways to feed augmented training batches to ``device``, on the same draws.

    * ``decode``: every image of every batch read from its file, resized, augmented one by one
      (:class:`~drugsim.deep.datasets.PaperAugmentation`, torchvision), stacked and moved: a DataLoader over
      files.
    * ``cached_per_image``: images from the decoded :class:`ImageCache`, augmented one by one on the CPU
      (this project's path before the batched one).
    * ``cached``: rows of the cache, kept on the device, converted and augmented there as one batch
      (:class:`CachedBatches`, what training uses).

    Each path is warmed up on one batch first. ``cache_seconds`` is the one-off cost of decoding the
    distinct images into the cache; ``*_over_*`` are ratios of images per second.
    """
    from drugsim.deep.datasets import PaperAugmentation
    from drugsim.io import read_image

    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("no images to time")
    rng = np.random.default_rng(seed)
    draws = [rng.integers(len(paths), size=batch_size) for _ in range(n_batches + 1)]
    started = time.perf_counter()
    cache = ImageCache(paths, size)
    cache_seconds = time.perf_counter() - started
    per_image = PaperAugmentation()
    cached = CachedBatches(cache, augment=True)
    row_of = [cache.index[p] for p in paths]

    def decode(draw: np.ndarray) -> torch.Tensor:
        images = [torch.from_numpy(np.array(resize_image(read_image(paths[i]), size))).permute(2, 0, 1).float().div_(255.0)
                  for i in draw]
        return torch.stack([per_image(image) for image in images]).to(device)

    def cached_per_image(draw: np.ndarray) -> torch.Tensor:
        return torch.stack([per_image(cache.get(paths[i])) for i in draw]).to(device)

    def cached_batch(draw: np.ndarray) -> torch.Tensor:
        return cached.images(torch.tensor([row_of[i] for i in draw]), device, train=True)

    rates = {}
    for name, make in (("decode", decode), ("cached_per_image", cached_per_image), ("cached", cached_batch)):
        make(draws[0])  # warm-up (and, for the cached path, the one copy of the cache to the device)
        _synchronise(device)
        started = time.perf_counter()
        for draw in draws[1:]:
            make(draw)
        _synchronise(device)
        rates[name] = n_batches * batch_size / max(time.perf_counter() - started, 1e-9)
    return {
        "decode_images_per_second": rates["decode"],
        "cached_per_image_images_per_second": rates["cached_per_image"],
        "cached_images_per_second": rates["cached"],
        "cached_over_decode": rates["cached"] / rates["decode"],
        "cached_over_cached_per_image": rates["cached"] / rates["cached_per_image"],
        "cache_seconds": cache_seconds, "cache_images": len(cache), "cache_bytes": int(cache.pixels.nbytes),
        "image_size": size, "batch_size": batch_size, "n_batches": n_batches, "device": str(device),
    }
