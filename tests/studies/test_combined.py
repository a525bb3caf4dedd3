"""Chapter 07's study: Table 10 beside the paper's and the glue keys."""

from __future__ import annotations

import math

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
