"""Class-disjoint seeded splits."""

import pytest

from drugsim.data import ImageRecord, split_dataset
from drugsim.data.splits import split_classes
from drugsim.errors import DatasetError


def _records(n_classes, per_class=2):
    return [ImageRecord(path=f"/x/d{c:03d}/{i}.jpg", label=f"d{c:03d}") for c in range(n_classes)
            for i in range(per_class)]


def test_paper_sizes_133_20():
    classes = split_classes([f"d{i:03d}" for i in range(153)], seed=0)
    assert len(classes["test"]) == 20
    assert len(classes["train"]) + len(classes["val"]) == 133
    assert len(classes["val"]) >= 1


def test_class_disjoint_complete_and_seeded():
    records = _records(30)
    splits = split_dataset(records, seed=1)
    labels = {name: {r.label for r in part} for name, part in splits.items()}
    assert not (labels["train"] & labels["val"]) and not (labels["train"] & labels["test"])
    assert not (labels["val"] & labels["test"])
    assert sum(len(p) for p in splits.values()) == len(records)
    assert split_dataset(records, seed=1) == splits
    assert split_dataset(records, seed=2)["test"] != splits["test"]


def test_too_few_classes_and_bad_fractions():
    with pytest.raises(DatasetError, match="at least 3 classes"):
        split_dataset(_records(2))
    with pytest.raises(DatasetError, match="test_fraction must be between 0 and 1"):
        split_dataset(_records(5), test_fraction=1.5)
