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
from pathlib import Path
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
    """Where the evaluation results fitted their thresholds and what their intervals resample."""
    evaluations = [p for p in results.values() if EVALUATE_KEYS <= set(p)]
    fitted = sorted({str(p.get("threshold_fitted_on")) for p in evaluations})
    units = sorted({str(p.get("ci_unit") or (p.get("bootstrap") or {}).get("unit") or "unknown") for p in evaluations})
    return {"threshold_fitted_on": fitted, "ci_unit": units} if evaluations else {}


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


def record_run(name: str, results_dir: Path, *, dest_root: Path, command: Sequence[str] | str,
               hardware: Mapping[str, Any], commit: Mapping[str, Any], command_seconds: float | None = None,
               force: bool = False) -> Path:
    """Copy the results JSONs of ``results_dir`` into ``dest_root/name`` and write its ``run.json``.

    Raises:
        ConfigError: bad name, no results folder or no JSON in it, or the record exists (without ``force``).
    """
    check_name(name)
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise ConfigError(f"--results {results_dir}: no such folder (expected the JSON results of a run, e.g. "
                          "runs/paper-synthetic/results or a folder of `drugsim evaluate --json` files)")
    results = read_json_files(results_dir)
    if not results:
        raise ConfigError(f"--results {results_dir}: no JSON results in it (nothing to record)")
    dest = Path(dest_root) / name
    if dest.exists() and not force:
        raise ConfigError(f"{dest} exists already; choose another name or pass --force to replace it")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for stem in results:
        shutil.copyfile(results_dir / f"{stem}.json", dest / f"{stem}.json")
    timings = result_timings(results)
    if command_seconds is not None:
        timings["command_seconds"] = float(command_seconds)
    record = manifest(name, commit=commit, hardware=hardware, command=command, timings=timings,
                      protocol=protocol_notes(results))
    stamp = results_dir.parent / "dataset.json"  # a reproduce run's results/ sits beside the runner's stamp
    if stamp.is_file():
        try:
            record["dataset_info"] = json.loads(stamp.read_text(encoding="utf-8"))
            record["dataset"] = str(record["dataset_info"].get("kind", "folder"))
        except ValueError:
            pass  # an unreadable stamp leaves the data kind unknown, not the record
    (dest / MANIFEST).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return dest
