"""The two records every part of drugsim passes around: an image and a pair of images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

#: Box faces in the paper's order (section 4.1, Table 5).
FACES = ("front", "back", "side1", "side2", "side3", "side4")


@dataclass(frozen=True)
class ImageRecord:
    """One photo.

    Attributes:
        path: the image file.
        label: its class (the drug, or the product for the Grocery photos).
        face: one of :data:`FACES`, or None when unknown (user folders, Grocery photos).
        feature_rich: the paper's feature flag (True = enough features to match), or None when unknown.
        official_split: the split file that lists the photo (``"train"``, ``"val"`` or ``"test"`` for a
            Grocery Store copy), or None where the dataset has no official split.
    """

    path: Path
    label: str
    face: Optional[str] = None
    feature_rich: Optional[bool] = None
    official_split: Optional[str] = None

    @property
    def group(self) -> str:
        """What a positive pair must share: drug and face when the face is known, else the class."""
        return f"{self.label}/{self.face}" if self.face is not None else self.label


@dataclass(frozen=True)
class Pair:
    """Two images and whether they show the same thing (1 = positive, 0 = negative)."""

    path_a: Path
    path_b: Path
    label: int
