"""Recorded runs: results kept in the repository with the commit, machine, command and timings that made them.

A recorded run is a folder ``results/recorded/<name>/`` holding

* ``run.json``, the manifest (:func:`manifest`): name, commit, hardware (a
  :func:`drugsim.hardware.hardware_info` dict, or a ``description`` for runs recorded before
  ``drugsim record`` existed), command, timings, and the protocol notes a reader needs (where thresholds
  were fitted, what the intervals resample);
* the run's results JSONs: ``drugsim evaluate --json`` / ``drugsim train --json`` files, or the chapter
  results of ``drugsim reproduce`` (``<notebook>.json``);
* ``README.md``: the provenance in words.

``drugsim record NAME --results DIR [-- COMMAND ...]`` writes one (:func:`record_run`). The summary
chapter reads them back (:mod:`drugsim.studies.recorded_runs`) and sets them as columns beside *this run*
and *paper*.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path, PureWindowsPath
from typing import Any

from drugsim.errors import ConfigError

#: Where recorded runs live in the repository.
RECORDED_DIR = Path(__file__).resolve().parents[1] / "results" / "recorded"
MANIFEST = "run.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: Results of ``drugsim evaluate --json`` are recognised by these keys.
EVALUATE_KEYS = {"method", "accuracy", "threshold", "method_config"}


def check_name(name: str) -> str:
    """``name`` when it can be a folder name of a recorded run.

    Raises:
        ConfigError: empty, or characters other than letters, digits, ``.``, ``_`` and ``-``.
    """
    if not _NAME.match(name or ""):
        raise ConfigError(f"record name {name!r}: use letters, digits, '.', '_' and '-' "
                          "(e.g. gpu-paper-2026-12-04), starting with a letter or digit")
    return name


def git_commit(root: Path) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the git checkout at ``root``."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": sha, "dirty": bool(status.strip())}


def manifest(name: str, *, commit: Mapping[str, Any], hardware: Mapping[str, Any], command: Sequence[str] | str,
             timings: Mapping[str, float], protocol: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``run.json`` of a recorded run (plain values only)."""
    return {"name": check_name(name), "commit": commit.get("commit"), "dirty": commit.get("dirty"),
            "hardware": dict(hardware), "command": command if isinstance(command, str) else list(command),
            "timings": {k: float(v) for k, v in timings.items()}, "protocol": dict(protocol or {})}


def result_timings(results: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Seconds each result reports: ``train_seconds`` of training, ``timing.total_seconds`` of evaluation."""
    out: dict[str, float] = {}
    for stem, payload in results.items():
        if isinstance(payload.get("train_seconds"), (int, float)):
            out[f"{stem}.train_seconds"] = float(payload["train_seconds"])
        timing = payload.get("timing")
        if isinstance(timing, Mapping) and isinstance(timing.get("total_seconds"), (int, float)):
            out[f"{stem}.evaluate_seconds"] = float(timing["total_seconds"])
    return out


def protocol_notes(results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Where the evaluation results fitted their thresholds, what their intervals resample, and which pair
    protocol (its name) and test pairs (``test_pairs_sha256``) the results scored, when they say so."""
    evaluations = [p for p in results.values() if EVALUATE_KEYS <= set(p)]
    fitted = sorted({str(p.get("threshold_fitted_on")) for p in evaluations})
    units = sorted({str(p.get("ci_unit") or (p.get("bootstrap") or {}).get("unit") or "unknown") for p in evaluations})
    notes: dict[str, Any] = {"threshold_fitted_on": fitted, "ci_unit": units} if evaluations else {}
    names, hashes = set(), set()
    for payload in results.values():
        # evaluate --json writes the pair protocol as pairs_protocol; a chapter's results as protocol.
        for key in ("pairs_protocol", "protocol"):
            about = payload.get(key)
            if isinstance(about, Mapping) and isinstance(about.get("name"), str):
                names.add(about["name"])
        if isinstance(payload.get("test_pairs_sha256"), str):
            hashes.add(payload["test_pairs_sha256"])
    if names:
        notes["pairs_protocol"] = sorted(names)
    if hashes:
        notes["test_pairs_sha256"] = sorted(hashes)
    return notes


def read_json_files(folder: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(folder.glob("*.json")):
        if path.name == MANIFEST:
            continue
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not readable JSON ({exc.__class__.__name__}); a recorded run holds the "
                              "JSON results of drugsim commands") from exc
        if isinstance(payload, dict):
            out[path.stem] = payload
    return out


def _relative_or_name(text: str, bases: Sequence[tuple[Path, str]]) -> str:
    if text[1:2] == ":":  # a Windows drive path: its name, whatever machine reads it
        return PureWindowsPath(text).name
    path = Path(text)
    for base, label in bases:
        try:
            relative = path.relative_to(base)
        except ValueError:
            continue
        return f"{label}/{relative.as_posix()}" if relative.parts else label
    return path.name


def strip_absolute_paths(value: Any, bases: Sequence[tuple[Path, str]] = ()) -> Any:
    """``value`` (plain JSON data) with every absolute path replaced by a machine-free name.

    A path under one of ``bases`` (``(folder, label)``) becomes ``label/relative``; any other absolute path
    keeps its last component only. Recorded results are read on other machines: the recording machine's
    folders say nothing there and may say too much about it.

    Example:
        >>> strip_absolute_paths({"dataset": "/home/me/data/synthetic-quick", "n": 3})
        {'dataset': 'synthetic-quick', 'n': 3}
    """
    if isinstance(value, str):
        if value.startswith("/") or (len(value) > 2 and value[1] == ":" and value[2] in "/\\"):
            return _relative_or_name(value, bases)
        if value.startswith("file:/"):
            return "file:" + _relative_or_name(value[len("file:"):], bases)
        return value
    if isinstance(value, Mapping):
        return {key: strip_absolute_paths(item, bases) for key, item in value.items()}
    if isinstance(value, list):
        return [strip_absolute_paths(item, bases) for item in value]
    return value


def _dataset_record(stamp: Path) -> dict[str, Any] | None:
    """The runner's ``dataset.json`` beside a reproduce run's results, when it is a readable JSON object."""
    if not stamp.is_file():
        return None
    try:
        info = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # an unreadable stamp leaves the data kind unknown, not the record
    return info if isinstance(info, dict) else None


def record_run(name: str, results_dir: Path, *, dest_root: Path, command: Sequence[str] | str,
               hardware: Mapping[str, Any], commit: Mapping[str, Any], command_seconds: float | None = None,
               force: bool = False) -> Path:
    """Copy the results JSONs of ``results_dir`` into ``dest_root/name`` and write its ``run.json``.

    The record is built under a temporary name beside ``dest_root/name`` and swapped in at the end, so a
    failure leaves an earlier record as it was; ``force`` replaces only a record (a folder with ``run.json``
    or the project's marker) or an empty folder, and never the folder being recorded. Absolute paths in
    the results are replaced by names (:func:`strip_absolute_paths`).

    Raises:
        ConfigError: bad name, no results folder or no JSON in it, the record exists (without ``force``),
            or the record would replace or lie inside the results being recorded.
        OutputError: ``force`` on a folder drugsim did not make.
    """
    from drugsim.io import atomic_path, check_outputs_against_inputs, check_replaceable, write_marker

    check_name(name)
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise ConfigError(f"--results {results_dir}: no such folder (expected the JSON results of a run, e.g. "
                          "runs/paper-synthetic/results or a folder of `drugsim evaluate --json` files)")
    dest = Path(dest_root) / name
    check_outputs_against_inputs({"the record": dest}, folders={"--results": results_dir})
    results = read_json_files(results_dir)
    if not results:
        raise ConfigError(f"--results {results_dir}: no JSON results in it (nothing to record)")
    if dest.exists() and not force:
        raise ConfigError(f"{dest} exists already; choose another name or pass --force to replace it")
    check_replaceable(dest, what="the record", also_made_if=(MANIFEST,))
    bases = [(results_dir.resolve(), "results"), (Path.cwd().resolve(), ".")]
    timings = result_timings(results)
    if command_seconds is not None:
        timings["command_seconds"] = float(command_seconds)
    record = manifest(name, commit=commit, hardware=hardware, command=command, timings=timings,
                      protocol=protocol_notes(results))
    record["command"] = strip_absolute_paths(record["command"], bases)
    info = _dataset_record(results_dir.parent / "dataset.json")  # a reproduce run's results/ sits beside it
    if info is not None:
        record["dataset_info"] = strip_absolute_paths(info, bases)
        record["dataset"] = str(info.get("kind", "folder"))
    with atomic_path(dest) as tmp:
        tmp.mkdir(parents=True)
        for stem, payload in results.items():
            cleaned = strip_absolute_paths(payload, bases)
            if cleaned == payload:
                shutil.copyfile(results_dir / f"{stem}.json", tmp / f"{stem}.json")
            else:
                (tmp / f"{stem}.json").write_text(json.dumps(cleaned, indent=2) + "\n", encoding="utf-8")
        (tmp / MANIFEST).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        write_marker(tmp, "recorded-run")
        readme = dest / "README.md"  # the provenance written by hand into the record being replaced
        if readme.is_file():
            shutil.copyfile(readme, tmp / "README.md")
    return dest
