"""The keypoint chapter's backend (drugsim.studies.keypoints): filter choice, Table 8, its sentences."""

from __future__ import annotations

import pytest
from classical_images import box_face, rotate

from drugsim import paper
from drugsim.errors import ConfigError
from drugsim.methods import create_method
from drugsim.studies import keypoints as study


def test_best_method_is_chosen_by_validation_accuracy():
    results = {
        "sift": {"accuracy": 0.95, "val_accuracy": 0.70},
        "orb": {"accuracy": 0.80, "val_accuracy": 0.85},
    }
    assert study.best_by_validation(results) == "orb"
    with pytest.raises(ConfigError, match="no result has a validation accuracy"):
        study.best_by_validation({"sift": {"accuracy": 0.9, "val_accuracy": None}})


def test_best_filter_ignores_unfiltered_matching():
    rows = [
        {"match_filter": "none", "accuracy": 0.9, "roc_auc": 0.5},
        {"match_filter": "crosscheck", "accuracy": 0.7, "roc_auc": 0.8},
        {"match_filter": "ratio", "accuracy": 0.7, "roc_auc": 0.9},
    ]
    assert study.best_filter(rows) == "ratio"


def test_paper_matched_fractions_and_closest_filter():
    # Fig. 6: 391 keypoints in the first image; Table 7: 227.86 matches on positives, 92.806 on negatives.
    fractions = study.paper_matched_fractions("sift")
    assert fractions["positive"] == pytest.approx(227.86 / 391) and fractions["negative"] == pytest.approx(
        92.806 / 391
    )
    rows = [
        {
            "detector": "orb",
            "match_filter": "ratio",
            "matched_fraction_positive": 0.15,
            "matched_fraction_negative": 0.02,
        },
        {
            "detector": "orb",
            "match_filter": "crosscheck",
            "matched_fraction_positive": 0.5,
            "matched_fraction_negative": 0.3,
        },
    ]
    assert study.closest_to_paper(rows, "orb") == "crosscheck"


def _filter_rows():
    rows = []
    for detector, accuracies in (("sift", (0.9, 0.7, 0.72, 0.75)), ("orb", (0.8, 0.85, 0.6, 0.84))):
        for match_filter, accuracy in zip(("none", "crosscheck", "distance", "ratio"), accuracies):
            rows.append({"detector": detector, "match_filter": match_filter, "accuracy": accuracy,
                         "roc_auc": 0.8, "matched_fraction_positive": accuracy / 2,
                         "matched_fraction_negative": accuracy / 10})
    return rows


def test_filters_are_chosen_on_validation_unless_given():
    rows = _filter_rows()
    assert study.choose_filters(rows) == {"sift": "ratio", "orb": "crosscheck"}
    assert study.choose_filters(rows, "distance") == {"sift": "distance", "orb": "distance"}


def test_filter_sentences_quote_the_rows():
    rows = _filter_rows()
    assert study.filter_sentence(rows, {"sift": "ratio", "orb": "crosscheck"}) == (
        "sift: ratio (validation accuracy 0.750, 0.700 with cross-check); "
        "orb: crosscheck (validation accuracy 0.850, 0.850 with cross-check)"
    )
    sentence = study.paper_like_sentence(rows, {"sift": "none", "orb": "distance"})
    implied = study.paper_matched_fractions("sift")
    assert sentence.startswith(
        f"sift: the paper's counts imply {implied['positive']:.0%} of keypoints matched on positive pairs "
        f"and {implied['negative']:.0%} on negative ones; the nearest filter here is none (45% and 9%); orb: "
    )
    assert sentence.endswith("the nearest filter here is distance (30% and 6%)")


def test_paper_figure_phrase_and_chosen_names():
    figure = paper.FIG7_ORB
    assert study.paper_figure_phrase("orb") == (
        f"{figure['matches']} matches from {figure['keypoints_a']} / {figure['keypoints_b']} keypoints"
    )
    assert study.chosen_name("orb", "crosscheck") == "orb"  # the default filter keeps the bare name
    assert study.chosen_name("sift", "ratio") == "sift@ratio"


def test_figure_counts_sit_beside_the_papers():
    image_a, image_b = box_face(1), rotate(box_face(1), 2)
    orb = create_method("orb", match_filter="ratio")
    (row,) = study.figure_count_rows(image_a, image_b, [orb])
    assert list(row) == ["method", "match_filter", "keypoints_a", "keypoints_b", "matches",
                         "paper_matches", "paper_keypoints"]
    assert (row["method"], row["match_filter"]) == ("orb", "ratio")
    assert row["paper_matches"] == paper.FIG7_ORB["matches"]
    assert row["paper_keypoints"] == f"{paper.FIG7_ORB['keypoints_a']} / {paper.FIG7_ORB['keypoints_b']}"
    assert 0 < row["matches"] <= min(row["keypoints_a"], row["keypoints_b"])


def _table8(method, accuracy, fitted_on="val"):
    return {"method": method, "n_pairs": 120, "accuracy": accuracy, "threshold_fitted_on": fitted_on}


@pytest.mark.parametrize("orb_accuracy, verdict", [(0.9, "ORB beats SIFT, as in the paper."),
                                                   (0.7, "ORB does not beat SIFT here, unlike the paper.")])
def test_table8_sentence(orb_accuracy, verdict):
    val_rows = [_table8("sift@ratio", 0.8), _table8("orb", orb_accuracy), _table8("orb-ransac", 0.85)]
    paper_rows = [_table8(name, accuracy, "test")
                  for name, accuracy in (("sift@ratio", 0.81), ("orb", 0.91), ("orb-ransac", 0.6))]
    chosen = {"sift": "ratio", "orb": "crosscheck"}
    sentence = study.table8_sentence(val_rows, paper_rows, chosen, "orb-ransac")
    assert sentence.startswith(
        f"On the whole test list (120 pairs) ORB reaches {orb_accuracy:.1%} and SIFT 80.0% at the midpoint "
        f"threshold fitted on the validation drugs (the paper: {paper.TABLE8['orb']['accuracy']:.2%} and "
        f"{paper.TABLE8['sift']['accuracy']:.2%}), so {verdict} "
    )
    assert ("With the paper's protocol (midpoint fitted on the test pairs themselves) ORB reaches 91.0% and "
            "SIFT 81.0%.") in sentence
    assert sentence.endswith(
        "The method with the best validation accuracy is orb-ransac; its test accuracy is 85.0%.")
