"""The split rules: class-disjoint splits (test drugs are never seen in training; paper section 4.1: drugs
1-133 train, 134-153 test), the split a dataset declares, a dataset's official split files and their shape on a
copy without test.txt. We also carve a validation set, which the paper lacks, so thresholds and models are
chosen without looking at the test split.

:mod:`drugsim.data.protocol` applies these rules (:func:`split_by_protocol`) and is the only caller outside
the tests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from drugsim.data.records import ImageRecord
from drugsim.errors import DatasetError

PathLike = Union[str, os.PathLike]
#: The splits a protocol makes.
SPLITS = ("train", "val", "test")
Splits = Dict[str, List[ImageRecord]]
#: Names of the protocols a run can end up with (recorded in results and pair files).
CLASS_DISJOINT, OFFICIAL, UNSEEN_PRODUCTS = "class-disjoint", "official", "unseen-products"
#: A Grocery copy without test.txt, split in the official shape: val.txt photos test, validation carved from train.txt.
OFFICIAL_VAL_AS_TEST = "official-val-as-test"
#: Share of each class's train.txt photos carved for validation when val.txt photos are the test split.
CARVED_VAL_FRACTION = 0.15
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


def has_official_test(records: Sequence[ImageRecord]) -> bool:
    """True when the dataset lists an official test split (a Grocery Store copy with test.txt)."""
    return any(r.official_split == "test" for r in records)


Splits = Dict[str, List[ImageRecord]]


def declared_split(root: PathLike) -> Optional[Dict[str, List[str]]]:
    """The class-disjoint split a dataset declares in ``splits.json`` (written by ``drugsim data synth``):
    ``{"train": [...], "val": [...], "test": [...]}`` class names, or None when the file is absent.

    Raises:
        DatasetError: the file is not UTF-8 JSON with three disjoint lists of class names.
    """
    from drugsim.data.synth import SPLIT_FILE

    path = Path(root) / SPLIT_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f"{path}: not a UTF-8 JSON split record ({exc})") from None
    if not isinstance(record, dict) or not all(
            isinstance(record.get(split), list) and all(isinstance(c, str) for c in record[split]) for split in SPLITS):
        raise DatasetError(f"{path}: expected lists of class names under 'train', 'val' and 'test'")
    split = {name: list(record[name]) for name in SPLITS}
    seen: Dict[str, str] = {}
    for name, labels in split.items():
        for label in labels:
            if label in seen:
                raise DatasetError(f"{path}: class {label!r} is listed under both {seen[label]!r} and {name!r}")
            seen[label] = name
    if not split["test"] or not split["val"] or not split["train"]:
        raise DatasetError(f"{path}: every split needs at least one class")
    return split


def _by_declared_split(records: Sequence[ImageRecord], declared: Dict[str, List[str]]) -> Splits:
    split_of = {label: name for name, labels in declared.items() for label in labels}
    missing = sorted({r.label for r in records} - set(split_of))
    if missing:
        raise DatasetError(f"classes {missing[:5]} are in no split of the dataset's splits.json "
                           "(add them there, or delete splits.json to let drugsim split the classes)")
    splits: Splits = {name: [] for name in SPLITS}
    for record in records:
        splits[split_of[record.label]].append(record)
    return splits


def _carve_validation(train_photos: Sequence[ImageRecord], *, seed: int) -> Tuple[List[ImageRecord], List[ImageRecord]]:
    """Split each class's photos into (training, validation): a seeded :data:`CARVED_VAL_FRACTION` of each
    class with at least four photos (at least two, so validation has positive pairs) goes to validation."""
    rng = np.random.default_rng([seed, 31])
    by_class: Dict[str, List[ImageRecord]] = {}
    for record in train_photos:
        by_class.setdefault(record.label, []).append(record)
    train: List[ImageRecord] = []
    val: List[ImageRecord] = []
    for label in sorted(by_class):
        photos = sorted(by_class[label], key=lambda r: str(r.path))
        n_val = max(2, round(len(photos) * CARVED_VAL_FRACTION)) if len(photos) >= 4 else 0
        chosen = set(rng.permutation(len(photos))[:n_val].tolist())
        for index, record in enumerate(photos):
            (val if index in chosen else train).append(record)
    return train, val


def split_by_protocol(records: Sequence[ImageRecord], *, seed: int, grocery_protocol: str,
                      declared: Optional[Dict[str, List[str]]] = None) -> Tuple[Splits, str]:
    """The uncapped ``{"train", "val", "test"}`` split of ``records`` and the protocol's name.

    Args:
        records: every photo of the dataset.
        seed: seed of a class split (used where the dataset declares none).
        grocery_protocol: ``official`` or ``unseen-products`` (a dataset with official split files).
        declared: the dataset's own class split (:func:`declared_split`), used when it has no official split.

    Raises:
        DatasetError: an official split without val.txt or train.txt photos; too few classes to split.
    """
    official = {r.official_split for r in records} - {None}
    if not has_official_test(records):
        if official and grocery_protocol == OFFICIAL:
            return _official_shape(records), OFFICIAL_VAL_AS_TEST
        if declared is not None:
            return _by_declared_split(records, declared), CLASS_DISJOINT
        return split_dataset(records, seed=seed), CLASS_DISJOINT
    by_file: Dict[str, List[ImageRecord]] = {split: [] for split in SPLITS}
    for record in records:
        by_file[record.official_split or "train"].append(record)
    for split, name in (("train", "train.txt"), ("val", "val.txt")):
        if not by_file[split]:
            raise DatasetError(
                f"the official split lists test.txt photos but no {name} photos; "
                f"the {split} split needs them (restore dataset/{name} or use a copy without test.txt)"
            )
    if grocery_protocol == OFFICIAL:
        return by_file, OFFICIAL
    assignment = split_classes([r.label for r in records], seed=seed)
    split_of = {label: split for split, labels in assignment.items() for label in labels}
    splits: Dict[str, List[ImageRecord]] = {split: [] for split in SPLITS}
    for record in records:
        split = split_of[record.label]
        # Test: official test photos of the test classes; train/val: train.txt + val.txt photos of theirs.
        if (split == "test") == (record.official_split == "test"):
            splits[split].append(record)
    return splits, UNSEEN_PRODUCTS


def _official_shape(records: Sequence[ImageRecord]) -> Splits:
    """A copy with train.txt and val.txt only: val.txt photos test, validation carved from train.txt per class
    (the official protocol's question, new photos of known products, on the photos that exist)."""
    test = [r for r in records if r.official_split == "val"]
    if not test:
        raise DatasetError("the dataset's split files list no val.txt photo, so the official shape has no test "
                           "split (restore dataset/val.txt, or use grocery_protocol='unseen-products')")
    train, val = _carve_validation([r for r in records if r.official_split != "val"], seed=0)
    return {"train": train, "val": val, "test": test}
