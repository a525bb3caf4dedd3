"""The one protocol behind every number: which photos form the train, validation and test splits, how many
photos of each group are kept, and which pairs are drawn from them.

Every chapter, CLI command, training run and benchmark gets its splits and pair lists from here, so within
one run on one dataset every chapter that scores test pairs scores the identical list (its sha256,
:func:`pairs_sha256`, goes into each chapter's results JSON).

The rules, in order:

1. **Split.** Class-disjoint (the paper's protocol: test drugs or products are never seen in training): the
   split a synthetic dataset declares in its ``splits.json`` (:func:`declared_split`; ``quick``: 40 test and 40
   validation drugs, ``paper``: the paper's last 20 drugs as test), else a seeded split of the classes
   (:func:`drugsim.data.splits.split_dataset`). A dataset with an official test split (a Grocery Store
   copy with ``dataset/test.txt``) is split by it: then, with ``grocery_protocol="official"``, test.txt photos are the test
   split, val.txt photos the validation split and train.txt photos the training split (new photos of known
   products; no test photo is ever trained on, fitted on or used to pick a model). With
   ``grocery_protocol="unseen-products"`` the classes are split class-disjointly as in the paper, training
   and validation use train.txt/val.txt photos of their classes and the test uses test.txt photos of the
   test classes (neither a test photo nor a test product is seen in training). A copy with train.txt and
   val.txt but no test.txt (the one shipped beside this project) keeps the official shape: its val.txt photos
   are the test split and validation photos are carved from each class's train.txt photos
   (:data:`OFFICIAL_VAL_AS_TEST`; ``grocery_protocol="unseen-products"`` splits its classes instead).
2. **Cap.** At most ``max_images_per_class`` photos of each group (drug and face, or class) of each split,
   a seeded choice (:func:`cap_photos`).
3. **Pairs.** Algorithm 2 (or 1) on each split's kept photos, seeded (:func:`make_pairs`); no pair occurs
   twice in a list, in either order. The lists are reused only while the data (every path, label, face and
   split, :func:`dataset_sha256`) and the settings are unchanged.
4. **Subsets.** A chapter that scores fewer pairs takes a seeded, balanced subsample (:func:`sample_pairs`)
   and records its hash beside the full list's.

Why validation = val.txt under the official protocol: the official test measures new photos of known
products, and val.txt photos are exactly that for thresholds and model selection; a class-disjoint carve
would fit thresholds on a different question (unseen products) than the one tested.

Example:
    >>> settings = ProtocolSettings(seed=1, max_images_per_class=4)
    >>> settings.fingerprint()["max_images_per_class"]
    4
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union

import numpy as np

from drugsim.data.records import ImageRecord, Pair
from drugsim.data.splits import (  # noqa: F401 - the protocol's names, read as protocol.OFFICIAL etc.
    CARVED_VAL_FRACTION,
    CLASS_DISJOINT,
    OFFICIAL,
    OFFICIAL_VAL_AS_TEST,
    SPLITS,
    UNSEEN_PRODUCTS,
    Splits,
    declared_split,
    has_official_test,
    split_by_protocol,
)
from drugsim.errors import ConfigError, DatasetError

PathLike = Union[str, os.PathLike]
T = TypeVar("T")

#: What ``drugsim pairs --split`` accepts: a split, or ``all`` (every photo; a dataset that took no part in fitting).
SELECTABLE_SPLITS = SPLITS + ("all",)
#: How a Grocery Store copy with an official test.txt is split (see the module docstring).
GROCERY_PROTOCOLS = ("official", "unseen-products")
#: Bumped whenever a rule here changes, so pair files of an older rule are rebuilt, not reused.
#: 2: negatives without replacement, the data's fingerprint, declared and official-shape splits.
PROTOCOL_REVISION = 2
#: Fewer test classes than this and a run's sentence about its splits warns that its intervals are wide.
FEW_TEST_CLASSES = 20
#: Beside the data chapter's pair lists: the settings they were made with (``<work_dir>/pairs/protocol.json``).
PROTOCOL_FILE = "protocol.json"


@dataclass(frozen=True)
class ProtocolSettings:
    """Everything that decides the splits and pairs of a run.

    Attributes:
        seed: seed of the split, the cap and the pair draw.
        max_images_per_class: photos kept per group (drug and face, or class) of each split; 0 = all.
        algorithm: pair algorithm, 1 or 2 (the paper's Algorithms).
        grocery_protocol: ``official`` or ``unseen-products``, used where the dataset has an official test split.
    """

    seed: int = 0
    max_images_per_class: int = 0
    algorithm: int = 2
    grocery_protocol: str = OFFICIAL

    def __post_init__(self) -> None:
        if self.algorithm not in (1, 2):
            raise ConfigError(f"algorithm must be 1 or 2, got {self.algorithm!r}")
        if int(self.max_images_per_class) < 0:
            raise ConfigError(f"max_images_per_class must be 0 (all) or more, got {self.max_images_per_class}")
        if self.grocery_protocol not in GROCERY_PROTOCOLS:
            raise ConfigError(
                f"grocery_protocol {self.grocery_protocol!r} is not supported. Try one of {list(GROCERY_PROTOCOLS)}"
            )

    def fingerprint(self) -> Dict[str, Any]:
        """The settings plus :data:`PROTOCOL_REVISION`, as stored next to the pair files."""
        return {**asdict(self), "revision": PROTOCOL_REVISION}


@dataclass(frozen=True)
class ProtocolData:
    """The splits and pair lists of one run.

    Attributes:
        records_by_split: kept photos of ``train``, ``val`` and ``test`` (after the cap).
        pairs_by_split: pair lists of the splits asked for.
        root: the dataset root (resolved); pair files hold paths relative to it.
        source: where the pairs came from (the data chapter's files, or built here).
        protocol: :data:`CLASS_DISJOINT`, :data:`OFFICIAL` or :data:`UNSEEN_PRODUCTS`.
        settings: the settings used.
        kind: ``synthetic`` (drugsim's rendered boxes) or ``photos`` (:func:`drugsim.data.loaders.data_kind`).
        data_sha256: :func:`dataset_sha256` of the photos the splits were made from.
    """

    records_by_split: Dict[str, List[ImageRecord]]
    pairs_by_split: Dict[str, List[Pair]]
    root: Path
    source: str
    protocol: str
    settings: ProtocolSettings = field(default_factory=ProtocolSettings)
    kind: str = "photos"
    data_sha256: str = ""

    def pairs(self, split: str) -> List[Pair]:
        """The pair list of ``split``; an error names the splits that were built."""
        if split not in self.pairs_by_split:
            raise ConfigError(f"the {split!r} pairs were not built here (built: {sorted(self.pairs_by_split)})")
        return self.pairs_by_split[split]

    def sha256(self, split: str = "test") -> str:
        """:func:`pairs_sha256` of one split's pair list."""
        return pairs_sha256(self.pairs(split), self.root)

    def class_counts(self) -> Dict[str, int]:
        """How many classes (drugs or products) each split holds."""
        return {split: len({r.label for r in part}) for split, part in self.records_by_split.items()}

    def sentence(self) -> str:
        """:func:`protocol_sentence` of this run's protocol with its class counts: what a chapter says about
        its splits, glued from the run, never typed."""
        return protocol_sentence(self.protocol, self.class_counts())


# ------------------------------------------------------------------------------------ sampling rules


def cap_photos(records: Sequence[ImageRecord], cap: int, *, seed: int = 0, by: str = "group") -> List[ImageRecord]:
    """At most ``cap`` records of each group (``by="group"``: drug and face, or class) or class
    (``by="class"``), a seeded choice kept in the input order of each group; ``cap <= 0`` keeps all.

    Example:
        >>> records = [ImageRecord(Path(f"{c}{i}.jpg"), c) for c in "ab" for i in range(5)]
        >>> len(cap_photos(records, 2, seed=0))
        4
    """
    if by not in ("group", "class"):
        raise ConfigError(f"cap_photos groups by 'group' or 'class', got {by!r}")
    if cap <= 0:
        return list(records)
    rng = np.random.default_rng(seed)
    by_key: Dict[str, List[ImageRecord]] = {}
    for record in records:
        by_key.setdefault(record.group if by == "group" else record.label, []).append(record)
    kept: List[ImageRecord] = []
    for key in sorted(by_key):
        items = by_key[key]
        kept.extend(items[i] for i in sorted(rng.permutation(len(items))[:cap]))
    return kept


def sample_items(items: Sequence[T], n: Optional[int], *, seed: int) -> List[T]:
    """At most ``n`` items (None = all), chosen at random (seeded) but kept in their original order.

    For images and training budgets; pair lists that are scored use the balanced :func:`sample_pairs`.
    """
    if n is None or n >= len(items):
        return list(items)
    keep = np.sort(np.random.default_rng(seed).choice(len(items), size=n, replace=False))
    return [items[i] for i in keep]


def sample_pairs(pairs: Sequence[Pair], n_pairs: Optional[int], *, seed: int = 0) -> List[Pair]:
    """A seeded subsample of ``n_pairs`` pairs in their original order, half positive and half negative
    where the list allows (the short side is filled from the other); None, 0 or more than there are = all.

    Example:
        >>> pairs = [Pair(Path(f"a{i}"), Path(f"b{i}"), i % 2) for i in range(10)]
        >>> sample = sample_pairs(pairs, 4, seed=0)
        >>> len(sample), sum(p.label for p in sample)
        (4, 2)
    """
    if not n_pairs or n_pairs < 0 or n_pairs >= len(pairs):
        return list(pairs)
    rng = np.random.default_rng([seed, 7])
    positives = [i for i, p in enumerate(pairs) if p.label == 1]
    negatives = [i for i, p in enumerate(pairs) if p.label != 1]
    n_pos = min(len(positives), max(n_pairs - len(negatives), (n_pairs + 1) // 2))
    n_neg = n_pairs - n_pos
    chosen = np.concatenate([rng.choice(positives, n_pos, replace=False),
                             rng.choice(negatives, n_neg, replace=False)]).astype(int)
    return [pairs[i] for i in sorted(chosen.tolist())]


def make_pairs(
    records: Sequence[ImageRecord], *, algorithm: int = 2, seed: int = 0, n_pairs: Optional[int] = None,
) -> List[Pair]:
    """Pairs of ``records`` by Algorithm 1 or 2; ``n_pairs`` subsamples Algorithm 2 (:func:`sample_pairs`).

    Algorithm 1 draws ``n_pairs`` pairs (default: as many as Algorithm 2 would give).
    """
    from drugsim.data.pairs import algorithm1_pairs, algorithm2_pairs

    if algorithm not in (1, 2):
        raise ConfigError(f"algorithm must be 1 or 2, got {algorithm!r}")
    if n_pairs is not None and n_pairs < 1:
        raise ConfigError(f"n_pairs must be at least 1, got {n_pairs}")
    if algorithm == 1:
        if n_pairs is None:
            n_pairs = len(algorithm2_pairs(records, rng=seed))
        return algorithm1_pairs(records, n_pairs, rng=seed)
    return sample_pairs(algorithm2_pairs(records, rng=seed), n_pairs, seed=seed)


def algorithm_comparison(records: Sequence[ImageRecord], *, seed: int = 0) -> Dict[int, List[Pair]]:
    """The data chapter's comparison: Algorithm 1 with one pair per photo, and Algorithm 2."""
    return {1: make_pairs(records, algorithm=1, seed=seed, n_pairs=len(records)),
            2: make_pairs(records, algorithm=2, seed=seed)}


# ------------------------------------------------------------------------------------------ splits


def split_records(records: Sequence[ImageRecord], settings: ProtocolSettings,
                  declared: Optional[Dict[str, List[str]]] = None) -> Tuple[Splits, str]:
    """The uncapped ``{"train", "val", "test"}`` split of ``records`` and the protocol's name
    (:func:`drugsim.data.splits.split_by_protocol` with the settings' seed and Grocery protocol)."""
    return split_by_protocol(records, seed=settings.seed, grocery_protocol=settings.grocery_protocol,
                             declared=declared)


def protocol_splits(records: Sequence[ImageRecord], settings: ProtocolSettings,
                    declared: Optional[Dict[str, List[str]]] = None) -> Tuple[Splits, str]:
    """:func:`split_records`, then :func:`cap_photos` on each split: the photos every pair list is drawn from."""
    splits, name = split_records(records, settings, declared)
    capped = {split: cap_photos(part, settings.max_images_per_class, seed=settings.seed)
              for split, part in splits.items()}
    return capped, name


def select_split(records: Sequence[ImageRecord], split: str, settings: ProtocolSettings,
                 declared: Optional[Dict[str, List[str]]] = None) -> List[ImageRecord]:
    """The kept photos of one split; ``"all"`` = every photo (capped per group)."""
    if split not in SELECTABLE_SPLITS:
        raise DatasetError(f"split {split!r} is not supported. Try one of {list(SELECTABLE_SPLITS)}")
    if split == "all":
        return cap_photos(records, settings.max_images_per_class, seed=settings.seed)
    return protocol_splits(records, settings, declared)[0][split]


def protocol_sentence(protocol: str, classes: Optional[Mapping[str, int]] = None) -> str:
    """One sentence for the book: which protocol ran, what its test measures and, given the class count of
    each split (``results_record(...)["protocol"]["classes"]``), how many classes stand behind each split."""
    counts = dict(classes or {})

    def n(split: str, noun: str) -> str:
        return f"{counts[split]} {noun}" if split in counts else noun

    sentences = {
        CLASS_DISJOINT: (
            f"Class-disjoint split (the paper's protocol): whole classes go to training ({n('train', 'classes')}), "
            f"validation ({n('val', 'classes')}) or test ({n('test', 'classes')}), so every test pair shows "
            "classes never seen in training, and thresholds and models are chosen on validation classes that are "
            "neither trained on nor tested."
        ),
        OFFICIAL: (
            "The dataset's official split: test pairs are drawn from the photos of test.txt "
            f"({n('test', 'products')}), validation pairs from val.txt ({n('val', 'products')}) and training pairs "
            f"from train.txt ({n('train', 'products')}); the same products appear in all three, so the test measures "
            "new photos of known products, and no test photo is used for training, thresholds or model selection."
        ),
        OFFICIAL_VAL_AS_TEST: (
            "The official split's shape on a copy without test.txt: the val.txt photos are the test split "
            f"({n('test', 'products')}), validation photos are carved from each product's train.txt photos "
            f"({n('val', 'products')}) and training uses the rest of train.txt ({n('train', 'products')}); the same "
            "products appear in all three, so the test measures new photos of known products, and no test photo "
            "is used for training, thresholds or model selection."
        ),
        UNSEEN_PRODUCTS: (
            "The paper's unseen-product protocol on the official photos: classes are split class-disjointly "
            f"({n('train', 'training')}, {n('val', 'validation')} and {n('test', 'test')} products), training and "
            "validation use train.txt and val.txt photos of their classes and the test uses test.txt photos of the "
            "test classes, so neither a test photo nor a test product is seen in training."
        ),
    }
    if protocol not in sentences:
        raise ConfigError(f"unknown protocol {protocol!r}; expected one of {sorted(sentences)}")
    sentence = sentences[protocol]
    if "test" in counts and counts["test"] < FEW_TEST_CLASSES:
        sentence += (f" Only {counts['test']} test classes stand behind every class-level interval and paired test "
                     "of this run, so the intervals are wide and few differences can be established (the summary "
                     "chapter lists each interval).")
    return sentence


def test_classes_are_unseen(protocol: str) -> bool:
    """True when the protocol's test classes are never trained on (the paper's question); False when the test
    shows new photos of the training classes."""
    return protocol in (CLASS_DISJOINT, UNSEEN_PRODUCTS)


# -------------------------------------------------------------------------------------- pair lists


def pairs_sha256(pairs: Sequence[Pair], root: Optional[PathLike]) -> str:
    """sha256 of the pair list exactly as :func:`drugsim.data.pairs.write_pairs` writes it (paths relative
    to ``root``)."""
    from drugsim.data.pairs import format_pairs

    return hashlib.sha256(format_pairs(pairs, root=root).encode("utf-8")).hexdigest()


def dataset_sha256(records: Sequence[ImageRecord], root: PathLike,
                   declared: Optional[Dict[str, List[str]]] = None) -> str:
    """sha256 of what decides the splits and pairs: every photo's path (relative to ``root``), class, face,
    feature flag and official split, and the dataset's declared split. Pair lists built from other data are
    rebuilt, never reused (a test.txt added, a photo renamed or removed, a class moved)."""
    root = Path(root).resolve()
    lines = []
    for record in records:
        path = Path(record.path)
        try:
            relative = path.resolve().relative_to(root).as_posix()
        except ValueError:
            relative = str(path)
        lines.append("\t".join([relative, record.label, str(record.face), str(record.feature_rich),
                                str(record.official_split)]))
    text = "\n".join(sorted(lines)) + "\n" + json.dumps(declared, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_protocol_file(pair_dir: Path) -> Optional[Dict[str, Any]]:
    path = pair_dir / PROTOCOL_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # an unreadable record means the files cannot be trusted: rebuild


def _reusable_pairs(pair_dir: Path, root: Path, settings: ProtocolSettings, splits: Sequence[str],
                    data_sha256: str) -> Optional[Dict[str, List[Pair]]]:
    """The data chapter's pair lists when they were written for the same settings and data, unchanged."""
    from drugsim.data.pairs import read_pairs

    recorded = _read_protocol_file(pair_dir)
    if (not recorded or recorded.get("settings") != settings.fingerprint() or recorded.get("root") != str(root)
            or recorded.get("data_sha256") != data_sha256):
        return None
    pairs: Dict[str, List[Pair]] = {}
    for split in splits:
        path = pair_dir / f"{split}.txt"
        if not path.is_file():
            return None
        pairs[split] = read_pairs(path, root=root)
        if pairs_sha256(pairs[split], root) != recorded.get("sha256", {}).get(split):
            return None  # edited since: rebuild rather than score a list the settings do not describe
    return pairs


def load_protocol_pairs(
    data_dir: PathLike,
    *,
    work_dir: Optional[PathLike] = None,
    settings: ProtocolSettings = ProtocolSettings(),
    splits: Sequence[str] = SPLITS,
    data_root: Optional[PathLike] = None,
) -> ProtocolData:
    """The splits of ``data_dir`` and the pair lists of ``splits``, by the protocol of this module.

    Reads ``<work_dir>/pairs/<split>.txt`` when the data chapter wrote them (:func:`write_protocol_pairs`)
    for the same settings and data; otherwise builds them the same way here.

    Args:
        data_dir: dataset folder, or ``"grocery"`` (see :func:`drugsim.data.resolve_data_root`).
        work_dir: the run's folder holding ``pairs/``; None = always build.
        settings: seed, cap, algorithm and Grocery protocol.
        splits: the pair lists wanted (records of every split are always returned).
        data_root: explicit root for ``"grocery"``.
    """
    from drugsim.data.loaders import data_kind, load_dataset, resolve_data_root

    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise ConfigError(f"unknown split(s) {unknown}; expected some of {list(SPLITS)}")
    root = resolve_data_root(str(data_dir), data_root=data_root).resolve()
    records, declared = load_dataset(root), declared_split(root)
    data_sha256 = dataset_sha256(records, root, declared)
    records_by_split, protocol = protocol_splits(records, settings, declared)
    pairs = None
    if work_dir is not None:
        pair_dir = Path(work_dir) / "pairs"
        pairs = _reusable_pairs(pair_dir, root, settings, splits, data_sha256)
        source = "the run's pairs/ folder (data chapter)"
    if pairs is None:
        pairs = {split: make_pairs(records_by_split[split], algorithm=settings.algorithm, seed=settings.seed)
                 if records_by_split[split] else [] for split in splits}
        source = f"built here (Algorithm {settings.algorithm})"
    return ProtocolData(records_by_split=records_by_split, pairs_by_split=pairs, root=root, source=source,
                        protocol=protocol, settings=settings, kind=data_kind(root), data_sha256=data_sha256)


def write_protocol_pairs(data: ProtocolData, work_dir: PathLike) -> Dict[str, Dict[str, Any]]:
    """Write each pair list to ``<work_dir>/pairs/<split>.txt`` and the settings to ``pairs/protocol.json``.

    This is what the data chapter hands to the later ones. Returns ``{split: {"path", "sha256", **pair_statistics}}``.
    """
    from drugsim.data.pairs import pair_statistics, write_pairs
    from drugsim.io import write_text_atomic

    pair_dir = Path(work_dir) / "pairs"
    out: Dict[str, Dict[str, Any]] = {}
    for split, pairs in data.pairs_by_split.items():
        path = write_pairs(pair_dir / f"{split}.txt", pairs, root=data.root)
        out[split] = {"path": path, "sha256": pairs_sha256(pairs, data.root),
                      **pair_statistics(pairs, data.records_by_split[split])}
    record = {"settings": data.settings.fingerprint(), "root": str(data.root), "protocol": data.protocol,
              "data_sha256": data.data_sha256, "sha256": {split: info["sha256"] for split, info in out.items()}}
    write_text_atomic(pair_dir / PROTOCOL_FILE, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return out


def results_record(data: Optional[ProtocolData], *, scored: Optional[Sequence[Pair]] = None,
                   note: str = "") -> Dict[str, Any]:
    """What a chapter's results JSON records about the test pairs it scored.

    ``test_pairs_sha256`` is the full test list's hash (the same in every chapter of a run);
    ``protocol.scored_test_pairs_sha256`` the hash of the subset actually scored. A chapter that scores no
    test pairs of the run passes ``data=None`` and a ``note`` that says why.
    """
    if data is None:
        if not note:
            raise ConfigError("a chapter without test pairs must say why (note=...)")
        return {"test_pairs_sha256": None, "protocol": {"note": note}}
    full = data.pairs("test")
    scored = full if scored is None else list(scored)
    return {
        "test_pairs_sha256": pairs_sha256(full, data.root),
        "protocol": {
            "name": data.protocol, "settings": asdict(data.settings), "pairs_source": data.source,
            "data_sha256": data.data_sha256, "classes": data.class_counts(),
            "n_test_pairs": len(full), "scored_test_pairs_sha256": pairs_sha256(scored, data.root),
            "n_scored_test_pairs": len(scored), "note": note,
        },
    }


# ----------------------------------------------------------------------------- CLI and benchmarks


@dataclass(frozen=True)
class EvaluationPairs:
    """The pairs a command scores: ``test`` (of the chosen split or a file), ``val`` when asked for."""

    root: Optional[Path]
    test: List[Pair]
    val: Optional[List[Pair]]
    source: str


def evaluation_pairs(
    data_dir: Optional[PathLike],
    *,
    split: str = "test",
    settings: ProtocolSettings = ProtocolSettings(),
    pair_file: Optional[PathLike] = None,
    n_pairs: Optional[int] = None,
    with_val: bool = False,
    val_reason: str = "the threshold",
) -> EvaluationPairs:
    """Pairs for ``drugsim evaluate`` and ``drugsim bench``: a split's list (the chapters' list for
    ``test``) or a pair file, subsampled to ``n_pairs`` with :func:`sample_pairs`; ``with_val`` adds the
    validation list, checked to share no photo with the evaluated pairs.
    """
    from drugsim.data.loaders import load_dataset, resolve_data_root
    from drugsim.data.pairs import read_pairs

    if split not in SELECTABLE_SPLITS:
        raise ConfigError(f"split {split!r} is not supported. Try one of {list(SELECTABLE_SPLITS)}")
    if data_dir is None and (pair_file is None or with_val):
        raise ConfigError("give a dataset (--data DIR|grocery) or a pair list (--pair-list FILE)")
    if with_val and split in ("all", "val") and pair_file is None:
        raise ConfigError(
            f"--split {split} leaves no separate validation drugs to fit {val_reason} on; "
            "evaluate --split test, or pass --threshold-from EARLIER.json, or use --paper-protocol"
        )
    root = resolve_data_root(str(data_dir)).resolve() if data_dir is not None else None
    data: Optional[ProtocolData] = None
    if with_val or (pair_file is None and split != "all"):
        wanted = [s for s in ("val", split) if (s == "val" and with_val) or (s == split and pair_file is None)]
        data = load_protocol_pairs(root, settings=settings, splits=[s for s in SPLITS if s in wanted])
    if pair_file is not None:
        test = read_pairs(pair_file, root=root)
        source = f"file:{pair_file}"
    elif split == "all":
        test = make_pairs(select_split(load_dataset(root), "all", settings, declared_split(root)), algorithm=settings.algorithm,
                          seed=settings.seed)
        source = "algorithm2:all" if settings.algorithm == 2 else "algorithm1:all"
    else:
        if not data.records_by_split[split]:
            raise DatasetError(f"{root}: the {split!r} split is empty (too few classes to split?)")
        test = data.pairs(split)
        source = f"algorithm{settings.algorithm}:{split}"
    test = sample_pairs(test, n_pairs, seed=settings.seed)
    if not test:
        raise DatasetError(f"{pair_file or root}: no pairs to evaluate (split {split!r})")
    val = None
    if with_val:
        if not data.records_by_split["val"]:
            raise DatasetError(f"{root}: the validation split is empty; cannot fit {val_reason}")
        val_paths = {Path(r.path) for r in data.records_by_split["val"]}
        overlap = [p for pair in test for p in (pair.path_a, pair.path_b) if Path(p).resolve() in val_paths]
        if overlap:
            raise DatasetError(
                f"{len(overlap)} images of the evaluated pairs belong to the validation split "
                f"(e.g. {overlap[0]}); the threshold must be fitted on other photos: use test-split pairs or "
                "--threshold-from"
            )
        val = sample_pairs(data.pairs("val"), n_pairs, seed=settings.seed)
    return EvaluationPairs(root=root, test=test, val=val, source=source)

