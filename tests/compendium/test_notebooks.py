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


#: Numbers that look like results (three or more decimals, or a percentage) typed into prose. Section and
#: equation numbers, sizes and probabilities (2.4, 224, p=0.5) do not match.
TYPED_RESULT = re.compile(r"(?<![\w.`{])\d+\.\d{3,}(?![\w`])"
                          r"|(?<![\w.`{])\d+(?:\.\d+)?\s?%(?!\s*(?:confidence|interval|CI|bootstrap))")
#: a confidence level ("95 % interval") is a setting, not a result


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_markdown_types_no_result_numbers(path):
    """Every number the prose quotes comes from the run or drugsim.paper through glue, never typed."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    typed = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        text = re.sub(r"\{glue:[a-z]+\}`[^`]*`", "", "".join(cell["source"]))
        typed += [f"cell {i + 1}: {m.group(0)!r}" for m in TYPED_RESULT.finditer(text)]
    assert not typed, (f"{path.name}: numbers typed into markdown (glue them from the results or from "
                       f"drugsim.paper instead): {', '.join(typed)}")
