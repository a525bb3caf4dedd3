"""Helpers for the compendium tests: a throw-away project with tiny notebooks and its own profiles.yml."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Dict, List, Optional

import nbformat
import yaml

REPO = Path(__file__).resolve().parents[2]

STANDARD_PARAMETERS = '''profile = "tiny"  # run profile name
dataset = "synthetic"  # synthetic | grocery | a path
data_dir = ""  # dataset root, prepared by the runner
work_dir = ""  # shared artefacts
results_path = ""  # where save_results writes this notebook's JSON ("" = don't)
seed = 0  # every random choice derives from this
'''


def write_notebook(path: Path, cells: List[str], *, extra_parameters: str = "", title: str = "A chapter") -> Path:
    """A notebook: a title, the parameters cell (standard keys + ``extra_parameters``), then ``cells``."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(STANDARD_PARAMETERS + extra_parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}"), params]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "drugsim", "display_name": "drugsim (Python 3)", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


SAVE = "from drugsim.report import save_results\nsave_results(results_path, {'value': value})"


def make_project(root: Path, *, notebooks: Optional[Dict[str, dict]] = None, profiles: Optional[dict] = None,
                 sources: Optional[Dict[str, List[str]]] = None, book: bool = False) -> Path:
    """A project at ``root`` with a folder dataset ``photos/`` and the given notebooks and profiles."""
    notebooks = notebooks if notebooks is not None else {
        "01_first": {"title": "First", "datasets": ["folder"], "outputs": ["made"]},
        "02_second": {"title": "Second", "needs": ["01_first"], "datasets": ["folder"]},
    }
    profiles = profiles if profiles is not None else {
        "tiny": {"description": "test", "global": {"seed": 0, "value": 1},
                 "notebooks": {"02_second": {"factor": 2}}},
    }
    (root / "photos" / "a").mkdir(parents=True, exist_ok=True)
    (root / "photos" / "a" / "one.txt").write_text("pixels")
    (root / "profiles.yml").write_text(yaml.safe_dump({"notebooks": notebooks, "profiles": profiles},
                                                      sort_keys=False))
    default_sources = {
        "01_first": ["from pathlib import Path\nPath(work_dir, 'made').mkdir(exist_ok=True)\n"
                     "Path(work_dir, 'made', 'x.txt').write_text(str(value))", SAVE],
        "02_second": ["value = value * factor", SAVE],
    }
    extra = {"01_first": "value = 0  # a value\n", "02_second": "value = 0  # a value\nfactor = 1  # a factor\n"}
    for name, cells in {**default_sources, **(sources or {})}.items():
        if name in notebooks:
            write_notebook(root / "notebooks" / f"{name}.ipynb", cells, extra_parameters=extra.get(name, "value = 0  # v\n"))
    if book:
        for name in ("_config.yml", "_toc.yml", "references.bib"):
            shutil.copy(REPO / name, root / name)
        shutil.copytree(REPO / "book", root / "book", ignore=shutil.ignore_patterns("generated"))
    return root
