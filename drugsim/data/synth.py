"""Synthetic drug boxes: procedurally printed box faces, photographed like the paper's photos.

The paper's 45,826 photos (section 4.1) are private. This module draws what they show: manufacturer
families of carton boxes that share layout and colours and differ in drug name and dosage (hard
negatives, like a real pharma line), six faces per box (front, back, side1-4), a share of feature-poor
faces (blank, mostly blank, washed out; flag 0) and photos that vary as the paper describes: brightness
0.5-1.5, colour cast, rotation 0 or 180 degrees plus a few degrees, perspective, scale, background,
blur, noise, JPEG quality and occasional glare.

Three modules:

* :mod:`drugsim.data.boxes`: the drugs (:func:`make_drug_specs`) and :func:`draw_face` (a flat face
  print as an RGB array).
* :mod:`drugsim.data.capture`: :class:`CaptureParams` (every camera control, neutral by default),
  :func:`sample_capture_params` and :func:`render_photo`, so a robustness study can photograph one face
  under one controlled change.
* here, presets and :func:`generate_dataset`, which writes a dataset in the paper's layout (``<drug>/<drug>_<index>_<flag>.jpg``
  plus ``manifest.csv``), byte-identical for a seed, atomically, in parallel over drugs.

References:
    Paper section 4.1 (dataset), Table 5 (images per face), Fig. 11 (sample photos).

Example:
    >>> import numpy as np
    >>> spec = make_drug_specs(3, seed=0)[0]
    >>> face = draw_face(spec, "front", face_px=200, rng=np.random.default_rng(0))
    >>> photo = render_photo(face, CaptureParams(), np.random.default_rng(0), out_size=(160, 120))
    >>> photo.shape, photo.dtype
    ((120, 160, 3), dtype('uint8'))
"""

from __future__ import annotations

import csv
import io as _io
import json
import multiprocessing
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import cv2
import numpy as np

from drugsim.data.boxes import DrugSpec, draw_face, make_drug_specs
from drugsim.data.capture import CaptureParams, encode_jpeg, render_photo, sample_capture_params
from drugsim.data.records import FACES
from drugsim.errors import ConfigError
from drugsim.io import atomic_path, check_replaceable, write_marker

MANIFEST_NAME = "manifest.csv"


# --------------------------------------------------------------------------------------------- presets
@dataclass(frozen=True)
class SynthPreset:
    """Size of a synthetic dataset and the class-disjoint split it declares.

    Drugs are laid out as the paper numbers them: the first ``n_drugs - n_val - n_test`` train, the next
    ``n_val`` are validation drugs and the last ``n_test`` the unseen test drugs (the paper: drugs 1-133 train,
    134-153 test; validation is carved from the end of the training block). Families are drawn in drug order,
    so validation and test drugs mostly form families of their own, as unseen product lines would.

    Attributes:
        n_drugs: number of drugs (classes).
        n_val: validation drugs (thresholds, model and recipe selection); 0 = let the protocol split.
        n_test: unseen test drugs; 0 = let the protocol split.
        photos_per_face: (low, high) photos per face of a training drug, drawn uniformly per face; ignored
            when ``paper_counts`` is set.
        eval_photos_per_face: the same for validation and test drugs (None = ``photos_per_face``). Fewer photos
            per drug buy more drugs for the same cost: class-level intervals need classes, not photos.
        paper_counts: draw photos per face to mirror the paper's Table 5 (min / max / mean per face).
        photo_size: (width, height) of each photo in pixels.
        n_jobs: worker processes (None = up to the CPU count); output does not depend on it.
    """

    n_drugs: int
    n_val: int = 0
    n_test: int = 0
    photos_per_face: Tuple[int, int] = (4, 4)
    eval_photos_per_face: Optional[Tuple[int, int]] = None
    paper_counts: bool = False
    photo_size: Tuple[int, int] = (288, 216)
    n_jobs: Optional[int] = None

    def __post_init__(self) -> None:
        if self.n_val < 0 or self.n_test < 0 or (self.n_val > 0) != (self.n_test > 0):
            raise ConfigError(f"n_val and n_test are both 0 (the protocol splits) or both positive; "
                              f"got n_val={self.n_val}, n_test={self.n_test}")
        if self.n_test and self.n_drugs - self.n_val - self.n_test < 1:
            raise ConfigError(f"{self.n_drugs} drugs leave no training drug after {self.n_val} validation and "
                              f"{self.n_test} test drugs")

    def split_of(self, drug_number: int) -> Optional[str]:
        """``train``, ``val`` or ``test`` for drug ``drug_number`` (1-based); None when the preset declares none."""
        if not self.n_test:
            return None
        if drug_number > self.n_drugs - self.n_test:
            return "test"
        return "val" if drug_number > self.n_drugs - self.n_test - self.n_val else "train"


#: tiny proves the code paths (3 test and 3 validation drugs); quick has 40 test and 40 validation drugs, so
#: class-level intervals and paired tests rest on enough classes, at about the photo count a 2-core run affords
#: (3-4 photos per face of an evaluation drug); paper keeps the paper's 153 drugs with its 20 unseen test drugs.
PRESETS: Dict[str, SynthPreset] = {
    "tiny": SynthPreset(n_drugs=12, n_val=3, n_test=3, photos_per_face=(4, 4), photo_size=(320, 240), n_jobs=1),
    "quick": SynthPreset(n_drugs=128, n_val=40, n_test=40, photos_per_face=(4, 9), eval_photos_per_face=(3, 4),
                         photo_size=(320, 240)),
    "paper": SynthPreset(n_drugs=153, n_val=20, n_test=20, paper_counts=True, photo_size=(448, 336)),
}
#: Beside the photos: the class-disjoint split the preset declares (:func:`drugsim.data.protocol.declared_split`).
SPLIT_FILE = "splits.json"


# --------------------------------------------------------------------------------------------- dataset
def _photo_counts(preset: SynthPreset, rng: np.random.Generator, split: Optional[str] = None) -> List[int]:
    """Photos per face of one drug (FACES order) of ``split`` (None: no declared split)."""
    if not preset.paper_counts:
        low, high = preset.photos_per_face
        if split in ("val", "test") and preset.eval_photos_per_face is not None:
            low, high = preset.eval_photos_per_face
        return [int(rng.integers(low, high + 1)) for _ in FACES]
    from drugsim.paper import TABLE5_FACES

    # A per-drug popularity factor (some drugs photographed far more: 59-752 images per drug) times a
    # per-face factor, clipped to Table 5's range for the face.
    drug_factor = float(rng.lognormal(-0.16, 0.55))
    counts = []
    for face in FACES:
        row = TABLE5_FACES[face]
        value = row["mean"] * drug_factor * float(rng.lognormal(-0.03, 0.25))
        counts.append(int(np.clip(round(value), row["min"], row["max"])))
    return counts


MANIFEST_COLUMNS = ["file", "drug", "family", "face", "feature_rich", "face_kind", "index"] + [
    f.name for f in fields(CaptureParams)]


def _render_drug(job: Tuple[DrugSpec, List[int], SynthPreset, str]) -> List[Dict[str, str]]:
    """Draw one drug's faces and photos into ``out_dir/<drug>/``; returns its manifest rows."""
    spec, counts, preset, out_dir = job
    cv2.setNumThreads(1)
    rng = np.random.default_rng([spec.seed, 17])
    folder = Path(out_dir) / spec.drug
    folder.mkdir(parents=True, exist_ok=True)
    rows: List[Dict[str, str]] = []
    face_px = int(max(preset.photo_size) * 1.15)
    index = 0
    for face, kind, count in zip(FACES, spec.face_kinds, counts):
        face_image = draw_face(spec, face, face_px=face_px, rng=rng)
        flag = int(kind == "rich")
        for _ in range(count):
            index += 1
            params = sample_capture_params(rng)
            photo = render_photo(face_image, params, rng, out_size=preset.photo_size, apply_jpeg=False)
            name = f"{spec.drug}_{index:04d}_{flag}.jpg"
            (folder / name).write_bytes(encode_jpeg(photo, params.jpeg_quality))
            row = {"file": f"{spec.drug}/{name}", "drug": spec.drug, "family": spec.family, "face": face,
                   "feature_rich": str(flag), "face_kind": kind, "index": str(index)}
            row.update(params.to_row())
            rows.append(row)
    return rows


def generate_dataset(out_dir: Union[str, os.PathLike], *, preset: Union[str, SynthPreset] = "tiny", seed: int = 0,
                     progress: bool = True, n_jobs: Optional[int] = None, overwrite: bool = True) -> Path:
    """Generate a synthetic drug-box dataset in the paper's layout.

    Writes ``out_dir/<drug>/<drug>_<index>_<flag>.jpg`` (flag 1 = feature-rich face) and
    ``out_dir/manifest.csv`` (drug, family, face, flag, face kind and every capture parameter of each
    photo) and, where the preset declares one, ``out_dir/splits.json`` (the drugs of each split). The folder is built under a temporary name and renamed when complete, so an interrupted
    run leaves nothing under ``out_dir``. The bytes depend only on ``preset`` and ``seed`` (not on
    ``n_jobs``).

    Args:
        out_dir: dataset folder to create (replaced when it exists and ``overwrite``).
        preset: "tiny" (12 drugs, 288 photos), "quick" (128 drugs, ~3,600 photos, 40 test and 40 validation
            drugs), "paper" (153 drugs, Table 5 counts, ~45,000 photos, 20 test drugs) or a :class:`SynthPreset`.
        seed: master seed; each drug gets its own seed from it.
        progress: show a tqdm bar.
        n_jobs: worker processes (default: the preset's, else the CPU count, at most 8).
        overwrite: replace an existing ``out_dir``; when False an existing one raises.

    Returns:
        ``out_dir`` as a Path.
    """
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ConfigError(f"preset {preset!r} is not supported. Try one of {list(PRESETS)}")
        preset = PRESETS[preset]
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise ConfigError(f"{out_dir} exists; pass overwrite=True (CLI: --overwrite) to replace it")
    if out_dir.exists() and not _made_by_older_drugsim(out_dir):
        check_replaceable(out_dir, what="dataset folder")  # never delete a folder drugsim did not make
    specs = make_drug_specs(preset.n_drugs, seed=seed)
    count_rng = np.random.default_rng([seed, 104729])
    counts = [_photo_counts(preset, count_rng, preset.split_of(number)) for number in range(1, len(specs) + 1)]
    if n_jobs is None:
        n_jobs = preset.n_jobs or min(os.cpu_count() or 1, 8)
    n_jobs = max(1, min(int(n_jobs), len(specs)))
    from tqdm.auto import tqdm

    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        jobs = [(spec, c, preset, str(tmp)) for spec, c in zip(specs, counts)]
        bar = tqdm(total=sum(sum(c) for c in counts), desc=f"synth {out_dir.name}", unit="img",
                   disable=not progress)
        all_rows: List[List[Dict[str, str]]] = []
        if n_jobs == 1:
            for job in jobs:
                all_rows.append(_render_drug(job))
                bar.update(len(all_rows[-1]))
        else:
            context = multiprocessing.get_context(_start_method())
            with context.Pool(n_jobs, initializer=_ignore_interrupt) as pool:
                for rows in pool.imap(_render_drug, jobs):  # imap keeps drug order: deterministic manifest
                    all_rows.append(rows)
                    bar.update(len(rows))
        bar.close()
        buffer = _io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for rows in all_rows:
            writer.writerows(rows)
        (tmp / MANIFEST_NAME).write_text(buffer.getvalue(), encoding="utf-8")
        if preset.n_test:
            split = {name: [spec.drug for number, spec in enumerate(specs, start=1) if preset.split_of(number) == name]
                     for name in ("train", "val", "test")}
            record = {"rule": "drug order: train, then the last n_val + n_test drugs as validation and test",
                      **split}
            (tmp / SPLIT_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        write_marker(tmp, "synthetic-dataset")
        (tmp / "README.txt").write_text(
            f"Synthetic drug boxes generated by drugsim (preset {_preset_name(preset)}, seed {seed}).\n"
            "Layout: <drug>/<drug>_<index>_<flag>.jpg, flag 1 = feature-rich face; manifest.csv holds the\n"
            "face, family and capture parameters of every photo.\n", encoding="utf-8")
    return out_dir


def _ignore_interrupt() -> None:
    """Pool workers leave Ctrl-C to the parent: a worker killed by it mid-task leaves the pool waiting forever
    (the parent then ends the pool itself and reports the interrupt in one line)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _made_by_older_drugsim(folder: Path) -> bool:
    """A dataset generated before the marker file existed: its manifest and README say drugsim drew it."""
    readme = folder / "README.txt"
    try:
        return (folder / MANIFEST_NAME).is_file() and readme.is_file() and \
            readme.read_bytes().startswith(b"Synthetic drug boxes generated by drugsim")
    except OSError:
        return False


def _start_method() -> str:
    """forkserver on POSIX (safe beside threads), but fork when ``__main__`` is no file (``python -`` from
    stdin), which forkserver and spawn workers would try and fail to re-import, respawning forever."""
    if os.name != "posix":
        return "spawn"
    import sys

    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    return "forkserver" if main_file is None or os.path.isfile(main_file) else "fork"


def _preset_name(preset: SynthPreset) -> str:
    for name, value in PRESETS.items():
        if value == preset:
            return name
    return repr(preset)
