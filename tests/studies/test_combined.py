"""Chapter 07's study: Table 10 beside the paper's and the glue keys."""

from __future__ import annotations

import math

import pytest

from drugsim import paper
from drugsim.studies import combined as study


def combined_row(pipeline, **extra):
    row = {"pipeline": pipeline, "threshold_fitted_on_alone": "val", "threshold_fitted_on_combined": "val",
           "accuracy_alone": 0.7, "accuracy_combined": 0.812345, "skipped_share": 0.25,
           "pairs_per_second_alone": 10.0, "pairs_per_second_combined": 12.5}
    row.update(extra)
    return row


def test_table10_matches_the_papers_rows_on_the_siamese_models_name():
    frame = study.table10_frame([combined_row("resnet18-improved"), combined_row("orb")])
    reported = paper.TABLE10["resnet18-classifier+resnet18-improved"]
    assert frame.loc["classifier + resnet18-improved", "paper accuracy combined"] == reported["test_accuracy"]
    assert math.isnan(frame.loc["classifier + orb", "paper accuracy combined"])
    assert frame.loc["classifier + orb", "threshold fitted on"] == "val"


def test_combined_glue_names_each_pipelines_metrics():
    values = study.combined_glue([combined_row("resnet18-improved")])
    assert values["combined_resnet18_improved_accuracy_combined"] == 0.8123
    assert values["combined_resnet18_improved_skipped_share"] == 0.25
    assert len(values) == 5


def test_best_network_is_chosen_on_validation_and_described_from_its_row():
    from drugsim.studies import combined

    trained = {"resnet18-improved": {"history": [{"val_auc": 0.55}, {"val_auc": 0.61}], "results": {}},
               "lite-partial-improved": {"history": [{"val_auc": 0.5}], "results": {"val_auc": 0.97}},
               "no-record-improved": {"history": [], "results": {}}}
    assert combined.validation_auc(trained["resnet18-improved"]) == 0.61
    assert combined.best_by_validation(trained) == "lite-partial-improved"
    rows = [{"pipeline": "lite-partial-improved", "accuracy_alone": 0.9, "accuracy_combined": 0.95,
             "skipped_share": 0.125}]
    sentence = combined.best_model_sentence(rows, "lite-partial-improved", 0.97)
    assert "(ROC-AUC 0.970) is lite-partial-improved: 90.0 % alone, 95.0 % behind" in sentence
    assert "skips 12.5 %" in sentence
    with pytest.raises(ValueError, match="no validation ROC-AUC"):
        combined.best_by_validation({"x": {"history": [], "results": {}}})
