"""Pair lists: the paper's Algorithm 1 (random pairs) and Algorithm 2 (every same-face pair plus one
negative each), written to and read from tab-separated text files as the paper's training does.

A pair is positive when both photos show the same face of the same drug (:attr:`ImageRecord.group`);
where faces are unknown (user folders, Grocery photos), when both show the same class.

References:
    Paper section 4.1.2, Algorithms 1 and 2 (the Chinese full text gives the pseudo-code).
"""

from __future__ import annotations

import os
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from drugsim.data.records import ImageRecord, Pair
from drugsim.errors import ConfigError, DatasetError
from drugsim.io import write_text_atomic

PathLike = Union[str, os.PathLike]
RngLike = Union[np.random.Generator, int, None]


def _rng(rng: RngLike) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _by(records: Sequence[ImageRecord], key) -> Dict[str, List[ImageRecord]]:
    groups: Dict[str, List[ImageRecord]] = defaultdict(list)
    for record in records:
        groups[key(record)].append(record)
    return dict(sorted(groups.items()))


def _check_enough_classes(records: Sequence[ImageRecord]) -> None:
    if not records:
        raise DatasetError("no images to pair (the split is empty)")
    if len({r.label for r in records}) < 2:
        raise DatasetError(
            f"pairs need at least 2 classes for negatives; got only {sorted({r.label for r in records})}"
        )


class _UsedPairs:
    """The pairs already in a list, regardless of order ((a, b) and (b, a) are one pair), as integers: the
    paper-sized training list holds millions."""

    def __init__(self, records: Sequence[ImageRecord]):
        self._index = {str(r.path): i for i, r in enumerate(records)}
        self._n = len(self._index)
        self._keys: set = set()

    def _key(self, path_a: Path, path_b: Path) -> int:
        a, b = self._index[str(path_a)], self._index[str(path_b)]
        return min(a, b) * self._n + max(a, b)

    def __contains__(self, pair: Tuple[Path, Path]) -> bool:
        return self._key(*pair) in self._keys

    def add(self, path_a: Path, path_b: Path) -> None:
        self._keys.add(self._key(path_a, path_b))


def _max_distinct_pairs(records: Sequence[ImageRecord]) -> Tuple[int, int]:
    """How many distinct positive (same group) and inter-class negative pairs ``records`` can give."""
    by_group = _by(records, lambda r: r.group)
    by_class = _by(records, lambda r: r.label)
    positives = sum(len(g) * (len(g) - 1) // 2 for g in by_group.values())
    n = len(records)
    negatives = (n * n - sum(len(c) ** 2 for c in by_class.values())) // 2
    return positives, negatives


def algorithm1_pairs(records: Sequence[ImageRecord], n_pairs: int, *, rng: RngLike = 0) -> List[Pair]:
    """Algorithm 1: draw an image; with p = 0.5 a positive partner (same group), else one of another class.

    Only inter-class negatives, as the paper criticises. Groups with a single photo cannot give a
    positive; the draw is repeated (as the paper's ``while`` loop does), and so is a draw of a pair already in
    the list (in either order): a list never holds a pair twice.

    Raises:
        DatasetError: ``n_pairs`` is more than the distinct positive and negative pairs the photos allow.
    """
    if n_pairs < 1:
        raise ConfigError(f"n_pairs must be at least 1, got {n_pairs}")
    _check_enough_classes(records)
    rng = _rng(rng)
    groups = _by(records, lambda r: r.group)
    records = list(records)
    if not any(len(g) > 1 for g in groups.values()):
        raise DatasetError("no class or face has two photos: Algorithm 1 cannot draw a positive pair")
    max_positives, max_negatives = _max_distinct_pairs(records)
    if n_pairs > max_positives + max_negatives:
        raise DatasetError(
            f"{n_pairs} distinct Algorithm 1 pairs asked for, but these {len(records)} photos give only "
            f"{max_positives} distinct positive and {max_negatives} negative pairs: ask for fewer pairs"
        )
    used = _UsedPairs(records)
    pairs: List[Pair] = []
    while len(pairs) < n_pairs:
        first = records[rng.integers(len(records))]
        if rng.integers(2) == 1:
            mates = [r for r in groups[first.group] if r.path != first.path]
            if not mates:
                continue
            second, label = mates[rng.integers(len(mates))], 1
        else:
            while True:
                second = records[rng.integers(len(records))]
                if second.label != first.label:
                    break
            label = 0
        if (first.path, second.path) in used:
            continue
        used.add(first.path, second.path)
        pairs.append(Pair(first.path, second.path, label))
    return pairs


def _draw_unused(candidates: Sequence[ImageRecord], anchor: ImageRecord, used: _UsedPairs,
                 rng: np.random.Generator) -> Optional[ImageRecord]:
    """A uniform draw from ``candidates`` whose pair with ``anchor`` is not in ``used`` (None if none is left).

    Rejection first (the pool is usually far larger than what is used), then the exact remaining pool."""
    for _ in range(8):
        candidate = candidates[rng.integers(len(candidates))]
        if (anchor.path, candidate.path) not in used:
            return candidate
    remaining = [c for c in candidates if (anchor.path, c.path) not in used]
    return remaining[rng.integers(len(remaining))] if remaining else None


def algorithm2_pairs(records: Sequence[ImageRecord], *, rng: RngLike = 0) -> List[Pair]:
    """Algorithm 2: every unordered pair of distinct photos of one group is a positive, each followed by
    one negative for its first photo: with p = 0.5 another face of the same drug (an intra-class
    negative), else a photo of another drug.

    A group of n photos gives n(n-1)/2 positives and as many negatives; this reading reproduces the
    paper's sizes (about 3.1 million training and 120 thousand test pairs from 42,437 and 3,389
    photos). Where a drug has no other face (or faces are unknown) the negative comes from another
    drug. Negatives are drawn without replacement: a negative already in the list (in either order) is
    drawn again, so no pair occurs twice and the test does not count one decision twice (drawing with
    replacement repeated 11 % of the Grocery test negatives). When every intra-class candidate of an anchor is
    used the negative comes from another drug. A class with one photo gives no positive; a warning names it.
    """
    _check_enough_classes(records)
    rng = _rng(rng)
    by_class = _by(records, lambda r: r.label)
    all_records = sorted(records, key=lambda r: str(r.path))
    pairs: List[Pair] = []
    used = _UsedPairs(all_records)
    short = 0
    for label, members in by_class.items():
        members = sorted(members, key=lambda r: str(r.path))
        groups = _by(members, lambda r: r.group)
        if len(members) == 1:
            warnings.warn(f"class {label!r} has a single photo ({members[0].path}): it gives no positive pair",
                          stacklevel=2)
        others_in_class = {g: [r for r in members if r.group != g] for g in groups}
        outside = [r for r in all_records if r.label != label]
        for group, photos in groups.items():
            intra = others_in_class[group]
            for i in range(len(photos)):
                for j in range(i + 1, len(photos)):
                    anchor = photos[i]
                    pairs.append(Pair(anchor.path, photos[j].path, 1))
                    used.add(anchor.path, photos[j].path)
                    negative = None
                    if intra and rng.integers(2) == 1:
                        negative = _draw_unused(intra, anchor, used, rng)
                    if negative is None:
                        negative = _draw_unused(outside, anchor, used, rng)
                    if negative is None:
                        # Every other-class photo is already paired with the anchor (tiny classes): the
                        # positive's second photo takes the negative instead, or the pair goes without one.
                        anchor = photos[j]
                        negative = _draw_unused(outside, anchor, used, rng)
                    if negative is None:
                        short += 1
                        continue
                    used.add(anchor.path, negative.path)
                    pairs.append(Pair(anchor.path, negative.path, 0))
    if not pairs:
        raise DatasetError("no group has two photos: Algorithm 2 produced no pair")
    if short:
        warnings.warn(f"{short} positive pair(s) got no negative: every photo of another class was already paired "
                      "with both of their photos (too few classes or photos for distinct negatives)", stacklevel=2)
    return pairs


def pair_statistics(pairs: Sequence[Pair], records: Sequence[ImageRecord]) -> Dict[str, int]:
    """Counts of positives, intra-class negatives (same drug, other face) and inter-class negatives."""
    # Resolved paths: pair files read back hold absolute paths, loaders may give relative ones.
    label_of = {Path(r.path).resolve(): r.label for r in records}
    stats = {"n_pairs": len(pairs), "positives": 0, "intra_class_negatives": 0, "inter_class_negatives": 0}
    for pair in pairs:
        if pair.label == 1:
            stats["positives"] += 1
        elif label_of[Path(pair.path_a).resolve()] == label_of[Path(pair.path_b).resolve()]:
            stats["intra_class_negatives"] += 1
        else:
            stats["inter_class_negatives"] += 1
    return stats


def _relative(path: Path, root: Optional[Path]) -> str:
    if root is None:
        return str(path)
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise DatasetError(f"{path} is outside the dataset root {root}") from None


def format_pairs(pairs: Sequence[Pair], *, root: Optional[PathLike] = None) -> str:
    """The text of a pair list: ``path A<TAB>path B<TAB>label`` lines, paths relative to ``root`` when given."""
    root_path = Path(root) if root is not None else None
    lines = [f"{_relative(p.path_a, root_path)}\t{_relative(p.path_b, root_path)}\t{int(p.label)}" for p in pairs]
    return "\n".join(lines) + ("\n" if lines else "")


def write_pairs(path: PathLike, pairs: Sequence[Pair], *, root: Optional[PathLike] = None) -> Path:
    """Write :func:`format_pairs` of ``pairs`` to ``path`` atomically."""
    return write_text_atomic(path, format_pairs(pairs, root=root))


def _pair_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 pair list (a leading byte-order mark dropped); an error names the bad line."""
    from drugsim.io import decode_lines

    return decode_lines(path.read_bytes(), path)


def read_pairs(path: PathLike, *, root: Optional[PathLike] = None, check_files: bool = True) -> List[Pair]:
    """Read a pair list written by :func:`write_pairs`.

    Relative paths are resolved against ``root``. Every line is checked: three tab-separated fields,
    label 0 or 1, both files present and inside ``root``; an error names the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such pair list")
    root_path = Path(root).resolve() if root is not None else None
    pairs: List[Pair] = []
    for number, line in enumerate(_pair_lines(path), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        where = f"{path}:{number}"
        if "\0" in line:
            raise DatasetError(f"{where}: contains a NUL byte, expected text paths")
        if len(fields) != 3:
            raise DatasetError(f"{where}: expected 'path A<TAB>path B<TAB>label', got {len(fields)} field(s)")
        if fields[2].strip() not in ("0", "1"):
            raise DatasetError(f"{where}: label must be 0 or 1, got {fields[2]!r}")
        images = []
        for field in fields[:2]:
            image = Path(field)
            if not image.is_absolute():
                if root_path is None:
                    raise DatasetError(f"{where}: relative path {field!r} needs the dataset root (root=/--data)")
                image = root_path / image
            if root_path is not None:
                try:
                    image.resolve().relative_to(root_path)
                except ValueError:
                    raise DatasetError(f"{where}: {field} is outside the dataset root {root_path}") from None
            if check_files and not image.is_file():
                raise DatasetError(f"{where}: image {image} does not exist")
            images.append(image)
        pairs.append(Pair(images[0], images[1], int(fields[2])))
    return pairs
