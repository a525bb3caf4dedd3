"""Synthetic drug boxes, printed: the drug of each box (:func:`make_drug_specs`) and its flat face prints
(:func:`draw_face`).

Manufacturer families of carton boxes share layout and colours and differ in drug name and dosage (hard
negatives, like a real pharma line); each box has six faces (front, back, side1-4), a share of them
feature-poor (blank, mostly blank, washed out; flag 0). :mod:`drugsim.data.capture` photographs the
prints; :mod:`drugsim.data.synth` writes whole datasets.

References:
    Paper section 4.1 (dataset), Fig. 11 (sample photos).

Example:
    >>> import numpy as np
    >>> spec = make_drug_specs(3, seed=0)[0]
    >>> draw_face(spec, "front", face_px=200, rng=np.random.default_rng(0)).dtype
    dtype('uint8')
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Union

import cv2
import numpy as np

from drugsim.data.records import FACES
from drugsim.errors import ConfigError

RngLike = Union[np.random.Generator, int, None]
Colour = tuple[int, int, int]

#: Kinds of face print. "rich" faces carry the flag 1; the three others are the paper's feature-poor faces.
FACE_KINDS = ("rich", "blank", "mostly_blank", "washed_out")


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
_PALETTES: tuple[tuple[Colour, Colour], ...] = (
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
    box_ratio: tuple[float, float, float]  # width, height, depth of the carton (width = 1)
    face_kinds: tuple[str, ...]  # one of FACE_KINDS per face in FACES order
    seed: int = 0

    @property
    def flags(self) -> dict[str, bool]:
        return {face: kind == "rich" for face, kind in zip(FACES, self.face_kinds)}


def _word(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(_BRAND_SYLLABLES) for _ in range(n))


def _shift(colour: Colour, rng: np.random.Generator, amount: int) -> Colour:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in colour)  # type: ignore


#: Probability that a face is feature-poor, by face: end flaps are often blank, fronts almost never.
#: About one face in eight overall: the paper calls such faces "some", and its classifier filter changes the
#: Siamese accuracy by only 0.06 points (Table 10), so they cannot be a large share of its test pairs.
_POOR_PROBABILITY = {"front": 0.02, "back": 0.08, "side1": 0.08, "side2": 0.1, "side3": 0.25, "side4": 0.25}


def make_drug_specs(n_drugs: int, *, seed: int = 0) -> list[DrugSpec]:
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
    specs: list[DrugSpec] = []
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
        names: list[tuple[str, str]] = []
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
def _text_fit(img: np.ndarray, text: str, box: tuple[int, int, int, int], colour: Colour, font: int,
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


def _text_block(img: np.ndarray, box: tuple[int, int, int, int], rng: np.random.Generator,
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


def _barcode(img: np.ndarray, box: tuple[int, int, int, int], rng: np.random.Generator) -> None:
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


def _logo(img: np.ndarray, centre: tuple[int, int], radius: int, kind: int, spec: DrugSpec) -> None:
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


def _face_shape(spec: DrugSpec, face: str, face_px: int) -> tuple[int, int]:
    """(width, height) of a face drawn landscape with its long side ``face_px``."""
    width, height, depth = spec.box_ratio
    dims = {"front": (width, height), "back": (width, height), "side1": (height, depth),
            "side2": (height, depth), "side3": (width, depth), "side4": (width, depth)}[face]
    long_side, short_side = max(dims), min(dims)
    # Sides are narrow strips; draw them less extreme than the true ratio so the photo shows some detail.
    ratio = max(short_side / long_side, 0.42)
    return face_px, max(8, int(round(face_px * ratio)))


def draw_face(spec: DrugSpec, face: str, *, face_px: int = 320, kind: str | None = None,
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
