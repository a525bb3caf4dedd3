"""Class-disjoint splits: test drugs are never seen in training (paper section 4.1: drugs 1-133 train,
134-153 test). We also carve a validation set from the training drugs, which the paper lacks, so
thresholds can be fitted without looking at the test drugs.

:mod:`drugsim.data.protocol` decides which split a run uses (this one, or a dataset's official split) and
is the only caller outside the tests."""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

from drugsim.data.records import ImageRecord
from drugsim.errors import DatasetError

#: The paper's share of test drugs (20 of 153).
PAPER_TEST_FRACTION = 20 / 153
#: Share of the training drugs held out for validation (beyond the paper).
DEFAULT_VAL_FRACTION = 0.15


def split_classes(
    labels: Sequence[str], *, seed: int = 0, test_fraction: float = PAPER_TEST_FRACTION,
    val_fraction: float = DEFAULT_VAL_FRACTION,
) -> Dict[str, List[str]]:
    """Assign each class to train, val or test (seeded permutation; at least one class each).

    ``val_fraction`` is a share of the classes left after the test ones are taken.

    >>> split_classes([f"d{i}" for i in range(10)], seed=0)["test"]
    ['d8']
    """
    for name, value in (("test_fraction", test_fraction), ("val_fraction", val_fraction)):
        if not 0.0 < value < 1.0:
            raise DatasetError(f"{name} must be between 0 and 1 (exclusive), got {value}")
    classes = sorted(set(labels))
    if len(classes) < 3:
        raise DatasetError(
            f"a class-disjoint train/val/test split needs at least 3 classes, got {len(classes)}: {classes}"
        )
    order = [classes[i] for i in np.random.default_rng(seed).permutation(len(classes))]
    n_test = min(max(1, round(len(classes) * test_fraction)), len(classes) - 2)
    n_val = min(max(1, round((len(classes) - n_test) * val_fraction)), len(classes) - n_test - 1)
    return {
        "test": sorted(order[:n_test]),
        "val": sorted(order[n_test:n_test + n_val]),
        "train": sorted(order[n_test + n_val:]),
    }


def split_dataset(
    records: Sequence[ImageRecord], *, seed: int = 0, test_fraction: float = PAPER_TEST_FRACTION,
    val_fraction: float = DEFAULT_VAL_FRACTION,
) -> Dict[str, List[ImageRecord]]:
    """Split records by class into ``{"train", "val", "test"}``, class-disjoint."""
    assignment = split_classes([r.label for r in records], seed=seed, test_fraction=test_fraction,
                               val_fraction=val_fraction)
    split_of = {label: split for split, labels in assignment.items() for label in labels}
    splits: Dict[str, List[ImageRecord]] = {"train": [], "val": [], "test": []}
    for record in records:
        splits[split_of[record.label]].append(record)
    return splits
