"""The feature-face classifier (paper section 3, Table 6): is a box face rich enough in features to match?

A ResNet18 with a two-class output, trained on the feature flag of each image (the synthetic manifest's
``feature_rich`` column, or the last token of the paper's file names ``<drug>_<index>_<flag>``). Its
predictions drive the combined pipeline of Table 10 (:mod:`drugsim.deep.combined`).

Example:
    >>> feature_flag_from_name("12_0345_1.jpg")
    True
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from drugsim.data.protocol import sample_items
from drugsim.data.records import ImageRecord
from drugsim.deep.backbones import Backbone, build_backbone
from drugsim.deep.checkpoints import load_checkpoint, load_weights
from drugsim.deep.config import ClassifierConfig
from drugsim.deep.datasets import (
    ImageCache,
    ImageLabelDataset,
    images_to_tensor,
    training_augmentation,
)
from drugsim.deep.training import TrainResult, fit, recalibrate_batchnorm, validation_metrics
from drugsim.errors import DatasetError
from drugsim.io import read_image


class FeatureFaceClassifier(nn.Module):
    """Backbone -> Linear(D, 2); class 1 = feature-rich, class 0 = feature-poor."""

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        self.backbone = backbone
        self.fc = nn.Linear(backbone.out_features, 2)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (B, 2) of images (B, 3, H, W) in [0, 1]."""
        return self.fc(self.backbone(images))


def feature_flag_from_name(path: str | Path) -> Optional[bool]:
    """The paper's flag from a file name ``<drug>_<index>_<flag>.<ext>`` (1 = feature-rich), else None."""
    token = Path(path).stem.rsplit("_", 1)[-1]
    return {"1": True, "0": False}.get(token)


def feature_labels(records: Sequence[ImageRecord]) -> Tuple[List[Path], List[int]]:
    """Paths and 0/1 labels of records whose flag is known (record field first, then the file name).

    Raises:
        DatasetError: when no record carries a feature flag.
    """
    paths, labels = [], []
    for record in records:
        flag = record.feature_rich if record.feature_rich is not None else feature_flag_from_name(record.path)
        if flag is not None:
            paths.append(Path(record.path))
            labels.append(int(flag))
    if not paths:
        raise DatasetError(
            "no image has a feature-rich flag: the classifier needs a manifest.csv with a feature_rich column "
            "or file names <drug>_<index>_<flag>.jpg (flag 1 = feature-rich, 0 = feature-poor)"
        )
    return paths, labels


def build_classifier(config: ClassifierConfig, *, weights: Optional[str] = None) -> FeatureFaceClassifier:
    return FeatureFaceClassifier(build_backbone(config.backbone, weights=weights or config.weights,
                                                pool_size=config.pool_size))


@torch.no_grad()
def _predict_tensor(model: FeatureFaceClassifier, images: torch.Tensor, batch_size: int) -> np.ndarray:
    device = next(model.parameters()).device
    probabilities = []
    for start in range(0, len(images), batch_size):
        logits = model(images[start:start + batch_size].to(device)).float()
        probabilities.append(torch.softmax(logits, dim=1)[:, 1].cpu())
    return torch.cat(probabilities).numpy() if probabilities else np.zeros(0)


def _cache_accuracy(model: FeatureFaceClassifier, cache: ImageCache, paths: Sequence[Path],
                    labels: Sequence[int]) -> float:
    if not paths:
        return float("nan")
    images = torch.stack([cache.get(p) for p in paths])
    predicted = _predict_tensor(model.eval(), images, 128) >= 0.5
    return float(np.mean(predicted == np.asarray(labels, dtype=bool)))


def train_classifier(config: ClassifierConfig, train_records: Sequence[ImageRecord],
                     val_records: Sequence[ImageRecord], *, out: Path | str, resume: bool = False,
                     progress: bool = True, extra: Optional[Dict[str, Any]] = None) -> TrainResult:
    """Train the feature-face classifier on the records' feature flags.

    Returns:
        A :class:`~drugsim.deep.training.TrainResult`; ``extra`` holds train/val accuracy and the share of
        feature-rich images.

    References:
        Paper section 3 and 4.2 (30 epochs, Adam 1e-3, lr x0.1 every 7 epochs), Table 6.
    """
    clock = (time.perf_counter(), time.process_time())  # training time includes decoding the images
    train_paths, train_labels = feature_labels(train_records)
    val_paths, val_labels = feature_labels(val_records)
    keep = sample_items(list(range(len(train_paths))), config.n_train_images, seed=config.seed)
    train_paths = [train_paths[i] for i in keep]
    train_labels = [train_labels[i] for i in keep]
    cache = ImageCache(train_paths + val_paths, config.image_size, progress=progress)
    transform = training_augmentation(config.image_size) if config.augment else None
    dataset = ImageLabelDataset(train_paths, train_labels, cache, transform)
    torch.manual_seed(config.seed)
    model = build_classifier(config)
    cross_entropy = nn.CrossEntropyLoss()

    def step(net, batch):
        return cross_entropy(net(batch[0]).float(), batch[1])

    recalibrate = None
    if config.bn_recalibration_images:
        sample = sample_items(train_paths, config.bn_recalibration_images, seed=config.seed + 3)
        batches = [torch.stack([cache.get(p) for p in sample[i:i + config.batch_size]])
                   for i in range(0, len(sample), config.batch_size)]

        def recalibrate(net) -> None:
            recalibrate_batchnorm(net, net, batches)

    def validate(net) -> Tuple[float, float]:
        images = torch.stack([cache.get(p) for p in val_paths])
        probabilities = _predict_tensor(net.eval(), images, 128)
        return validation_metrics(probabilities, val_labels, 0.5, direction="higher")

    def final_scores(net) -> Dict[str, Any]:
        return {
            "train_accuracy": _cache_accuracy(net, cache, train_paths, train_labels),
            "val_accuracy": _cache_accuracy(net, cache, val_paths, val_labels),
            "feature_rich_share": float(np.mean(train_labels)),
            "n_train_images": len(train_paths),
        }

    return fit(model, kind="classifier", config=config, train_dataset=dataset, step=step, validate=validate,
               final_scores=final_scores, out=Path(out), resume=resume, progress=progress, recalibrate=recalibrate,
               extra=extra, clock=clock)


class FeatureFacePredictor:
    """A trained classifier applied to image files or arrays.

    Args:
        model: classifier checkpoint written by :func:`train_classifier`.
        device: ``None``/``"auto"``, ``"cpu"`` or ``"cuda"``.
        batch_size: images per forward pass.
    """

    def __init__(self, model: Path | str, *, device: Optional[str] = None, batch_size: int = 64) -> None:
        from drugsim.deep.training import resolve_device

        payload = load_checkpoint(model, kind="classifier")
        self.config = ClassifierConfig.from_dict(payload["config"])
        self.checkpoint = Path(model)
        self.device = resolve_device(device or "auto")
        self.batch_size = batch_size
        self.model = build_classifier(self.config, weights="random")
        load_weights(self.model, payload.get("model"), model)
        self.model.to(self.device).eval()

    def probabilities(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """P(feature-rich) of RGB uint8 images, shape (N,)."""
        if not len(images):
            return np.zeros(0)
        return _predict_tensor(self.model, images_to_tensor(images, self.config.image_size), self.batch_size)

    def predict_paths(self, paths: Sequence[Path | str], *, progress: bool = False) -> Dict[Path, bool]:
        """Feature-rich decision (P >= 0.5) for each distinct image file."""
        unique = list(dict.fromkeys(Path(p) for p in paths))
        result: Dict[Path, bool] = {}
        iterator = range(0, len(unique), self.batch_size)
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(iterator, desc="classifying faces", unit="batch")
        for start in iterator:
            chunk = unique[start:start + self.batch_size]
            probabilities = self.probabilities([read_image(p) for p in chunk])
            result.update({p: bool(v >= 0.5) for p, v in zip(chunk, probabilities)})
        return result


def evaluate_classifier(predictor: FeatureFacePredictor, records: Sequence[ImageRecord]) -> Dict[str, float]:
    """Accuracy and images/s (reading + classifying each image, as the paper times it) on ``records``.

    Returns:
        ``{"accuracy", "images_per_second", "n_images", "feature_rich_share"}``.

    References:
        Table 6.
    """
    paths, labels = feature_labels(records)
    predictor.predict_paths(paths[:2])  # warm-up
    started = time.perf_counter()
    predicted = predictor.predict_paths(paths)
    if predictor.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    decisions = np.array([predicted[p] for p in paths])
    return {
        "accuracy": float(np.mean(decisions == np.asarray(labels, dtype=bool))),
        "images_per_second": len(paths) / max(seconds, 1e-9),
        "n_images": len(paths),
        "feature_rich_share": float(np.mean(labels)),
    }


def feature_rich_map(records: Sequence[ImageRecord]) -> Mapping[Path, bool]:
    """The ground-truth flags as a mapping (an oracle filter for the combined pipeline)."""
    paths, labels = feature_labels(records)
    return {p: bool(v) for p, v in zip(paths, labels)}
