"""Losses of the Siamese networks, each a function plus a thin ``nn.Module`` (kornia style).

* :func:`contrastive_loss`: the classic network's loss, eq. 22 of the paper as printed,
  ``L = 1/2 Y D^2 + 1/2 (1 - Y) max(0, m - D^2)^2`` with m = 2 and Y = 1 for similar pairs, or the
  standard form of Hadsell et al. (2006), ``max(0, m - D)^2`` in the negative term (``form="hadsell"``).
* :func:`pair_bce_loss`: the improved network's binary cross-entropy (eq. 24) on the head's logit
  (the sigmoid is folded into the loss for numerical stability; the value equals BCE(sigmoid(z), Y)).
* :func:`triplet_loss`: ``max(0, D(a, p) - D(a, n) + margin)`` (beyond the paper).

Example:
    >>> import torch
    >>> contrastive_loss(torch.tensor([1.0]), torch.tensor([0.0]), margin=2.0)
    tensor(0.5000)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ValueError(f"reduction {reduction!r} is not supported. Try one of: {', '.join(_REDUCTIONS)}")


def _check_pair_shapes(a: torch.Tensor, label: torch.Tensor, what: str) -> None:
    if a.ndim != 1 or label.shape != a.shape:
        raise ValueError(f"expected {what} and label of the same shape (B,), got {tuple(a.shape)} and "
                         f"{tuple(label.shape)}")


def contrastive_loss(
    distance: torch.Tensor,
    label: torch.Tensor,
    *,
    margin: float = 2.0,
    form: str = "paper",
    reduction: str = "mean",
) -> torch.Tensor:
    """Contrastive loss of the classic Siamese network.

    Args:
        distance: Euclidean distances D_w of the pairs, shape (B,), >= 0.
        label: Y, shape (B,), 1 for similar pairs and 0 for dissimilar ones.
        margin: m (the paper uses 2).
        form: ``"paper"`` -> negative term max(0, m - D^2)^2 (eq. 22 as printed);
            ``"hadsell"`` -> max(0, m - D)^2 (Hadsell, Chopra, LeCun 2006).
        reduction: ``mean``, ``sum`` or ``none``.

    Returns:
        The loss (scalar, or (B,) with ``reduction="none"``).

    References:
        Paper section 2.6, eq. 22.

    Example:
        >>> import torch
        >>> contrastive_loss(torch.tensor([1.0, 1.0]), torch.tensor([1.0, 0.0]), reduction="none")
        tensor([0.5000, 0.5000])
    """
    _check_pair_shapes(distance, label, "distance")
    label = label.to(distance.dtype)
    if form == "paper":
        gap = torch.clamp(margin - distance.pow(2), min=0.0)
    elif form == "hadsell":
        gap = torch.clamp(margin - distance, min=0.0)
    else:
        raise ValueError(f"form {form!r} is not supported. Try one of: paper, hadsell")
    values = 0.5 * label * distance.pow(2) + 0.5 * (1.0 - label) * gap.pow(2)
    return _reduce(values, reduction)


def pair_bce_loss(logit: torch.Tensor, label: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """Binary cross-entropy of the improved Siamese head (eq. 24), from the pre-sigmoid logit.

    Equals ``-[Y log p + (1 - Y) log(1 - p)]`` with ``p = sigmoid(logit)``.

    Example:
        >>> import torch
        >>> round(float(pair_bce_loss(torch.tensor([0.0]), torch.tensor([1.0]))), 4)  # -log(0.5)
        0.6931
    """
    _check_pair_shapes(logit, label, "logit")
    values = F.binary_cross_entropy_with_logits(logit, label.to(logit.dtype), reduction="none")
    return _reduce(values, reduction)


def triplet_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    *,
    margin: float = 0.5,
    reduction: str = "mean",
) -> torch.Tensor:
    """Triplet margin loss ``max(0, ||a - p|| - ||a - n|| + margin)`` on embeddings of shape (B, D).

    Example:
        >>> import torch
        >>> a, p, n = torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
        >>> triplet_loss(a, p, n, margin=1.5)
        tensor(0.5000)
    """
    if anchor.ndim != 2 or positive.shape != anchor.shape or negative.shape != anchor.shape:
        raise ValueError(f"expected three embeddings of the same shape (B, D), got {tuple(anchor.shape)}, "
                         f"{tuple(positive.shape)}, {tuple(negative.shape)}")
    d_pos = euclidean_distance(anchor, positive)
    d_neg = euclidean_distance(anchor, negative)
    return _reduce(torch.clamp(d_pos - d_neg + margin, min=0.0), reduction)


def euclidean_distance(a: torch.Tensor, b: torch.Tensor, *, eps: float = 1e-9) -> torch.Tensor:
    """Row-wise Euclidean distance (eq. 23), shape (B,); ``eps`` keeps the gradient finite at 0."""
    return torch.sqrt((a - b).pow(2).sum(dim=1) + eps)


class ContrastiveLoss(nn.Module):
    """Module form of :func:`contrastive_loss`."""

    def __init__(self, margin: float = 2.0, form: str = "paper", reduction: str = "mean") -> None:
        super().__init__()
        self.margin, self.form, self.reduction = margin, form, reduction

    def forward(self, distance: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return contrastive_loss(distance, label, margin=self.margin, form=self.form, reduction=self.reduction)


class PairBCELoss(nn.Module):
    """Module form of :func:`pair_bce_loss`."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, logit: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return pair_bce_loss(logit, label, reduction=self.reduction)


class TripletLoss(nn.Module):
    """Module form of :func:`triplet_loss`."""

    def __init__(self, margin: float = 0.5, reduction: str = "mean") -> None:
        super().__init__()
        self.margin, self.reduction = margin, reduction

    def forward(self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        return triplet_loss(anchor, positive, negative, margin=self.margin, reduction=self.reduction)
