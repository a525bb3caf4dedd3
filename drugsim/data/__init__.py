"""Data layer: image records, loaders, synthetic drug boxes, splits, pair lists, augmentation.

Augmentation needs torch; it is imported lazily so classical-only users never load it.
"""

from drugsim.data.loaders import load_dataset, resolve_data_root
from drugsim.data.pairs import (
    algorithm1_pairs,
    algorithm2_pairs,
    make_pairs,
    pair_statistics,
    read_pairs,
    subsample_pairs,
    write_pair_lists,
    write_pairs,
)
from drugsim.data.records import FACES, ImageRecord, Pair
from drugsim.data.splits import select_split, split_classes, split_dataset
from drugsim.data.synth import generate_dataset

__all__ = [
    "FACES", "ImageRecord", "Pair", "algorithm1_pairs", "algorithm2_pairs", "eval_transform",
    "generate_dataset", "load_dataset", "make_pairs", "pair_statistics", "paper_augmentation",
    "read_pairs", "resolve_data_root", "select_split", "split_classes", "split_dataset",
    "subsample_pairs", "write_pair_lists", "write_pairs",
]


def __getattr__(name):
    if name in ("paper_augmentation", "eval_transform"):
        from drugsim.data import augment

        return getattr(augment, name)
    raise AttributeError(f"module 'drugsim.data' has no attribute {name!r}")
