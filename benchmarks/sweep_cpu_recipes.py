"""Choose the CPU recipes of partial fine-tuning on validation pairs only, and keep the sweep.

Issue 20: the `quick` recipes had been picked by test accuracy. This sweep trains each candidate of a grid
fixed here (before any run) on the protocol's training pairs and scores it on the validation pairs only; the
test split is never loaded. The rule, also fixed here: among the candidates the quick profile can afford
(:data:`BUDGETS`), the highest validation ROC-AUC wins; a candidate within ``--tie`` of it that trains faster
wins instead (a CPU run pays for every second). The record
(``benchmarks/results/sweep-<data>.json``) holds every candidate's settings, validation metrics and seconds and
the choice; ``drugsim/deep/config.py`` quotes it, and a test checks that its presets equal the chosen settings.

    python benchmarks/sweep_cpu_recipes.py --data data/synthetic-quick --kind synthetic
    python benchmarks/sweep_cpu_recipes.py --data data/synthetic-quick --kind synthetic --rechoose   # new budget
    DRUGSIM_GROCERY_ROOT=... python benchmarks/sweep_cpu_recipes.py --data grocery --kind photos
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from drugsim.data.protocol import ProtocolSettings, load_protocol_pairs  # noqa: E402
from drugsim.deep.config import siamese_config  # noqa: E402
from drugsim.deep.training import train_siamese  # noqa: E402
from drugsim.evaluation.metrics import roc_auc  # noqa: E402
from drugsim.evaluation.thresholds import fit_threshold  # noqa: E402
from drugsim.deep.method import SiameseMethod  # noqa: E402
from drugsim.evaluation.engine import score_pairs  # noqa: E402
from drugsim.hardware import hardware_sentence  # noqa: E402
from drugsim.io import write_text_atomic  # noqa: E402

#: The candidates, fixed before the sweep ran: learning rates of the head and the unfrozen blocks, epochs and,
#: for photos, the input size (the rendered boxes keep 128 px: their layout is legible there). Photos try two
#: sizes at the rates the earlier recipe used (each candidate costs about 7 minutes of both cores).
GRIDS: Dict[str, List[Dict[str, Any]]] = {
    "synthetic": [
        {"lr": 1e-3, "backbone_lr": 2e-4, "epochs": 1, "min_steps": 0},
        {"lr": 2e-3, "backbone_lr": 5e-4, "epochs": 1, "min_steps": 0},
        {"lr": 4e-3, "backbone_lr": 1e-3, "epochs": 1, "min_steps": 0},
        {"lr": 2e-3, "backbone_lr": 5e-4, "epochs": 2, "min_steps": 0},
    ],
    "photos": [
        {"image_size": 224, "lr": 1e-3, "backbone_lr": 2e-4, "epochs": 2},
        {"image_size": 160, "lr": 1e-3, "backbone_lr": 2e-4, "epochs": 2},
    ],
}


#: What the quick profile can afford, per grid: a candidate over it is not chosen, whatever its validation
#: number. Added after the sweep of the rendered boxes ran: its first choice (2 epochs) made the measured cold
#: `make reproduce` take 17 minutes against the profile's 15-minute target
#: (benchmarks/results/reproduce-quick-two-epoch-recipe.json); the candidates and their validation numbers did
#: not change, only which ones the budget admits.
BUDGETS: Dict[str, Dict[str, int]] = {"synthetic": {"max_epochs": 1}, "photos": {"max_epochs": 2}}


def within_budget(row: Dict[str, Any], budget: Dict[str, int]) -> bool:
    """Whether a candidate's training fits ``budget`` (its settings' epochs at most ``max_epochs``)."""
    return int(row["settings"]["epochs"]) <= int(budget.get("max_epochs", 10**9))


def choose(rows: List[Dict[str, Any]], tie: float, budget: Dict[str, int] | None = None) -> int:
    """Index of the chosen candidate: among those within ``budget``, the fastest of those within ``tie`` of the
    best validation ROC-AUC."""
    admitted = [i for i, row in enumerate(rows) if within_budget(row, budget or {})]
    best = max(rows[i]["val_roc_auc"] for i in admitted)
    close = [i for i in admitted if rows[i]["val_roc_auc"] >= best - tie]
    return min(close, key=lambda i: rows[i]["train_seconds"])


def rule_text(tie: float, budget: Dict[str, int]) -> str:
    return (f"within the quick budget (at most {budget['max_epochs']} epoch(s)), the highest validation ROC-AUC; "
            f"the fastest candidate within {tie} of it wins")


def rechoose(path: Path, kind: str, tie: float) -> int:
    """Apply the current rule to a record's candidates again (no training): for a changed budget."""
    import json as _json

    record = _json.loads(path.read_text(encoding="utf-8"))
    record["chosen"] = choose(record["candidates"], tie, BUDGETS[kind])
    record["rule"] = rule_text(tie, BUDGETS[kind])
    record["budget"] = BUDGETS[kind]
    write_text_atomic(path, _json.dumps(record, indent=2) + "\n")
    print(f"chose {record['candidates'][record['chosen']]['candidate']} under {record['rule']}; wrote {path}")
    return 0


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="dataset folder, or 'grocery'")
    parser.add_argument("--kind", choices=sorted(GRIDS), required=True, help="which grid: synthetic or photos")
    parser.add_argument("--tie", type=float, default=0.002, help="validation ROC-AUC within which the faster wins")
    parser.add_argument("--out", type=Path, default=None, help="record (default benchmarks/results/sweep-KIND.json)")
    parser.add_argument("--rechoose", action="store_true",
                        help="apply the current rule and budget to the record's candidates again, without training")
    args = parser.parse_args(argv)
    out = args.out or REPO / "benchmarks" / "results" / f"sweep-{args.kind}.json"
    if args.rechoose:
        return rechoose(out, args.kind, args.tie)

    data = load_protocol_pairs(args.data, settings=ProtocolSettings(seed=0), splits=("train", "val"))
    val_labels = np.array([p.label for p in data.pairs("val")])
    rows: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, candidate in enumerate(GRIDS[args.kind]):
            config = siamese_config("quick", data_kind=data.kind, variant="improved", backbone="efficientnet-lite0",
                                    weights="imagenet", partial_fine_tune=True, device="cpu", **candidate)
            print(f"[{index + 1}/{len(GRIDS[args.kind])}] {candidate}", flush=True)
            started = time.perf_counter()
            result = train_siamese(config, data.pairs("train"), data.pairs("val"), out=Path(tmp) / f"c{index}.pt",
                                   progress=False)
            seconds = time.perf_counter() - started
            method = SiameseMethod("improved", model=result.checkpoint, device="cpu")
            scores = np.asarray(score_pairs(method, data.pairs("val"), progress=False))
            threshold = fit_threshold(scores, val_labels, rule="max_accuracy", direction=method.direction)
            accuracy = float(np.mean((scores >= threshold) == (val_labels == 1)))
            rows.append({"candidate": candidate, "settings": {k: getattr(config, k) for k in (
                "image_size", "epochs", "lr", "backbone_lr", "batch_size", "fine_tune_from", "frozen_views",
                "n_train_pairs", "min_steps")},
                "val_roc_auc": roc_auc(scores, val_labels, direction=method.direction),
                "val_accuracy_max_accuracy_threshold": accuracy, "best_epoch": result.best_epoch,
                "train_seconds": round(seconds, 1)})
            print(f"    validation ROC-AUC {rows[-1]['val_roc_auc']:.4f}, accuracy {accuracy:.4f}, {seconds:.0f} s",
                  flush=True)
    chosen = choose(rows, args.tie, BUDGETS[args.kind])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    record = {
        "what": f"partial fine-tuning recipe of the quick profile on {args.kind} data, chosen on validation pairs only",
        "rule": rule_text(args.tie, BUDGETS[args.kind]), "budget": BUDGETS[args.kind],
        "data": {"kind": data.kind, "protocol": data.protocol, "data_sha256": data.data_sha256,
                 "n_train_pairs": len(data.pairs("train")), "n_val_pairs": len(data.pairs("val")),
                 "val_classes": len({r.label for r in data.records_by_split["val"]})},
        "test_split_used": False, "commit": commit.strip(), "machine": hardware_sentence(),
        "load_average_after": round(os.getloadavg()[0], 1),
        "candidates": rows, "chosen": chosen,
    }
    write_text_atomic(out, json.dumps(record, indent=2) + "\n")
    print(f"chose {rows[chosen]['candidate']}; wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
