"""The summary chapter (notebook 13): every row of the paper's Tables 3-10 beside the number this run
measured, and the verdict on the paper's ordering from four paired comparisons declared before any run
(:data:`VERDICT_COMPARISONS`, :func:`verdict_table`).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

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


def _table_rows(results: Mapping[str, Any], chapter: str, table: str) -> List[Mapping[str, Any]]:
    """A chapter's rows of ``table`` whose threshold was not fitted on the test pairs."""
    rows = (results.get(chapter) or {}).get(table) or []
    return [r for r in rows if isinstance(r, Mapping) and r.get("threshold_fitted_on") != "test"]


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


# ------------------------------------------------------------------------------ the pre-declared verdict


@dataclass(frozen=True)
class Contender:
    """One side of a pre-declared comparison: a method named in advance (``method``), or the stored method
    of ``families`` (only the paper's own when ``in_paper_only``) with the highest *validation* ROC-AUC."""

    method: Optional[str] = None
    families: Tuple[str, ...] = ()
    in_paper_only: bool = False
    label: str = ""


@dataclass(frozen=True)
class VerdictComparison:
    """A comparison of the verdict: the paper says ``stronger`` beats ``weaker``."""

    key: str
    comparison: str
    stronger: Contender
    weaker: Contender


#: The summary's verdict, fixed in code before any run (issue 20): each is tested on the identical test
#: pairs with the paired class-level test; nothing here is chosen by a test number.
VERDICT_COMPARISONS: Tuple[VerdictComparison, ...] = (
    VerdictComparison("a", "the paper's improved ResNet18 Siamese network vs ORB",
                      Contender(method="resnet18-improved"), Contender(method="orb")),
    VerdictComparison("b", "the run's Siamese network chosen by validation ROC-AUC vs ORB",
                      Contender(families=("siamese",), label="chapter 05 networks"), Contender(method="orb")),
    VerdictComparison("c", "ORB vs SIFT", Contender(method="orb"), Contender(method="sift")),
    VerdictComparison("d", "SIFT vs the paper's hash, histogram or cosine method chosen by validation ROC-AUC",
                      Contender(method="sift"),
                      Contender(families=("hash", "histogram", "cosine"), in_paper_only=True,
                                label="hash, histogram and cosine methods of the paper")),
)
#: Coverage of the verdict's intervals; a step holds only when its interval excludes zero.
VERDICT_LEVEL = 0.95
#: The keys of every verdict row (the book's front page reads them from ``13_summary.json["verdict"]``).
VERDICT_KEYS = ("comparison", "stronger", "weaker", "stronger_accuracy", "weaker_accuracy", "difference", "ci_low",
                "ci_high", "p_value", "n_pairs", "n_classes", "outcome", "chosen_by")


def _pick(contender: Contender, records: Mapping[str, Any]) -> Tuple[Optional[Any], str]:
    """(the stored record a contender names, how it was chosen), or (None, why none)."""
    if contender.method is not None:
        record = records.get(contender.method)
        return (record, "named in advance") if record is not None else (None, f"{contender.method} was not stored")
    pool = [r for r in records.values() if r.family in contender.families and (r.in_paper or not contender.in_paper_only)
            and r.val_roc_auc == r.val_roc_auc]
    if not pool:
        return None, f"none of the {contender.label} was stored"
    chosen = sorted(pool, key=lambda r: (-r.val_roc_auc, r.method))[0]
    return chosen, (f"highest validation ROC-AUC ({chosen.val_roc_auc:.3f}) among the {len(pool)} stored "
                    f"{contender.label}")


def _not_run(spec: VerdictComparison, stronger: str, weaker: str, chosen_by: str) -> Dict[str, Any]:
    return {"key": spec.key, "comparison": spec.comparison, "stronger": stronger, "weaker": weaker,
            "stronger_accuracy": None, "weaker_accuracy": None, "difference": None, "ci_low": None, "ci_high": None,
            "p_value": None, "n_pairs": 0, "n_classes": 0, "outcome": "not run", "chosen_by": chosen_by}


def verdict_outcome(difference: float, ci_low: float, ci_high: float) -> str:
    """``"holds"`` (difference > 0, interval above 0), ``"reversed"`` (< 0, interval below 0) or
    ``"not established"``.

    Example:
        >>> verdict_outcome(0.05, 0.01, 0.09), verdict_outcome(-0.05, -0.09, -0.01), verdict_outcome(0.05, -0.01, 0.1)
        ('holds', 'reversed', 'not established')
    """
    if difference > 0 and ci_low > 0:
        return "holds"
    if difference < 0 and ci_high < 0:
        return "reversed"
    return "not established"


def verdict_row(spec: VerdictComparison, records: Mapping[str, Any], *, level: float = VERDICT_LEVEL) -> Dict[str, Any]:
    """One comparison of the verdict on the two methods' shared test pairs (:data:`VERDICT_KEYS`, plus ``key``).

    ``records``: ``{method: drugsim.evaluation.score_store.MethodScores}``. The pairs are the intersection
    of both records' ``test_pair_indices`` (same ``test_pairs_sha256`` required); each method decides them at
    its validation-fitted threshold; :func:`drugsim.evaluation.inference.paired_class_test` gives the
    difference (stronger minus weaker), its interval and p-value.
    """
    from drugsim.evaluation.inference import paired_class_test

    stronger, stronger_how = _pick(spec.stronger, records)
    weaker, weaker_how = _pick(spec.weaker, records)
    names = (stronger.method if stronger else spec.stronger.method or "-",
             weaker.method if weaker else spec.weaker.method or "-")
    chosen_by = "; ".join(f"{name}: {how}" for name, how in zip(names, (stronger_how, weaker_how)))
    if stronger is None or weaker is None:
        return _not_run(spec, *names, chosen_by)
    if stronger.test_pairs_sha256 != weaker.test_pairs_sha256:
        return _not_run(spec, *names, chosen_by + "; their scores come from different test pair lists")
    shared, in_stronger, in_weaker = np.intersect1d(stronger.test_pair_indices, weaker.test_pair_indices,
                                                    assume_unique=True, return_indices=True)
    classes = stronger.test_classes[in_stronger]
    if shared.size == 0 or np.unique(classes).size < 2:
        return _not_run(spec, *names, chosen_by + f"; {shared.size} shared test pairs, fewer than 2 classes")
    if (not np.array_equal(stronger.test_labels[in_stronger], weaker.test_labels[in_weaker])
            or not np.array_equal(classes, weaker.test_classes[in_weaker])):
        return _not_run(spec, *names, chosen_by + "; the two records disagree on the shared pairs' labels or classes")
    test = paired_class_test(stronger.correct()[in_stronger], weaker.correct()[in_weaker], classes, level=level)
    return {"key": spec.key, "comparison": spec.comparison, "stronger": names[0], "weaker": names[1],
            "stronger_accuracy": test["accuracy_a"], "weaker_accuracy": test["accuracy_b"],
            "difference": test["difference"], "ci_low": test["ci_low"], "ci_high": test["ci_high"],
            "p_value": test["p_value"], "n_pairs": test["n_pairs"], "n_classes": test["n_classes"],
            "outcome": verdict_outcome(test["difference"], test["ci_low"], test["ci_high"]), "chosen_by": chosen_by}


def run_test_pairs_sha256(results: Mapping[str, Mapping[str, Any]]) -> Optional[str]:
    """The test pair list's hash the chapters' results record (``test_pairs_sha256``); None unless they agree."""
    found = {p.get("test_pairs_sha256") for p in results.values() if isinstance(p, Mapping)} - {None}
    return found.pop() if len(found) == 1 else None


def verdict_table(records: Mapping[str, Any], *, comparisons: Sequence[VerdictComparison] = VERDICT_COMPARISONS,
                  level: float = VERDICT_LEVEL) -> List[Dict[str, Any]]:
    """The verdict: one :func:`verdict_row` per pre-declared comparison, in declaration order."""
    return [verdict_row(spec, records, level=level) for spec in comparisons]


def verdict_sentence(rows: Optional[Sequence[Mapping[str, Any]]]) -> str:
    """The verdict in words, every number from ``rows`` (differences in percentage points)."""
    if not rows:
        return "No pre-declared comparison was run: no chapter stored its per-pair test scores."
    # "held" rather than "holds": one verb form reads right for one comparison and for several.
    counts = [(sum(r["outcome"] == outcome for r in rows), word) for outcome, word in
              (("holds", "held"), ("reversed", "reversed"), ("not established", "not established"),
               ("not run", "not run"))]
    head = f"Of the {len(rows)} comparisons fixed before the run, " + ", ".join(
        f"{n} {word}" for n, word in counts if n)
    parts = []
    for row in rows:
        if row["outcome"] == "not run":
            parts.append(f"({row['key']}) {row['stronger']} vs {row['weaker']}: not run ({row['chosen_by']})")
            continue
        parts.append(
            f"({row['key']}) {row['stronger']} ({100 * row['stronger_accuracy']:.1f} %) vs {row['weaker']} "
            f"({100 * row['weaker_accuracy']:.1f} %): {row['outcome']}, difference {100 * row['difference']:+.1f} "
            f"points [{100 * row['ci_low']:+.1f}, {100 * row['ci_high']:+.1f}], p = {row['p_value']:.2g}, "
            f"{row['n_pairs']:,} shared test pairs of {row['n_classes']} classes")
    return head + ": " + "; ".join(parts) + "."


def verdict_frame(rows: Sequence[Mapping[str, Any]]):
    """The verdict rows as a table for the book: accuracies and differences in per cent, missing as '–'."""
    import pandas as pd

    def pct(value: Any, signed: bool = False) -> str:
        if value is None:
            return "–"
        return f"{100 * value:+.1f}" if signed else f"{100 * value:.1f} %"

    return pd.DataFrame([{
        "comparison": f"({r['key']}) {r['comparison']}", "stronger (paper)": r["stronger"], "weaker (paper)": r["weaker"],
        "stronger acc.": pct(r["stronger_accuracy"]), "weaker acc.": pct(r["weaker_accuracy"]),
        "difference (points) [95 % CI]": "–" if r["difference"] is None else
        f"{pct(r['difference'], True)} [{pct(r['ci_low'], True)}, {pct(r['ci_high'], True)}]",
        "p": "–" if r["p_value"] is None else f"{r['p_value']:.2g}",
        "pairs": r["n_pairs"], "classes": r["n_classes"], "outcome": r["outcome"], "chosen by": r["chosen_by"],
    } for r in rows])


#: Families of the score store as the chart names them, in the chart's order (weakest methods last).
CHART_FAMILIES = {"siamese": "Siamese networks", "keypoint": "keypoints", "hash": "hashes",
                  "histogram": "histograms", "cosine": "cosine", "other": "beyond the paper"}


def _paper_accuracy(method: str) -> Optional[float]:
    """The paper's test accuracy of a stored method (Table 8 for SIFT/ORB, Table 9 for its networks)."""
    row = paper.TABLE8.get(method) or paper.TABLE9.get(method) or {}
    value = row.get("accuracy", row.get("test_accuracy"))
    return None if value is None else float(value)


def accuracy_interval_rows(records: Mapping[str, Any], *, level: float = VERDICT_LEVEL) -> List[Dict[str, Any]]:
    """One row per stored method for the summary's dot-and-interval chart
    (:func:`drugsim.studies.summary_plots.plot_accuracy_intervals`): test accuracy at its validation-fitted
    threshold with its class-level interval, all on the test pairs every stored method scored (so every dot on
    the axis answers the same question), and the paper's number where the paper reports an accuracy.

    Rows are grouped by family (:data:`CHART_FAMILIES` order), methods in name order; none when no method is
    stored or the methods share no test pair.
    """
    from drugsim.evaluation.inference import class_jackknife_intervals

    if not records:
        return []
    common = None
    for record in records.values():
        indices = set(np.asarray(record.test_pair_indices).tolist())
        common = indices if common is None else common & indices
    if not common:
        return []
    order = list(CHART_FAMILIES)
    rows = []
    for name in sorted(records, key=lambda n: (order.index(records[n].family) if records[n].family in order
                                                else len(order), n)):
        record = records[name]
        keep = np.isin(record.test_pair_indices, sorted(common))
        correct = record.correct()[keep]
        classes = record.test_classes[keep]
        low = high = None
        if len(set(classes.tolist())) >= 2:
            interval = class_jackknife_intervals(record.test_scores[keep], record.test_labels[keep], record.threshold,
                                                 direction=record.direction, clusters=classes, level=level)
            low, high = interval["accuracy"]
        rows.append({"method": name, "family": CHART_FAMILIES.get(record.family, record.family),
                     "accuracy": float(correct.mean()), "ci_low": low, "ci_high": high,
                     "paper_value": _paper_accuracy(name), "n_pairs": int(keep.sum()),
                     "n_classes": len(set(classes.tolist()))})
    return rows
