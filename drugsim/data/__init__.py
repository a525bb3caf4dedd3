"""Data layer: image records, loaders, synthetic drug boxes, the one split-and-pair protocol, augmentation.

Augmentation needs torch; it is imported lazily so classical-only users never load it.
"""

from drugsim.data.loaders import load_dataset, resolve_data_root
from drugsim.data.pairs import algorithm1_pairs, algorithm2_pairs, pair_statistics, read_pairs, write_pairs
from drugsim.data.protocol import (
    ProtocolData,
    ProtocolSettings,
    load_protocol_pairs,
    make_pairs,
    pairs_sha256,
    sample_pairs,
    write_protocol_pairs,
)
from drugsim.data.records import FACES, ImageRecord, Pair
from drugsim.data.splits import split_classes, split_dataset
from drugsim.data.synth import generate_dataset

__all__ = [
    "FACES", "ImageRecord", "Pair", "ProtocolData", "ProtocolSettings", "algorithm1_pairs", "algorithm2_pairs",
    "eval_transform", "generate_dataset", "load_dataset", "load_protocol_pairs", "make_pairs", "pair_statistics",
    "paper_augmentation", "pairs_sha256", "read_pairs", "resolve_data_root", "sample_pairs", "split_classes",
    "split_dataset", "write_pairs", "write_protocol_pairs",
]


def __getattr__(name):
    if name in ("paper_augmentation", "eval_transform"):
        from drugsim.data import augment

        return getattr(augment, name)
    raise AttributeError(f"module 'drugsim.data' has no attribute {name!r}")
