"""The paper's training augmentation (section 4.1.3) and the matching evaluation transform."""

from __future__ import annotations

import random
from typing import Sequence

import torch
from torchvision import transforms

from drugsim.paper import TRAINING


class RandomRotation180:
    """Rotate by 0 or 180 degrees with equal probability (boxes are photographed either way up)."""

    def __call__(self, image):
        if random.random() < 0.5:
            return image
        if isinstance(image, torch.Tensor):
            return torch.rot90(image, 2, dims=(-2, -1))
        return image.rotate(180)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def paper_augmentation(image_size: int = 224, *, normalize: bool = True) -> transforms.Compose:
    """PIL image -> augmented float tensor (3, image_size, image_size), as the paper's section 4.1.3.

    Vertical and horizontal flips with p = 0.5, rotation by 0 or 180 degrees, colour jitter with
    brightness [0.5, 1.5], contrast and saturation [0.9, 1.1], hue [-0.1, 0.1]; then resize and
    ImageNet normalisation.
    """
    aug = TRAINING["augmentation"]
    steps = [
        transforms.Resize((image_size, image_size)),
        transforms.RandomVerticalFlip(aug["vflip_p"]),
        transforms.RandomHorizontalFlip(aug["hflip_p"]),
        RandomRotation180(),
        transforms.ColorJitter(brightness=aug["brightness"], contrast=aug["contrast"],
                               saturation=aug["saturation"], hue=aug["hue"]),
        transforms.ToTensor(),
    ]
    if normalize:
        steps.append(transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD))
    return transforms.Compose(steps)


IMAGENET_MEAN: Sequence[float] = (0.485, 0.456, 0.406)
IMAGENET_STD: Sequence[float] = (0.229, 0.224, 0.225)


def eval_transform(image_size: int = 224, *, normalize: bool = True) -> transforms.Compose:
    """PIL image -> float tensor (3, image_size, image_size) without augmentation."""
    steps = [transforms.Resize((image_size, image_size)), transforms.ToTensor()]
    if normalize:
        steps.append(transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD))
    return transforms.Compose(steps)
