"""dataset_info: Table 5 counts worked by hand, faces unknown, tables."""

from __future__ import annotations

import pytest

from drugsim import paper
from drugsim.data.info import class_table, dataset_info, face_table, format_info
from drugsim.data.records import ImageRecord
from drugsim.errors import DatasetError


def _records(spec):
    out = []
    for label, faces in spec.items():
        for face, count, rich in faces:
            out += [ImageRecord(f"{label}/{face}{i}.jpg", label, face, rich) for i in range(count)]
    return out


def test_counts_per_face_worked_by_hand():
    records = _records(
        {"A": [("front", 3, True), ("back", 2, False)], "B": [("front", 1, True)], "C": [("side3", 5, False)]}
    )
    info = dataset_info(records)
    assert info["n_images"] == 11 and info["n_classes"] == 3 and info["faces_known"]
    assert list(info["per_face"]) == ["front", "back", "side3"]  # the paper's face order
    assert info["per_face"]["front"] == {"n_classes": 2, "n_images": 4, "min": 1, "max": 3, "mean": 2.0}
    assert info["per_face"]["back"] == {"n_classes": 1, "n_images": 2, "min": 2, "max": 2, "mean": 2.0}
    assert info["images_per_class"] == {"min": 1, "max": 5, "mean": 3.67}
    assert info["n_feature_rich"] == 4 and info["feature_rich_share"] == round(4 / 11, 4)
    assert info["per_face_feature_rich_share"] == {"front": 1.0, "back": 0.0, "side3": 0.0}
    assert info["single_image_classes"] == ["B"]
    table = face_table(info, paper=paper.TABLE5_FACES)
    assert table.loc["front", "paper mean"] == paper.TABLE5_FACES["front"]["mean"]
    assert table.loc["front", "max"] == 3
    assert class_table(info).loc["A"].tolist() == [5, 3, 2, 0]
    assert "warning: 1 class(es) with a single image" in format_info(info)


def test_faces_and_flags_unknown():
    records = [ImageRecord(f"{label}{i}.jpg", label) for label in "xy" for i in range(2)]
    info = dataset_info(records)
    assert not info["faces_known"] and info["per_face"] == {} and info["feature_rich_share"] is None
    assert face_table(info).empty
    assert "faces: unknown" in format_info(info) and "feature flags: unknown" in format_info(info)


def test_tiny_dataset_info(tiny_dataset):
    from drugsim.data import load_dataset

    info = dataset_info(load_dataset(tiny_dataset))
    assert info["per_face"]["front"] == {"n_classes": 12, "n_images": 48, "min": 4, "max": 4, "mean": 4.0}
    assert 0 < info["feature_rich_share"] < 1


def test_empty_is_an_error():
    with pytest.raises(DatasetError, match="the dataset is empty"):
        dataset_info([])
