"""One table formatter for every chapter: what a reader sees instead of a raw DataFrame.

:func:`reader_table` turns rows (a DataFrame or a list of dicts) into a :class:`ReaderTable`: every value
formatted for reading (an accuracy as "96.1 % [95.5, 96.6]" with its interval, a speed as "2,516 pairs/s",
seconds as "69 s", counts with thousands separators), a missing value as "–" with a footnote (never
``NaN`` or ``None``), no index column, short column names with a legend under the table, and a box that
scrolls sideways on its own when the table is wider than the page (``book/_static/drugsim.css``).

How a column is formatted is read from its name (:func:`column_kind`), so the same quantity looks the same
in every chapter; :data:`SHORT_NAMES` holds the short headers and what each means. The cell functions
(:func:`percent`, :func:`speed`, ...) are pure and tested on their own.

References:
    docs/book-conventions.md (the table, figure and code-visibility rules of the book).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: What the book prints for a value that does not exist (a dash, with a footnote under the table).
MISSING = "\u2013"
#: The footnote of the dash, unless a table gives its own.
MISSING_NOTE = "no such value: the paper does not report it, or this run did not measure it"

#: Short headers for long column names, with the legend line that explains each.
SHORT_NAMES: dict[str, tuple[str, str]] = {
    "accuracy_midpoint": ("acc. (midpoint)", "accuracy at the midpoint of the two means, fitted on validation pairs"),
    "accuracy": ("accuracy", "test accuracy with its 95 % bootstrap interval"),
    "test_accuracy": ("test acc.", "test accuracy at the threshold fitted on validation pairs, with its 95 % interval"),
    "test_accuracy_at_paper_threshold": ("test acc. @paper thr.", "test accuracy at the paper's fixed threshold"),
    "train_accuracy": ("train acc.", "accuracy on a sample of training pairs"),
    "train_accuracy_at_paper_threshold": ("train acc. @paper thr.", "training accuracy at the paper's threshold"),
    "paper_accuracy": ("paper acc.", "the paper's accuracy for the same row"),
    "pairs_per_second": ("speed", "pairs scored per second on this machine"),
    "paper_pairs_per_second": ("paper speed", "pairs per second the paper reports (its hardware)"),
    "positive_mean": ("pos. mean", "mean score of positive pairs (same drug, same face)"),
    "negative_mean": ("neg. mean", "mean score of negative pairs"),
    "paper_positive_mean": ("paper pos.", "the paper's mean score of positive pairs"),
    "paper_negative_mean": ("paper neg.", "the paper's mean score of negative pairs"),
    "roc_auc": ("AUC", "area under the ROC curve (0.5: chance, 1: perfect)"),
    "threshold_fitted_on": ("fitted on", "the pairs the threshold was fitted on (val: validation drugs; test: the paper's protocol)"),
    "n_pairs": ("pairs", "test pairs scored"),
    "n_test_pairs": ("test pairs", "test pairs scored"),
    "train_seconds": ("training", "wall time of training"),
    "train_cpu_seconds": ("training CPU", "CPU time of training"),
    "matched_fraction_positive": ("matched (pos.)", "matches per keypoint of the first image, positive pairs"),
    "matched_fraction_negative": ("matched (neg.)", "matches per keypoint of the first image, negative pairs"),
    "match_filter": ("filter", "the keypoint match filter"),
    "in_paper": ("in paper", "whether the paper reports this method"),
    "right_way": ("right way", "positives score on the similar side of negatives"),
    "ci_unit": ("CI over", "what the interval resamples (class: drugs with their pairs)"),
    "test_accuracy_gain": ("acc. gain", "change in test accuracy against the step before, in percentage points"),
    "roc_auc_gain": ("AUC gain", "change in AUC against the step before"),
    "accuracy_difference": ("difference", "accuracy of the first method minus the second, percentage points, 95 % interval"),
}

_INTERVAL_SUFFIXES = (("_ci95_low", "_ci95_high"), ("_ci_low", "_ci_high"), ("_low", "_high"))


def is_missing(value: Any) -> bool:
    """``None``, NaN, pandas' missing markers or an empty string: a value that does not exist."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() in ("", "nan", "NaN", "None", "<NA>")
    try:
        return bool(value != value)  # NaN, pd.NA (raises) and NaT are not equal to themselves
    except (TypeError, ValueError):
        return True


def percent(value: Any, low: Any = None, high: Any = None, *, digits: int = 1) -> str:
    """A fraction as a percentage, with its interval when given.

    >>> percent(0.9608, 0.9552, 0.9662)
    '96.1 % [95.5, 96.6]'
    >>> percent(0.5)
    '50.0 %'
    >>> percent(None)
    '–'
    """
    if is_missing(value):
        return MISSING
    text = f"{100 * float(value):.{digits}f} %"
    if not is_missing(low) and not is_missing(high):
        text += f" [{100 * float(low):.{digits}f}, {100 * float(high):.{digits}f}]"
    return text


def points(value: Any, low: Any = None, high: Any = None, *, digits: int = 1) -> str:
    """A difference of two fractions in signed percentage points, with its interval when given.

    >>> points(0.032, -0.01, 0.07)
    '+3.2 pp [-1.0, 7.0]'
    """
    if is_missing(value):
        return MISSING
    text = f"{100 * float(value):+.{digits}f} pp"
    if not is_missing(low) and not is_missing(high):
        text += f" [{100 * float(low):.{digits}f}, {100 * float(high):.{digits}f}]"
    return text


def speed(value: Any, unit: str = "pairs/s") -> str:
    """A rate as a whole number with its unit ("<1" below one).

    >>> speed(2516.1867)
    '2,516 pairs/s'
    >>> speed(0.4)
    '<1 pairs/s'
    """
    if is_missing(value):
        return MISSING
    value = float(value)
    if 0 < value < 1:
        return f"<1 {unit}"
    return f"{value:,.0f} {unit}"


def seconds(value: Any) -> str:
    """A duration in whole seconds, with minutes past two minutes.

    >>> seconds(68.6), seconds(475.2)
    ('69 s', '475 s (7 min 55 s)')
    """
    if is_missing(value):
        return MISSING
    value = float(value)
    text = f"{value:,.0f} s"
    if value >= 120:
        minutes, rest = divmod(int(round(value)), 60)
        text += f" ({minutes} min {rest} s)"
    return text


def p_value(value: Any) -> str:
    """A p-value with two significant digits, "<0.001" below that.

    >>> p_value(0.01234), p_value(0.00002)
    ('0.012', '<0.001')
    """
    if is_missing(value):
        return MISSING
    value = float(value)
    return "<0.001" if value < 0.001 else f"{value:.2g}"


def number(value: Any) -> str:
    """Any other value: whole numbers with separators, floats with three significant digits, yes/no.

    >>> number(3136), number(67.726), number(0.41636), number(True), number([1, 2])
    ('3,136', '67.7', '0.416', 'yes', '1, 2')
    """
    if is_missing(value):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) < 1:
            return f"{value:.3g}"
        magnitude = math.floor(math.log10(abs(value)))
        return f"{value:,.{max(0, 2 - magnitude)}f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(number(v) for v in value)
    try:  # numpy scalars
        import numpy as np

        if isinstance(value, np.generic):
            return number(value.item())
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    return str(value)


def column_kind(name: str) -> str:
    """How a column is formatted, from its name: percent, points, speed, seconds, p_value, auc or number.

    >>> [column_kind(n) for n in ("test_accuracy", "test_accuracy_gain", "engine pairs/s", "train_seconds", "mcnemar_p")]
    ['percent', 'points', 'speed', 'seconds', 'p_value']
    """
    lowered = name.lower()
    if "gain" in lowered or "difference" in lowered:
        return "auc" if "auc" in lowered else "points"
    if "auc" in lowered:
        return "auc"
    if "pairs/s" in lowered or "per_second" in lowered or "per second" in lowered:
        return "speed"
    if "seconds" in lowered or lowered.endswith("_s"):
        return "seconds"
    if re.search(r"(^|_)p($|_)", lowered) or lowered.endswith("_p_holm"):
        return "p_value"
    if re.search(r"accuracy|share|precision|map@r|recall|balanced|(^|[_ ])acc($|[_ .@])|rate$|fraction", lowered):
        return "percent"
    return "number"


def _interval_columns(name: str, columns: Sequence[str]) -> tuple[str, str] | str | None:
    """The columns holding ``name``'s interval: two bound columns, one ``[low, high]`` column, or none."""
    for low, high in _INTERVAL_SUFFIXES:
        if f"{name}{low}" in columns and f"{name}{high}" in columns:
            return f"{name}{low}", f"{name}{high}"
    if f"{name}_ci95" in columns:
        return f"{name}_ci95"
    return None


@dataclass
class ReaderTable:
    """A table as a reader sees it: formatted text cells, short headers, a legend and notes.

    Displayed in a notebook (and so in the book) as HTML inside a box that scrolls on its own; as plain
    text in a log.
    """

    headers: list[str]
    rows: list[list[str]]
    legend: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    caption: str = ""

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(f"<th>{esc(h)}</th>" for h in self.headers)
        body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in self.rows)
        caption = f"<caption>{esc(self.caption)}</caption>" if self.caption else ""
        parts = [f'<div class="drugsim-table"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
                 "</table></div>"]
        if self.legend or self.notes:
            items = [f"<b>{esc(short)}</b>: {esc(text)}" for short, text in self.legend] + [esc(n) for n in self.notes]
            parts.append('<p class="drugsim-legend">' + "; ".join(items) + ".</p>")
        return "".join(parts)

    def __repr__(self) -> str:
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) if self.rows else len(h)
                  for i, h in enumerate(self.headers)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(self.headers, widths))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in self.rows]
        lines += [f"{short}: {text}" for short, text in self.legend] + list(self.notes)
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """A Markdown (pipe) table with its legend, for generated pages."""
        def cell(text: str) -> str:
            return text.replace("|", "\\|")

        lines = ["| " + " | ".join(cell(h) for h in self.headers) + " |",
                 "|" + "|".join("---" for _ in self.headers) + "|"]
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in self.rows]
        extra = [f"**{short}**: {text}" for short, text in self.legend] + list(self.notes)
        if extra:
            lines += ["", "; ".join(extra) + "."]
        return "\n".join(lines)


def _records(rows: Any) -> tuple[list[str], list[dict[str, Any]]]:
    if type(rows).__name__ == "Styler" and hasattr(rows, "data"):
        rows = rows.data  # a pandas Styler: its data, formatted here like every other table
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        import pandas as pd

        frame = rows.copy()
        if isinstance(frame.columns, pd.MultiIndex):  # a pivot: "positive_mean none" reads as one header
            frame.columns = [" ".join(str(level) for level in column if str(level)) for column in frame.columns]
        # A named index, or one of labels (describe()'s count/mean/...), is data; a plain 0, 1, 2 is not.
        if any(n is not None for n in frame.index.names) or not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index()
            frame.columns = ["" if str(c) == "index" else str(c) for c in frame.columns]
        return [str(c) for c in frame.columns], frame.to_dict("records")
    records = [dict(r) for r in rows]
    columns: list[str] = []
    for record in records:
        columns += [str(k) for k in record if str(k) not in columns]
    return columns, records


@dataclass(frozen=True)
class Note:
    """A sentence shown where a table would be (a study skipped, nothing to tabulate)."""

    text: str

    def _repr_html_(self) -> str:
        return f'<p class="drugsim-note">{html.escape(self.text)}</p>'

    def __repr__(self) -> str:
        return self.text


def note(text: str) -> Note:
    """``text`` displayed as a sentence (not as a quoted Python string)."""
    return Note(str(text))


def reader_table(
    rows: Any,
    *,
    columns: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
    legend: Mapping[str, str] | None = None,
    kinds: Mapping[str, str] | None = None,
    interval_columns: Mapping[str, tuple[str, str]] | None = None,
    missing_note: str = MISSING_NOTE,
    notes: Iterable[str] = (),
    caption: str = "",
) -> ReaderTable:
    """Rows (a DataFrame or dicts) as a :class:`ReaderTable`.

    Args:
        rows: a DataFrame (a named index becomes columns; a plain index is dropped) or a list of dicts.
        columns: the columns to show, in order (default: all but those holding another column's interval).
        headers: short headers for columns beyond :data:`SHORT_NAMES` (or to replace one).
        legend: what a header means, beyond :data:`SHORT_NAMES`.
        kinds: a column's format when its name does not say it (see :func:`column_kind`).
        interval_columns: ``{column: (low column, high column)}`` where the names do not pair them
            (``accuracy_difference`` with ``ci_low``/``ci_high``); those columns are then not shown.
        missing_note: the footnote of "–" (shown when a cell is missing).
        notes: more footnotes.
        caption: a caption above the table.
    """
    names, records = _records(rows)
    intervals: dict[str, Any] = {name: _interval_columns(name, names) for name in names}
    intervals.update(dict(interval_columns or {}))
    inside = {c for spec in intervals.values() if spec for c in ((spec,) if isinstance(spec, str) else spec)}
    shown = list(columns) if columns is not None else [n for n in names if n not in inside]
    headers, legend, kinds = dict(headers or {}), dict(legend or {}), dict(kinds or {})
    formatters = {"percent": percent, "points": points, "speed": speed, "seconds": seconds, "p_value": p_value}
    out_rows: list[list[str]] = []
    missing = False
    for record in records:
        row = []
        for name in shown:
            value = record.get(name)
            kind = kinds.get(name) or column_kind(name)
            spec = intervals.get(name)
            if kind in ("percent", "points") and spec:
                low, high = ((record.get(spec) or (None, None)) if isinstance(spec, str)
                             else (record.get(spec[0]), record.get(spec[1])))
                text = formatters[kind](value, low, high)
            elif kind == "auc":
                text = MISSING if is_missing(value) else f"{float(value):+.3f}" if "gain" in name else f"{float(value):.3f}"
            elif kind in formatters and not isinstance(value, str):
                text = formatters[kind](value)
            else:
                text = number(value)
            missing |= text == MISSING
            row.append(text)
        out_rows.append(row)
    shown_headers, legend_lines = [], []
    for name in shown:
        short, meaning = SHORT_NAMES.get(name, (name.replace("_", " "), ""))
        short = headers.get(name, short)
        meaning = legend.get(name, meaning)
        shown_headers.append(short)
        if meaning:
            legend_lines.append((short, meaning))
    all_notes = ([f"{MISSING}: {missing_note}"] if missing else []) + list(notes)
    return ReaderTable(headers=shown_headers, rows=out_rows, legend=legend_lines, notes=all_notes, caption=caption)
