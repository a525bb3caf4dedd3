"""Data layer: image records, loaders, synthetic drug boxes, splits, pair lists, augmentation."""

from drugsim.data.records import FACES, ImageRecord, Pair

__all__ = ["FACES", "ImageRecord", "Pair"]
