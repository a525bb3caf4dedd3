"""Shared fixtures of the deep tests: a toy image set built in a temp folder (no dependency on the
synthetic-data generator), its pairs, and the device and tolerances used everywhere (kornia's
testing/base.py idea: choose them in one place)."""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import pytest
import torch

from drugsim.data import protocol
from drugsim.data.records import ImageRecord, Pair
from drugsim.io import write_image

DEVICE = "cpu"
ATOL = 1e-6
RTOL = 1e-5

torch.set_num_threads(2)


def make_toy_images(root: Path, *, n_groups: int = 4, per_group: int = 4, size: int = 40, seed: int = 0
                    ) -> List[ImageRecord]:
    """Groups of noisy copies of one random colour pattern; the last token of the name is the
    feature flag (even groups feature-rich: a textured pattern; odd groups: a nearly blank face)."""
    rng = np.random.default_rng(seed)
    records = []
    for group in range(n_groups):
        rich = group % 2 == 0
        if rich:
            base = rng.integers(0, 256, size=(8, 8, 3)).repeat(size // 8, 0).repeat(size // 8, 1)
        else:
            base = np.full((size, size, 3), rng.integers(150, 256, size=3))
        folder = root / f"drug{group}"
        for index in range(per_group):
            noisy = np.clip(base + rng.normal(0, 8, size=base.shape), 0, 255).astype(np.uint8)
            path = write_image(folder / f"{group}_{index:03d}_{int(rich)}.png", noisy)
            records.append(ImageRecord(path=path, label=f"drug{group}", face="front", feature_rich=rich))
    return records


def toy_pairs(records: List[ImageRecord], *, seed: int = 0) -> List[Pair]:
    """Algorithm-2-like: consecutive images of a group are positives; each gets one negative."""
    rng = np.random.default_rng(seed)
    by_group = {}
    for record in records:
        by_group.setdefault(record.group, []).append(record.path)
    pairs = []
    groups = sorted(by_group)
    for group in groups:
        paths = by_group[group]
        for k in range(len(paths) - 1):
            pairs.append(Pair(paths[k], paths[k + 1], 1))
            other = [g for g in groups if g != group][int(rng.integers(len(groups) - 1))]
            pairs.append(Pair(paths[k], by_group[other][int(rng.integers(len(by_group[other])))], 0))
    return pairs


@pytest.fixture(scope="session")
def toy_records(tmp_path_factory) -> List[ImageRecord]:
    return make_toy_images(tmp_path_factory.mktemp("toy"))


@pytest.fixture(scope="session")
def toy_pair_list(toy_records) -> List[Pair]:
    return toy_pairs(toy_records)


@pytest.fixture
def toy_data(monkeypatch, tmp_path, toy_records, toy_pair_list):
    """The one pair source (`drugsim.data.protocol.load_protocol_pairs`) stubbed to the toy split, for CLI tests."""
    def toy_protocol(data_dir, *, settings, splits=protocol.SPLITS, **_):
        return protocol.ProtocolData(
            records_by_split={s: toy_records for s in protocol.SPLITS},
            pairs_by_split={s: toy_pair_list for s in splits},
            root=tmp_path, source="toy", protocol=protocol.CLASS_DISJOINT, settings=settings)

    monkeypatch.setattr(protocol, "load_protocol_pairs", toy_protocol)
