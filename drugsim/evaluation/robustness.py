"""Robustness to capture conditions: accuracy of every method under one capture change at a time.

A drug-box check meets photos taken in dim or harsh light, boxes upside down, shaky hands, oblique
angles, heavy JPEG compression and fingers over the print. The paper's augmentation covers some of this
(brightness 0.5-1.5, rotation 0/180, section 4.1.3) but it reports no method's accuracy per condition.
This module measures it two ways, with the same conditions (:data:`CONDITIONS`):

* **synthetic** (:func:`synthetic_study`): faces printed by :func:`drugsim.data.synth.draw_face` are
  photographed twice; photo A is a plain shot, photo B the same face (positive) or another face (negative)
  shot with exactly one control of :class:`~drugsim.data.synth.CaptureParams` changed;
* **real photos** (:func:`photo_study`): the same change applied as an image transform
  (:func:`apply_condition`) to the second image of every pair of a real data set (the Grocery photos).

The decision threshold of each method is fitted once on *unperturbed* validation pairs (different drugs
or classes from the test pairs) and applied unchanged to every condition, so a drop in accuracy is the
condition's doing. ``clean`` is the unperturbed reference column.

Example:
    >>> import numpy as np
    >>> image = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    >>> rotated = apply_condition(image, "rotation_180")
    >>> bool((apply_condition(rotated, "rotation_180") == image).all())
    True

References:
    Issue 6 item 4; paper section 4.1 (capture variation) and 4.1.3 (augmentation).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from drugsim.errors import ConfigError, DatasetError

RngLike = Union[np.random.Generator, int, None]


@dataclass(frozen=True)
class Condition:
    """One capture change.

    Attributes:
        name: key used in results (e.g. ``"brightness_0.5"``).
        label: short text for figures.
        capture: the :class:`~drugsim.data.synth.CaptureParams` fields this change sets (synthetic study).
        transform: ``(kind, value)`` of the equivalent image transform (real photos).
    """

    name: str
    label: str
    capture: Tuple[Tuple[str, Any], ...]
    transform: Tuple[str, float]


#: The conditions of issue 6 item 4, each changing one thing. Strengths are firm but realistic: blur
#: sigma 2.5 px on ~300 px photos (a shaky hand), perspective 12 % corner displacement, JPEG quality 15,
#: a finger over 25 % of the face's width.
CONDITIONS: Tuple[Condition, ...] = (
    Condition("clean", "clean", (), ("none", 0.0)),
    Condition("brightness_0.5", "brightness x0.5", (("brightness", 0.5),), ("brightness", 0.5)),
    Condition("brightness_1.5", "brightness x1.5", (("brightness", 1.5),), ("brightness", 1.5)),
    Condition("rotation_180", "rotated 180 deg", (("rotation", 180),), ("rotation", 180.0)),
    Condition("blur", "blur sigma 2.5", (("blur", 2.5),), ("blur", 2.5)),
    Condition(
        "perspective",
        "perspective 12 %",
        (("perspective", (0.12, 0.0, -0.12, 0.06, 0.0, 0.0, 0.0, -0.06)),),
        ("perspective", 0.12),
    ),
    Condition("jpeg_15", "JPEG quality 15", (("jpeg_quality", 15),), ("jpeg", 15.0)),
    Condition("occlusion", "finger 25 %", (("occlusion", 0.25),), ("occlusion", 0.25)),
)
CONDITION_NAMES = tuple(c.name for c in CONDITIONS)
TRANSFORM_KINDS = ("none", "brightness", "rotation", "blur", "perspective", "jpeg", "occlusion")


def condition(name: str) -> Condition:
    """The :class:`Condition` called ``name``; a clear error lists the known ones."""
    for item in CONDITIONS:
        if item.name == name:
            return item
    raise ConfigError(f"condition {name!r} is not supported. Try one of {list(CONDITION_NAMES)}")


# ------------------------------------------------------------------------------------------ transforms


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ConfigError(f"expected an RGB uint8 image of shape (H, W, 3), got {image.dtype} {image.shape}")
    return image


def adjust_brightness(image: np.ndarray, factor: float) -> np.ndarray:
    """Multiply every pixel by ``factor`` (clipped to 0-255): a darker or brighter exposure."""
    if factor < 0:
        raise ConfigError(f"brightness factor must be >= 0, got {factor}")
    return np.clip(_check_image(image).astype(np.float32) * factor + 0.5, 0, 255).astype(np.uint8)


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate by a multiple of 90 degrees (the box upside down at 180), without resampling."""
    if degrees % 90:
        raise ConfigError(f"rotation must be a multiple of 90 degrees, got {degrees}")
    return np.ascontiguousarray(np.rot90(_check_image(image), k=int(degrees // 90) % 4, axes=(1, 0)))


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` pixels (OpenCV)."""
    import cv2

    if sigma <= 0:
        return _check_image(image).copy()
    return cv2.GaussianBlur(_check_image(image), (0, 0), float(sigma))


def perspective_warp(image: np.ndarray, strength: float) -> np.ndarray:
    """View the photo from an oblique angle: the top corners move in by ``strength`` of the width, the
    bottom-left corner down; borders repeat the edge pixels (the surrounding surface)."""
    import cv2

    image = _check_image(image)
    if not 0 <= strength < 0.5:
        raise ConfigError(f"perspective strength must be in [0, 0.5), got {strength}")
    height, width = image.shape[:2]
    src = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    dx, dy = strength * width, strength * height / 2
    dst = np.float32([[dx, dy / 2], [width - dx, 0], [width, height], [0, height - dy]])
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(
        image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def jpeg_compress(image: np.ndarray, quality: float) -> np.ndarray:
    """Round-trip through JPEG at ``quality`` (1-100)."""
    from drugsim.data.capture import decode_jpeg, encode_jpeg

    if not 1 <= quality <= 100:
        raise ConfigError(f"jpeg quality must be in 1-100, got {quality}")
    return decode_jpeg(encode_jpeg(_check_image(image), int(quality)))


def occlude(image: np.ndarray, fraction: float) -> np.ndarray:
    """Cover ``fraction`` of the width with a skin-coloured, finger-like ellipse from the lower left edge."""
    import cv2

    image = _check_image(image)
    if not 0 <= fraction <= 1:
        raise ConfigError(f"occlusion fraction must be in [0, 1], got {fraction}")
    if fraction == 0:
        return image.copy()
    height, width = image.shape[:2]
    mask = np.zeros((height, width), np.uint8)
    axes = (max(1, int(fraction * width / 2)), max(1, int(height * 0.45)))
    cv2.ellipse(mask, (int(width * 0.15 + axes[0]), height), axes, 10, 0, 360, 1, -1)
    out = image.copy()
    out[mask.astype(bool)] = (224, 172, 138)
    return out


def apply_condition(image: np.ndarray, name: str) -> np.ndarray:
    """Apply the image transform of condition ``name`` (see :data:`CONDITIONS`) to an RGB uint8 image."""
    kind, value = condition(name).transform
    image = _check_image(image)
    if kind == "none":
        return image.copy()
    return {
        "brightness": adjust_brightness,
        "rotation": rotate,
        "blur": gaussian_blur,
        "perspective": perspective_warp,
        "jpeg": jpeg_compress,
        "occlusion": occlude,
    }[kind](image, value)


# ------------------------------------------------------------------------------------------ the study


@dataclass(frozen=True)
class RobustnessConfig:
    """Settings of a robustness study.

    Attributes:
        conditions: condition names; keep ``"clean"``, the reference column.
        threshold_rule: rule fitted on unperturbed validation pairs (see
            :func:`drugsim.evaluation.thresholds.fit_threshold`).
        batch_size: images per ``describe_batch`` call (networks).
    """

    conditions: Tuple[str, ...] = CONDITION_NAMES
    threshold_rule: str = "max_accuracy"
    batch_size: int = 32

    def __post_init__(self) -> None:
        for name in self.conditions:
            condition(name)


def _describe_arrays(method: Any, images: Sequence[np.ndarray], batch_size: int) -> List[Any]:
    features: List[Any] = []
    for start in range(0, len(images), batch_size):
        features.extend(method.describe_batch(list(images[start : start + batch_size])))
    return features


def _accuracy_table(
    methods: Sequence[Any],
    val_images: Tuple[List[np.ndarray], List[np.ndarray], np.ndarray],
    test_a: List[np.ndarray],
    test_b: Dict[str, List[np.ndarray]],
    pair_index: Sequence[Tuple[int, int, int]],
    config: RobustnessConfig,
) -> Dict[str, Any]:
    """Score every method on validation pairs (fit) and on the test pairs under every condition (apply).

    ``pair_index`` rows are (index into test_a, index into test_b[condition], label).
    """
    from drugsim.evaluation.metrics import accuracy, roc_auc
    from drugsim.evaluation.thresholds import fit_threshold

    val_a, val_b, val_labels = val_images
    labels = np.array([row[2] for row in pair_index], dtype=np.int64)
    a_rows = [row[0] for row in pair_index]
    b_rows = [row[1] for row in pair_index]
    result: Dict[str, Any] = {
        "accuracy": {},
        "roc_auc": {},
        "thresholds": {},
        "positive_mean": {},
        "negative_mean": {},
        "direction": {},
    }
    for method in methods:
        name = method.name
        val_scores = method.score_pairs(
            _describe_arrays(method, val_a, config.batch_size),
            _describe_arrays(method, val_b, config.batch_size),
        )
        threshold = fit_threshold(
            val_scores, val_labels, rule=config.threshold_rule, direction=method.direction
        )
        features_a = _describe_arrays(method, test_a, config.batch_size)
        result["thresholds"][name] = float(threshold)
        result["direction"][name] = method.direction
        for key in ("accuracy", "roc_auc", "positive_mean", "negative_mean"):
            result[key][name] = {}
        for cond in config.conditions:
            features_b = _describe_arrays(method, test_b[cond], config.batch_size)
            scores = np.asarray(
                method.score_pairs([features_a[i] for i in a_rows], [features_b[i] for i in b_rows]),
                dtype=np.float64,
            )
            result["accuracy"][name][cond] = accuracy(scores, labels, threshold, direction=method.direction)
            result["roc_auc"][name][cond] = roc_auc(scores, labels, direction=method.direction)
            result["positive_mean"][name][cond] = float(np.nanmean(scores[labels == 1]))
            result["negative_mean"][name][cond] = float(np.nanmean(scores[labels == 0]))
    result["conditions"] = list(config.conditions)
    result["threshold_rule"] = config.threshold_rule
    result["threshold_fitted_on"] = "unperturbed validation pairs"
    result["n_pairs_per_condition"] = len(pair_index)
    result["n_positive"] = int(labels.sum())
    return result


def _pairs_from_groups(n_groups: int, rng: np.random.Generator) -> List[Tuple[int, int, int]]:
    """One positive (g, g) and one negative (g, other) per group; index rows of A and B photos."""
    rows = []
    for group in range(n_groups):
        rows.append((group, group, 1))
        other = int(rng.integers(0, n_groups - 1))
        rows.append((group, other + (other >= group), 0))
    return rows


def _base_capture(rng: np.random.Generator):
    """A plain shot with small natural variation (the studied controls stay neutral)."""
    from drugsim.data.capture import CaptureParams

    uniform = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
    return CaptureParams(
        tilt=uniform(-3, 3),
        scale=uniform(0.72, 0.86),
        offset=(uniform(-0.03, 0.03), uniform(-0.03, 0.03)),
        background=tuple(int(v) for v in rng.integers(90, 170, 3)),  # type: ignore[arg-type]
        noise=uniform(1.0, 3.0),
        blur=uniform(0.0, 0.6),
        jpeg_quality=90,
    )


def synthetic_study(
    methods: Sequence[Any],
    *,
    n_drugs: int = 12,
    faces: Sequence[str] = ("front", "back", "side1"),
    n_val_drugs: Optional[int] = None,
    photo_size: Tuple[int, int] = (288, 216),
    config: RobustnessConfig = RobustnessConfig(),
    seed: int = 0,
) -> Dict[str, Any]:
    """Accuracy of each method under each capture change, from the synthetic generator's controls.

    Drugs are drawn with :func:`drugsim.data.synth.make_drug_specs`; the first ``n_val_drugs`` (default a
    third) give the unperturbed validation pairs that fit each threshold, the others the test pairs. Each
    (drug, face) print is photographed once plainly (photo A) and once per condition (photo B, the same
    base shot with that one control changed). Per (drug, face) the test has one positive (A, B of the same
    face) and one negative (A, B of another face of any drug), so pairs are balanced.

    Returns:
        ``{"accuracy": {method: {condition: value}}, "roc_auc": ..., "thresholds": {method: value},
        "conditions", "threshold_rule", "n_pairs_per_condition", ...}``.
    """
    from drugsim.data.boxes import draw_face, make_drug_specs
    from drugsim.data.capture import render_photo

    if not methods:
        raise ConfigError("no methods to study")
    n_val = n_drugs // 3 if n_val_drugs is None else n_val_drugs
    if n_val < 1 or n_drugs - n_val < 1:
        raise ConfigError(
            f"need at least one validation and one test drug; got n_drugs={n_drugs}, n_val_drugs={n_val}"
        )
    rng = np.random.default_rng(seed)
    specs = make_drug_specs(n_drugs, seed=seed)
    prints = [
        [draw_face(spec, face, rng=np.random.default_rng([seed, d, f])) for f, face in enumerate(faces)]
        for d, spec in enumerate(specs)
    ]
    conditions = {item.name: item for item in CONDITIONS}

    def shoot(face_image: np.ndarray, base, overrides, key) -> np.ndarray:
        return render_photo(
            face_image, replace(base, **dict(overrides)), np.random.default_rng(key), out_size=photo_size
        )

    def photos(drugs: range, conds: Sequence[str]):
        a_photos: List[np.ndarray] = []
        b_photos: Dict[str, List[np.ndarray]] = {c: [] for c in conds}
        for d in drugs:
            for f in range(len(faces)):
                base_a, base_b = _base_capture(rng), _base_capture(rng)
                a_photos.append(shoot(prints[d][f], base_a, (), [seed, d, f, 0]))
                for c in conds:
                    b_photos[c].append(shoot(prints[d][f], base_b, conditions[c].capture, [seed, d, f, 1]))
        return a_photos, b_photos

    val_a, val_b = photos(range(n_val), ["clean"])
    val_rows = _pairs_from_groups(len(val_a), rng)
    val = (
        [val_a[r[0]] for r in val_rows],
        [val_b["clean"][r[1]] for r in val_rows],
        np.array([r[2] for r in val_rows]),
    )
    test_a, test_b = photos(range(n_val, n_drugs), list(config.conditions))
    result = _accuracy_table(methods, val, test_a, test_b, _pairs_from_groups(len(test_a), rng), config)
    result.update(source="synthetic", n_drugs=n_drugs, n_val_drugs=n_val, faces=list(faces), seed=seed)
    return result


def photo_study(
    methods: Sequence[Any],
    test_pairs: Sequence[Any],
    val_pairs: Sequence[Any],
    *,
    config: RobustnessConfig = RobustnessConfig(),
    max_side: Optional[int] = 480,
) -> Dict[str, Any]:
    """Accuracy of each method when the second image of every test pair is transformed by each condition.

    Args:
        methods: the methods to study.
        test_pairs: :class:`~drugsim.data.records.Pair` list of real photos (e.g. the Grocery test split).
        val_pairs: pairs of other classes, left unperturbed, that fit each method's threshold.
        config: conditions and threshold rule.
        max_side: photos are shrunk so the long side is at most this many pixels before the change
            (None = full size), so a blur sigma means the same on every photo.

    Returns:
        As :func:`synthetic_study`, with ``"source": "photos"``.
    """
    if not methods:
        raise ConfigError("no methods to study")
    if not test_pairs or not val_pairs:
        raise DatasetError(f"need test and validation pairs; got {len(test_pairs)} and {len(val_pairs)}")
    from drugsim.io import read_image

    cache: Dict[Any, np.ndarray] = {}

    def load(path) -> np.ndarray:
        if path not in cache:
            cache[path] = _shrink(read_image(path), max_side)
        return cache[path]

    val = (
        [load(p.path_a) for p in val_pairs],
        [load(p.path_b) for p in val_pairs],
        np.array([int(p.label) for p in val_pairs]),
    )
    a_paths = list(dict.fromkeys(p.path_a for p in test_pairs))
    b_paths = list(dict.fromkeys(p.path_b for p in test_pairs))
    test_a = [load(p) for p in a_paths]
    test_b = {c: [apply_condition(load(p), c) for p in b_paths] for c in config.conditions}
    a_pos = {p: i for i, p in enumerate(a_paths)}
    b_pos = {p: i for i, p in enumerate(b_paths)}
    rows = [(a_pos[p.path_a], b_pos[p.path_b], int(p.label)) for p in test_pairs]
    result = _accuracy_table(methods, val, test_a, test_b, rows, config)
    result.update(source="photos", max_side=max_side)
    return result


def _shrink(image: np.ndarray, max_side: Optional[int]) -> np.ndarray:
    import cv2

    if max_side is None or max(image.shape[:2]) <= max_side:
        return image
    scale = max_side / max(image.shape[:2])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def real_photo_root(photos_dir: Any = "", *, dataset: str = "", data_dir: Any = "") -> Optional[Any]:
    """Where the real photos of part (b) are: ``photos_dir`` when given, the dataset itself when it is the
    Grocery photos, else ``$DRUGSIM_GROCERY_ROOT`` when set; None when there are none (part (b) skipped).

    Raises:
        DatasetError: ``photos_dir`` is given but is not a folder.
    """
    import os
    from pathlib import Path

    if photos_dir:
        if not Path(photos_dir).is_dir():
            raise DatasetError(f"photos_dir {photos_dir}: no such folder (expected a folder of photos)")
        return Path(photos_dir)
    if dataset == "grocery" and data_dir and Path(data_dir).is_dir():
        return Path(data_dir)
    env = os.environ.get("DRUGSIM_GROCERY_ROOT", "")
    return Path(env) if env and Path(env).is_dir() else None


# ------------------------------------------------------------------------------------------ reporting


def robustness_table(result: Dict[str, Any], *, metric: str = "accuracy"):
    """DataFrame method x condition of ``metric`` (``"accuracy"`` or ``"roc_auc"``), conditions in order."""
    import pandas as pd

    if metric not in ("accuracy", "roc_auc", "positive_mean", "negative_mean"):
        raise ConfigError(
            f"metric {metric!r} is not supported. Try accuracy, roc_auc, positive_mean, negative_mean"
        )
    table = pd.DataFrame(result[metric]).T
    return table[[c for c in result["conditions"] if c in table.columns]]


def plot_robustness(
    table,
    *,
    ax: Optional[Any] = None,
    title: Optional[str] = None,
    vmin: float = 0.5,
    vmax: float = 1.0,
    cmap: str = "RdYlGn",
):
    """Heat map of a method x condition table (e.g. accuracy), each cell annotated. Returns the axis."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 0.9 * table.shape[1], 0.8 + 0.42 * table.shape[0]))
    values = table.to_numpy(dtype=float)
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    labels = {c.name: c.label for c in CONDITIONS}
    ax.set_xticks(range(table.shape[1]), [labels.get(c, c) for c in table.columns], rotation=35, ha="right")
    ax.set_yticks(range(table.shape[0]), list(table.index))
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=8)
    ax.figure.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
    if title:
        ax.set_title(title)
    return ax


def accuracy_drop(result: Dict[str, Any]) -> Dict[str, Dict[str, float]]:
    """Accuracy under each condition minus the clean accuracy, per method (negative = the change hurts)."""
    drops: Dict[str, Dict[str, float]] = {}
    for name, row in result["accuracy"].items():
        clean = row.get("clean")
        drops[name] = {
            c: (v - clean if clean is not None else float("nan")) for c, v in row.items() if c != "clean"
        }
    return drops


def _summary(result: Dict[str, Any]) -> Dict[str, Any]:
    """Mean accuracy over methods per condition, and the worst condition (not clean)."""
    table = robustness_table(result)
    means = table.mean(axis=0)
    changed = means.drop("clean", errors="ignore")
    worst = str(changed.idxmin()) if len(changed) else "clean"
    return {"means": means, "worst": worst}


def glue_robustness(synthetic: Dict[str, Any], photos: Optional[Dict[str, Any]] = None) -> Dict[str, str]:
    """Glue every number the robustness chapter quotes (:func:`drugsim.report.glue`) and return them.

    Keys ``robust_rule``, ``robust_{source}_n_pairs``, ``robust_{source}_worst_condition``,
    ``robust_{source}_worst_accuracy``, ``robust_{source}_clean_accuracy`` (means over methods),
    ``robust_{source}_{method}_{condition}`` (accuracy) with source ``synthetic`` or ``photos``, and
    ``robust_photos_note`` (one sentence, also when no real photos were available).
    """
    from drugsim.report import glue

    values: Dict[str, str] = {"robust_rule": synthetic["threshold_rule"]}
    labels = {c.name: c.label for c in CONDITIONS}
    for source, result in (("synthetic", synthetic), ("photos", photos)):
        if result is None:
            continue
        summary = _summary(result)
        values[f"robust_{source}_n_pairs"] = str(result["n_pairs_per_condition"])
        values[f"robust_{source}_worst_condition"] = labels.get(summary["worst"], summary["worst"])
        values[f"robust_{source}_worst_accuracy"] = f"{summary['means'][summary['worst']]:.3f}"
        values[f"robust_{source}_clean_accuracy"] = f"{summary['means'].get('clean', float('nan')):.3f}"
        for method, row in result["accuracy"].items():
            for cond, value in row.items():
                values[f"robust_{source}_{method}_{cond}"] = f"{value:.3f}"
    if photos is None:
        values["robust_photos_note"] = (
            "No real photos were available in this run (set DRUGSIM_GROCERY_ROOT or "
            "the photos_dir parameter), so only the synthetic map is shown."
        )
    else:
        values["robust_photos_note"] = (
            f"On {values['robust_photos_n_pairs']} pairs of real photos per condition the change that hurts "
            f"most is {values['robust_photos_worst_condition']} (mean accuracy over methods "
            f"{values['robust_photos_worst_accuracy']} against "
            f"{values['robust_photos_clean_accuracy']} clean)."
        )
    for key, value in values.items():
        glue(key, value)
    return values


__all__ = [
    "CONDITIONS",
    "CONDITION_NAMES",
    "Condition",
    "RobustnessConfig",
    "accuracy_drop",
    "adjust_brightness",
    "apply_condition",
    "condition",
    "gaussian_blur",
    "glue_robustness",
    "jpeg_compress",
    "occlude",
    "perspective_warp",
    "photo_study",
    "real_photo_root",
    "plot_robustness",
    "robustness_table",
    "rotate",
    "synthetic_study",
]
