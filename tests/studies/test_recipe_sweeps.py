"""Chapter 05's account of how the CPU recipes were chosen: read from the validation sweep records."""

from __future__ import annotations

import json

from drugsim.studies import recipe_sweeps


def _record(tmp_path, chosen=1):
    settings = {"image_size": 128, "epochs": 1, "lr": 2e-3, "backbone_lr": 5e-4}
    record = {"rule": "highest validation ROC-AUC", "chosen": chosen, "data": {"n_val_pairs": 2100, "val_classes": 40},
              "candidates": [{"settings": {**settings, "lr": 1e-3}, "val_roc_auc": 0.90,
                              "val_accuracy_max_accuracy_threshold": 0.85, "train_seconds": 300.0},
                             {"settings": settings, "val_roc_auc": 0.95, "val_accuracy_max_accuracy_threshold": 0.9,
                              "train_seconds": 310.0}]}
    (tmp_path / "sweep-synthetic.json").write_text(json.dumps(record))
    return recipe_sweeps.load_sweep("synthetic", tmp_path)


def test_the_sentence_names_the_chosen_candidate_its_validation_number_and_the_earlier_test_tuning(tmp_path):
    sentence = recipe_sweeps.sweep_sentence(_record(tmp_path), "synthetic")
    assert "head lr 0.002" in sentence and "validation ROC-AUC 0.950" in sentence and "40 validation classes" in sentence
    assert "Earlier versions" in sentence and "test accuracy" in sentence
    rows = recipe_sweeps.sweep_rows(_record(tmp_path))
    assert [row["chosen"] for row in rows] == ["", "yes"]


def test_a_missing_or_unreadable_record_is_said_not_hidden(tmp_path):
    assert recipe_sweeps.load_sweep("photos", tmp_path) is None
    (tmp_path / "sweep-photos.json").write_text("{not json")
    assert recipe_sweeps.load_sweep("photos", tmp_path) is None
    assert "No validation sweep" in recipe_sweeps.sweep_sentence(None, "photos")
    assert recipe_sweeps.sweep_rows(None) == []
