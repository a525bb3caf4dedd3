"""Synthetic drug boxes: procedurally printed box faces, photographed like the paper's photos.

The paper's 45,826 photos (section 4.1) are private. This module draws what they show: manufacturer
families of carton boxes that share layout and colours and differ in drug name and dosage (hard
negatives, like a real pharma line), six faces per box (front, back, side1-4), a share of feature-poor
faces (blank, mostly blank, washed out; flag 0) and photos that vary as the paper describes: brightness
0.5-1.5, colour cast, rotation 0 or 180 degrees plus a few degrees, perspective, scale, background,
blur, noise, JPEG quality and occasional glare.

Two layers:

* Pure cores: :func:`draw_face` (a flat face print as an RGB array), :class:`CaptureParams` (every
  camera control, neutral by default), :func:`sample_capture_params` and :func:`render_photo`, so a
  robustness study can photograph one face under one controlled change.
* :func:`generate_dataset` writes a dataset in the paper's layout (``<drug>/<drug>_<index>_<flag>.jpg``
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
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import cv2
import numpy as np

from drugsim.data.records import FACES
from drugsim.errors import ConfigError
from drugsim.io import atomic_path

RngLike = Union[np.random.Generator, int, None]
Colour = Tuple[int, int, int]

#: Kinds of face print. "rich" faces carry the flag 1; the three others are the paper's feature-poor faces.
FACE_KINDS = ("rich", "blank", "mostly_blank", "washed_out")

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


def _as_rng(rng: RngLike) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


# ----------------------------------------------------------------------------------------- drug specs
_BRAND_SYLLABLES = ("ra", "lo", "vi", "mex", "tor", "zen", "pha", "gen", "cor", "lan", "mi", "sol", "dex",
                    "tri", "no", "vax", "pro", "lix", "ka", "bel", "sta", "ner", "ova", "qui")
_DRUG_PREFIXES = ("Amlo", "Ator", "Cefa", "Clari", "Dexa", "Esome", "Fluco", "Lora", "Meto", "Nifi", "Omep",
                  "Panto", "Rosu", "Sima", "Vala", "Zola", "Cande", "Levo", "Bisa", "Cipro", "Doxy",
                  "Gliba", "Ibu", "Keto", "Lisino", "Mela", "Napro", "Olme", "Pravi", "Telmi")
_DRUG_SUFFIXES = ("pril", "statin", "cillin", "profen", "zole", "olol", "sartan", "floxacin", "dronate",
                  "tidine", "mycin", "pam", "oxetine", "dipine", "formin", "lukast", "vir", "tadine")
_FORMS = ("tablets", "capsules", "film-coated tablets", "tablets", "soft capsules", "granules")
_DOSAGES = ("5 mg", "10 mg", "20 mg", "25 mg", "40 mg", "50 mg", "80 mg", "100 mg", "125 mg", "250 mg",
            "500 mg", "0.25 g", "0.5 g", "1 g")
_COUNTS = (7, 10, 12, 14, 20, 24, 28, 30, 48, 60)
_WORDS = ("each", "tablet", "contains", "read", "the", "leaflet", "before", "use", "store", "below",
          "keep", "out", "of", "reach", "children", "dose", "daily", "adults", "oral", "use", "batch",
          "exp", "lot", "mfg", "only", "on", "prescription", "do", "not", "exceed", "stated", "dry",
          "place", "protect", "from", "light", "moisture", "indications", "see", "package", "insert")
_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
          cv2.FONT_HERSHEY_TRIPLEX)
_PALETTES: Tuple[Tuple[Colour, Colour], ...] = (
    ((0, 83, 155), (120, 190, 230)), ((200, 30, 45), (250, 180, 60)), ((0, 130, 90), (150, 210, 120)),
    ((110, 40, 140), (230, 150, 200)), ((230, 110, 0), (255, 210, 90)), ((20, 60, 90), (0, 170, 190)),
    ((160, 0, 80), (240, 120, 120)), ((40, 40, 40), (220, 180, 30)), ((0, 110, 180), (230, 60, 60)),
    ((90, 140, 30), (30, 80, 140)), ((180, 120, 20), (90, 50, 20)), ((0, 150, 150), (250, 240, 200)),
)


@dataclass(frozen=True)
class DrugSpec:
    """Everything printed on one drug's box. Drugs of one family share layout, colours, font and brand."""

    drug: str
    family: str
    brand: str
    name: str
    generic: str
    dosage: str
    count_text: str
    layout: int
    font: int
    primary: Colour
    secondary: Colour
    accent: Colour
    paper: Colour
    logo: int
    box_ratio: Tuple[float, float, float]  # width, height, depth of the carton (width = 1)
    face_kinds: Tuple[str, ...]  # one of FACE_KINDS per face in FACES order
    seed: int = 0

    @property
    def flags(self) -> Dict[str, bool]:
        return {face: kind == "rich" for face, kind in zip(FACES, self.face_kinds)}


def _word(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(_BRAND_SYLLABLES) for _ in range(n))


def _shift(colour: Colour, rng: np.random.Generator, amount: int) -> Colour:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in colour)  # type: ignore


#: Probability that a face is feature-poor, by face: end flaps are often blank, fronts almost never.
#: About one face in eight overall: the paper calls such faces "some", and its classifier filter changes the
#: Siamese accuracy by only 0.06 points (Table 10), so they cannot be a large share of its test pairs.
_POOR_PROBABILITY = {"front": 0.02, "back": 0.08, "side1": 0.08, "side2": 0.1, "side3": 0.25, "side4": 0.25}


def make_drug_specs(n_drugs: int, *, seed: int = 0) -> List[DrugSpec]:
    """Draw the drugs of a dataset: families of 2-6 drugs that share layout and colours.

    Within a family a drug is, with probability 0.4, another dosage of an earlier drug (same name,
    different dosage and accent colour): the hardest negatives, as in real product lines.

    Args:
        n_drugs: how many drugs; ids are ``d001``, ``d002``, ...
        seed: master seed.
    """
    if n_drugs < 1:
        raise ConfigError(f"n_drugs must be at least 1, got {n_drugs}")
    rng = np.random.default_rng([seed, 7919])
    specs: List[DrugSpec] = []
    family_index = 0
    while len(specs) < n_drugs:
        family_index += 1
        family = f"f{family_index:02d}"
        brand = _word(rng, int(rng.integers(2, 4))).capitalize()
        primary, secondary = _PALETTES[int(rng.integers(len(_PALETTES)))]
        primary, secondary = _shift(primary, rng, 20), _shift(secondary, rng, 20)
        paper = tuple(int(v) for v in rng.integers(232, 256, size=3))
        layout, font, logo = int(rng.integers(4)), int(rng.integers(len(_FONTS))), int(rng.integers(4))
        size = int(rng.integers(2, 7))
        names: List[Tuple[str, str]] = []
        for _ in range(min(size, n_drugs - len(specs))):
            if names and rng.random() < 0.4:
                name, generic = names[int(rng.integers(len(names)))]
            else:
                name = str(rng.choice(_DRUG_PREFIXES)) + str(rng.choice(_DRUG_SUFFIXES))
                generic = f"{name.lower()} {rng.choice(_FORMS)}"
                names.append((name, generic))
            drug_number = len(specs) + 1
            kinds = []
            for face in FACES:
                if rng.random() < _POOR_PROBABILITY[face]:
                    kinds.append(str(rng.choice(FACE_KINDS[1:])))
                else:
                    kinds.append("rich")
            specs.append(DrugSpec(
                drug=f"d{drug_number:03d}", family=family, brand=brand, name=name, generic=generic,
                dosage=str(rng.choice(_DOSAGES)), count_text=f"{int(rng.choice(_COUNTS))} {generic.split(' ', 1)[1]}",
                layout=layout, font=font, primary=primary, secondary=secondary,
                accent=tuple(int(v) for v in rng.integers(20, 235, size=3)),  # type: ignore[arg-type]
                paper=paper, logo=logo,  # type: ignore[arg-type]
                box_ratio=(1.0, float(rng.uniform(0.5, 0.72)), float(rng.uniform(0.22, 0.38))),
                face_kinds=tuple(kinds), seed=int(rng.integers(2**31)),
            ))
    return specs


# ------------------------------------------------------------------------------------------ face print
def _text_fit(img: np.ndarray, text: str, box: Tuple[int, int, int, int], colour: Colour, font: int,
              *, thickness_ratio: float = 0.08, align: str = "left") -> None:
    """Draw ``text`` as large as fits in ``box`` = (x, y, w, h)."""
    x, y, w, h = box
    if w < 4 or h < 4 or not text:
        return
    (tw, th), _ = cv2.getTextSize(text, font, 1.0, 1)
    scale = min(w / max(tw, 1), h / max(th, 1))
    thickness = max(1, int(round(th * scale * thickness_ratio)))
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    x0 = x + (w - tw) // 2 if align == "center" else x
    cv2.putText(img, text, (int(x0), int(y + (h + th) // 2)), font, scale, colour, thickness, cv2.LINE_AA)


def _text_block(img: np.ndarray, box: Tuple[int, int, int, int], rng: np.random.Generator,
                colour: Colour, *, line_px: int) -> None:
    """Small paragraph text: the fine print that gives keypoint methods their texture."""
    x, y, w, h = box
    line_px = max(6, line_px)
    for row in range(max(0, h // line_px)):
        words, width = [], 0
        target = w * (0.55 + 0.45 * rng.random()) if row % 5 == 4 else w
        while True:
            word = str(rng.choice(_WORDS))
            (tw, _), _ = cv2.getTextSize(" ".join(words + [word]), cv2.FONT_HERSHEY_PLAIN, line_px / 14.0, 1)
            if tw > target:
                break
            words.append(word)
            width = tw
        if words and width > 0:
            cv2.putText(img, " ".join(words), (x, y + (row + 1) * line_px - 2), cv2.FONT_HERSHEY_PLAIN,
                        line_px / 14.0, colour, 1, cv2.LINE_AA)


def _barcode(img: np.ndarray, box: Tuple[int, int, int, int], rng: np.random.Generator) -> None:
    x, y, w, h = box
    cv2.rectangle(img, (x, y), (x + w, y + h), (255, 255, 255), -1)
    pos, bar_h = x + 3, int(h * 0.75)
    unit = max(1, w // 95)
    while pos < x + w - 3 - 3 * unit:
        bar = int(rng.integers(1, 4)) * unit
        cv2.rectangle(img, (pos, y + 2), (pos + bar - 1, y + bar_h), (10, 10, 10), -1)
        pos += bar + int(rng.integers(1, 4)) * unit
    digits = "".join(str(d) for d in rng.integers(0, 10, size=13))
    _text_fit(img, digits, (x + 2, y + bar_h + 1, w - 4, h - bar_h - 2), (10, 10, 10), cv2.FONT_HERSHEY_PLAIN,
              align="center")


def _logo(img: np.ndarray, centre: Tuple[int, int], radius: int, kind: int, spec: DrugSpec) -> None:
    cx, cy = centre
    if kind == 0:
        cv2.circle(img, centre, radius, spec.primary, -1, cv2.LINE_AA)
        cv2.circle(img, centre, int(radius * 0.6), spec.paper, max(1, radius // 6), cv2.LINE_AA)
    elif kind == 1:
        pts = np.array([[cx, cy - radius], [cx + radius, cy + radius * 0.8], [cx - radius, cy + radius * 0.8]],
                       np.int32)
        cv2.fillPoly(img, [pts], spec.primary, cv2.LINE_AA)
        cv2.circle(img, (cx, int(cy + radius * 0.2)), max(2, radius // 3), spec.secondary, -1, cv2.LINE_AA)
    elif kind == 2:
        angles = np.linspace(0, 2 * np.pi, 7)[:-1] + np.pi / 6
        pts = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], 1).astype(np.int32)
        cv2.fillPoly(img, [pts], spec.secondary, cv2.LINE_AA)
        cv2.polylines(img, [pts], True, spec.primary, max(1, radius // 5), cv2.LINE_AA)
    else:
        for k in range(3):
            cv2.ellipse(img, centre, (radius, int(radius * 0.45)), 60 * k, 0, 360, spec.primary,
                        max(1, radius // 7), cv2.LINE_AA)
    letter_box = int(radius * 0.9)
    if kind in (0, 2):
        _text_fit(img, spec.brand[0], (cx - letter_box // 2, cy - letter_box // 2, letter_box, letter_box),
                  spec.primary if kind == 2 else spec.accent, _FONTS[spec.font], align="center",
                  thickness_ratio=0.14)


def _bands(img: np.ndarray, spec: DrugSpec, *, mirrored: bool = False) -> None:
    """The family's colour design: identical across a family, so only the text tells drugs apart."""
    target = img
    img = np.ascontiguousarray(img.copy())
    h, w = img.shape[:2]
    if spec.layout == 0:  # top band and a thin bottom rule
        cv2.rectangle(img, (0, 0), (w, int(h * 0.2)), spec.primary, -1)
        cv2.rectangle(img, (0, int(h * 0.9)), (w, int(h * 0.94)), spec.secondary, -1)
    elif spec.layout == 1:  # diagonal stripes on the right
        for k, colour in enumerate((spec.primary, spec.secondary, spec.primary)):
            x0 = int(w * (0.62 + 0.09 * k))
            pts = np.array([[x0, h], [x0 + int(w * 0.06), h], [x0 + int(w * 0.32), 0], [x0 + int(w * 0.26), 0]],
                           np.int32)
            cv2.fillPoly(img, [pts], colour, cv2.LINE_AA)
    elif spec.layout == 2:  # left bar
        cv2.rectangle(img, (0, 0), (int(w * 0.22), h), spec.primary, -1)
        cv2.rectangle(img, (int(w * 0.22), 0), (int(w * 0.24), h), spec.secondary, -1)
    else:  # wave at the bottom
        xs = np.arange(0, w + 8, 8)
        ys = h * 0.72 + h * 0.07 * np.sin(xs / w * 2 * np.pi * 1.3)
        pts = np.concatenate([np.stack([xs, ys], 1), [[w, h], [0, h]]]).astype(np.int32)
        cv2.fillPoly(img, [pts], spec.primary, cv2.LINE_AA)
        ys2 = ys - h * 0.05
        cv2.polylines(img, [np.stack([xs, ys2], 1).astype(np.int32)], False, spec.secondary,
                      max(2, h // 40), cv2.LINE_AA)
    target[:] = img[::-1] if mirrored else img


def _text_colour(spec: DrugSpec) -> Colour:
    return tuple(int(c * 0.35) for c in spec.primary)  # type: ignore[return-value]


def _main_panel(img: np.ndarray, spec: DrugSpec, rng: np.random.Generator, *, back: bool) -> None:
    """Front and back: logo, brand, drug name, generic name, dosage badge (back adds fine print)."""
    h, w = img.shape[:2]
    _bands(img, spec, mirrored=back)
    font = _FONTS[spec.font]
    dark = _text_colour(spec)
    left = int(w * 0.27) if spec.layout == 2 else int(w * 0.06)
    right = int(w * 0.6) if spec.layout == 1 else int(w * 0.94)
    top = int(h * 0.24) if spec.layout == 0 and not back else int(h * 0.08)
    if back and spec.layout == 0:
        top = int(h * 0.12)
    radius = int(h * 0.08)
    if spec.layout == 2:
        _logo(img, (int(w * 0.11), int(h * 0.18)), radius, spec.logo, replace(spec, primary=spec.paper))
        _text_fit(img, spec.brand, (int(w * 0.02), int(h * 0.3), int(w * 0.18), int(h * 0.07)), spec.paper, font)
    elif spec.layout == 0 and not back:
        _logo(img, (int(w * 0.08), int(h * 0.1)), radius, spec.logo, replace(spec, primary=spec.paper))
        _text_fit(img, spec.brand, (int(w * 0.15), int(h * 0.04), int(w * 0.35), int(h * 0.12)), spec.paper, font)
    else:
        _logo(img, (left + radius, top + radius), radius, spec.logo, spec)
        _text_fit(img, spec.brand, (left + 2 * radius + 6, top + radius // 2, int(w * 0.3), radius), dark, font)
        top += 2 * radius + 6
    span = right - left
    if not back:
        _text_fit(img, spec.name, (left, top, int(span * 0.95), int(h * 0.2)), dark, font, thickness_ratio=0.12)
        _text_fit(img, spec.generic, (left, top + int(h * 0.22), int(span * 0.8), int(h * 0.07)), dark, font)
        badge = (left, top + int(h * 0.33), int(span * 0.38), int(h * 0.14))
        cv2.rectangle(img, badge[:2], (badge[0] + badge[2], badge[1] + badge[3]), spec.accent, -1)
        _text_fit(img, spec.dosage, (badge[0] + 4, badge[1] + 3, badge[2] - 8, badge[3] - 6), (255, 255, 255),
                  font, align="center", thickness_ratio=0.12)
        _text_fit(img, spec.count_text, (left + int(span * 0.42), top + int(h * 0.36), int(span * 0.5),
                                         int(h * 0.08)), dark, font)
        cv2.circle(img, (right - int(h * 0.07), top + int(h * 0.05)), int(h * 0.05), spec.accent, 2, cv2.LINE_AA)
        _text_fit(img, "Rx", (right - int(h * 0.1), top + int(h * 0.02), int(h * 0.06), int(h * 0.06)),
                  spec.accent, font, align="center")
    else:
        _text_fit(img, f"{spec.name} {spec.dosage}", (left, top, int(span * 0.8), int(h * 0.1)), dark, font)
        _text_block(img, (left, top + int(h * 0.13), int(span * 0.92), int(h * 0.45)), rng, dark,
                    line_px=max(7, h // 22))


def _side_panel(img: np.ndarray, spec: DrugSpec, rng: np.random.Generator, face: str) -> None:
    """Sides, drawn landscape: name and dosage (side1), barcode and batch data (side2), flaps (side3/4)."""
    h, w = img.shape[:2]
    font = _FONTS[spec.font]
    dark = _text_colour(spec)
    if face == "side1":
        cv2.rectangle(img, (0, 0), (w, int(h * 0.22)), spec.primary, -1)
        _text_fit(img, spec.brand, (int(w * 0.03), int(h * 0.03), int(w * 0.3), int(h * 0.16)), spec.paper, font)
        _text_fit(img, spec.name, (int(w * 0.04), int(h * 0.3), int(w * 0.6), int(h * 0.3)), dark, font,
                  thickness_ratio=0.12)
        badge = (int(w * 0.68), int(h * 0.3), int(w * 0.28), int(h * 0.3))
        cv2.rectangle(img, badge[:2], (badge[0] + badge[2], badge[1] + badge[3]), spec.accent, -1)
        _text_fit(img, spec.dosage, (badge[0] + 3, badge[1] + 3, badge[2] - 6, badge[3] - 6), (255, 255, 255),
                  font, align="center")
        _text_fit(img, spec.count_text, (int(w * 0.04), int(h * 0.68), int(w * 0.5), int(h * 0.14)), dark, font)
        _logo(img, (int(w * 0.9), int(h * 0.12)), int(h * 0.08), spec.logo, replace(spec, primary=spec.paper))
    elif face == "side2":
        _barcode(img, (int(w * 0.05), int(h * 0.12), int(w * 0.32), int(h * 0.7)), rng)
        lot = f"LOT {int(rng.integers(10000, 99999))}  EXP {int(rng.integers(1, 13)):02d}/20{int(rng.integers(26, 31))}"
        _text_fit(img, lot, (int(w * 0.42), int(h * 0.12), int(w * 0.5), int(h * 0.14)), dark, font)
        _text_block(img, (int(w * 0.42), int(h * 0.32), int(w * 0.55), int(h * 0.6)), rng, dark,
                    line_px=max(7, h // 9))
    else:
        stripe = spec.primary if face == "side3" else spec.secondary
        cv2.rectangle(img, (0, int(h * 0.78)), (w, h), stripe, -1)
        _text_fit(img, f"{spec.name} {spec.dosage}", (int(w * 0.05), int(h * 0.15), int(w * 0.55), int(h * 0.4)),
                  dark, font)
        if face == "side3":
            _text_block(img, (int(w * 0.62), int(h * 0.1), int(w * 0.35), int(h * 0.6)), rng, dark,
                        line_px=max(7, h // 8))
        else:
            _logo(img, (int(w * 0.8), int(h * 0.38)), int(h * 0.25), spec.logo, spec)


def _face_shape(spec: DrugSpec, face: str, face_px: int) -> Tuple[int, int]:
    """(width, height) of a face drawn landscape with its long side ``face_px``."""
    width, height, depth = spec.box_ratio
    dims = {"front": (width, height), "back": (width, height), "side1": (height, depth),
            "side2": (height, depth), "side3": (width, depth), "side4": (width, depth)}[face]
    long_side, short_side = max(dims), min(dims)
    # Sides are narrow strips; draw them less extreme than the true ratio so the photo shows some detail.
    ratio = max(short_side / long_side, 0.42)
    return face_px, max(8, int(round(face_px * ratio)))


def draw_face(spec: DrugSpec, face: str, *, face_px: int = 320, kind: Optional[str] = None,
              rng: RngLike = None) -> np.ndarray:
    """Draw one face of a drug box as a flat print.

    Args:
        spec: the drug (see :func:`make_drug_specs`).
        face: one of :data:`~drugsim.data.records.FACES`.
        face_px: long side of the print in pixels.
        kind: one of :data:`FACE_KINDS`; defaults to the drug's own kind for this face.
        rng: randomness for fine print and barcodes (seeded per drug and face in a dataset).

    Returns:
        RGB uint8 array (H, W, 3), landscape (W >= H).
    """
    if face not in FACES:
        raise ConfigError(f"face {face!r} is not supported. Try one of {list(FACES)}")
    kind = kind or spec.face_kinds[FACES.index(face)]
    if kind not in FACE_KINDS:
        raise ConfigError(f"face kind {kind!r} is not supported. Try one of {list(FACE_KINDS)}")
    rng = _as_rng(rng)
    width, height = _face_shape(spec, face, face_px)
    ss = 2  # draw at twice the size, then shrink: anti-aliased print
    img = np.empty((height * ss, width * ss, 3), np.uint8)
    img[:] = spec.paper
    if kind in ("rich", "washed_out"):
        if face in ("front", "back"):
            _main_panel(img, spec, rng, back=face == "back")
        else:
            _side_panel(img, spec, rng, face)
    elif kind == "mostly_blank":
        h, w = img.shape[:2]
        cv2.rectangle(img, (0, int(h * 0.92)), (w, h), spec.secondary, -1)
        _text_fit(img, spec.brand, (int(w * 0.7), int(h * 0.74), int(w * 0.22), int(h * 0.1)),
                  _text_colour(spec), _FONTS[spec.font])
    img = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
    # Printing: a faint cardboard grain so blank faces are not perfectly flat.
    grain = rng.normal(0.0, 2.0, size=img.shape[:2])[:, :, None]
    img = np.clip(img.astype(np.float32) + grain, 0, 255)
    if kind == "washed_out":
        paper = np.array(spec.paper, np.float32)
        img = paper + (img - paper) * float(rng.uniform(0.08, 0.18))
        img = cv2.GaussianBlur(img, (0, 0), 1.5)
    return img.astype(np.uint8)


# --------------------------------------------------------------------------------------------- capture
@dataclass(frozen=True)
class CaptureParams:
    """Every control of one photo of a face; the default is a neutral, centred, clean shot.

    Attributes:
        brightness: overall gain (paper: 0.5-1.5).
        colour_cast: per-channel RGB gain (white balance).
        light_gradient: strength of a linear illumination ramp across the frame (0 = even light).
        light_angle: direction of that ramp in degrees.
        rotation: 0 or 180 (box upside down), in degrees.
        tilt: extra in-plane rotation in degrees (a few degrees).
        scale: long side of the face as a fraction of the photo's long side.
        offset: (dx, dy) of the face centre as fractions of the photo size.
        perspective: 8 corner displacements (x0, y0, ..., x3, y3) as fractions of the face size.
        background: RGB colour of the surface under the box.
        background_texture: strength of its texture (0 = flat).
        shadow: darkness of the box's soft shadow (0 = none).
        blur: Gaussian blur sigma in pixels (0 = sharp).
        noise: sensor noise standard deviation in grey levels.
        jpeg_quality: JPEG quality the photo is saved with (1-100).
        glare: peak strength of a specular highlight (0 = none, 1 = saturates).
        glare_position: (x, y) of the highlight as fractions of the photo size.
        glare_radius: highlight radius as a fraction of the photo's long side.
        occlusion: fraction of the face's width covered by a finger-like blob (0 = none).
    """

    brightness: float = 1.0
    colour_cast: Tuple[float, float, float] = (1.0, 1.0, 1.0)
    light_gradient: float = 0.0
    light_angle: float = 0.0
    rotation: int = 0
    tilt: float = 0.0
    scale: float = 0.8
    offset: Tuple[float, float] = (0.0, 0.0)
    perspective: Tuple[float, ...] = (0.0,) * 8
    background: Colour = (128, 128, 128)
    background_texture: float = 0.0
    shadow: float = 0.0
    blur: float = 0.0
    noise: float = 0.0
    jpeg_quality: int = 95
    glare: float = 0.0
    glare_position: Tuple[float, float] = (0.5, 0.5)
    glare_radius: float = 0.15
    occlusion: float = 0.0

    def __post_init__(self) -> None:
        if self.rotation not in (0, 180):
            raise ConfigError(f"rotation must be 0 or 180 degrees, got {self.rotation}")
        if not 1 <= int(self.jpeg_quality) <= 100:
            raise ConfigError(f"jpeg_quality must be in 1-100, got {self.jpeg_quality}")
        if len(self.perspective) != 8:
            raise ConfigError(f"perspective needs 8 corner displacements, got {len(self.perspective)}")
        if not 0.05 <= self.scale <= 1.5:
            raise ConfigError(f"scale must be in 0.05-1.5 (face long side / photo long side), got {self.scale}")

    def to_row(self) -> Dict[str, str]:
        """Flat strings for the manifest (tuples space-separated, floats to 4 decimals)."""
        row = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                row[f.name] = " ".join(_fmt(v) for v in value)
            else:
                row[f.name] = _fmt(value)
        return row

    @classmethod
    def from_row(cls, row: Dict[str, str]) -> "CaptureParams":
        """Inverse of :meth:`to_row` (extra keys are ignored)."""
        kwargs = {}
        for f in fields(cls):
            if f.name not in row:
                continue
            text = row[f.name]
            default = getattr(cls(), f.name)
            if isinstance(default, tuple):
                kind = int if all(isinstance(v, int) for v in default) else float
                kwargs[f.name] = tuple(kind(float(v)) for v in text.split())
            elif isinstance(default, int):
                kwargs[f.name] = int(float(text))
            else:
                kwargs[f.name] = float(text)
        return cls(**kwargs)


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4f}"
    return str(value)


def sample_capture_params(rng: RngLike = None) -> CaptureParams:
    """Draw the photo conditions of one shot, as the paper's photos vary (section 4.1).

    Brightness 0.5-1.5, a colour cast of up to +-12 % per channel, uneven light, the box upside down
    half the time, +-6 degrees of tilt, perspective, scale, offset, background, mild blur and noise,
    JPEG quality 70-95, glare in one photo of eight and a finger in one of twenty-five.
    """
    rng = _as_rng(rng)
    r = lambda lo, hi: round(float(rng.uniform(lo, hi)), 4)
    background = tuple(int(v) for v in np.clip(rng.normal(rng.uniform(70, 200), 25, size=3), 0, 255))
    return CaptureParams(
        brightness=r(0.5, 1.5),
        colour_cast=(r(0.88, 1.12), r(0.92, 1.08), r(0.88, 1.12)),
        light_gradient=r(0.0, 0.35),
        light_angle=r(0, 360),
        rotation=int(rng.choice((0, 180))),
        tilt=r(-6, 6),
        scale=r(0.62, 0.92),
        offset=(r(-0.06, 0.06), r(-0.06, 0.06)),
        perspective=tuple(r(-0.06, 0.06) for _ in range(8)),
        background=background,  # type: ignore[arg-type]
        background_texture=r(0.0, 1.0),
        shadow=r(0.0, 0.5),
        blur=r(0.0, 1.2) if rng.random() < 0.7 else r(1.2, 2.2),
        noise=r(0.5, 5.0),
        jpeg_quality=int(rng.integers(70, 96)),
        glare=r(0.5, 0.95) if rng.random() < 0.125 else 0.0,
        glare_position=(r(0.25, 0.75), r(0.25, 0.75)),
        glare_radius=r(0.06, 0.2),
        occlusion=r(0.08, 0.2) if rng.random() < 0.04 else 0.0,
    )


def _background(size: Tuple[int, int], params: CaptureParams, rng: np.random.Generator) -> np.ndarray:
    width, height = size
    base = np.empty((height, width, 3), np.float32)
    base[:] = params.background
    if params.background_texture > 0:
        # Low-frequency blotches (wood, cloth) plus grain: a real surface, not a flat colour.
        coarse = rng.normal(0, 1, size=(max(2, height // 32), max(2, width // 32), 1)).astype(np.float32)
        coarse = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)[:, :, None]
        streaks = rng.normal(0, 1, size=(height, 1)).astype(np.float32)
        streaks = cv2.GaussianBlur(streaks, (0, 0), 2.0).reshape(height, 1, 1)
        grain = rng.normal(0, 1, size=(height, width, 1)).astype(np.float32)
        base *= 1 + params.background_texture * (0.08 * coarse + 0.05 * streaks + 0.03 * grain)
    return base


def render_photo(face_image: np.ndarray, params: CaptureParams, rng: RngLike = None, *,
                 out_size: Tuple[int, int] = (288, 216), apply_jpeg: bool = True) -> np.ndarray:
    """Photograph a flat face print under ``params``.

    Args:
        face_image: RGB uint8 (H, W, 3), e.g. from :func:`draw_face`.
        params: the capture controls; ``CaptureParams()`` is a neutral shot.
        rng: randomness of the sensor noise and background texture only (the geometry and light are
            all in ``params``).
        out_size: (width, height) of the photo.
        apply_jpeg: round-trip through JPEG at ``params.jpeg_quality`` so the array shows the
            compression artefacts (a dataset writer passes False and saves at that quality instead).

    Returns:
        RGB uint8 array (height, width, 3).
    """
    if face_image.ndim != 3 or face_image.shape[2] != 3 or face_image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 face of shape (H, W, 3), got {face_image.shape} {face_image.dtype}")
    rng = _as_rng(rng)
    width, height = out_size
    fh, fw = face_image.shape[:2]
    # Geometry: face corners -> photo, scaled, rotated (0/180 + tilt), shifted, with perspective jitter.
    target = params.scale * max(width, height) / max(fw, fh)
    half = np.array([fw, fh], np.float64) * target / 2
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * half
    jitter = np.asarray(params.perspective, np.float64).reshape(4, 2) * half * 2
    corners = corners + jitter
    angle = np.deg2rad(params.rotation + params.tilt)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = np.array([width * (0.5 + params.offset[0]), height * (0.5 + params.offset[1])])
    dst = (corners @ rot.T + centre).astype(np.float32)
    src = np.array([[0, 0], [fw, 0], [fw, fh], [0, fh]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(face_image, matrix, (width, height), flags=cv2.INTER_AREA
                                 if target < 1 else cv2.INTER_LINEAR).astype(np.float32)
    mask = cv2.warpPerspective(np.ones((fh, fw), np.float32), matrix, (width, height), flags=cv2.INTER_LINEAR)
    photo = _background((width, height), params, rng)
    if params.shadow > 0:
        shift = np.float32([[1, 0, width * 0.02], [0, 1, height * 0.03]])
        shade = cv2.warpAffine(mask, shift, (width, height))
        shade = cv2.GaussianBlur(shade, (0, 0), max(width, height) * 0.015)
        photo *= (1 - params.shadow * shade)[:, :, None]
    photo = photo * (1 - mask[:, :, None]) + warped * mask[:, :, None]
    if params.occlusion > 0:
        finger_w = params.occlusion * params.scale * max(width, height)
        x = centre[0] - half[0] * 0.9
        axes = (int(finger_w / 2), int(finger_w * 1.6))
        skin = np.zeros((height, width), np.float32)
        cv2.ellipse(skin, (int(x), int(centre[1] + half[1])), axes, 15, 0, 360, 1.0, -1, cv2.LINE_AA)
        skin = cv2.GaussianBlur(skin, (0, 0), 1.0)[:, :, None]
        photo = photo * (1 - skin) + np.array([224, 172, 138], np.float32) * skin
    # Light: gain, white balance, a ramp across the frame, optional glare.
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    theta = np.deg2rad(params.light_angle)
    ramp = ((xx / width - 0.5) * np.cos(theta) + (yy / height - 0.5) * np.sin(theta)) * 2
    gain = params.brightness * (1 + params.light_gradient * ramp)
    photo = photo * gain[:, :, None] * np.asarray(params.colour_cast, np.float32)
    if params.glare > 0:
        gx, gy = params.glare_position[0] * width, params.glare_position[1] * height
        radius = params.glare_radius * max(width, height)
        spot = np.exp(-((xx - gx) ** 2 + ((yy - gy) * 1.6) ** 2) / (2 * radius**2))
        photo = photo + params.glare * 255 * spot[:, :, None]
    if params.blur > 0:
        photo = cv2.GaussianBlur(photo, (0, 0), params.blur)
    if params.noise > 0:
        photo = photo + rng.normal(0, params.noise, size=(height, width, 1)).astype(np.float32)
    photo = np.clip(photo + 0.5, 0, 255).astype(np.uint8)
    if apply_jpeg and params.jpeg_quality < 100:
        photo = decode_jpeg(encode_jpeg(photo, params.jpeg_quality))
    return photo


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """RGB uint8 -> JPEG bytes (deterministic for the same input and quality)."""
    ok, buffer = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 RGB
        raise ValueError("JPEG encoding failed")
    return buffer.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


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
            with context.Pool(n_jobs) as pool:
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
        (tmp / "README.txt").write_text(
            f"Synthetic drug boxes generated by drugsim (preset {_preset_name(preset)}, seed {seed}).\n"
            "Layout: <drug>/<drug>_<index>_<flag>.jpg, flag 1 = feature-rich face; manifest.csv holds the\n"
            "face, family and capture parameters of every photo.\n", encoding="utf-8")
    return out_dir


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
