"""What a dataset holds: images per class and per face (the paper's Table 5 for any dataset), feature flags.

:func:`dataset_info` is a pure function of the records; :func:`face_table` and :func:`class_table` turn
its result into pandas tables for the CLI (``drugsim data info``) and the data chapter.

References:
    Paper section 4.1.1 and Table 5 (images per face over all drugs: min / max / mean).

Example:
    >>> from drugsim.data.records import ImageRecord
    >>> records = [ImageRecord(f"a{i}.jpg", "A", "front", True) for i in range(3)]
    >>> records += [ImageRecord("b0.jpg", "B", "front", False)]
    >>> info = dataset_info(records)
    >>> info["per_face"]["front"]
    {'n_classes': 2, 'n_images': 4, 'min': 1, 'max': 3, 'mean': 2.0}
    >>> info["feature_rich_share"]
    0.75
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from drugsim.data.records import FACES, ImageRecord
from drugsim.errors import DatasetError


def _summary(counts: Sequence[int]) -> dict[str, Any]:
    return {"min": int(min(counts)), "max": int(max(counts)), "mean": round(sum(counts) / len(counts), 2)}


def dataset_info(records: Sequence[ImageRecord]) -> dict[str, Any]:
    """Counts of a dataset: per class, per face (over classes) and of feature-rich photos.

    Faces are "known" when every record has one (the synthetic boxes, a paper-layout folder with a
    manifest); then ``per_face`` gives, for each face, the number of classes showing it and min / max /
    mean photos of that face per class (over the classes that have the face), as the paper's Table 5.
    With faces unknown (Grocery photos, plain folders) ``per_face`` is empty and only class counts are
    given. The feature-rich share counts records with a known flag only.

    Args:
        records: the dataset, e.g. from :func:`drugsim.data.load_dataset`.

    Returns:
        A JSON-ready dict: ``n_images``, ``n_classes``, ``faces_known``, ``flags_known``,
        ``images_per_class`` (min/max/mean), ``per_class`` ({class: count}), ``per_class_face``
        ({class: {face: count}}, empty when faces are unknown), ``per_face`` ({face: {n_classes, n_images,
        min, max, mean}}), ``n_feature_rich``, ``n_feature_poor``, ``feature_rich_share`` (None when no
        flag is known), ``per_face_feature_rich_share`` and ``single_image_classes`` (classes with one
        photo, which cannot give a positive pair).

    Raises:
        DatasetError: ``records`` is empty.
    """
    if not records:
        raise DatasetError("no images: the dataset is empty")
    per_class = Counter(r.label for r in records)
    faces_known = all(r.face is not None for r in records)
    flagged = [r for r in records if r.feature_rich is not None]
    per_class_face: dict[str, dict[str, int]] = {}
    per_face: dict[str, dict[str, Any]] = {}
    face_rich_share: dict[str, float] = {}
    if faces_known:
        nested: dict[str, Counter] = defaultdict(Counter)
        for record in records:
            nested[record.label][record.face] += 1
        per_class_face = {
            label: dict(sorted(nested[label].items(), key=lambda kv: _face_order(kv[0])))
            for label in sorted(nested)
        }
        faces = sorted({r.face for r in records}, key=_face_order)
        for face in faces:
            counts = [c[face] for c in nested.values() if c[face] > 0]
            per_face[face] = {"n_classes": len(counts), "n_images": int(sum(counts)), **_summary(counts)}
            face_flags = [r.feature_rich for r in flagged if r.face == face]
            if face_flags:
                face_rich_share[face] = round(sum(face_flags) / len(face_flags), 4)
    n_rich = sum(1 for r in flagged if r.feature_rich)
    return {
        "n_images": len(records),
        "n_classes": len(per_class),
        "faces_known": faces_known,
        "flags_known": len(flagged) == len(records),
        "images_per_class": _summary(list(per_class.values())),
        "per_class": dict(sorted(per_class.items())),
        "per_class_face": per_class_face,
        "per_face": per_face,
        "n_feature_rich": n_rich,
        "n_feature_poor": len(flagged) - n_rich,
        "feature_rich_share": round(n_rich / len(flagged), 4) if flagged else None,
        "per_face_feature_rich_share": face_rich_share,
        "single_image_classes": sorted(label for label, n in per_class.items() if n == 1),
    }


def _face_order(face: str) -> tuple:
    return (FACES.index(face), face) if face in FACES else (len(FACES), face)


def face_table(info: Mapping[str, Any], *, paper: Mapping[str, Mapping[str, Any]] | None = None):
    """Table 5: one row per face with min / max / mean photos per class (and the paper's beside, if given).

    Args:
        info: a :func:`dataset_info` result.
        paper: e.g. :data:`drugsim.paper.TABLE5_FACES` ({face: {min, max, mean}}): adds ``paper min`` /
            ``paper max`` / ``paper mean`` columns.

    Returns:
        A ``pandas.DataFrame`` indexed by face; empty (with the columns) when faces are unknown.
    """
    import pandas as pd

    columns = ["classes", "images", "min", "max", "mean"]
    rows = {
        face: [v["n_classes"], v["n_images"], v["min"], v["max"], v["mean"]]
        for face, v in info["per_face"].items()
    }
    table = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    share = info.get("per_face_feature_rich_share") or {}
    if share:
        table["feature-rich share"] = [share.get(face) for face in table.index]
    if paper is not None:
        for key in ("min", "max", "mean"):
            table[f"paper {key}"] = [paper.get(face, {}).get(key) for face in table.index]
    table.index.name = "face"
    return table


def class_table(info: Mapping[str, Any]):
    """One row per class: its photo count and, when faces are known, the count of each face."""
    import pandas as pd

    table = pd.DataFrame({"images": pd.Series(info["per_class"])})
    if info["per_class_face"]:
        faces = list(info["per_face"])
        per_face = pd.DataFrame.from_dict(info["per_class_face"], orient="index").reindex(columns=faces)
        table = table.join(per_face.fillna(0).astype(int))
    table.index.name = "class"
    return table


def format_info(info: Mapping[str, Any]) -> str:
    """A plain-text summary for the terminal (``drugsim data info``)."""
    ipc = info["images_per_class"]
    lines = [
        (
            f"{info['n_images']} images, {info['n_classes']} classes; images per class "
            f"min {ipc['min']} / max {ipc['max']} / mean {ipc['mean']}"
        ),
    ]
    if info["feature_rich_share"] is not None:
        lines.append(
            f"feature-rich: {info['n_feature_rich']} images ({info['feature_rich_share']:.1%}), "
            f"feature-poor: {info['n_feature_poor']}"
        )
    else:
        lines.append("feature flags: unknown")
    if info["faces_known"]:
        lines += ["", "images per face over classes (the paper's Table 5):", face_table(info).to_string()]
    else:
        lines.append("faces: unknown (a positive pair is then any two photos of one class)")
    lines += ["", "images per class:", class_table(info).to_string()]
    if info["single_image_classes"]:
        lines.append(
            f"warning: {len(info['single_image_classes'])} class(es) with a single image (no positive "
            f"pair possible): {', '.join(info['single_image_classes'])}"
        )
    return "\n".join(lines)
