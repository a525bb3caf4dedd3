"""The summary chapter's library: every number of Tables 3-10 beside ours, read from results JSON."""

from __future__ import annotations

import json
import math

import numpy as np

from drugsim import paper
from drugsim.studies import summary


def test_every_paper_number_gets_a_row_and_missing_ones_stay_missing():
    table = summary.comparison_table({})
    expected = (len(paper.TABLE3_FIG1_HISTOGRAM) + 1 + len(paper.TABLE4_FIG1_HASHES) + 3 * len(paper.TABLE5_FACES)
                + 3 + 3 * len(paper.TABLE7) + 3 * len(paper.TABLE8) + 3 * len(paper.TABLE9) + 2 * len(paper.TABLE10))
    assert len(table) == expected
    assert table["ours"].isna().all()
    assert summary.coverage(table) == {"n_paper_numbers": expected, "n_reproduced": 0}
    orb = table[(table["row"] == "orb") & (table["table"] == "Table 7") & (table["quantity"] == "pairs_per_second")]
    assert orb["paper"].item() == paper.TABLE7["orb"]["pairs_per_second"]


def test_results_are_matched_by_table_row_and_quantity_first_notebook_wins():
    results = {
        "04_keypoints": {"table7": {"orb": {"positive_mean": 40.0, "pairs_per_second": 90}},
                         "table8": {"orb": {"accuracy": 0.9}}},
        "06_classifier": {"table6": {"test_accuracy": 0.8}},  # flat form of the one-row Table 6
        "09_thresholds": {"tables": {"table7": {"orb": {"positive_mean": 1.0}}}, "table3": {"cosine": 0.7}},
    }
    table = summary.comparison_table(results).set_index(["table", "row", "quantity"])
    assert table.loc[("Table 7", "orb", "positive_mean"), "ours"] == 40.0
    assert table.loc[("Table 7", "orb", "positive_mean"), "notebook"] == "04_keypoints"
    assert table.loc[("Table 8", "orb", "accuracy"), "ours"] == 0.9
    assert table.loc[("Table 6", "resnet18-classifier", "test_accuracy"), "ours"] == 0.8
    assert table.loc[("Table 3 and section 2.2", "cosine", "value"), "ours"] == 0.7
    assert math.isnan(table.loc[("Table 7", "orb", "negative_mean"), "ours"])


def test_non_numbers_are_not_taken_as_results():
    table = summary.comparison_table({"x": {"table7": {"orb": {"positive_mean": "n/a", "negative_mean": True}}}})
    assert summary.coverage(table)["n_reproduced"] == 0


def test_formatted_table_units():
    table = summary.comparison_table({"x": {"table9": {"vgg16-classic": {"test_accuracy": 0.5}}}})
    shown = summary.formatted_table(table)
    assert shown.loc[("Table 9", "vgg16-classic", "test_accuracy"), "ours"] == "50.00 %"
    assert shown.loc[("Table 9", "vgg16-classic", "train_accuracy"), "ours"] == "not run"
    assert shown.loc[("Table 4", "ahash", "value"), "paper"] == "32"


def test_load_results_in_order_skips_unreadable(tmp_path):
    (tmp_path / "02_b.json").write_text(json.dumps({"a": 1}))
    (tmp_path / "01_a.json").write_text(json.dumps({"a": 2}))
    (tmp_path / "03_c.json").write_text("{broken")
    assert list(summary.load_results(tmp_path)) == ["01_a", "02_b"]
    assert list(summary.load_results(tmp_path, order=["02_b", "01_a"])) == ["02_b", "01_a"]
    assert summary.load_results(tmp_path / "missing") == {}


def test_machine_and_dataset_sentences(tmp_path):
    from drugsim.hardware import hardware_info

    info = hardware_info()
    assert "cores usable" in summary.hardware_sentence(info)
    gpu = {**info, "torch_device": "cuda (NVIDIA H200)", "cpu_cores": 16, "cpu_cores_usable": 16}
    assert summary.hardware_sentence(gpu).endswith("GiB RAM, GPU NVIDIA H200")
    assert summary.hardware_sentence({**info, "torch_device": "cpu"}).endswith(", no GPU")
    (tmp_path / "dataset.json").write_text(json.dumps({"kind": "synthetic", "preset": "tiny", "seed": 0,
                                                       "n_files": 12, "sha256": "ab" * 32}))
    assert summary.dataset_sentence(tmp_path, "synthetic") == (
        "synthetic drug boxes (preset tiny, seed 0, 12 files, content hash abababababab)")


def test_styled_tables_one_per_paper_table_every_row():
    table = summary.comparison_table({})
    styled = summary.styled_tables(table)
    assert len(styled) == 8
    html = styled[4].to_html()
    assert "Table 7: mean score" in html and html.count("<tr>") == 1 + 3 * len(paper.TABLE7)


def test_tables_saved_as_records_are_read():
    results = {"02_histogram_cosine": {
        "table3": [{"method": "cosine", "ours": 0.61, "paper": 0.80183}, {"method": "ssim", "ours": 0.2}],
        "table7": [{"method": "hist-correl", "positive_mean": 0.5, "negative_mean": 0.4, "pairs_per_second": 900.0}],
    }}
    table = summary.comparison_table(results).set_index(["table", "row", "quantity"])
    assert table.loc[("Table 3 and section 2.2", "cosine", "value"), "ours"] == 0.61
    assert table.loc[("Table 7", "hist-correl", "negative_mean"), "ours"] == 0.4
    assert table.loc[("Table 7", "hist-correl", "pairs_per_second"), "notebook"] == "02_histogram_cosine"


def test_chapter_specific_results_are_adapted_and_speed_comes_from_the_speed_chapter():
    results = {
        "04_keypoints": {"table7": {"orb": {"positive_mean": 40.0, "pairs_per_second": 900.0}}},
        "05_siamese": {"rows": [{"model": "vgg16-improved", "train_accuracy": 0.9, "test_accuracy": 0.8,
                                 "pairs_per_second": 12.0}]},
        "07_combined": {"rows": [{"pipeline": "resnet18-improved", "accuracy_combined": 0.7,
                                  "pairs_per_second_combined": 5.0}]},
        "12_speed": {"bench": {"methods": {"orb": {"per_pair_pairs_per_second": 33.0}}}},
    }
    table = summary.comparison_table(results).set_index(["table", "row", "quantity"])
    assert table.loc[("Table 9", "vgg16-improved", "test_accuracy"), "ours"] == 0.8
    assert table.loc[("Table 10", "resnet18-classifier+resnet18-improved", "test_accuracy"), "ours"] == 0.7
    assert table.loc[("Table 10", "resnet18-classifier+resnet18-improved", "pairs_per_second"), "ours"] == 5.0
    assert table.loc[("Table 7", "orb", "pairs_per_second"), "ours"] == 33.0
    assert table.loc[("Table 7", "orb", "pairs_per_second"), "notebook"] == "12_speed"
    assert table.loc[("Table 8", "orb", "pairs_per_second"), "ours"] == 33.0
    assert table.loc[("Table 7", "orb", "positive_mean"), "notebook"] == "04_keypoints"


def test_table5_comes_from_the_data_chapters_info():
    results = {"01_data": {"info": {"per_face": {"front": {"min": 4, "max": 6, "mean": 5.0, "n_images": 48}}}}}
    table = summary.comparison_table(results).set_index(["table", "row", "quantity"])
    assert table.loc[("Table 5", "front", "max"), "ours"] == 6.0
    assert table.loc[("Table 5", "front", "max"), "notebook"] == "01_data"
    assert math.isnan(table.loc[("Table 5", "back", "max"), "ours"])


def test_this_run_uses_validation_fitted_thresholds_and_shows_the_papers_protocol_beside():
    # Notebook 04 saves Table 8 twice: the paper's protocol (fitted on test) first, then fitted on validation.
    results = {"04_keypoints": {"table8": [
        {"method": "orb", "threshold": 20.0, "accuracy": 0.95, "threshold_fitted_on": "test"},
        {"method": "orb", "threshold": 25.0, "accuracy": 0.90, "threshold_fitted_on": "val"},
    ]}}
    table = summary.comparison_table(results).set_index(["table", "row", "quantity"])
    assert table.loc[("Table 8", "orb", "accuracy"), "ours"] == 0.90
    assert table.loc[("Table 8", "orb", "accuracy"), "threshold_fitted_on"] == "val"
    assert table.loc[("Table 8", "orb", "accuracy (paper's protocol)"), "ours"] == 0.95
    assert table.loc[("Table 8", "orb", "accuracy (paper's protocol)"), "threshold_fitted_on"] == "test"
    assert table.loc[("Table 8", "orb", "pairs_per_second"), "threshold_fitted_on"] == "no threshold"
    # Only test-fitted numbers: the headline stays empty rather than showing them.
    only_test = {"x": {"table8": {"sift": {"accuracy": 0.99, "threshold_fitted_on": "test"}}}}
    table = summary.comparison_table(only_test).set_index(["table", "row", "quantity"])
    assert math.isnan(table.loc[("Table 8", "sift", "accuracy"), "ours"])
    assert table.loc[("Table 8", "sift", "accuracy (paper's protocol)"), "ours"] == 0.99
    assert summary.coverage(summary.comparison_table(only_test))["n_reproduced"] == 0
    assert (summary.comparison_table(results)["threshold_fitted_on"].notna()).all()


def test_the_chart_shows_networks_beyond_the_paper_and_recorded_runs_beside():
    import math


    results = {"05_siamese": {"rows": [
        {"model": "resnet18-improved", "train_accuracy": 0.6, "test_accuracy": 0.52, "threshold_fitted_on": "val"},
        {"model": "efficientnet-lite0-imagenet-partial-improved", "test_accuracy": 0.96, "threshold_fitted_on": "val"},
        {"model": "efficientnet-lite0-imagenet-frozen-improved", "test_accuracy": 0.5, "threshold_fitted_on": "test"},
    ]}}
    extra = summary.beyond_paper_rows(results)
    assert list(extra["row"]) == ["efficientnet-lite0-imagenet-partial-improved" + summary.BEYOND_PAPER]
    assert extra["ours"].tolist() == [0.96] and math.isnan(extra["paper"].iloc[0])  # test-fitted row left out


# ------------------------------------------------------------------ the pre-declared verdict (issue 20)

VERDICT_SHA = "ab" * 32
N_CLASSES, PER_CLASS = 40, 20


def _store(tmp_path, method, family, accuracy, *, val_roc_auc=0.8, in_paper=True, indices=None, seed=0,
           sha=VERDICT_SHA):
    """A stored method whose test pairs are decided correctly with probability ``accuracy`` (threshold 0.5)."""
    from drugsim.evaluation.score_store import save_method_scores

    rng = np.random.default_rng(seed)
    n = N_CLASSES * PER_CLASS
    indices = np.arange(n) if indices is None else np.asarray(indices)
    labels = (np.arange(n) % 2)[indices]
    classes = np.repeat([f"drug{k:02d}" for k in range(N_CLASSES)], PER_CLASS)[indices]
    correct = rng.random(indices.size) < accuracy
    save_method_scores(tmp_path, method=method, family=family, in_paper=in_paper, direction="higher",
                       threshold=0.5, threshold_rule="youden", val_accuracy=0.7, val_roc_auc=val_roc_auc,
                       test_pair_indices=indices, test_scores=np.where(correct, labels, 1 - labels).astype(float),
                       test_labels=labels, test_classes=classes, test_pairs_sha256=sha)


def _verdict(tmp_path):
    from drugsim.evaluation.score_store import load_method_scores

    return {row["key"]: row for row in summary.verdict_table(load_method_scores(tmp_path))}


def test_verdict_rows_hold_reverse_and_stay_not_established_from_the_stored_scores(tmp_path):
    _store(tmp_path, "resnet18-improved", "siamese", 0.60, val_roc_auc=0.65, seed=1)
    _store(tmp_path, "lite-partial-improved", "siamese", 0.97, val_roc_auc=0.95, seed=2)
    _store(tmp_path, "orb", "keypoint", 0.82, seed=3)
    _store(tmp_path, "sift", "keypoint", 0.82, seed=3)  # the same decisions as ORB: no difference at all
    _store(tmp_path, "phash", "hash", 0.60, val_roc_auc=0.70, seed=5)
    _store(tmp_path, "whash", "hash", 0.99, val_roc_auc=0.99, in_paper=False, seed=6)  # not the paper's: never picked
    rows = _verdict(tmp_path)
    assert [rows[k]["outcome"] for k in "abcd"] == ["reversed", "holds", "not established", "holds"]
    assert set(summary.VERDICT_KEYS) <= set(rows["a"])
    assert rows["a"]["difference"] < 0 and rows["a"]["ci_high"] < 0
    assert rows["b"]["stronger"] == "lite-partial-improved" and "validation ROC-AUC (0.950) among the 2 stored chapter 05 networks" in rows["b"]["chosen_by"]
    assert rows["d"]["weaker"] == "phash" and "among the 1 stored hash, histogram and cosine methods of the paper" in rows["d"]["chosen_by"]
    assert rows["c"]["difference"] == 0 and rows["c"]["p_value"] == 1.0
    assert (rows["c"]["n_pairs"], rows["c"]["n_classes"]) == (N_CLASSES * PER_CLASS, N_CLASSES)
    sentence = summary.verdict_sentence(list(rows.values()))
    assert sentence.startswith("Of the 4 comparisons fixed before the run, 2 held, 1 reversed, 1 not established:")
    assert "(a) resnet18-improved" in sentence and "best" not in sentence
    frame = summary.verdict_frame(list(rows.values()))
    assert list(frame["outcome"]) == ["reversed", "holds", "not established", "holds"]


def test_the_network_is_chosen_by_validation_roc_auc_not_by_test_accuracy(tmp_path):
    _store(tmp_path, "net-a-improved", "siamese", 0.95, val_roc_auc=0.60, seed=1)  # high test accuracy, low validation
    _store(tmp_path, "net-b-improved", "siamese", 0.70, val_roc_auc=0.90, seed=2)
    _store(tmp_path, "orb", "keypoint", 0.80, seed=3)
    assert _verdict(tmp_path)["b"]["stronger"] == "net-b-improved"


def test_verdict_uses_the_shared_test_pairs_and_says_not_run_where_a_method_is_missing(tmp_path):
    n = N_CLASSES * PER_CLASS
    _store(tmp_path, "orb", "keypoint", 0.9, indices=np.arange(0, n, 2), seed=1)
    _store(tmp_path, "sift", "keypoint", 0.6, indices=np.arange(0, n, 3), seed=2)
    rows = _verdict(tmp_path)
    assert rows["c"]["n_pairs"] == len(np.intersect1d(np.arange(0, n, 2), np.arange(0, n, 3)))
    assert rows["c"]["outcome"] == "holds"
    for key in "abd":
        assert rows[key]["outcome"] == "not run" and rows[key]["difference"] is None and rows[key]["n_pairs"] == 0
    assert "resnet18-improved was not stored" in rows["a"]["chosen_by"]
    assert "none of the chapter 05 networks was stored" in rows["b"]["chosen_by"]
    assert "1 not run" not in summary.verdict_sentence(list(rows.values()))
    assert "3 not run" in summary.verdict_sentence(list(rows.values()))


def test_methods_scored_on_different_test_pair_lists_are_not_compared(tmp_path):
    _store(tmp_path, "orb", "keypoint", 0.9, seed=1)
    _store(tmp_path, "sift", "keypoint", 0.6, seed=2, sha="cd" * 32)
    row = _verdict(tmp_path)["c"]
    assert row["outcome"] == "not run" and "different test pair lists" in row["chosen_by"]
    assert summary.verdict_sentence([]).startswith("No pre-declared comparison was run")


def test_the_runs_test_pair_hash_is_the_one_the_chapters_agree_on():
    assert summary.run_test_pairs_sha256({"02": {"test_pairs_sha256": "x"}, "13": {"test_pairs_sha256": None},
                                          "04": {"test_pairs_sha256": "x"}}) == "x"
    assert summary.run_test_pairs_sha256({"02": {"test_pairs_sha256": "x"}, "04": {"test_pairs_sha256": "y"}}) is None
    assert summary.run_test_pairs_sha256({}) is None


def test_the_charts_rows_put_every_stored_method_on_the_same_test_pairs(tmp_path):
    from drugsim.evaluation.score_store import load_method_scores, save_method_scores
    from drugsim.studies.summary_plots import plot_accuracy_intervals

    rng = np.random.default_rng(0)
    sha = "cd" * 32
    classes = np.array([f"d{i % 12}" for i in range(240)])
    labels = np.arange(240) % 2
    for name, family, indices, noise in (("orb", "keypoint", np.arange(240), 0.6),
                                         ("resnet18-improved", "siamese", np.arange(240), 0.3),
                                         ("phash", "hash", np.arange(0, 240, 2), 2.0)):
        scores = labels[indices] + rng.normal(0, noise, indices.size)
        save_method_scores(tmp_path, method=name, family=family, in_paper=True, direction="higher", threshold=0.5,
                           threshold_rule="midpoint", val_accuracy=0.8, val_roc_auc=0.9, test_pair_indices=indices,
                           test_scores=scores, test_labels=labels[indices], test_classes=classes[indices],
                           test_pairs_sha256=sha)
    rows = summary.accuracy_interval_rows(load_method_scores(tmp_path, test_pairs_sha256=sha))
    assert [r["method"] for r in rows] == ["resnet18-improved", "orb", "phash"]  # grouped by family
    assert {r["n_pairs"] for r in rows} == {120} and {r["n_classes"] for r in rows} == {6}  # the shared pairs only
    assert all(r["ci_low"] <= r["accuracy"] <= r["ci_high"] for r in rows)
    assert rows[1]["paper_value"] == paper.TABLE8["orb"]["accuracy"] and rows[2]["paper_value"] is None
    ax = plot_accuracy_intervals(rows)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["resnet18-improved", "orb", "phash"]
    assert summary.accuracy_interval_rows({}) == []
