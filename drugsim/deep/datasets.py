"""Torch datasets over pair lists, triplets and labelled images, with images decoded once into memory.

Decoding a JPEG is slower on a CPU than a small network's forward pass, and Algorithm 2 reuses every
image in many pairs, so :class:`ImageCache` reads and resizes each distinct image once (at the training
size) into one uint8 tensor; Siamese training batches are rows of it, augmented on the device in
batches (:mod:`drugsim.deep.device_input`); the classifier's dataset indexes into it per image.

Example:
    >>> import numpy as np
    >>> resize_image(np.zeros((10, 20, 3), np.uint8), 32).shape
    (32, 32, 3)
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from drugsim import paper
from drugsim.data.records import Pair
from drugsim.io import read_image

Transform = Callable[[torch.Tensor], torch.Tensor]


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> (size, size, 3), bilinear (the paper resizes every input to 224 x 224)."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {image.shape}")
    if image.shape[:2] == (size, size):
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))


def images_to_tensor(images: Sequence[np.ndarray], size: int, *, device: torch.device | str | None = None
                     ) -> torch.Tensor:
    """A list of RGB uint8 arrays -> float tensor (N, 3, size, size) in [0, 1] on ``device`` (default CPU).

    The eval transform, through the training batches' path (:mod:`drugsim.deep.device_input`): resized to
    uint8 on the CPU, converted to float on the device.
    """
    from drugsim.deep.device_input import to_unit_float, uint8_batch

    return to_unit_float(uint8_batch(images, size), torch.device(device or "cpu"))


class ImageCache:
    """Every distinct image decoded and resized once, as a uint8 tensor (N, 3, size, size).

    Args:
        paths: image files (duplicates are stored once).
        size: side in pixels.
        progress: show a tqdm bar while decoding.
    """

    def __init__(self, paths: Iterable[Path], size: int, *, progress: bool = False) -> None:
        unique = list(dict.fromkeys(Path(p) for p in paths))
        self.size = size
        self.index: Dict[Path, int] = {path: i for i, path in enumerate(unique)}
        self.pixels = torch.empty((len(unique), 3, size, size), dtype=torch.uint8)
        iterator: Iterable = unique
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(unique, desc=f"decoding images at {size}px", unit="img")
        for i, path in enumerate(iterator):
            self.pixels[i] = torch.from_numpy(np.array(resize_image(read_image(path), size))).permute(2, 0, 1)

    def __len__(self) -> int:
        return len(self.index)

    def get(self, path: Path) -> torch.Tensor:
        """Float (3, size, size) in [0, 1]."""
        return self.pixels[self.index[Path(path)]].float().div_(255.0)


class PaperAugmentation:
    """Section 4.1.3 on a float tensor (3, H, W) in [0, 1]: vertical and horizontal flips (p = 0.5),
    rotation by 0 or 180 degrees, colour jitter (brightness [0.5, 1.5], contrast and saturation [0.9, 1.1],
    hue [-0.1, 0.1]). Randomness comes from torch's global generator (seeded per epoch by the trainer).
    """

    def __init__(self) -> None:
        from torchvision.transforms import ColorJitter

        settings = paper.TRAINING["augmentation"]
        self.vflip_p = settings["vflip_p"]
        self.hflip_p = settings["hflip_p"]
        self.jitter = ColorJitter(brightness=settings["brightness"], contrast=settings["contrast"],
                                  saturation=settings["saturation"], hue=settings["hue"])

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if torch.rand(()) < self.vflip_p:
            image = image.flip(-2)
        if torch.rand(()) < self.hflip_p:
            image = image.flip(-1)
        if torch.rand(()) < 0.5:  # rotation by 180 degrees
            image = image.flip(-2).flip(-1)
        return self.jitter(image).clamp_(0.0, 1.0)


def training_augmentation(image_size: int) -> Transform:
    """The paper's augmentation as a transform of cached float tensors (3, H, W) in [0, 1].

    Same settings as :func:`drugsim.data.paper_augmentation` (the PIL-image version, which also resizes
    and normalises); here images are already resized in the :class:`ImageCache` and each backbone
    normalises its own input, and the randomness comes from torch's generator, which the trainer seeds
    per epoch (so resumed runs replay the same augmentations).
    """
    del image_size  # images arrive at the training size from the cache
    return PaperAugmentation()


class ImageLabelDataset(Dataset):
    """(image, class index) for the feature-face classifier."""

    def __init__(self, paths: Sequence[Path], labels: Sequence[int], cache: ImageCache,
                 transform: Optional[Transform] = None) -> None:
        if len(paths) != len(labels):
            raise ValueError(f"{len(paths)} paths but {len(labels)} labels")
        self.paths, self.labels = list(paths), [int(v) for v in labels]
        self.cache, self.transform = cache, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        image = self.cache.get(self.paths[index])
        if self.transform is not None:
            image = self.transform(image)
        return image, torch.tensor(self.labels[index])


def _positive_groups(pairs: Sequence[Pair]) -> Dict[Path, Path]:
    """Each photo of a positive pair -> one representative photo of its group (union-find over positives)."""
    parent: Dict[Path, Path] = {}

    def root(path: Path) -> Path:
        parent.setdefault(path, path)
        while parent[path] != path:
            parent[path] = parent[parent[path]]
            path = parent[path]
        return path

    for pair in pairs:
        if pair.label:
            a, b = root(Path(pair.path_a)), root(Path(pair.path_b))
            if a != b:
                parent[b] = a
    return {path: root(path) for path in list(parent)}


def _borrow_negative(candidates: Sequence[Path], anchor_group: Path, group_of: Dict[Path, Path],
                     rng: np.random.Generator) -> Optional[Path]:
    """A uniform draw from ``candidates`` outside ``anchor_group`` (None when there is none)."""
    if not candidates:
        return None
    for _ in range(8):
        candidate = candidates[int(rng.integers(len(candidates)))]
        if group_of.get(candidate, candidate) != anchor_group:
            return candidate
    outside = [c for c in candidates if group_of.get(c, c) != anchor_group]
    return outside[int(rng.integers(len(outside)))] if outside else None


def make_triplets(pairs: Sequence[Pair], *, seed: int = 0) -> List[Tuple[Path, Path, Path]]:
    """Algorithm 2 extended to triplets: each positive (K, K+1) with a negative (K, X) of the same anchor.

    Algorithm 2 writes one negative (K, X, 0) per positive (K, K+1, 1), so joining on the anchor K gives
    (anchor K, positive K+1, negative X). Anchors without a negative of their own borrow a random negative
    image of another pair, never one of the anchor's own group.

    Example:
        >>> from pathlib import Path as P
        >>> pairs = [Pair(P("a"), P("b"), 1), Pair(P("a"), P("x"), 0)]
        >>> make_triplets(pairs)
        [(PosixPath('a'), PosixPath('b'), PosixPath('x'))]
    """
    rng = np.random.default_rng(seed)
    negatives: Dict[Path, List[Path]] = defaultdict(list)
    for pair in pairs:
        if not pair.label:
            negatives[Path(pair.path_a)].append(Path(pair.path_b))
    all_negatives = [p for values in negatives.values() for p in values]
    group_of = _positive_groups(pairs)
    triplets: List[Tuple[Path, Path, Path]] = []
    used: Dict[Path, int] = defaultdict(int)
    for pair in pairs:
        if not pair.label:
            continue
        anchor = Path(pair.path_a)
        options = negatives.get(anchor)
        if options:
            negative = options[used[anchor] % len(options)]
            used[anchor] += 1
        else:
            # A borrowed negative must not show the anchor's own group: photos joined by positive pairs
            # (directly or through others) are one group.
            negative = _borrow_negative(all_negatives, group_of.get(anchor, anchor), group_of, rng)
            if negative is None:
                continue
        triplets.append((anchor, Path(pair.path_b), negative))
    return triplets
