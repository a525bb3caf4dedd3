"""Recorded runs in the summary chapter (notebook 13): every number of every record under
``results/recorded/`` (:mod:`drugsim.recorded` writes them) as rows keyed like the run's own comparison
table (``table``, ``row``, ``quantity``), a sentence per run, the runs as columns beside *this run* and
*paper* (only for runs that scored the identical test pairs under the same protocol; the others in a table of
their own that says what differs), and a table and figure of their evaluation results.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from drugsim.errors import ConfigError
from drugsim.recorded import EVALUATE_KEYS, MANIFEST, RECORDED_DIR, read_json_files


def dataset_kind(dataset: str) -> str:
    """``synthetic``, ``grocery`` or ``folder`` from a result's ``dataset`` field."""
    lowered = str(dataset).lower()
    if "grocery" in lowered:
        return "grocery"
    return "synthetic" if "synth" in lowered else "folder"


def run_kind(dataset: str) -> str:
    """A run's ``dataset`` parameter (synthetic, grocery or a folder's path) as the kind recorded rows carry."""
    return dataset if dataset in ("synthetic", "grocery") else "folder"


def _hardware_text(hardware: Mapping[str, Any]) -> str:
    if hardware.get("description"):
        return str(hardware["description"])
    from drugsim.hardware import hardware_sentence

    return hardware_sentence(hardware) if hardware.get("cpu_model") else "unknown machine"


def evaluation_rows(run: str, record: Mapping[str, Any], results: Mapping[str, Mapping[str, Any]]
                    ) -> list[dict[str, Any]]:
    """One row per ``drugsim evaluate --json`` result of a recorded run, keyed as the summary's Table 9 (Siamese
    networks) or Table 8 (other methods) row."""
    rows = []
    for stem, payload in sorted(results.items()):
        if not EVALUATE_KEYS <= set(payload):
            continue
        config = payload.get("method_config") or {}
        low, high = (payload.get("ci95") or {}).get("accuracy") or (None, None)
        if str(payload["method"]).startswith("siamese"):
            table, row, quantity = "Table 9", f"{config.get('backbone')}-{config.get('variant')}", "test_accuracy"
        else:  # SIFT, ORB and the other pair methods: Table 8's accuracy row of that method
            table, row, quantity = "Table 8", str(payload["method"]), "accuracy"
        rows.append({
            "run": run, "commit": record.get("commit"), "hardware": _hardware_text(record.get("hardware") or {}),
            "table": table, "row": row, "quantity": quantity, "value": float(payload["accuracy"]),
            "ci_low": low, "ci_high": high,
            "ci_unit": payload.get("ci_unit") or (payload.get("bootstrap") or {}).get("unit"),
            "threshold_fitted_on": payload.get("threshold_fitted_on"), "roc_auc": payload.get("roc_auc"),
            "n_pairs": payload.get("n_pairs"), "dataset": dataset_kind(payload.get("dataset", "")),
            "weights": config.get("weights"), "image_size": config.get("image_size"), "source": stem,
            **_protocol_fields(payload),
        })
    return rows


def _protocol_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The test-pair hash and protocol name a result file records (None where it predates them)."""
    protocol = payload.get("protocol")
    name = protocol.get("name") if isinstance(protocol, Mapping) else protocol if isinstance(protocol, str) else None
    return {"test_pairs_sha256": payload.get("test_pairs_sha256"), "protocol": name}


def chapter_rows(run: str, record: Mapping[str, Any], results: Mapping[str, Mapping[str, Any]],
                 dataset: str) -> list[dict[str, Any]]:
    """Rows of a recorded ``drugsim reproduce`` run: its chapters' numbers, as the summary compares them."""
    from drugsim.studies import summary

    chapters = {k: v for k, v in results.items() if re.match(r"^\d\d_", k) and k != "13_summary"}
    if not chapters:
        return []
    frame = summary.comparison_table(chapters).dropna(subset=["ours"])
    return [{"run": run, "commit": record.get("commit"), "hardware": _hardware_text(record.get("hardware") or {}),
             "table": r["table"], "row": r["row"], "quantity": r["quantity"], "value": float(r["ours"]),
             "dataset": dataset, "source": r["notebook"], **_protocol_fields(chapters.get(r["notebook"], {}))}
            for r in frame.to_dict("records")]


def load_recorded_runs(root: Path = RECORDED_DIR) -> list[dict[str, Any]]:
    """Every number of every recorded run under ``root``, as rows keyed like the summary's table.

    Each row: ``run``, ``commit``, ``hardware`` (a sentence), ``table``, ``row``, ``quantity``, ``value``,
    ``dataset`` (synthetic|grocery|folder) and, for evaluation results, the interval (``ci_low``,
    ``ci_high``, ``ci_unit``), ``threshold_fitted_on``, ``roc_auc``, ``n_pairs`` and ``weights``. A missing
    ``root`` gives no rows; a run folder without ``run.json`` is skipped (it is not a recorded run).

    Raises:
        ConfigError: a ``run.json`` or results file is not readable JSON.
    """
    rows: list[dict[str, Any]] = []
    root = Path(root)
    if not root.is_dir():
        return rows
    for folder in sorted(p for p in root.iterdir() if (p / MANIFEST).is_file()):
        try:
            record = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(f"{folder / MANIFEST}: not readable JSON ({exc})") from exc
        results = read_json_files(folder)
        rows += evaluation_rows(folder.name, record, results)
        rows += chapter_rows(folder.name, record, results, str(record.get("dataset", "folder")))
    return rows


def runs_described(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per recorded run: name, commit, hardware, data kinds, threshold fitting, interval unit."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = out.setdefault(row["run"], {"run": row["run"], "commit": row.get("commit"),
                                            "hardware": row.get("hardware"), "datasets": set(),
                                            "threshold_fitted_on": set(), "ci_unit": set()})
        entry["datasets"].add(row.get("dataset"))
        for key in ("threshold_fitted_on", "ci_unit"):
            if row.get(key):
                entry[key].add(str(row[key]))
    return [{**e, **{k: sorted(e[k]) for k in ("datasets", "threshold_fitted_on", "ci_unit")}} for e in out.values()]


def run_sentence(run: Mapping[str, Any]) -> str:
    """E.g. ``"gpu-paper-settings-8464a8d: commit 8464a8d on one NVIDIA H200 ...; thresholds fitted on val; ..."``."""
    fitted = ", ".join(run["threshold_fitted_on"]) or "not stated"
    units = ", ".join(run["ci_unit"]) or "not stated"
    warning = " (pairs share images and classes, so these intervals are too narrow)" if "pairs" in run[
        "ci_unit"] or "pair" in run["ci_unit"] else ""
    return (f"{run['run']}: commit {str(run['commit'])[:12]} on {run['hardware']}; data: "
            f"{', '.join(run['datasets'])}; thresholds fitted on {fitted}; 95 % intervals resample {units}"
            f"{warning}")


def comparable(row: Mapping[str, Any], *, dataset: str, test_pairs_sha256: str | None) -> bool:
    """Whether a recorded row scored this run's test pairs: same kind of data and the identical test-pair list
    (its sha256, which also fixes the protocol that drew it)."""
    return (row.get("dataset") == run_kind(dataset) and test_pairs_sha256 is not None
            and row.get("test_pairs_sha256") == test_pairs_sha256)


def with_recorded_columns(table, rows: Sequence[Mapping[str, Any]], *, dataset: str,
                          test_pairs_sha256: str | None):
    """``table`` (:func:`drugsim.studies.summary.comparison_table`) with one column per recorded run that scored
    this run's test pairs (:func:`comparable`).

    A recorded number goes into the row with the same ``table``, ``row`` and ``quantity``; rows a recorded
    run did not measure stay NaN. Runs on other data, another protocol or another pair list are left out
    (their numbers answer another question: :func:`recorded_differences` lists them and says how they differ).
    """
    frame = table.copy()
    kept = [r for r in rows if comparable(r, dataset=dataset, test_pairs_sha256=test_pairs_sha256)]
    for run in dict.fromkeys(r["run"] for r in kept):
        # The paper's protocol (threshold fitted on the test pairs) is a labelled extra row of a record, never
        # the number set beside "this run" (validation-fitted).
        values = {(r["table"], r["row"], r["quantity"]): r["value"] for r in kept
                  if r["run"] == run and r.get("threshold_fitted_on") != "test"}
        frame[run] = [values.get((t, r, q)) for t, r, q in zip(frame["table"], frame["row"], frame["quantity"])]
        frame[run] = frame[run].astype(float)
    return frame


def difference_from_this_run(row: Mapping[str, Any], *, dataset: str, protocol: str | None,
                             test_pairs_sha256: str | None) -> str:
    """In words, why a recorded row is not set beside this run's numbers ("" when it is comparable)."""
    if comparable(row, dataset=dataset, test_pairs_sha256=test_pairs_sha256):
        return ""
    if row.get("dataset") != run_kind(dataset):
        return f"other data ({row.get('dataset')})"
    if row.get("test_pairs_sha256") is None:
        return "test pairs not recorded (written before pair hashes)"
    if protocol is not None and row.get("protocol") not in (None, protocol):
        return f"another protocol ({row.get('protocol')})"
    return "another test-pair list (other data version, split or pair rule)"


def recorded_differences(rows: Sequence[Mapping[str, Any]], *, dataset: str, protocol: str | None,
                         test_pairs_sha256: str | None):
    """One row per recorded run: its data, protocol, test pairs and what differs from this run."""
    import pandas as pd

    entries: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = entries.setdefault(row["run"], {"run": row["run"], "data": {}, "protocol": {}, "test pairs": {},
                                                "differs": {}})
        entry["data"][str(row.get("dataset"))] = None
        entry["protocol"][str(row.get("protocol") or "not recorded")] = None
        if row.get("n_pairs") is not None:
            entry["test pairs"][str(row["n_pairs"])] = None
        reason = difference_from_this_run(row, dataset=dataset, protocol=protocol, test_pairs_sha256=test_pairs_sha256)
        entry["differs"][reason or "comparable"] = None
    for entry in entries.values():
        for key in ("data", "protocol", "test pairs", "differs"):
            entry[key] = "; ".join(entry[key]) or "–"
    return pd.DataFrame(list(entries.values()), columns=["run", "data", "protocol", "test pairs", "differs"])


def recorded_table(rows: Sequence[Mapping[str, Any]], *, table: str | None = None, dataset: str | None = None,
                   test_pairs_sha256: str | None = None, protocol: str | None = None):
    """Every evaluation row of the recorded runs as a display table, with the paper's Table 9 value beside.

    ``table`` (e.g. ``"Table 9"``) and ``dataset`` (synthetic|grocery|folder, or a run's dataset name) keep only
    those rows; with ``dataset`` the column *vs this run* says whether each row scored this run's test pairs
    (``test_pairs_sha256``) or what differs (:func:`difference_from_this_run`).
    """
    import pandas as pd

    from drugsim import paper

    kind = None if dataset is None else run_kind(dataset)
    records = []
    for r in rows:
        if r.get("ci_unit") is None and r.get("threshold_fitted_on") is None:
            continue  # chapter numbers: shown through with_recorded_columns
        if (table is not None and r["table"] != table) or (kind is not None and r["dataset"] != kind):
            continue
        published = (paper.TABLE9 if r["table"] == "Table 9" else paper.TABLE8).get(r["row"], {}).get(r["quantity"])
        records.append({"run": r["run"], "data": r["dataset"], "model": r["row"], "weights": r.get("weights"),
                        "test pairs": r.get("n_pairs"), "test accuracy": r["value"], "CI low": r.get("ci_low"),
                        "CI high": r.get("ci_high"), "CI resamples": r.get("ci_unit"),
                        "threshold fitted on": r.get("threshold_fitted_on"), "ROC-AUC": r.get("roc_auc"),
                        "paper": published,
                        "vs this run": None if dataset is None else (difference_from_this_run(
                            r, dataset=dataset, protocol=protocol, test_pairs_sha256=test_pairs_sha256)
                            or "same test pairs")})
    columns = ["run", "data", "model", "weights", "test pairs", "test accuracy", "CI low", "CI high", "CI resamples",
               "threshold fitted on", "ROC-AUC", "paper"] + ([] if dataset is None else ["vs this run"])
    return pd.DataFrame(records, columns=columns)


def plot_recorded(rows: Sequence[Mapping[str, Any]], *, ax=None):
    """Bars of every recorded test accuracy (one bar per run, data and model) beside the paper's Table 9 row."""
    import matplotlib.pyplot as plt
    import numpy as np

    frame = recorded_table(rows)
    ax = ax or plt.subplots(figsize=(8, 3))[1]
    labels = [f"{m} ({w})\n{d}" for m, w, d in zip(frame["model"], frame["weights"], frame["data"])]
    x = np.arange(len(frame))
    errors = np.array([frame["test accuracy"] - frame["CI low"], frame["CI high"] - frame["test accuracy"]],
                      dtype=float) * 100
    ax.bar(x - 0.2, frame["test accuracy"] * 100, 0.4, yerr=errors, label="recorded run", color="tab:blue")
    ax.bar(x + 0.2, frame["paper"].astype(float) * 100, 0.4, label="paper (Table 9)", color="tab:grey")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(50, 100)
    ax.legend(loc="lower right", frameon=False)
    return ax
