"""Losses: hand-worked values, slow loop re-implementations (PML style), reductions, gradients, errors."""

from __future__ import annotations

import math

import pytest
import torch

from drugsim.deep.losses import (
    ContrastiveLoss,
    PairBCELoss,
    TripletLoss,
    contrastive_loss,
    euclidean_distance,
    pair_bce_loss,
    triplet_loss,
)

from .conftest import ATOL, RTOL


def slow_contrastive(distances, labels, margin, form):
    """Eq. 22 term by term, one pair at a time."""
    total = 0.0
    for d, y in zip(distances.tolist(), labels.tolist()):
        inner = margin - d * d if form == "paper" else margin - d
        total += 0.5 * y * d * d + 0.5 * (1 - y) * max(0.0, inner) ** 2
    return total / len(distances)


def slow_bce(logits, labels):
    total = 0.0
    for z, y in zip(logits.tolist(), labels.tolist()):
        p = 1.0 / (1.0 + math.exp(-z))
        total += -(y * math.log(p) + (1 - y) * math.log(1 - p))
    return total / len(logits)


def slow_triplet(a, p, n, margin):
    total = 0.0
    for i in range(a.shape[0]):
        d_pos = math.sqrt(sum((x - y) ** 2 for x, y in zip(a[i].tolist(), p[i].tolist())))
        d_neg = math.sqrt(sum((x - y) ** 2 for x, y in zip(a[i].tolist(), n[i].tolist())))
        total += max(0.0, d_pos - d_neg + margin)
    return total / a.shape[0]


def test_contrastive_hand_worked_paper_form():
    # m = 2. Similar pair at D = 1: 1/2 * 1 = 0.5. Dissimilar at D = 1: 1/2 * (2 - 1)^2 = 0.5.
    # Dissimilar at D = 0.5: 1/2 * (2 - 0.25)^2 = 1.53125. Dissimilar at D = 1.5: D^2 = 2.25 > m -> 0.
    distance = torch.tensor([1.0, 1.0, 0.5, 1.5])
    label = torch.tensor([1.0, 0.0, 0.0, 0.0])
    values = contrastive_loss(distance, label, margin=2.0, reduction="none")
    torch.testing.assert_close(values, torch.tensor([0.5, 0.5, 1.53125, 0.0]))


def test_contrastive_hand_worked_hadsell_form():
    # Hadsell: dissimilar at D = 1.5 -> 1/2 * (2 - 1.5)^2 = 0.125 (the paper's form gives 0 here).
    values = contrastive_loss(torch.tensor([1.5, 0.5]), torch.tensor([0.0, 0.0]), margin=2.0, form="hadsell",
                              reduction="none")
    torch.testing.assert_close(values, torch.tensor([0.125, 1.125]))


@pytest.mark.parametrize("form", ["paper", "hadsell"])
@pytest.mark.parametrize("margin", [1.0, 2.0])
def test_contrastive_matches_slow_loop(form, margin):
    generator = torch.Generator().manual_seed(0)
    distance = torch.rand(50, generator=generator) * 3
    label = torch.randint(0, 2, (50,), generator=generator).float()
    fast = contrastive_loss(distance, label, margin=margin, form=form)
    assert float(fast) == pytest.approx(slow_contrastive(distance, label, margin, form), rel=RTOL, abs=ATOL)
    module = ContrastiveLoss(margin=margin, form=form)
    assert float(module(distance, label)) == pytest.approx(float(fast))


def test_bce_matches_slow_loop_and_hand_value():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(40, generator=generator) * 3
    labels = torch.randint(0, 2, (40,), generator=generator).float()
    assert float(pair_bce_loss(logits, labels)) == pytest.approx(slow_bce(logits, labels), rel=RTOL)
    # sigmoid(0) = 0.5 -> -log(0.5) = ln 2 whatever the label.
    assert float(PairBCELoss()(torch.zeros(2), torch.tensor([0.0, 1.0]))) == pytest.approx(math.log(2))


def test_triplet_matches_slow_loop_and_hand_value():
    generator = torch.Generator().manual_seed(2)
    a, p, n = (torch.randn(20, 5, generator=generator) for _ in range(3))
    assert float(triplet_loss(a, p, n, margin=0.7)) == pytest.approx(slow_triplet(a, p, n, 0.7), rel=1e-4)
    # d(a,p) = 1, d(a,n) = 2, margin 1.5 -> 1 - 2 + 1.5 = 0.5; margin 0.5 -> 0.
    a, p, n = torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    assert float(TripletLoss(margin=1.5)(a, p, n)) == pytest.approx(0.5, abs=1e-6)
    assert float(triplet_loss(a, p, n, margin=0.5)) == pytest.approx(0.0, abs=1e-6)


def test_reductions_and_gradient_at_zero_distance():
    distance = torch.zeros(3, requires_grad=True)
    label = torch.tensor([1.0, 0.0, 1.0])
    assert float(contrastive_loss(distance, label, reduction="sum").detach()) == pytest.approx(0.5 * 4)
    a = torch.zeros(2, 4, requires_grad=True)
    d = euclidean_distance(a, torch.zeros(2, 4))
    d.sum().backward()
    assert torch.isfinite(a.grad).all()


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="same shape"):
        contrastive_loss(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="form 'cubic' is not supported"):
        contrastive_loss(torch.zeros(3), torch.zeros(3), form="cubic")
    with pytest.raises(ValueError, match="reduction 'max' is not supported"):
        pair_bce_loss(torch.zeros(3), torch.zeros(3), reduction="max")
    with pytest.raises(ValueError, match=r"\(B, D\)"):
        triplet_loss(torch.zeros(3), torch.zeros(3), torch.zeros(3))
