"""Deep methods of the paper (sections 2.6, 3, 4.3) and the companion CNN methods.

* :mod:`~drugsim.deep.backbones`: VGG16, ResNet18, EfficientNet-Lite0 feature extractors (offline weights).
* :mod:`~drugsim.deep.losses`: contrastive (eq. 22), BCE (eq. 24) and triplet losses.
* :mod:`~drugsim.deep.siamese`: the classic (Fig. 8), improved (Fig. 9) and triplet networks.
* :mod:`~drugsim.deep.config`, :mod:`~drugsim.deep.datasets`, :mod:`~drugsim.deep.training`,
  :mod:`~drugsim.deep.distributed`: settings, data and the training loop (single process or DDP).
* :mod:`~drugsim.deep.transfer`: transfer learning on cached features: a frozen backbone (head only), or
  EfficientNet-Lite0 fine-tuned from a given block on (beyond the paper; the CPU profiles' recipe).
* :mod:`~drugsim.deep.classifier`: the feature-face classifier (Table 6).
* :mod:`~drugsim.deep.combined`: classifier filter in front of any method (Table 10).
* :mod:`~drugsim.deep.method`, :mod:`~drugsim.deep.embedding`: ``siamese-*`` and ``cnn-*`` methods.

Names are imported lazily so that ``import drugsim.deep`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SiameseConfig": "config", "ClassifierConfig": "config", "siamese_config": "config",
    "classifier_config": "config", "build_backbone": "backbones", "contrastive_loss": "losses",
    "pair_bce_loss": "losses", "triplet_loss": "losses", "ContrastiveLoss": "losses", "PairBCELoss": "losses",
    "TripletLoss": "losses", "SiameseNetwork": "siamese", "train_siamese": "training",
    "train_on_cached_features": "transfer", "load_checkpoint": "checkpoints", "load_siamese": "training", "TrainResult": "training",
    "train_classifier": "classifier", "FeatureFacePredictor": "classifier", "evaluate_classifier": "classifier",
    "filter_pairs": "combined", "run_combined": "combined", "SiameseMethod": "method",
    "EmbeddingMethod": "embedding",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"drugsim.deep.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'drugsim.deep' has no attribute {name!r}")
