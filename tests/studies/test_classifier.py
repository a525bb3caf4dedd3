"""Chapter 06's study: Table 6 beside the paper's, the glue keys, and the Fig. 10 example faces."""

from __future__ import annotations

from drugsim import paper
from drugsim.studies import classifier as study

ROW = {"train_accuracy": 0.91234, "test_accuracy": 0.8, "images_per_second": 55.55556, "feature_rich_share": 0.5,
       "train_seconds": 3.0, "n_test_images": 40, "epochs": 2}


def test_table6_sets_ours_beside_the_papers():
    frame = study.table6_frame(ROW)
    assert list(frame.index) == ["train accuracy", "test accuracy", "images/s"]
    assert frame.loc["test accuracy", "ours"] == 0.8
    assert frame.loc["images/s", "paper"] == paper.TABLE6_CLASSIFIER["images_per_second"]


def test_classifier_glue_rounds_every_metric_and_counts_the_images():
    values = study.classifier_glue(ROW)
    assert values == {"classifier_train_accuracy": 0.9123, "classifier_test_accuracy": 0.8,
                      "classifier_images_per_second": 55.5556, "classifier_feature_rich_share": 0.5,
                      "classifier_train_seconds": 3.0, "classifier_n_test_images": 40}


def test_feature_examples_show_rich_faces_on_top_with_the_classifiers_call(study_records):
    predictions = {r.path: not r.feature_rich for r in study_records}
    axes = study.plot_feature_examples(study_records, n=2, predictions=predictions)
    assert axes.shape == (2, 2)
    assert axes[0, 0].get_title() == "feature-rich\nclassifier: poor"
    assert axes[1, 1].get_title() == "feature-poor\nclassifier: rich"
