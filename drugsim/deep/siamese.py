"""Siamese networks: one shared backbone, two heads (paper Figs. 8-9), and the triplet variant.

* ``classic`` (Fig. 8): embeddings f1, f2; the score is the Euclidean distance ||f1 - f2|| (eq. 23),
  trained with the contrastive loss (eq. 22). Lower = more similar.
* ``improved`` (Fig. 9): |f1 - f2| -> fully connected layers -> one logit; sigmoid gives the probability
  that the pair is similar, trained with BCE (eq. 24). Higher = more similar.
* ``triplet`` (beyond the paper): L2-normalised embeddings trained with a triplet margin loss; the score
  is the Euclidean distance, as in ``classic``.

Example:
    >>> import torch
    >>> from drugsim.deep.backbones import build_backbone
    >>> net = SiameseNetwork(build_backbone("resnet18"), variant="improved", head_hidden=16)
    >>> net(torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)).shape
    torch.Size([2])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from drugsim.deep.backbones import Backbone
from drugsim.deep.losses import euclidean_distance
from drugsim.errors import ConfigError


class ImprovedHead(nn.Module):
    """|f1 - f2| -> Linear -> ReLU -> Linear -> logit (Fig. 9; the sigmoid is applied by the caller/loss)."""

    def __init__(self, in_features: int, hidden: int = 256) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))

    def forward(self, embedding_a: torch.Tensor, embedding_b: torch.Tensor) -> torch.Tensor:
        return self.layers(torch.abs(embedding_a - embedding_b)).squeeze(1)


class SiameseNetwork(nn.Module):
    """A shared backbone and a variant-specific head.

    Args:
        backbone: a :class:`~drugsim.deep.backbones.Backbone` (B, 3, H, W) -> (B, D).
        variant: ``improved``, ``classic`` or ``triplet``.
        head_hidden: hidden width of the improved head.

    ``forward(x1, x2)`` returns the pair score input: the logit (improved) or the distance (classic,
    triplet). :meth:`embed` gives the embeddings, :meth:`head` scores two embedding batches.
    """

    def __init__(self, backbone: Backbone, *, variant: str = "improved", head_hidden: int = 256) -> None:
        super().__init__()
        if variant not in ("improved", "classic", "triplet"):
            raise ConfigError(f"variant {variant!r} is not supported. Try one of: improved, classic, triplet")
        self.variant = variant
        self.backbone = backbone
        self.pair_head = ImprovedHead(backbone.out_features, head_hidden) if variant == "improved" else None

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Embeddings (B, D) of images (B, 3, H, W) in [0, 1]; L2-normalised for the triplet variant."""
        features = self.backbone(images)
        return F.normalize(features, dim=1) if self.variant == "triplet" else features

    def head(self, embedding_a: torch.Tensor, embedding_b: torch.Tensor) -> torch.Tensor:
        """Logit (improved) or Euclidean distance (classic, triplet), shape (B,)."""
        if self.pair_head is not None:
            return self.pair_head(embedding_a, embedding_b)
        return euclidean_distance(embedding_a, embedding_b)

    def forward(self, images_a: torch.Tensor, images_b: torch.Tensor, images_c: torch.Tensor | None = None):
        """Pair: head(embed(a), embed(b)). Triplet training: the three embeddings (anchor, pos, neg)."""
        if images_c is not None:
            batch = images_a.shape[0]
            embeddings = self.embed(torch.cat([images_a, images_b, images_c]))
            return embeddings[:batch], embeddings[batch:2 * batch], embeddings[2 * batch:]
        batch = images_a.shape[0]
        # One backbone pass over both halves: BatchNorm sees one batch, and it is faster.
        embeddings = self.embed(torch.cat([images_a, images_b]))
        return self.head(embeddings[:batch], embeddings[batch:])

    def similarity(self, raw: torch.Tensor) -> torch.Tensor:
        """The pair score users see: sigmoid probability (improved) or the distance itself."""
        return torch.sigmoid(raw) if self.variant == "improved" else raw

