"""The one description of a machine: what every benchmark, the summary chapter and the reproducibility page
report about the computer their numbers come from.

:func:`hardware_info` gives the facts under fixed keys and units (``cpu_model``, ``cpu_cores``,
``cpu_cores_usable``, ``ram_bytes``, ``ram_gib`` in GiB, ``platform``, ``python``, ``opencv``, ``torch``,
``torch_device``, ``torch_threads``); :func:`hardware_sentence` says them in one line. A benchmark stores the
dict with its numbers; text quoting a machine is built from such a dict by :func:`hardware_sentence`.

Example:
    >>> hardware_sentence({"cpu_model": "Xeon", "cpu_cores": 8, "cpu_cores_usable": 2, "ram_gib": 15.6,
    ...                    "torch_device": "cpu"})
    'Xeon (2 of 8 cores usable), 15.6 GiB RAM, no GPU'
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def hardware_info(*, load_torch: bool = True) -> dict[str, Any]:
    """The machine the numbers come from: CPU model, cores, RAM, torch device, library versions.

    Args:
        load_torch: import torch to name its device. With False, torch is reported only when something
            already imported it (importing it takes seconds; a classical-only benchmark does not use it).
    """
    cpu_model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        ram_bytes = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        ram_bytes = None
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info: dict[str, Any] = {
        "cpu_model": cpu_model,
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": usable,
        "ram_bytes": ram_bytes,
        "ram_gib": round(ram_bytes / 1024**3, 1) if ram_bytes else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        import cv2

        info["opencv"] = cv2.__version__
    except ImportError:  # pragma: no cover
        pass
    if not load_torch and "torch" not in sys.modules:
        info["torch_device"] = "not used (no network timed)"
        return info
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["torch_device"] = f"cuda ({torch.cuda.get_device_name(0)})"
        else:
            info["torch_device"] = "cpu"
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover
        info["torch_device"] = "none (torch not installed)"
    return info


def hardware_sentence(info: Mapping[str, Any] | None = None) -> str:
    """E.g. ``"Intel Xeon ... (2 of 8 cores usable), 23.4 GiB RAM, no GPU"``.

    Args:
        info: a :func:`hardware_info` dict (the one description of a machine); default: this machine's.
    """
    info = dict(info or hardware_info())
    memory = f", {info['ram_gib']} GiB RAM" if info.get("ram_gib") else ""
    device = str(info.get("torch_device") or "")
    if device.startswith("cuda ("):
        gpu = f", GPU {device[len('cuda ('):-1]}"
    elif device.startswith("not used"):  # hardware_info(load_torch=False): the GPU was not looked for
        gpu = ", GPU not checked (no network timed)"
    else:
        gpu = ", no GPU"
    cores = f"{info['cpu_cores_usable']} of {info['cpu_cores']} cores usable"
    return f"{info['cpu_model']} ({cores}){memory}{gpu}"
