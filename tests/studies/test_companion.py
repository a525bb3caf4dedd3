"""Chapter 08's study: the companion methods through the evaluation engine, the table, and the sentences and
values it glues."""

from __future__ import annotations

import math

from drugsim.studies import companion as study


def test_siamese_sentence_names_what_the_siamese_chapter_trained_or_says_it_trained_nothing():
    assert study.siamese_sentence(["resnet18-classic", "resnet18-improved"], "grocery") == (
        "the Siamese chapter trained 2 networks on the training drugs of these grocery photos (resnet18-classic, "
        "resnet18-improved), whereas ImageNet features need no training on them at all.")
    assert study.siamese_sentence([], "synthetic") == (
        "no Siamese network was trained on these synthetic photos in this run, so ImageNet features are the "
        "strongest method here that needs no training.")


def companion_row(label, roc_auc):
    return {"label": label, "method": label.split(" ")[0], "accuracy": 0.6, "roc_auc": roc_auc,
            "pairs_per_second": 100.0, "positive_mean": 0.9, "negative_mean": 0.4, "threshold": 0.5,
            "threshold_fitted_on": "val"}


def test_companion_glue_gives_what_imagenet_weights_add_over_random_ones():
    rows = [companion_row("cnn-cosine (EfficientNet-Lite0, ImageNet)", 0.9),
            companion_row("cnn-cosine (EfficientNet-Lite0, random)", 0.65)]
    values = study.companion_glue(rows)
    assert values["companion_pretrained_gain"] == 0.25
    assert values["companion_cnn_cosine_efficientnet_lite0_random_roc_auc"] == 0.65
    without_random = study.companion_glue(rows[:1])
    assert math.isnan(without_random["companion_pretrained_gain"])


def test_companion_methods_score_through_the_engine_with_a_validation_threshold(study_pairs):
    methods = study.companion_methods(["euclidean", "ssim"], compare_random=False)
    assert list(methods) == ["euclidean", "ssim"]
    rows = study.evaluate_methods_table(methods, study_pairs, study_pairs, n_boot=10, n_jobs=1)
    assert [row["label"] for row in rows] == ["euclidean", "ssim"]
    assert all(row["threshold_fitted_on"] == "val" and row["n_pairs"] == len(study_pairs) for row in rows)
    frame = study.companion_frame(rows)
    assert list(frame.index) == ["euclidean", "ssim"] and "roc_auc" in frame.columns
