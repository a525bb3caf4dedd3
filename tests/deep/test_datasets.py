"""Datasets: triplets from Algorithm 2 pairs, the image cache, the tensor augmentation."""

from __future__ import annotations

from pathlib import Path

import torch

from drugsim import paper
from drugsim.data.records import Pair
from drugsim.deep.datasets import (
    ImageCache,
    PaperAugmentation,
    images_to_tensor,
    make_triplets,
)


def test_triplets_join_each_positive_with_its_anchors_negative():
    a, b, c, x, y = (Path(n) for n in "abcxy")
    pairs = [Pair(a, b, 1), Pair(a, x, 0), Pair(b, c, 1), Pair(b, y, 0)]
    assert make_triplets(pairs) == [(a, b, x), (b, c, y)]
    # An anchor without a negative of its own borrows one from another pair.
    triplets = make_triplets([Pair(a, b, 1), Pair(c, x, 0)], seed=0)
    assert triplets == [(a, b, x)]
    assert make_triplets([Pair(a, b, 1)]) == []


def test_a_borrowed_triplet_negative_never_shows_the_anchors_group():
    # a-b-c are one group (joined through b); only d has a negative of its own, so a and b must borrow.
    a, b, c, d, e, x = (Path(n) for n in "abcdex")
    pairs = [Pair(a, b, 1), Pair(b, c, 1), Pair(d, e, 1), Pair(d, x, 0), Pair(e, c, 0), Pair(e, a, 0)]
    for seed in range(20):
        for anchor, _, negative in make_triplets(pairs, seed=seed):
            if anchor in (a, b):
                assert negative not in (a, b, c)


def test_cache_decodes_each_image_once_and_matches_the_eval_transform(toy_records):
    paths = [r.path for r in toy_records[:3]]
    cache = ImageCache(paths + paths, 32)
    assert len(cache) == 3 and cache.pixels.dtype == torch.uint8
    from drugsim.io import read_image

    expected = images_to_tensor([read_image(paths[1])], 32)[0]
    torch.testing.assert_close(cache.get(paths[1]), expected)


def test_paper_augmentation_settings_range_and_seeding():
    augment = PaperAugmentation()
    settings = paper.TRAINING["augmentation"]
    assert augment.jitter.brightness == settings["brightness"] and augment.jitter.hue == settings["hue"]
    image = torch.rand(3, 16, 16)
    torch.manual_seed(3)
    first = augment(image)
    torch.manual_seed(3)
    torch.testing.assert_close(augment(image), first)
    assert first.shape == image.shape and 0.0 <= float(first.min()) and float(first.max()) <= 1.0


