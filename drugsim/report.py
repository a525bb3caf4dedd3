"""What a notebook hands to the book: glued values and a results JSON beside the executed notebook.

Notebooks call :func:`glue` for every number the prose or a table quotes (``{glue:text}`key``` in the
book) and :func:`save_results` once at the end. Values glued are also kept, so the results JSON holds
exactly what the book shows.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from drugsim.io import write_text_atomic

_GLUED: Dict[str, Any] = {}


def slug(text: str) -> str:
    """A glue-key-safe name: ``"cnn-cosine (EfficientNet-Lite0, ImageNet)"`` -> ``"cnn_cosine_efficientnet_lite0_imagenet"``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _plain(value: Any) -> Any:
    """numpy / pandas scalars and arrays -> JSON-friendly Python values (NaN -> None)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return _plain(value.to_dict())
    return value


def json_text(value: Any, *, indent: int = 2) -> str:
    """``value`` as strict JSON text (NaN and infinities become null; unknown objects their ``str``).

    Example:
        >>> json_text({"threshold": float("nan")}, indent=None)
        '{"threshold": null}'
    """
    return json.dumps(_plain(value), indent=indent, sort_keys=True, allow_nan=False, default=str)


def glue(key: str, value: Any, *, display: bool = False) -> Any:
    """Glue ``value`` under ``key`` for the book (myst_nb) and remember it for :func:`save_results`.

    Figures and DataFrames are glued as they are (for ``{glue:figure}``); numbers and strings also go
    to the results JSON.
    """
    try:
        from myst_nb import glue as myst_glue

        myst_glue(key, value, display=display)
    except ImportError:  # pragma: no cover - myst_nb comes with jupyter-book
        pass
    if not hasattr(value, "savefig"):
        _GLUED[key] = _plain(value)
    return value


def glued() -> Dict[str, Any]:
    """A copy of everything glued so far in this kernel."""
    return dict(_GLUED)


def save_results(path: Optional[str | Path], payload: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Write ``{"glued": ..., **payload}`` as JSON to ``path`` atomically and return it."""
    result = {"glued": glued(), **(_plain(payload) if payload else {})}
    if path:
        write_text_atomic(path, json.dumps(result, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return result
