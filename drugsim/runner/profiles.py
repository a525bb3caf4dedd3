"""``profiles.yml``: the notebooks of the study, their order and inputs, and each profile's parameters.

:func:`load_profiles` reads and validates the file (every error names the file, the key at fault and what
was expected); :func:`declared_parameters` reads what a notebook's ``parameters`` cell declares, which
:mod:`drugsim.runner.plan` checks a profile's parameters against.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from drugsim.errors import ConfigError, DrugsimError
from drugsim.io import read_text

#: Parameters the runner gives every notebook (each notebook's `parameters` cell declares them).
STANDARD_PARAMS = ("profile", "dataset", "data_dir", "work_dir", "results_path", "seed")
#: Kinds of data a notebook can run on.
DATASET_KINDS = ("synthetic", "grocery", "folder")

_NOTEBOOK_KEYS = {"title", "needs", "uses", "after_all", "outputs", "datasets"}
_PROFILE_KEYS = {"description", "global", "notebooks", "grocery"}
_OVERRIDE_KEYS = {"global", "notebooks"}
_NAME_RE = re.compile(r"^[0-9]{2}_[a-z0-9_]+$")


@dataclass(frozen=True)
class NotebookSpec:
    """One notebook as ``profiles.yml`` declares it."""

    name: str
    title: str
    needs: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    after_all: bool = False
    outputs: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ("synthetic",)


@dataclass
class Profiles:
    """The parsed, validated ``profiles.yml``."""

    path: Path
    notebooks: dict[str, NotebookSpec]
    profiles: dict[str, dict[str, Any]]

    def notebook_names(self) -> list[str]:
        return list(self.notebooks)

    def profile(self, name: str) -> dict[str, Any]:
        if name not in self.profiles:
            raise ConfigError(
                f"unknown profile {name!r}; {self.path.name} defines: {', '.join(self.profiles)}"
            )
        return self.profiles[name]

    def check_notebook_name(self, name: str) -> str:
        if name not in self.notebooks:
            raise ConfigError(
                f"unknown notebook {name!r}; {self.path.name} lists: {', '.join(self.notebooks)}"
            )
        return name


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, list):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _check_params(where: str, params: Any, *, allow_seed: bool) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: expected a mapping of parameter names to values, got {params!r}")
    for key, value in params.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ConfigError(f"{where}: parameter name {key!r} is not a Python identifier")
        reserved = [p for p in STANDARD_PARAMS if p != "seed" or not allow_seed]
        if key in reserved:
            raise ConfigError(f"{where}: {key!r} is set by the runner and cannot be given in a profile")
        if not _is_plain(value):
            raise ConfigError(f"{where}.{key}: expected a plain value (number, string, list, mapping), got {value!r}")
        if key == "seed" and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED):
            raise ConfigError(f"{where}.seed: expected a whole number from 0 to {MAX_SEED}, got {value!r}")
        if not _all_finite(value):
            raise ConfigError(f"{where}.{key}: {value!r} holds a value that is not a finite number (.nan or .inf)")
    return dict(params)


#: Largest seed numpy, torch and ``random`` all take (as the CLI's ``--seed``).
MAX_SEED = 2**32 - 1


def _all_finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_all_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    return True


def _check_override(where: str, block: Any, notebooks: Mapping[str, NotebookSpec]) -> dict[str, Any]:
    if block is None:
        return {"global": {}, "notebooks": {}}
    if not isinstance(block, dict):
        raise ConfigError(f"{where}: expected a mapping with 'global' and 'notebooks', got {block!r}")
    unknown = set(block) - _OVERRIDE_KEYS - ({"description"} if "." not in where else set())
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; expected {sorted(_OVERRIDE_KEYS)}")
    global_params = _check_params(f"{where}.global", block.get("global"), allow_seed=True)
    per_notebook = block.get("notebooks") or {}
    if not isinstance(per_notebook, dict):
        raise ConfigError(f"{where}.notebooks: expected a mapping of notebook names, got {per_notebook!r}")
    checked = {}
    for name, params in per_notebook.items():
        if name not in notebooks:
            raise ConfigError(
                f"{where}.notebooks: unknown notebook {name!r}; the 'notebooks' list has: {', '.join(notebooks)}"
            )
        checked[name] = _check_params(f"{where}.notebooks.{name}", params, allow_seed=True)
    return {"global": global_params, "notebooks": checked}


def load_profiles(path: Path) -> Profiles:
    """Read and validate ``profiles.yml``.

    Raises:
        ConfigError: naming the file, the key at fault and what was expected.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file; the run profiles live in profiles.yml at the project root")
    try:
        raw = yaml.safe_load(read_text(path))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from exc
    except DrugsimError as exc:  # a byte that is not UTF-8: the message names file and line
        raise ConfigError(str(exc)) from None
    if not isinstance(raw, dict) or "notebooks" not in raw or "profiles" not in raw:
        raise ConfigError(f"{path}: expected top-level keys 'notebooks' and 'profiles'")
    unknown = set(raw) - {"notebooks", "profiles"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {sorted(unknown)}; expected 'notebooks' and 'profiles'")
    if not isinstance(raw["notebooks"], dict) or not raw["notebooks"]:
        raise ConfigError(f"{path}: 'notebooks' must map notebook names (like 01_data) to their settings")

    notebooks: dict[str, NotebookSpec] = {}
    for name, entry in raw["notebooks"].items():
        where = f"{path.name}: notebooks.{name}"
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ConfigError(f"{where}: a notebook name must look like 01_data (two digits, underscore, lowercase)")
        entry = entry or {}
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping, got {entry!r}")
        bad = set(entry) - _NOTEBOOK_KEYS
        if bad:
            raise ConfigError(f"{where}: unknown key(s) {sorted(bad)}; expected some of {sorted(_NOTEBOOK_KEYS)}")
        needs = tuple(entry.get("needs") or ())
        for need in needs:
            if need not in notebooks:
                later = " (it comes later in the list: needs must come first)" if need in raw["notebooks"] else ""
                raise ConfigError(f"{where}.needs: {need!r} is not an earlier notebook{later}")
        uses = tuple(entry.get("uses") or ())
        for used in uses:
            if used not in notebooks:
                raise ConfigError(f"{where}.uses: {used!r} is not an earlier notebook")
        datasets = tuple(entry.get("datasets") or ("synthetic",))
        for kind in datasets:
            if kind not in DATASET_KINDS:
                raise ConfigError(f"{where}.datasets: {kind!r} is not one of {', '.join(DATASET_KINDS)}")
        outputs = tuple(entry.get("outputs") or ())
        for output in outputs:
            if not isinstance(output, str) or Path(output).is_absolute() or ".." in Path(output).parts:
                raise ConfigError(f"{where}.outputs: {output!r} must be a path inside work_dir")
        notebooks[name] = NotebookSpec(
            name=name,
            title=str(entry.get("title") or name),
            needs=needs,
            uses=uses,
            after_all=bool(entry.get("after_all", False)),
            outputs=outputs,
            datasets=datasets,
        )

    if not isinstance(raw["profiles"], dict) or not raw["profiles"]:
        raise ConfigError(f"{path}: 'profiles' must map profile names (tiny, quick, paper) to their settings")
    profiles: dict[str, dict[str, Any]] = {}
    for pname, pentry in raw["profiles"].items():
        where = f"{path.name}: profiles.{pname}"
        if not isinstance(pentry, dict):
            raise ConfigError(f"{where}: expected a mapping, got {pentry!r}")
        bad = set(pentry) - _PROFILE_KEYS
        if bad:
            raise ConfigError(f"{where}: unknown key(s) {sorted(bad)}; expected some of {sorted(_PROFILE_KEYS)}")
        base = _check_override(where, {k: pentry.get(k) for k in ("global", "notebooks")}, notebooks)
        grocery = _check_override(f"{where}.grocery", pentry.get("grocery"), notebooks)
        profiles[str(pname)] = {
            "description": str(pentry.get("description", "")),
            "global": base["global"],
            "notebooks": base["notebooks"],
            "grocery": grocery,
        }
    return Profiles(path=path, notebooks=notebooks, profiles=profiles)


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """Names and values assigned in a notebook's ``parameters``-tagged cell.

    Read with Python's own parser (papermill's line-based one trips over quotes inside comments).

    Raises:
        ConfigError: the notebook is unreadable, has no ``parameters`` cell, or that cell is not Python.
    """
    import ast

    try:
        cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{notebook}: not a readable notebook ({exc})") from exc
    for cell in cells:
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            try:
                tree = ast.parse(source)
            except SyntaxError as exc:
                raise ConfigError(f"{notebook}: its parameters cell is not valid Python ({exc})") from exc
            declared: dict[str, Any] = {}
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else (
                    [node.target] if isinstance(node, ast.AnnAssign) else [])
                for target in targets:
                    if isinstance(target, ast.Name):
                        try:
                            declared[target.id] = ast.literal_eval(node.value) if node.value is not None else None
                        except ValueError:
                            declared[target.id] = None
            return declared
    raise ConfigError(f"{notebook}: no code cell tagged 'parameters' (papermill needs one to inject the run's values)")


