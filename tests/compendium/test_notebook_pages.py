"""Every notebook cell against the book's rules (docs/book-conventions.md): code on purpose, tables through
the formatter, no raw value as a cell's result, every figure captioned, numbered and referred to."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from .helpers import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
VISIBILITY = ("remove-cell", "remove-input", "hide-input", "teach")
#: Calls whose value is not shown, or shown through the formatter.
QUIET = ("glue", "close", "display")
SHOWN = ("reader_table", "note")


def _cells(path: Path) -> list:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        return node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
    return ""


def _silenced(source: str, statement: ast.stmt) -> bool:
    line = source.splitlines()[statement.end_lineno - 1]
    return line[statement.end_col_offset:].lstrip().startswith(";")


def shown_result(source: str) -> str:
    """What a cell's last expression puts on the page: 'table', 'nothing', or 'raw' (a bare Python value)."""
    tree = ast.parse(source)
    if not tree.body or not isinstance(tree.body[-1], ast.Expr) or _silenced(source, tree.body[-1]):
        return "nothing"
    last = tree.body[-1].value
    branches = [last.body, last.orelse] if isinstance(last, ast.IfExp) else [last]
    if all(_call_name(b) in SHOWN for b in branches):
        return "table"
    if all(_call_name(b) in QUIET for b in branches):
        return "nothing"
    return "raw"


def _figure(cell: dict) -> dict:
    return cell.get("metadata", {}).get("mystnb", {}).get("figure") or {}


def _id(path: Path) -> str:
    return path.stem


def test_the_rule_reads_results_as_a_reader_would():
    assert shown_result("x = 1\nreader_table(x)") == "table"
    assert shown_result("reader_table(a) if a else note('skipped')") == "table"
    assert shown_result("glue('k', fig)") == "nothing"
    assert shown_result("chosen;  # a dict") == "nothing"
    assert shown_result("{'train': 576}") == "raw"
    assert shown_result("table.round(4)") == "raw"
    assert shown_result("save_results(path, {})") == "raw"  # returns the dict it wrote


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_every_code_cell_has_one_visibility_tag_that_fits_what_it_shows(path):
    problems = []
    for number, cell in enumerate(_cells(path), start=1):
        if cell["cell_type"] != "code":
            continue
        tags = [t for t in cell["metadata"].get("tags", []) if t in VISIBILITY]
        where = f"cell {number} ({cell['id']})"
        if len(tags) != 1:
            problems.append(f"{where}: needs exactly one of {VISIBILITY}, has {tags}")
            continue
        source = _source(cell)
        tree = ast.parse(source)
        shows = shown_result(source) == "table" or bool(_figure(cell)) or any(
            _call_name(n) == "display" for n in ast.walk(tree))
        if tags[0] == "remove-cell" and shows:
            problems.append(f"{where}: shows a result but is removed from the page")
        if tree.body and all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in tree.body) and tags[0] != "remove-cell":
            problems.append(f"{where}: only imports; tag it remove-cell")
        if tags[0] == "hide-input" and not shows:
            problems.append(f"{where}: shows nothing; tag it remove-cell (or teach, if its code is the lesson)")
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_no_cell_shows_a_raw_value_or_an_unformatted_table(path):
    problems = []
    for number, cell in enumerate(_cells(path), start=1):
        if cell["cell_type"] != "code":
            continue
        source = _source(cell)
        if shown_result(source) == "raw":
            problems.append(f"cell {number} ({cell['id']}): its last line shows a raw value; pass a table to "
                            "reader_table(...), a sentence to note(...), or end the line with ';'")
        for node in ast.walk(ast.parse(source)):
            if _call_name(node) == "display" and node.args and _call_name(node.args[0]) not in SHOWN:
                problems.append(f"cell {number} ({cell['id']}): display() of something not through reader_table")
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_every_figure_is_captioned_named_and_referred_to(path):
    cells = _cells(path)
    markdown = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    referred = set(re.findall(r"\{numref\}`(?:[^`<]*<)?([^`>]+)>?`", markdown))
    names, problems = [], []
    for number, cell in enumerate(cells, start=1):
        if cell["cell_type"] == "markdown":
            names += re.findall(r"^:name:\s*(\S+)\s*$", _source(cell), flags=re.MULTILINE)
            continue
        figure = _figure(cell)
        if figure:
            if not figure.get("caption") or not str(figure.get("name", "")).startswith("fig-"):
                problems.append(f"cell {number} ({cell['id']}): a figure needs a caption and a name fig-...")
            names.append(str(figure.get("name")))
        source = _source(cell)
        makes = re.search(r"plt\.subplots\(|\bplot_[a-z_]+\(|plots\.plot_", source)
        if makes and not figure and "plt.close(" not in source:
            problems.append(f"cell {number} ({cell['id']}): draws a figure without a caption (cell metadata "
                            "mystnb.figure) and does not close it")
    problems += [f"figure {name} is not referred to with {{numref}}" for name in names if name not in referred]
    assert len(names) == len(set(names)), f"{path.name}: a figure name twice: {names}"
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_printed_lines_go_to_the_log_not_the_page(path):
    """The setup cell after the parameters sends printed lines (training epochs) to the run's log only."""
    cells = _cells(path)
    index = next(i for i, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", []))
    assert "page_setup(for_book=bool(work_dir))" in _source(cells[index + 1]), path.name
