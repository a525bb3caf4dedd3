"""Loaders: turn a folder of photos into :class:`ImageRecord` lists, whatever its layout.

Three layouts, one interface (:func:`load_dataset`):

* ``paper``: the paper's layout (section 4.1.1), one folder per drug, files ``<drug>_<index>_<flag>.jpg``
  (flag 1 = the face has enough features to match). A ``manifest.csv`` beside the folders (written by
  :func:`drugsim.data.synth.generate_dataset`) adds the face of every photo; a user's own folder
  without one has faces unknown.
* ``grocery``: the Grocery Store dataset's official layout (Klasson et al., WACV 2019): split files
  ``dataset/train.txt``, ``val.txt`` (and ``test.txt`` when present) with lines
  ``<relative path>, <fine class id>, <coarse class id>``; the class is the fine class name.
* ``folders``: any class-per-folder tree of images; faces and flags unknown.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Dict, List, Optional, Union

from drugsim.data.records import FACES, ImageRecord
from drugsim.errors import DatasetError
from drugsim.io import is_image_file, read_text_lines

PathLike = Union[str, os.PathLike]

LAYOUTS = ("auto", "paper", "grocery", "folders")
MANIFEST_NAME = "manifest.csv"
GROCERY_ENV = "DRUGSIM_GROCERY_ROOT"
GROCERY_SPLIT_FILES = ("train.txt", "val.txt", "test.txt")

#: ``<drug>_<index>_<flag>``: the paper's file name (section 4.1.1).
PAPER_NAME = re.compile(r"^(?P<drug>.+)_(?P<index>\d+)_(?P<flag>[01])$")

GROCERY_HOWTO = (
    "get it with `drugsim data fetch grocery --dest DIR` (needs a network) and then "
    f"`export {GROCERY_ENV}=DIR`, or pass --data-root DIR; the upstream repository is "
    "github.com/marcusklasson/GroceryStoreDataset"
)


def resolve_data_root(spec: Union[str, PathLike], *, data_root: Optional[PathLike] = None) -> Path:
    """Resolve a dataset argument: ``"grocery"`` or a folder path.

    Args:
        spec: ``"grocery"`` (root from ``data_root`` or ``$DRUGSIM_GROCERY_ROOT``) or a path.
        data_root: explicit root for ``"grocery"``.

    Raises:
        DatasetError: the folder does not exist; for ``"grocery"`` the message says how to get the data.
    """
    if str(spec) == "grocery":
        root = data_root or os.environ.get(GROCERY_ENV)
        if not root:
            raise DatasetError(f"the Grocery Store photos were not found: {GROCERY_ENV} is not set; {GROCERY_HOWTO}")
        root = Path(root).expanduser()
        if not (_grocery_dataset_dir(root)):
            raise DatasetError(
                f"{root}: no Grocery Store dataset here (expected dataset/train.txt inside); {GROCERY_HOWTO}"
            )
        return root
    root = Path(spec).expanduser()
    if not root.exists():
        raise DatasetError(f"{root}: no such dataset folder")
    if not root.is_dir():
        raise DatasetError(f"{root}: is a file, expected a dataset folder")
    return root


def _grocery_dataset_dir(root: Path) -> Optional[Path]:
    for candidate in (root / "dataset", root):
        if (candidate / "train.txt").is_file() and (candidate / "classes.csv").is_file():
            return candidate
    return None


def detect_layout(root: Path) -> str:
    """Guess the layout of ``root``: manifest or paper-style names -> paper; split files -> grocery."""
    if (root / MANIFEST_NAME).is_file():
        return "paper"
    if _grocery_dataset_dir(root):
        return "grocery"
    names = [p.stem for p in _class_folders_images(root)]
    if names and all(PAPER_NAME.match(n) for n in names):
        return "paper"
    return "folders"


#: Columns only drugsim's generator writes into ``manifest.csv`` (the capture of each rendered photo).
SYNTHETIC_MANIFEST_COLUMNS = frozenset({"brightness", "background", "jpeg_quality"})


def data_kind(root: PathLike) -> str:
    """``synthetic`` for boxes drawn by :func:`drugsim.data.synth.generate_dataset`, ``photos`` for anything else.

    Training recipes differ by kind (:func:`drugsim.deep.config.siamese_config`): a rendered box keeps its
    layout at a small input, a photographed carton needs a larger one. The generator's manifest is the mark:
    it alone records how each photo was rendered.
    """
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        return "photos"
    lines = read_text_lines(path)
    header = next(csv.reader(lines[:1]), [])
    return "synthetic" if SYNTHETIC_MANIFEST_COLUMNS <= set(header) else "photos"


def _class_folders_images(root: Path) -> List[Path]:
    return sorted(
        p for folder in root.iterdir() if folder.is_dir() and not folder.name.startswith(".")
        for p in folder.iterdir() if p.is_file() and is_image_file(p)
    )


def load_dataset(root: PathLike, *, layout: str = "auto") -> List[ImageRecord]:
    """Read every image record of a dataset folder, sorted by path.

    Args:
        root: dataset folder (for ``grocery``, the repository root holding ``dataset/``).
        layout: one of :data:`LAYOUTS`.

    Raises:
        DatasetError: unknown layout, missing or empty folder, malformed manifest or split file.
    """
    if layout not in LAYOUTS:
        raise DatasetError(f"layout {layout!r} is not supported. Try one of {list(LAYOUTS)}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder")
    if layout == "auto":
        layout = detect_layout(root)
    records = {"paper": _load_paper, "grocery": _load_grocery, "folders": _load_folders}[layout](root)
    if not records:
        raise DatasetError(
            f"{root}: no images found (expected one sub-folder per class holding .jpg/.png files, "
            "or a Grocery Store dataset)"
        )
    return sorted(records, key=lambda r: str(r.path))


def _load_folders(root: Path) -> List[ImageRecord]:
    return [ImageRecord(path=p, label=p.parent.name) for p in _class_folders_images(root)]


def _read_manifest(root: Path) -> Dict[str, Dict[str, str]]:
    path = root / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        reader = csv.DictReader(read_text_lines(path))
        missing = {"file", "face"} - set(reader.fieldnames or ())
        if missing:
            raise DatasetError(f"{path}: manifest lacks the column(s) {sorted(missing)}")
        return {row["file"]: row for row in reader}
    except csv.Error as exc:
        raise DatasetError(f"{path}: not a readable CSV manifest ({exc})") from None


def _load_paper(root: Path) -> List[ImageRecord]:
    manifest = _read_manifest(root)
    records = []
    for path in _class_folders_images(root):
        relative = path.relative_to(root).as_posix()
        row = manifest.get(relative)
        match = PAPER_NAME.match(path.stem)
        flag: Optional[bool] = bool(int(match.group("flag"))) if match else None
        face = None
        if row is not None:
            face = row.get("face") or None
            if face is not None and face not in FACES:
                raise DatasetError(f"{root / MANIFEST_NAME}: {relative} has face {face!r}; expected one of {FACES}")
            if row.get("feature_rich") not in (None, ""):
                flag = row["feature_rich"] == "1"
        records.append(ImageRecord(path=path, label=path.parent.name, face=face, feature_rich=flag))
    return records


def _grocery_class_names(dataset_dir: Path) -> Dict[int, str]:
    names: Dict[int, str] = {}
    path = dataset_dir / "classes.csv"
    for number, line in enumerate(read_text_lines(path), start=1):
        try:
            row = next(csv.reader([line]), [])
        except csv.Error as exc:
            raise DatasetError(f"{path}:{number}: not a CSV line ({exc})") from None
        if len(row) < 2 or not row[1].strip().isdigit():
            continue  # header
        names[int(row[1])] = row[0].strip()
    return names


def _inside_root(relative: str, dataset_dir: Path, where: str) -> Path:
    """``dataset_dir / relative``, refused when it leaves the dataset (an absolute path, ``..``)."""
    if Path(relative).is_absolute() or relative.startswith(("/", "\\")) or ".." in Path(relative).parts:
        raise DatasetError(f"{where}: {relative!r} is not a path inside the dataset folder {dataset_dir} "
                           "(expected a relative path like train/Packages/...)")
    # Lexical, not resolved: a copy whose photo folders are links to another disk stays readable.
    return dataset_dir / relative


def _load_grocery(root: Path) -> List[ImageRecord]:
    dataset_dir = _grocery_dataset_dir(root)
    if dataset_dir is None:
        raise DatasetError(f"{root}: no Grocery Store dataset here (expected dataset/train.txt); {GROCERY_HOWTO}")
    names = _grocery_class_names(dataset_dir)
    records = []
    first_missing = None
    for split_file in GROCERY_SPLIT_FILES:
        path = dataset_dir / split_file
        if not path.is_file():
            continue  # the official test split is optional (not in the shared copy)
        for number, line in enumerate(read_text_lines(path), start=1):
            if not line.strip():
                continue
            parts = [part.strip() for part in line.split(",")]
            if len(parts) < 2 or not parts[1].isdigit():
                raise DatasetError(f"{path}:{number}: expected '<path>, <class id>, <coarse id>', got {line!r}")
            image = _inside_root(parts[0], dataset_dir, f"{path}:{number}")
            if not image.is_file():
                # A split line for a photo that is not in this copy (e.g. non-package classes).
                first_missing = first_missing or f"{path}:{number}: {image}"
                continue
            label = names.get(int(parts[1]), image.parent.name)
            records.append(ImageRecord(path=image, label=label, official_split=Path(split_file).stem))
    if not records and first_missing:
        raise DatasetError(f"every photo the split files list is missing, first {first_missing}; {GROCERY_HOWTO}")
    return records
