"""Training curves of the deep chapters (05 Siamese networks, 06 feature-face classifier): loss, validation
accuracy and validation ROC AUC per epoch, one line per model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def plot_histories(histories: Mapping[str, Sequence[Mapping[str, float]]], *, axes=None,
                   accuracy_title: str = "Validation accuracy at threshold 0.8"):
    """Per epoch, one line per model: training loss, validation accuracy and validation ROC AUC
    (threshold-free: short runs often stay on one side of the paper's fixed threshold). Returns the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(13, 3.5))
    loss_ax, acc_ax, auc_ax = axes
    for name, history in histories.items():
        epochs = [row["epoch"] for row in history]
        loss_ax.plot(epochs, [row["train_loss"] for row in history], marker="o", label=name)
        acc_ax.plot(epochs, [row["val_accuracy"] for row in history], marker="o", label=name)
        auc_ax.plot(epochs, [row.get("val_auc", float("nan")) for row in history], marker="o", label=name)
    loss_ax.set(xlabel="epoch", ylabel="training loss", title="Loss (each model's own loss)", yscale="log")
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy", title=accuracy_title, ylim=(0, 1.02))
    auc_ax.set(xlabel="epoch", ylabel="validation ROC AUC", title="Validation ROC AUC", ylim=(0, 1.02))
    auc_ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    auc_ax.legend(fontsize="small")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return axes
