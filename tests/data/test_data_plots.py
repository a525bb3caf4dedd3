"""Data chapter figures: the Fig. 11-like sample grid, feature-rich vs poor examples, pair composition."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from data_helpers import folder_tree

from drugsim.data import load_dataset
from drugsim.data.plots import plot_feature_examples, plot_pair_composition, plot_sample_grid, sample_grid
from drugsim.errors import DatasetError


def test_sample_grid_faces_known(tiny_dataset):
    records = load_dataset(tiny_dataset)
    grid, rows, columns = sample_grid(records, n_rows=3, n_cols=4, tile=32, seed=0)
    assert grid.shape == (3 * 32, 4 * 32, 3) and columns == ["front", "back", "side1", "side2"]
    assert len(set(rows)) == 3 and sample_grid(records, n_rows=3, n_cols=4, tile=32, seed=0)[1] == rows
    fig, ax = plt.subplots()
    assert plot_sample_grid(records, ax=ax, n_rows=3, n_cols=4, tile=32) is ax
    assert [t.get_text() for t in ax.get_xticklabels()] == columns
    plt.close(fig)


def test_sample_grid_faces_unknown_and_feature_examples(tmp_path):
    records = load_dataset(folder_tree(tmp_path, {"a": 2, "b": 2}))
    _, _, columns = sample_grid(records, n_rows=2, n_cols=2, tile=16)
    assert columns == ["photo 1", "photo 2"]
    with pytest.raises(DatasetError, match="feature flags unknown"):
        plot_feature_examples(records, n=2)
    ax = plot_pair_composition(
        {
            "Algorithm 1": {"positives": 5, "intra_class_negatives": 0, "inter_class_negatives": 5},
            "Algorithm 2": {"positives": 5, "intra_class_negatives": 2, "inter_class_negatives": 3},
        }
    )
    assert len(ax.patches) == 6
    plt.close("all")
