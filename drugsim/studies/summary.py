"""The summary chapter (notebook 13): every row of the paper's Tables 3-10 beside the number this run
measured.

Recorded runs set beside it are read by :mod:`drugsim.studies.recorded_runs`; the README's generated blocks
are written by :mod:`drugsim.readme`.

Each notebook's results JSON (``drugsim.report.save_results``) reports paper-comparable numbers under
a top-level key named after the table, keyed exactly as :mod:`drugsim.paper` keys it (a list of
records with a ``method`` / ``name`` / ``model`` / ``face`` field naming the row works too, as
``DataFrame.to_dict("records")`` writes it; a one-value row may call its value ``value`` or ``ours``)::

    save_results(results_path, {"table7": {"orb": {"positive_mean": 12.3, "negative_mean": 4.5,
                                                   "pairs_per_second": 80.1}, ...}})

* ``table3`` / ``table4``: ``{method: value}`` on our Fig. 1-style example pair (``table3`` may also
  hold ``"cosine"``, the section 2.2 value);
* ``table5``: ``{face: {"min", "max", "mean"}}`` images per face;
* ``table6``: ``{"train_accuracy", "test_accuracy", "images_per_second"}`` of the feature-face classifier;
* ``table7``: ``{method: {"positive_mean", "negative_mean", "pairs_per_second"}}``;
* ``table8``: ``{"sift"|"orb": {"threshold", "accuracy", "pairs_per_second"}}``;
* ``table9``: ``{"<backbone>-<variant>": {"train_accuracy", "test_accuracy", "pairs_per_second"}}``;
* ``table10``: ``{"resnet18-classifier+<backbone>-improved": {"test_accuracy", "pairs_per_second"}}``.

Accuracies are fractions in [0, 1], as in :mod:`drugsim.paper`. A row no notebook reported shows as
missing (NaN), never as a typed number.

Thresholds: a record may say where its threshold was fitted (``threshold_fitted_on``). The "this run"
column takes records fitted on validation pairs (or given); a record fitted on the test pairs (``"test"``:
the paper's protocol) is never the headline, it appears in an extra row labelled "(paper's protocol)"
beside it. Every row carries ``threshold_fitted_on`` (``"no threshold"`` for means, speeds and counts).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from drugsim import paper
from drugsim.hardware import hardware_sentence  # noqa: F401 (notebook 13 calls summary.hardware_sentence)


def paper_tables() -> List[Tuple[str, str, Dict[str, Dict[str, float]]]]:
    """Every number of Tables 3-10 (and the section 2.2 cosine value) as rows of quantities."""
    table3 = {k: {"value": v} for k, v in paper.TABLE3_FIG1_HISTOGRAM.items()}
    table3["cosine"] = {"value": paper.FIG1_COSINE}
    table8 = {k: {"threshold": paper.TABLE8_THRESHOLDS[k], **v} for k, v in paper.TABLE8.items()}
    return [
        ("table3", "Table 3 and section 2.2: histogram metrics and cosine on the example pair", table3),
        ("table4", "Table 4: equal hash bits (of 64) on the example pair",
         {k: {"value": float(v)} for k, v in paper.TABLE4_FIG1_HASHES.items()}),
        ("table5", "Table 5: images per face (min / max / mean)",
         {k: {q: float(x) for q, x in v.items()} for k, v in paper.TABLE5_FACES.items()}),
        ("table6", "Table 6: feature-face classifier (ResNet18)", {"resnet18-classifier": dict(paper.TABLE6_CLASSIFIER)}),
        ("table7", "Table 7: mean score of positive / negative pairs and pairs per second", paper.TABLE7),
        ("table8", "Table 8: SIFT and ORB on the full test set at the midpoint threshold", table8),
        ("table9", "Table 9: Siamese networks", paper.TABLE9),
        ("table10", "Table 10: classifier + improved Siamese network", paper.TABLE10),
    ]


def load_results(results_dir: Path, *, order: Optional[List[str]] = None) -> Dict[str, Dict[str, Any]]:
    """Every ``<name>.json`` in ``results_dir`` (a run's ``results/``), in ``order`` then by name."""
    results_dir = Path(results_dir)
    found = {p.stem: p for p in sorted(results_dir.glob("*.json"))} if results_dir.is_dir() else {}
    names = [n for n in (order or []) if n in found] + [n for n in found if n not in (order or [])]
    out: Dict[str, Dict[str, Any]] = {}
    for name in names:
        try:
            out[name] = json.loads(found[name].read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return out


#: Quantities decided by a similarity threshold (the classifier's Table 6 accuracy is not).
THRESHOLD_QUANTITIES = ("threshold", "accuracy", "test_accuracy", "train_accuracy")
#: Label of the rows that show the paper's protocol (threshold fitted on the test pairs) beside ours.
PAPER_PROTOCOL_SUFFIX = " (paper's protocol)"
#: Tables whose numbers depend on a fitted threshold, so a paper's-protocol row may sit beside.
_THRESHOLD_TABLES = ("table8", "table9", "table10")

#: Fields that name a row when a table is saved as a list of records (``DataFrame.to_dict("records")``).
_ROW_FIELDS = ("method", "name", "model", "row", "key", "face")
#: Fields holding the single value of a Table 3 / Table 4 row saved as a record.
_VALUE_FIELDS = ("value", "ours", "score")


def _protocol_matches(entry: Any, protocol: str) -> bool:
    """Whether a record belongs to ``protocol``: ``"paper"`` = fitted on test, ``"val"`` = anything else."""
    fitted_on = entry.get("threshold_fitted_on") if isinstance(entry, Mapping) else None
    return (fitted_on == "test") == (protocol == "paper")


def _as_mapping(block: Any, protocol: str = "val") -> Optional[Mapping[str, Any]]:
    """A table as ``{row: {quantity: value}}``, from that form or from a list of records, keeping only the
    records of ``protocol`` (see :func:`_protocol_matches`)."""
    if isinstance(block, Mapping):
        return {row: entry for row, entry in block.items() if _protocol_matches(entry, protocol)}
    if isinstance(block, list) and block and all(isinstance(r, Mapping) for r in block):
        block = [r for r in block if _protocol_matches(r, protocol)]
        for field in _ROW_FIELDS:
            if all(field in r for r in block):
                out = {}
                for record in block:
                    entry = dict(record)
                    for value_field in _VALUE_FIELDS:
                        if value_field in entry and "value" not in entry:
                            entry["value"] = entry[value_field]
                    out.setdefault(str(entry[field]), entry)
                for name in list(out):  # "sift@ratio" also answers for the paper's "sift"
                    out.setdefault(name.split("@")[0], out[name])
                return out
    return None


def _lookup(
    payload: Mapping[str, Any], table: str, row: str, quantity: str, protocol: str = "val"
) -> tuple[float | None, str | None]:
    """(value, where its threshold was fitted) of one number in one chapter's results, or (None, None)."""
    block = payload.get(table)
    if block is None and isinstance(payload.get("tables"), Mapping):
        block = payload["tables"].get(table)
    block = _as_mapping(block, protocol)
    if not block:
        return None, None
    entry: Any = None
    if table == "table6" and row not in block:
        value = block.get(quantity)  # Table 6 is one row: allow it flat
    else:
        entry = block.get(row)
        if isinstance(entry, Mapping):
            value = entry.get(quantity)
        else:
            value = entry if quantity == "value" else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, None
    fitted_on = entry.get("threshold_fitted_on") if isinstance(entry, Mapping) else None
    return float(value), fitted_on


def _fitted_on_cell(table: str, quantity: str, fitted_on: str | None, found: bool) -> str:
    if table == "table6" or quantity not in THRESHOLD_QUANTITIES:
        return "no threshold"
    if not found:
        return ""
    return fitted_on or "not recorded"


def _rows_by(payload: Mapping[str, Any], key: str, field: str) -> List[Mapping[str, Any]]:
    rows = payload.get(key)
    return [r for r in rows if isinstance(r, Mapping) and field in r] if isinstance(rows, list) else []


def _data_tables(payload: Mapping[str, Any]) -> Dict[str, Any]:
    """01_data saves ``info.per_face`` (``drugsim data info``): ``{face: {"min", "max", "mean", ...}}``."""
    info = payload.get("info")
    per_face = info.get("per_face") if isinstance(info, Mapping) else None
    return {"table5": per_face} if isinstance(per_face, Mapping) else {}


def _siamese_tables(payload: Mapping[str, Any]) -> Dict[str, Any]:
    """05_siamese saves ``rows`` of ``{"model": "<backbone>-<variant>", "train_accuracy", ...}``."""
    return {"table9": {r["model"]: r for r in _rows_by(payload, "rows", "model")}}


def _combined_tables(payload: Mapping[str, Any]) -> Dict[str, Any]:
    """07_combined saves ``rows`` of ``{"pipeline": model, "accuracy_combined", "pairs_per_second_combined"}``."""
    return {"table10": {f"resnet18-classifier+{r['pipeline']}": {
        "test_accuracy": r.get("accuracy_combined"), "pairs_per_second": r.get("pairs_per_second_combined"),
        "threshold_fitted_on": r.get("threshold_fitted_on_combined")}
        for r in _rows_by(payload, "rows", "pipeline")}}


def _speed_tables(payload: Mapping[str, Any]) -> Dict[str, Any]:
    """12_speed times every method the paper's way (read and describe both images of every pair)."""
    methods = (payload.get("bench") or {}).get("methods") if isinstance(payload.get("bench"), Mapping) else None
    if not isinstance(methods, Mapping):
        return {}
    rates = {name: {"pairs_per_second": m.get("per_pair_pairs_per_second")}
             for name, m in methods.items() if isinstance(m, Mapping)}
    return {"table7": rates, "table8": {k: v for k, v in rates.items() if k in ("sift", "orb")}}


#: Chapters whose results hold paper-table numbers under their own names: read through these.
_ADAPTERS = {"01_data": _data_tables, "05_siamese": _siamese_tables, "07_combined": _combined_tables, "12_speed": _speed_tables}
#: Where one chapter measures a number the paper's way, it wins over the others: speed is timed per pair
#: (read and describe both images, as the paper did) by the speed chapter.
_PREFERRED = {("table7", "pairs_per_second"): "12_speed", ("table8", "pairs_per_second"): "12_speed"}


def _with_adapters(name: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
    adapter = _ADAPTERS.get(name)
    if adapter is None:
        return payload
    merged = dict(payload)
    for table, block in adapter(payload).items():
        merged.setdefault(table, block)  # a chapter that saves the table itself wins
    return merged


def comparison_table(results: Mapping[str, Mapping[str, Any]]):
    """A ``pandas.DataFrame`` with one row per number of Tables 3-10: paper, ours, and which notebook.

    Columns: ``table``, ``row``, ``quantity``, ``paper``, ``ours``, ``threshold_fitted_on``, ``notebook``
    (the first notebook, in run order, whose results report that number; for speeds, the speed chapter
    first). ``ours`` never comes from a threshold fitted on the test pairs; where a chapter also reported
    the paper's protocol, a row with quantity ``"<quantity> (paper's protocol)"`` follows the row.
    """
    import pandas as pd

    results = {name: _with_adapters(name, payload) for name, payload in results.items()}
    rows = []

    def find(table: str, row: str, quantity: str, protocol: str) -> tuple[float | None, str | None, str]:
        preferred = _PREFERRED.get((table, quantity))
        order = ([preferred] if preferred in results else []) + [n for n in results if n != preferred]
        for name in order:
            value, fitted_on = _lookup(results[name], table, row, quantity, protocol)
            if value is not None:
                return value, fitted_on, name
        return None, None, ""

    for table, caption, entries in paper_tables():
        label = caption.split(":")[0]
        for row, quantities in entries.items():
            for quantity, paper_value in quantities.items():
                ours, fitted_on, source = find(table, row, quantity, "val")
                rows.append({"table": label, "row": row, "quantity": quantity, "paper": float(paper_value),
                             "ours": ours, "threshold_fitted_on": _fitted_on_cell(table, quantity, fitted_on,
                                                                                  ours is not None),
                             "notebook": source})
                if table in _THRESHOLD_TABLES and quantity in THRESHOLD_QUANTITIES:
                    theirs, _, paper_source = find(table, row, quantity, "paper")
                    if theirs is not None:
                        rows.append({"table": label, "row": row, "quantity": quantity + PAPER_PROTOCOL_SUFFIX,
                                     "paper": float(paper_value), "ours": theirs, "threshold_fitted_on": "test",
                                     "notebook": paper_source})
    frame = pd.DataFrame(rows, columns=["table", "row", "quantity", "paper", "ours", "threshold_fitted_on",
                                        "notebook"])
    frame["ours"] = frame["ours"].astype(float)
    return frame


def coverage(frame) -> Dict[str, int]:
    """How many of the paper's numbers this run reproduced (the paper's-protocol rows are not counted)."""
    ours = frame[~frame["quantity"].str.endswith(PAPER_PROTOCOL_SUFFIX)]
    return {"n_paper_numbers": int(len(ours)), "n_reproduced": int(ours["ours"].notna().sum())}


def dataset_sentence(work_dir: Path, dataset: str) -> str:
    """What the run's data was, from the runner's ``<work_dir>/dataset.json``."""
    info: Dict[str, Any] = {}
    try:
        info = json.loads((Path(work_dir) / "dataset.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    kind = info.get("kind", dataset)
    files = f", {info['n_files']} files" if info.get("n_files") else ""
    digest = f", content hash {info['sha256'][:12]}" if info.get("sha256") else ""
    if kind == "synthetic":
        return f"synthetic drug boxes (preset {info.get('preset', '?')}, seed {info.get('seed', '?')}{files}{digest})"
    if kind == "grocery":
        return f"the Grocery Store packaged-product photos{files}{digest}"
    return f"the photos in {info.get('data_dir', dataset)}{files}{digest}"


def _format_value(quantity: str, value: Optional[float]) -> str:
    if value is None or value != value:  # NaN: not reported by this run
        return "not run"
    if "accuracy" in quantity:
        return f"{100 * value:.2f} %"
    if float(value).is_integer():
        return f"{value:.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.4g}"


def formatted_table(frame):
    """The comparison table with units: accuracies in per cent, rows the run did not reach as 'not run'."""
    shown = frame.copy()
    shown["paper"] = [_format_value(q, v) for q, v in zip(frame["quantity"], frame["paper"])]
    shown["ours"] = [_format_value(q, v) for q, v in zip(frame["quantity"], frame["ours"])]
    return shown.set_index(["table", "row", "quantity"])


def styled_tables(frame) -> list:
    """One styled table per paper table (caption = the table's title), every row shown, for the book."""
    captions = {caption.split(":")[0]: caption for _, caption, _ in paper_tables()}
    shown = frame.copy()
    shown["paper"] = [_format_value(q, v) for q, v in zip(frame["quantity"], frame["paper"])]
    shown["ours"] = [_format_value(q, v) for q, v in zip(frame["quantity"], frame["ours"])]
    shown["quantity"] = shown["quantity"].str.replace("_", " ")
    styled = []
    for table, rows in shown.groupby("table", sort=False):
        body = rows.drop(columns="table").rename(columns={"row": "method / face", "ours": "this run",
                                                          "threshold_fitted_on": "threshold fitted on",
                                                          "notebook": "from chapter"})
        styler = body.style.hide(axis="index").set_caption(captions.get(table, table))
        styler = styler.set_table_attributes('class="table"')  # the book theme's table style
        styler = styler.set_table_styles([{"selector": "caption", "props": "caption-side: top; font-weight: bold;"}])
        styled.append(styler)
    return styled


BEYOND_PAPER = " (beyond the paper)"


def beyond_paper_rows(results: Mapping[str, Mapping[str, Any]]):
    """This run's Siamese networks that the paper's Table 9 does not have (e.g. the transfer-learned ones), as
    rows shaped like :func:`comparison_table`'s (paper NaN), validation-fitted test accuracies only."""
    import pandas as pd

    rows = [{"table": "Table 9", "row": r["model"] + BEYOND_PAPER, "quantity": "test_accuracy",
             "paper": float("nan"), "ours": float(r["test_accuracy"]), "threshold_fitted_on": "val",
             "notebook": "05_siamese"}
            for r in _table_rows(results, "05_siamese", "rows")
            if r.get("model") not in paper.TABLE9 and r.get("test_accuracy") is not None]
    return pd.DataFrame(rows, columns=["table", "row", "quantity", "paper", "ours", "threshold_fitted_on", "notebook"])


def plot_accuracy(frame, *, ax=None, recorded_columns=()):
    """Bars of every accuracy in ``frame`` (Tables 6-10, and rows beyond the paper): the paper's beside ours,
    and beside them each of ``recorded_columns`` (a recorded run's numbers for the same rows, see
    :func:`drugsim.studies.recorded_runs.with_recorded_columns`). Returns the axes."""
    import matplotlib.pyplot as plt
    import numpy as np

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.8))
    rows = frame[frame["quantity"].str.contains("accuracy") & ~frame["quantity"].str.endswith(PAPER_PROTOCOL_SUFFIX)]
    labels = [f"{t.split()[1]}: {r} ({q.replace('_accuracy', '')})" for t, r, q in
              zip(rows["table"], rows["row"], rows["quantity"])]
    series = [("paper", rows["paper"]), ("this run", rows["ours"])] + [
        (f"recorded: {name}", rows[name]) for name in recorded_columns if name in rows]
    width = 0.8 / len(series)
    x = np.arange(len(rows))
    for k, (label, values) in enumerate(series):
        offset = (k - (len(series) - 1) / 2) * width
        ax.bar(x + offset, 100 * values.astype(float).fillna(0).to_numpy(), width=width, label=label)
        if label == "this run":
            for xi, missing in zip(x, values.isna()):
                if missing:
                    ax.text(xi + offset, 1, "not run", rotation=90, ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(series), 3), frameon=False, fontsize=7)
    return ax


# ------------------------------------------------------------------------------ the paper's ordering

#: The paper's conclusion, strongest first: improved Siamese network > ORB > SIFT > hashes and histograms.
ORDERING = ("improved Siamese network", "ORB", "SIFT", "hashes and histograms")


def _table_rows(results: Mapping[str, Any], chapter: str, table: str) -> List[Mapping[str, Any]]:
    rows = (results.get(chapter) or {}).get(table) or []
    return [r for r in rows if isinstance(r, Mapping) and r.get("threshold_fitted_on") != "test"]


def paper_ordering(results: Mapping[str, Mapping[str, Any]]) -> Dict[str, Any]:
    """Whether this run's numbers keep the paper's ordering (:data:`ORDERING`), from validation-fitted accuracies.

    Nothing is picked by test accuracy: every improved Siamese network of chapter 05 is compared with ORB (the
    ordering holds when at least one beats it, and the verdict names each), ORB with SIFT (Table 8 accuracies),
    and SIFT with every hash and histogram method of Table 7 (each must be below it).

    Returns:
        ``{"siamese": [(model, accuracy), ...], "orb": acc, "sift": acc, "weak": [(method, accuracy), ...],
        "steps": [(stronger, weaker, holds or None), ...], "holds": bool or None}`` (None = not measured).
    """
    siamese = [(str(r["model"]), float(r["test_accuracy"])) for r in _table_rows(results, "05_siamese", "rows")
               if str(r.get("model", "")).endswith("-improved") and r.get("test_accuracy") is not None]
    keypoints = {str(r["method"]).split("@")[0]: float(r["accuracy"])
                 for r in _table_rows(results, "04_keypoints", "table8") if r.get("accuracy") is not None}
    weak = [(str(r["method"]), float(r["accuracy_midpoint"]))
            for chapter in ("02_histogram_cosine", "03_hashes") for r in _table_rows(results, chapter, "table7")
            if r.get("in_paper") and r.get("accuracy_midpoint") is not None]
    orb, sift = keypoints.get("orb"), keypoints.get("sift")

    steps = [
        (ORDERING[0], ORDERING[1], None if not siamese or orb is None else any(a > orb for _, a in siamese)),
        (ORDERING[1], ORDERING[2], None if orb is None or sift is None else orb > sift),
        (ORDERING[2], ORDERING[3], None if sift is None or not weak else all(a < sift for _, a in weak)),
    ]
    measured = [s[2] for s in steps if s[2] is not None]
    holds = None if len(measured) < len(steps) else all(measured)
    return {"siamese": siamese, "orb": orb, "sift": sift, "weak": weak, "steps": steps, "holds": holds}


def ordering_sentence(verdict: Mapping[str, Any]) -> str:
    """The verdict of :func:`paper_ordering` in words, every number from the run."""
    def pct(value: Optional[float]) -> str:
        return "not run" if value is None else f"{100 * value:.1f} %"

    parts = []
    siamese, orb = verdict["siamese"], verdict["orb"]
    if siamese and orb is not None:
        above = [f"{m} ({pct(a)})" for m, a in siamese if a > orb]
        below = [f"{m} ({pct(a)})" for m, a in siamese if a <= orb]
        parts.append(f"improved Siamese networks above ORB ({pct(orb)}): {', '.join(above) or 'none'}"
                     + (f"; at or below it: {', '.join(below)}" if below else ""))
    else:
        parts.append("improved Siamese network against ORB: not measured in this run")
    sift = verdict["sift"]
    if orb is not None and sift is not None:
        parts.append(f"ORB ({pct(orb)}) {'above' if orb > sift else 'not above'} SIFT ({pct(sift)})")
    weak = verdict["weak"]
    if sift is not None and weak:
        best_name, best = max(weak, key=lambda item: item[1])
        reached = [m for m, a in weak if a >= sift]
        parts.append(f"SIFT above all {len(weak)} hash and histogram methods (highest {best_name}, {pct(best)})"
                     if not reached else f"SIFT not above {', '.join(reached)}")
    holds = verdict["holds"]
    head = ("The paper's ordering holds in this run" if holds else
            "The paper's ordering does not fully hold in this run" if holds is False else
            "The paper's ordering could not be checked completely in this run")
    return f"{head}: " + "; ".join(parts) + "."
