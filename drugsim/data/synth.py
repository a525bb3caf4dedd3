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
    """Size of a synthetic dataset.

    Attributes:
        n_drugs: number of drugs (classes).
        photos_per_face: (low, high) photos per face, drawn uniformly per face; ignored when
            ``paper_counts`` is set.
        paper_counts: draw photos per face to mirror the paper's Table 5 (min / max / mean per face).
        photo_size: (width, height) of each photo in pixels.
        n_jobs: worker processes (None = up to the CPU count); output does not depend on it.
    """

    n_drugs: int
    photos_per_face: Tuple[int, int] = (4, 4)
    paper_counts: bool = False
    photo_size: Tuple[int, int] = (288, 216)
    n_jobs: Optional[int] = None


PRESETS: Dict[str, SynthPreset] = {
    "tiny": SynthPreset(n_drugs=12, photos_per_face=(4, 4), photo_size=(320, 240), n_jobs=1),
    "quick": SynthPreset(n_drugs=60, photos_per_face=(5, 11), photo_size=(320, 240)),
    "paper": SynthPreset(n_drugs=153, paper_counts=True, photo_size=(448, 336)),
}


# --------------------------------------------------------------------------------------------- dataset
def _photo_counts(preset: SynthPreset, rng: np.random.Generator) -> List[int]:
    """Photos per face of one drug (FACES order)."""
    if not preset.paper_counts:
        low, high = preset.photos_per_face
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
    photo). The folder is built under a temporary name and renamed when complete, so an interrupted
    run leaves nothing under ``out_dir``. The bytes depend only on ``preset`` and ``seed`` (not on
    ``n_jobs``).

    Args:
        out_dir: dataset folder to create (replaced when it exists and ``overwrite``).
        preset: "tiny" (12 drugs, 288 photos), "quick" (60 drugs, ~2,900 photos), "paper" (153 drugs,
            Table 5 counts, ~45,000 photos) or a :class:`SynthPreset`.
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
    counts = [_photo_counts(preset, count_rng) for _ in specs]
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
