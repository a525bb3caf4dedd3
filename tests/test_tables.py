"""drugsim.tables: what a reader sees of a table (issue 23, item 3)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from drugsim import tables
from drugsim.tables import MISSING, column_kind, percent, reader_table, speed


def test_an_accuracy_reads_with_its_interval():
    assert percent(0.96076, 0.95523, 0.96617) == "96.1 % [95.5, 96.6]"
    assert percent(0.5, math.nan, 0.6) == "50.0 %"  # half an interval is no interval


@pytest.mark.parametrize("value", [None, math.nan, float("nan"), pd.NA, "", "nan"])
def test_a_missing_value_is_a_dash(value):
    assert tables.is_missing(value)
    assert percent(value) == speed(value) == tables.number(value) == MISSING


def test_speeds_are_whole_numbers_with_a_unit():
    assert speed(2516.1867) == "2,516 pairs/s"
    assert speed(11.78) == "12 pairs/s"


def test_column_kinds_come_from_the_names():
    assert column_kind("accuracy_midpoint") == "percent"
    assert column_kind("positive share") == "percent"
    assert column_kind("pairs_per_second") == column_kind("paper pairs/s") == "speed"
    assert column_kind("roc_auc") == "auc"
    assert column_kind("test_accuracy_gain") == "points"
    assert column_kind("bootstrap_p") == "p_value"
    assert column_kind("method") == "number"


def test_a_frame_becomes_a_reader_table():
    frame = pd.DataFrame([
        {"method": "orb", "accuracy": 0.8231, "accuracy_ci95_low": 0.80, "accuracy_ci95_high": 0.84,
         "pairs_per_second": 487.2, "paper_accuracy": 0.9309, "n_pairs": 3136, "roc_auc": 0.8291},
        {"method": "sift-ransac", "accuracy": 0.7, "accuracy_ci95_low": 0.68, "accuracy_ci95_high": 0.72,
         "pairs_per_second": 20.4, "paper_accuracy": math.nan, "n_pairs": 3136, "roc_auc": 0.7},
    ]).set_index("method")
    table = reader_table(frame)
    assert table.headers == ["method", "accuracy", "speed", "paper acc.", "pairs", "AUC"]
    assert table.rows[0] == ["orb", "82.3 % [80.0, 84.0]", "487 pairs/s", "93.1 %", "3,136", "0.829"]
    assert table.rows[1][3] == MISSING
    assert table.notes[0].startswith(f"{MISSING}: ")
    assert ("speed", "pairs scored per second on this machine") in table.legend
    page = table._repr_html_()
    assert page.startswith('<div class="drugsim-table"><table>') and "nan" not in page.lower()
    assert "<th></th>" not in page  # no index column


def test_a_list_interval_and_a_named_pair_of_bounds():
    rows = [{"model": "x", "test_accuracy": 0.61, "test_accuracy_ci95": [0.584, 0.644]},
            {"model": "y", "test_accuracy": 0.5, "test_accuracy_ci95": None}]
    assert reader_table(rows).rows == [["x", "61.0 % [58.4, 64.4]"], ["y", "50.0 %"]]
    pairwise = [{"method_a": "orb", "accuracy_difference": 0.05, "ci_low": 0.01, "ci_high": 0.09}]
    table = reader_table(pairwise, interval_columns={"accuracy_difference": ("ci_low", "ci_high")})
    assert table.rows == [["orb", "+5.0 pp [1.0, 9.0]"]]


def test_plain_text_and_markdown_forms_hold_the_same_cells():
    table = reader_table([{"method": "a|b", "accuracy": 0.5}])
    assert "a|b" in repr(table) and "50.0 %" in repr(table)
    assert "a\\|b" in table.to_markdown()


def test_a_labelled_index_and_pivoted_columns_are_kept_readably():
    frame = pd.DataFrame({"accuracy": [0.5, 0.7]}).describe()
    table = reader_table(frame)
    assert table.headers[0] == "" and [row[0] for row in table.rows][:2] == ["count", "mean"]
    pivot = pd.DataFrame([{"m": "a", "n": "x", "positive_mean": 1.0}, {"m": "a", "n": "y", "positive_mean": 2.0}]).pivot_table(
        index="m", columns="n", values=["positive_mean"])
    assert reader_table(pivot).headers == ["m", "positive mean x", "positive mean y"]
    styled = pd.DataFrame([{"method": "orb", "accuracy": 0.5}]).style
    assert reader_table(styled).rows == [["orb", "50.0 %"]]


def test_a_note_reads_as_a_sentence():
    from drugsim.tables import note

    assert repr(note("seed study skipped")) == "seed study skipped"
    assert note("a < b")._repr_html_() == '<p class="drugsim-note">a &lt; b</p>'


def test_short_headers_written_with_spaces_are_read_too():
    assert column_kind("test acc @0.8") == column_kind("paper test acc") == "percent"
    assert column_kind("ROC AUC") == "auc"
