"""The summary's dot-and-interval chart (drugsim.studies.summary_plots)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from drugsim.studies.summary_plots import plot_accuracy_intervals, plot_layout  # noqa: E402

ROWS = [
    {"method": "orb", "family": "keypoints", "accuracy": 0.82, "ci_low": 0.80, "ci_high": 0.84, "paper_value": 0.9309},
    {"method": "phash", "family": "hashes", "accuracy": 0.60, "ci_low": None, "ci_high": None, "paper_value": None},
    {"method": "sift", "family": "keypoints", "accuracy": 0.77, "ci_low": 0.75, "ci_high": 0.80, "paper_value": 0.8238},
    {"method": "lite0", "family": "Siamese", "accuracy": float("nan"), "ci_low": None, "ci_high": None,
     "paper_value": None},
]


def test_rows_are_grouped_by_family_in_order():
    assert [(family, [r["method"] for r in rows]) for family, rows in plot_layout(ROWS)] == [
        ("keypoints", ["orb", "sift"]), ("hashes", ["phash"]), ("Siamese", ["lite0"])]


def test_one_row_per_method_dots_intervals_and_the_papers_marker():
    ax = plot_accuracy_intervals(ROWS)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["orb", "sift", "phash", "lite0"]
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    diamonds = [line for line in ax.get_lines() if line.get_marker() == "D"]
    assert len(dots) == 3 and len(diamonds) == 2  # no dot for a missing accuracy
    assert sorted(round(d.get_xdata()[0], 2) for d in diamonds) == [82.38, 93.09]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["this run (95 % interval)", "the paper"]
    assert ax.get_xlim() == (0.0, 100.0)
