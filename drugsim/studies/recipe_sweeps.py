"""Chapter 05: how the CPU recipes of partial fine-tuning were chosen, read from the validation sweeps that
chose them (``benchmarks/sweep_cpu_recipes.py`` writes ``benchmarks/results/sweep-<kind>.json``).

A recipe is justified by validation numbers only; the sweep records hold no test number, and the chapter
says that earlier versions of this project had picked these settings by test accuracy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Where the sweep records are committed (beside the other benchmark results).
SWEEP_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def load_sweep(kind: str, folder: Path = SWEEP_DIR) -> dict[str, Any] | None:
    """The sweep record of ``kind`` (``synthetic`` or ``photos``), or None when none is committed."""
    path = Path(folder) / f"sweep-{kind}.json"
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("candidates"), list) else None


def _settings_text(settings: Mapping[str, Any]) -> str:
    return (f"{settings['image_size']} px, head lr {settings['lr']:g}, blocks lr {settings['backbone_lr']:g}, "
            f"{settings['epochs']} epoch(s)")


def sweep_rows(record: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One row per candidate: its settings, validation ROC-AUC and accuracy, training seconds, whether chosen."""
    if not record:
        return []
    return [{"candidate": _settings_text(row["settings"]), "val ROC-AUC": row["val_roc_auc"],
             "val accuracy": row["val_accuracy_max_accuracy_threshold"], "training s": row["train_seconds"],
             "chosen": "yes" if index == record["chosen"] else ""}
            for index, row in enumerate(record["candidates"])]


def sweep_sentence(record: Mapping[str, Any] | None, kind: str) -> str:
    """How the ``kind`` recipe was chosen, in words, from its sweep record (or that no record is committed)."""
    if not record:
        return (f"No validation sweep of the {kind} recipe is committed (benchmarks/results/sweep-{kind}.json), "
                "so its settings are not justified by a recorded validation number.")
    chosen = record["candidates"][record["chosen"]]
    best = max(row["val_roc_auc"] for row in record["candidates"])
    data = record.get("data", {})
    return (f"The {kind} recipe ({_settings_text(chosen['settings'])}) was chosen on validation pairs only: "
            f"{len(record['candidates'])} candidates fixed before the sweep, each trained once and scored on "
            f"{data.get('n_val_pairs', 'the')} validation pairs of {data.get('val_classes', 'the')} validation classes "
            f"(rule: {record['rule']}); it reached validation ROC-AUC {chosen['val_roc_auc']:.3f} (highest: {best:.3f}). "
            "The test split took no part. Earlier versions of this project had picked these settings by test "
            "accuracy, so the test numbers of those versions are not evidence for them.")
