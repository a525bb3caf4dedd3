"""What the classical chapters share (drugsim.studies.classical_common): example pair, verdicts, rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from classical_images import box_face, rotate

from drugsim import paper
from drugsim.data.records import Pair
from drugsim.errors import DatasetError
from drugsim.io import write_image
from drugsim.studies import classical_common as study
from drugsim.studies import keypoints


def test_separation_verdicts_and_sentence():
    rows = [
        {"method": "orb", "separates": True, "roc_auc": 0.93, "right_way": True},
        {"method": "sift@ratio", "separates": False, "roc_auc": 0.7, "right_way": True},
        {"method": "ahash", "separates": False, "roc_auc": 0.48, "right_way": False},
        {
            "method": "ssim",
            "separates": True,
            "roc_auc": 0.9,
            "right_way": True,
        },  # not a paper verdict: ignored
    ]
    sentence = study.agreement_sentence(rows, paper_says_separates=study.PAPER_SEPARATES)
    assert sentence.startswith("We agree with the paper for orb and ahash (ROC AUC 0.93 and 0.48;")
    assert (
        "We disagree for sift@ratio (AUC 0.70, so it does not separate here; the paper says it separates)."
        in sentence
    )
    assert sentence.endswith("for ahash.") and "ssim" not in sentence
    assert study.separates({"roc_auc": 0.8}) and not study.separates({"roc_auc": float("nan")})
    assert study.means_point_right_way({"positive_mean": 1.0, "negative_mean": 2.0}, "lower")


def test_table_rows_carry_paper_columns():
    result = {
        "direction": "higher",
        "positive_mean": 10.0,
        "negative_mean": 4.0,
        "accuracy": 0.8,
        "roc_auc": 0.9,
        "pairs_per_second": 100.0,
        "paper_section": "2.5",
        "n_pairs": 10,
        "threshold": 7.0,
        "threshold_fitted_on": "test",
        "ci95": {"accuracy": [0.7, 0.9]},
    }
    (row7,) = study.table7_rows({"orb@ratio": result})
    assert (
        row7["paper_positive_mean"] == paper.TABLE7["orb"]["positive_mean"]
        and row7["separates"]
        and row7["in_paper"]
    )
    (row8,) = keypoints.table8_rows({"orb@ratio": result})
    assert row8["paper_accuracy"] == paper.TABLE8["orb"]["accuracy"] and row8["paper_threshold"] == 200.0
    assert (row8["accuracy_ci95_low"], row8["accuracy_ci95_high"]) == (0.7, 0.9)
    assert row8["threshold_fitted_on"] == "test" and "paper's protocol" in row8["protocol"]
    (beyond,) = keypoints.table8_rows({"orb-ransac": result})
    assert math.isnan(beyond["paper_accuracy"])


def test_example_pair_prefers_textured_faces_and_example_scores(tmp_path):
    blank = np.full((120, 160, 3), 200, np.uint8)
    paths = {
        name: write_image(tmp_path / f"{name}.png", image)
        for name, image in {
            "blank1": blank,
            "blank2": blank,
            "tex1": box_face(1),
            "tex2": rotate(box_face(1), 2),
        }.items()
    }
    pairs = [
        Pair(paths["blank1"], paths["blank2"], 1),
        Pair(paths["tex1"], paths["tex2"], 1),
        Pair(paths["tex1"], paths["blank1"], 0),
    ]
    assert study.pick_example_pair(pairs, seed=0) == pairs[1]
    with pytest.raises(DatasetError, match="no positive pair"):
        study.pick_example_pair(pairs[2:])
    rows = study.example_scores(
        ["ahash", "orb"], box_face(1), box_face(1), paper_values=paper.TABLE4_FIG1_HASHES
    )
    assert rows[0] == {"method": "ahash", "ours": 64.0, "paper": 32, "direction": "higher", "in_paper": True}
    assert math.isnan(rows[1]["paper"])


def test_beyond_sentence_names_only_the_methods_the_paper_did_not_test():
    rows = [
        {"method": "orb", "in_paper": True, "roc_auc": 0.93, "accuracy_midpoint": 0.9},
        {"method": "ssim", "in_paper": False, "roc_auc": 0.714, "accuracy_midpoint": 0.655},
        {"method": "euclidean", "in_paper": False, "roc_auc": 0.5, "accuracy_midpoint": 0.5},
    ]
    assert study.beyond_sentence(rows) == (
        "ssim: ROC AUC 0.71, midpoint accuracy 0.66; euclidean: ROC AUC 0.50, midpoint accuracy 0.50"
    )
    assert study.beyond_sentence(rows[:1]) == ""


def test_stored_scores_feed_the_summarys_paired_comparisons(tmp_path):
    from pathlib import Path as P

    from drugsim.data.records import Pair
    from drugsim.evaluation.score_store import load_method_scores
    from drugsim.studies.classical_common import method_family, store_scores

    full = [Pair(P(f"/d/c{i % 4}/a{i}.jpg"), P(f"/d/c{(i + 1) % 4}/b{i}.jpg"), i % 2) for i in range(12)]
    scored = full[2:10]
    result = {"direction": "higher", "threshold": 0.5, "threshold_rule": "midpoint", "val_accuracy": 0.75,
              "val_roc_auc": 0.8, "scores": np.linspace(0, 1, 8), "labels": np.array([p.label for p in scored]),
              "classes": np.array([p.path_a.parent.name for p in scored])}
    store_scores(tmp_path, {"orb@crosscheck": result, "phash": result}, scored=scored, full_test=full,
                 test_pairs_sha256="ab" * 32)
    records = load_method_scores(tmp_path, test_pairs_sha256="ab" * 32)
    assert set(records) == {"orb", "phash"}
    assert records["orb"].family == "keypoint" and records["phash"].family == "hash" and records["phash"].in_paper
    assert records["orb"].test_pair_indices.tolist() == list(range(2, 10))
    assert [method_family(n) for n in ("hist-correl", "cosine", "whash", "sift-ransac", "ssim")] == [
        "histogram", "cosine", "hash", "keypoint", "other"]
