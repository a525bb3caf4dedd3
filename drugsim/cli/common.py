"""What the method commands (compare, evaluate, search) share: a method from ``--method``/``--model``,
the threshold of an earlier result (``--threshold-from``), JSON output and numbers in text."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from drugsim.errors import ConfigError


def build_method(name: str, model: Path | None):
    """The method ``name``, with the checkpoint ``model`` for the trained siamese-* methods."""
    from drugsim.methods import create_method, method_spec

    spec = method_spec(name)
    if model is not None:
        if not spec.target.startswith("drugsim.deep.method"):
            raise ConfigError(f"--model is for the trained siamese-* methods; {name!r} takes no checkpoint")
        if not Path(model).is_file():
            raise ConfigError(
                f"--model {model}: no such checkpoint file (train one with `drugsim train siamese`)"
            )
        return create_method(name, model=str(model))
    return create_method(name)


def dataset_folder(spec: Any, *, data_root: Path | None = None) -> Path | None:
    """The folder a ``--data``/``--gallery`` value names (``grocery`` resolved), or None when it names none
    (the command's own loading then reports why, with the dataset's own message)."""
    if spec is None:
        return None
    from drugsim.data import resolve_data_root
    from drugsim.errors import DrugsimError

    try:
        return resolve_data_root(str(spec), data_root=data_root)
    except DrugsimError:
        return None


def guard_outputs(outputs: dict[str, Any], *, files: dict[str, Any] | None = None,
                  folders: dict[str, Any] | None = None) -> None:
    """Refuse, before any work, an output that is an input or lies inside an input folder (one line, exit 2).

    Every command that writes calls this with its options' paths; see
    :func:`drugsim.io.check_outputs_against_inputs`.
    """
    from drugsim.io import check_outputs_against_inputs

    check_outputs_against_inputs(outputs, files=files, folders=folders)


def dataset_identity(root: Path, records: list | None = None) -> dict[str, Any]:
    """A dataset by kind, folder name and content hash: what a result records instead of an absolute path.

    The hash covers every image's path relative to ``root``, label, official split and bytes
    (:func:`drugsim.io.content_sha256`), so the same photos give the same hash on any machine.
    """
    from drugsim.data import load_dataset
    from drugsim.data.loaders import data_kind, detect_layout
    from drugsim.io import content_sha256

    root = Path(root)
    records = load_dataset(root) if records is None else records
    kind = "grocery" if detect_layout(root) == "grocery" else data_kind(root)

    def relative(path: Path) -> str:
        try:
            return Path(path).relative_to(root).as_posix()
        except ValueError:
            return Path(path).name

    entries = [(relative(r.path), f"{r.label}|{r.official_split or ''}", r.path) for r in records]
    return {"kind": kind, "name": root.resolve().name, "content_sha256": content_sha256(entries),
            "n_images": len(records)}


def _load_json(path: Path, what: str) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"{what} {path}: no such file (expected a JSON result of `drugsim evaluate --json`)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ConfigError(f"{what} {path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{what} {path}: expected a JSON object with a 'threshold', got {type(data).__name__}"
        )
    return data


def threshold_from_file(path: Path, method_name: str) -> tuple[float, str, str]:
    """(threshold, rule, source label) saved by an earlier ``drugsim evaluate --json``; the method must match.

    The label is ``file:PATH``, plus a warning in words when that threshold was fitted on its own test pairs
    (the paper's protocol), so a reused test-fitted threshold never passes for a validation-fitted one.
    """
    data = _load_json(path, "--threshold-from")
    threshold = data.get("threshold")
    try:  # a 400-digit integer is valid JSON but no float: it overflows instead of being finite
        finite = isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and \
            math.isfinite(float(threshold))
    except OverflowError:
        finite = False
    if not finite:
        raise ConfigError(
            f"--threshold-from {path}: 'threshold' is {str(threshold)[:40]!r}, expected a finite number "
            "(a `drugsim evaluate --json` output)"
        )
    saved_method = data.get("method")
    if saved_method is not None and saved_method != method_name:
        raise ConfigError(
            f"--threshold-from {path}: the threshold was fitted for {saved_method!r}, not {method_name!r}"
        )
    label = f"file:{path}"
    if data.get("threshold_fitted_on") == "test":
        label += " (paper's protocol: fitted on that run's test pairs)"
    return float(threshold), str(data.get("threshold_rule", "given")), label


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """``payload`` as JSON in ``path``, written atomically."""
    from drugsim.io import write_text_atomic
    from drugsim.report import json_text

    write_text_atomic(path, json_text(payload) + "\n")


def print_json(payload: Any) -> None:
    """``payload`` as JSON on standard output."""
    from drugsim.report import json_text

    print(json_text(payload))


def fmt(value: Any, digits: int = 4) -> str:
    """A number for text output: whole numbers without decimals, ``n/a`` for none or not finite."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e9:
            return str(int(value))
        return f"{value:.{digits}g}" if abs(value) < 1e6 else f"{value:.3e}"
    return str(value)
