"""Chapter 07, the classifier and a similarity method combined (Table 10): each method alone and behind the
feature-face classifier (:mod:`drugsim.deep.combined`), on the same pairs, beside the paper's Table 10."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from drugsim import paper
from drugsim.data.records import Pair
from drugsim.report import slug


def combined_rows(classifier_checkpoint: str | Path, methods: Mapping[str, Any], test_pairs: Sequence[Pair],
                  val_pairs: Sequence[Pair], *, device: str | None = None, threshold_rule: str = "midpoint",
                  seed: int = 0) -> list[dict[str, Any]]:
    """Table 10: each method alone and behind the feature-face classifier, on the same pairs."""
    from drugsim.deep.classifier import FeatureFacePredictor
    from drugsim.deep.combined import run_combined
    from drugsim.evaluation.evaluate import evaluate_method

    predictor = FeatureFacePredictor(classifier_checkpoint, device=device)
    rows: list[dict[str, Any]] = []
    for label, method in methods.items():
        alone, _ = evaluate_method(method, test_pairs, val_pairs=val_pairs, threshold_rule=threshold_rule,
                                   progress=False, n_boot=200, seed=seed)
        combined = run_combined(method, test_pairs, classifier=predictor, val_pairs=val_pairs,
                                threshold_rule=threshold_rule, seed=seed)
        rows.append({"pipeline": label, "method": method.name,
                     "threshold_fitted_on_alone": alone["threshold_fitted_on"],
                     "threshold_fitted_on_combined": combined["threshold_fitted_on"],
                     "val_filtered": combined["val_filtered"], "accuracy_alone": alone["accuracy"],
                     "pairs_per_second_alone": alone["pairs_per_second"], "accuracy_combined": combined["accuracy"],
                     "pairs_per_second_combined": combined["pairs_per_second"],
                     "skipped_share": combined["skipped_share"], "n_pairs": combined["n_pairs"],
                     "n_compared": combined["n_compared"]})
    return rows


def table10_frame(rows: Sequence[Mapping[str, Any]]):
    """Our combined rows beside the paper's Table 10 (matched on the Siamese model's name)."""
    import pandas as pd

    def paper_row(label: str) -> dict[str, Any]:
        return paper.TABLE10.get(f"resnet18-classifier+{label}", {})

    return pd.DataFrame([{
        "pipeline": f"classifier + {row['pipeline']}",
        "threshold fitted on": "/".join(sorted({row["threshold_fitted_on_alone"],
                                                row["threshold_fitted_on_combined"]})),
        "accuracy alone": row["accuracy_alone"], "accuracy combined": row["accuracy_combined"],
        "skipped": row["skipped_share"], "pairs/s alone": row["pairs_per_second_alone"],
        "pairs/s combined": row["pairs_per_second_combined"],
        "paper accuracy combined": paper_row(row["pipeline"]).get("test_accuracy"),
        "paper pairs/s combined": paper_row(row["pipeline"]).get("pairs_per_second"),
    } for row in rows]).set_index("pipeline")


def combined_glue(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``combined_<pipeline>_<metric>`` for every row: accuracy and pairs/s alone and combined, share skipped."""
    values: dict[str, Any] = {}
    for row in rows:
        for key in ("accuracy_alone", "accuracy_combined", "skipped_share", "pairs_per_second_alone",
                    "pairs_per_second_combined"):
            values[f"combined_{slug(row['pipeline'])}_{key}"] = round(float(row[key]), 4)
    return values


def validation_auc(trained: Mapping[str, Any]) -> float:
    """A trained network's validation ROC-AUC (threshold-free, so networks trained at different operating
    points compare fairly): the final one for transfer runs, else the best epoch's; NaN when none was kept."""
    results = trained.get("results") or {}
    if results.get("val_auc") is not None:
        return float(results["val_auc"])
    aucs = [float(row["val_auc"]) for row in trained.get("history") or [] if row.get("val_auc") is not None]
    return max(aucs) if aucs else float("nan")


def best_by_validation(trained: Mapping[str, Mapping[str, Any]]) -> str:
    """The name of the network with the highest validation ROC-AUC (never chosen by a test number).

    Example:
        >>> best_by_validation({"a": {"results": {"val_auc": 0.7}}, "b": {"history": [{"val_auc": 0.9}]}})
        'b'
    """
    scored = {name: validation_auc(t) for name, t in trained.items()}
    known = {name: auc for name, auc in scored.items() if auc == auc}
    if not known:
        raise ValueError(f"no validation ROC-AUC recorded for any of {sorted(trained)}")
    return max(known, key=known.get)


def best_model_sentence(rows: Sequence[Mapping[str, Any]], best: str, auc: float) -> str:
    """What the filter does for the run's best network (chosen on validation), from its Table 10 row."""
    row = next(r for r in rows if r["pipeline"] == best)
    return (f"The run's best improved network on the validation pairs (ROC-AUC {auc:.3f}) is {best}: "
            f"{100 * row['accuracy_alone']:.1f} % alone, {100 * row['accuracy_combined']:.1f} % behind the "
            f"classifier, which skips {100 * row['skipped_share']:.1f} % of the test pairs.")
