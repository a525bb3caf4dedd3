"""The deep chapters' training curves: one line per model in each of the three panels."""

from __future__ import annotations

from drugsim.studies.training_curves import plot_histories


def test_every_model_gets_a_line_per_panel_and_a_missing_auc_is_left_blank():
    history = [{"epoch": 1, "train_loss": 1.0, "val_accuracy": 0.5, "val_auc": 0.6},
               {"epoch": 2, "train_loss": 0.5, "val_accuracy": 0.7}]
    axes = plot_histories({"a": history, "b": history}, accuracy_title="Validation accuracy")
    assert [len(ax.lines) for ax in axes] == [2, 2, 3]  # the ROC AUC panel also has the chance line
    assert axes[1].get_title() == "Validation accuracy"
    assert axes[2].lines[0].get_ydata()[0] == 0.6
