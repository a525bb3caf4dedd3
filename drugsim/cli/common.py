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


def _load_json(path: Path, what: str) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"{what} {path}: no such file (expected a JSON result of `drugsim evaluate --json`)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
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
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not math.isfinite(threshold):
        raise ConfigError(
            f"--threshold-from {path}: no numeric 'threshold' in it (expected `drugsim evaluate` output)"
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
