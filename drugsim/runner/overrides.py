"""Parameter overrides: ``drugsim reproduce -p NAME VALUE``, papermill's convention, checked before anything runs.

A value is read as papermill's ``-p`` reads it (:func:`parse_value`): ``True``, ``False``, ``None``, an
integer, a float, else the text itself. Each name must be declared in the ``parameters`` cell of a notebook
the run will execute, with a value of the same kind as the cell's default (:func:`check_overrides`); the
runner's own parameters (folders, profile, dataset) cannot be overridden. A run with overrides is a
*variant* with its own run folder and book, named by :func:`variant_name`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from drugsim.errors import ConfigError
from drugsim.runner.profiles import STANDARD_PARAMS

#: The runner's parameters that ``-p`` may not set: they locate the run (``seed`` may be set).
RESERVED = tuple(p for p in STANDARD_PARAMS if p != "seed")


def parse_value(text: str) -> Any:
    """A ``-p`` value as papermill's command line reads it.

    >>> [parse_value(v) for v in ("3", "0.5", "True", "None", "crosscheck")]
    [3, 0.5, True, None, 'crosscheck']
    """
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def collect(pairs: Sequence[Sequence[str]] | None) -> dict[str, Any]:
    """``[[name, text], ...]`` from argparse into ``{name: value}``; a name given twice keeps the last value."""
    return {name: parse_value(text) for name, text in (pairs or [])}


def variant_name(overrides: Mapping[str, Any]) -> str:
    """The short hash naming a run with these overrides (``""`` for none): the same overrides, the same folder.

    >>> variant_name({})
    ''
    >>> len(variant_name({"match_filter": "crosscheck"}))
    8
    """
    if not overrides:
        return ""
    return hashlib.sha256(json.dumps(dict(overrides), sort_keys=True).encode()).hexdigest()[:8]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "True or False"
    if isinstance(value, (int, float)):
        return "a number" if isinstance(value, float) else "an integer"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def _same_kind(default: Any, value: Any) -> bool:
    if default is None or value is None:
        return True  # a None default takes anything; None switches a setting off
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return type(default) is type(value)


def check_overrides(overrides: Mapping[str, Any], declared: Mapping[str, Mapping[str, Any]], *,
                    require_declared: bool = True) -> None:
    """Refuse an override no notebook of the run declares, or one whose value has another kind than its default.

    Args:
        overrides: ``{name: value}`` from ``-p``.
        declared: ``{notebook name: its parameters cell's {name: default}}`` for the notebooks the run executes.
        require_declared: refuse a name no notebook declares (off for a second dataset's part of the run,
            whose chapters may not have the parameter).

    Raises:
        ConfigError: one line naming the parameter, what came and what was expected.
    """
    for name, value in overrides.items():
        if name in RESERVED:
            raise ConfigError(f"-p {name}: set by the runner for every notebook; choose the run with --profile, "
                              "--dataset or --root instead")
        if name == "seed" and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"-p seed {value!r}: expected a whole number")
        holders = {nb: params[name] for nb, params in declared.items() if name in params}
        if not holders and require_declared:
            own = sorted({p for params in declared.values() for p in params if p not in STANDARD_PARAMS})
            raise ConfigError(f"-p {name}: no notebook of this run ({', '.join(declared) or 'none'}) declares "
                              f"{name!r} in its parameters cell; they declare: {', '.join(own) or 'nothing else'}")
        for notebook, default in holders.items():
            if not _same_kind(default, value):
                raise ConfigError(f"-p {name} {value!r}: notebooks/{notebook}.ipynb's parameters cell sets "
                                  f"{name} = {default!r}; expected {_kind(default)}")
