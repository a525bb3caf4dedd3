"""Notebook hygiene: committed without outputs, a `parameters` cell with the standard keys, all listed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from drugsim.runner import STANDARD_PARAMS, declared_parameters, load_profiles

from .helpers import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
PROFILES = load_profiles(REPO / "profiles.yml")


def _id(path: Path) -> str:
    return path.stem


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [i + 1 for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} carry outputs or execution counts; clear them before "
                       "committing (jupyter nbconvert --clear-output --inplace)")
    assert "papermill" not in nb.get("metadata", {}), f"{path.name}: is an executed copy (papermill metadata)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_valid_nbformat_with_unique_cell_ids(path):
    import nbformat

    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    ids = [cell.get("id") for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]]  # as committed
    assert None not in ids and len(set(ids)) == len(ids), f"{path.name}: every cell needs its own id (nbformat 4.5)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_parameters_cell_declares_the_standard_keys(path):
    declared = declared_parameters(path)
    missing = [key for key in STANDARD_PARAMS if key not in declared]
    assert not missing, f"{path.name}: the parameters cell does not declare {missing}"
    nb = json.loads(path.read_text(encoding="utf-8"))
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert "parameters" in first_code["metadata"].get("tags", []), (
        f"{path.name}: the first code cell must be the one tagged 'parameters'")
    source = "".join(first_code["source"])
    uncommented = [line for line in source.splitlines() if line.strip() and "#" not in line]
    assert not uncommented, f"{path.name}: every parameter needs a comment: {uncommented}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_every_notebook_is_listed_in_profiles(path):
    assert path.stem in PROFILES.notebooks, (
        f"{path.name} is not listed in profiles.yml 'notebooks': the runner would never run it")


@pytest.mark.parametrize("name", PROFILES.notebook_names())
def test_every_listed_notebook_exists(name):
    """Passes once every chapter is written; until then it names the pending ones."""
    assert (REPO / "notebooks" / f"{name}.ipynb").exists(), (
        f"profiles.yml lists {name} but notebooks/{name}.ipynb does not exist yet (pending)")


@pytest.mark.parametrize("name", sorted(PROFILES.profiles))
def test_every_profile_has_a_section_per_notebook(name):
    assert list(PROFILES.profiles[name]["notebooks"]) == PROFILES.notebook_names(), (
        f"profiles.{name}.notebooks must have one section per notebook, in the 'notebooks' order")


#: Text that cannot hold a typed result: code (fences, MyST directives, spans), math, glue and other roles
#: ({cite}, {numref}), link targets, URLs, HTML comments and MyST labels.
_NOT_PROSE = [re.compile(p, re.DOTALL | re.MULTILINE) for p in (
    r"```.*?```", r"<!--.*?-->", r"\{[a-z:]+\}`[^`]*`", r"`[^`]*`", r"\$[^$]*\$", r"\]\([^)]*\)",
    r"https?://\S+", r"^\(\w[\w-]*\)=$",
)]
#: Numbers that name a place in the paper or the project: sections, tables, figures, equations, algorithms,
#: chapters, issues and steps, with ranges and lists ("Tables 7-8", "sections 2.1-2.2", "Tables 3 to 10").
_REFERENCE = re.compile(
    r"(?:[Ss]ections?|[Tt]ables?|Figs?\.|[Ff]igures?|[Ee]qs?\.|[Ee]quations?|Algorithms?|[Cc]hapters?|[Ii]ssues?"
    r"|[Ss]teps?)\s+\d+(?:\.\d+)*(?:\s*(?:-|\u2013|to|and|,|or)\s*\d+(?:\.\d+)*)*")
#: Settings and definitions, not results: sizes (8 x 8, 224 px, 64 bits, 128-d, 180 degrees, 256 bins,
#: 5 epochs), named parameters (pyramid scale 1.2, ratio 1.0, length 128, p = 0.5, 0 = all), value ranges
#: ([0, 1], 0-255 grey), 1:N and precision@1, tolerances (1e-4), a confidence level (95 % interval), the
#: feature flag's two values, ordered-list markers and a publication year ("in 2024").
_SETTING = re.compile(
    r"\d+\s*x\s*\d+(?:\s*x\s*\d+)?"
    r"|\d+(?:\.\d+)?(?:-|\s)?(?:px|pixels?|bits?|d|degrees?|bins|epochs?)\b"
    r"|\b(?:scale|ratio|length|p)\s*=?\s*\d+(?:\.\d+)?|\b0\s*=\s*all\b"
    r"|\[\s*\d+\s*,\s*\d+\s*\]|\b\d+-\d+\b(?=\s*(?:grey|range|\)))"
    r"|\b1:N\b|@\d+|\b\d+e-\d+\b"
    r"|\d+\s?%(?=\s*(?:confidence|interval|CI|bootstrap))"
    r"|\((?:0|1)\)|^\s*\d+\.\s|\bin (?:19|20)\d\d\b", re.MULTILINE)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")


def typed_numbers(text: str) -> list:
    """Digit-bearing claims in markdown that are neither glued nor a reference or setting."""
    for pattern in _NOT_PROSE:
        text = pattern.sub(" ", text)
    text = _SETTING.sub(" ", _REFERENCE.sub(" ", text))
    return [m.group(0) for m in _NUMBER.finditer(text)]


def test_the_guard_catches_typed_claims_and_spares_references_and_settings():
    # Issue 12: "0.6 to 3 points" slipped through a guard that only knew three decimals and percentages.
    assert typed_numbers("the paper's gaps between its Siamese rows (0.6 to 3 points)") == ["0.6", "3"]
    assert typed_numbers("ORB reaches 93 % and 45,826 photos of 153 drugs") == ["93", "45,826", "153"]
    assert typed_numbers("accuracy {glue:text}`nb04_orb_accuracy` on Table 8 (sections 2.1-2.2, eq. 5)") == []
    assert typed_numbers("aHash (8 x 8 grey) turns an image into 64 bits; p = 0.5; `224`; $[0, 1]$") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_markdown_types_no_result_numbers(path):
    """Every number the prose quotes comes from the run or drugsim.paper through glue, never typed."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    typed = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        typed += [f"cell {i + 1}: {number!r}" for number in typed_numbers("".join(cell["source"]))]
    assert not typed, (f"{path.name}: numbers typed into markdown (glue them from the results or from "
                       f"drugsim.paper instead): {', '.join(typed)}")


@pytest.mark.parametrize("path", sorted((REPO / "book").glob("*.md")), ids=_id)
def test_book_pages_type_no_result_numbers(path):
    typed = typed_numbers(path.read_text(encoding="utf-8"))
    assert not typed, f"book/{path.name}: numbers typed into the page (glue them from a run): {typed}"
