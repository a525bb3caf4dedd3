"""A notebook opened by hand (``make lab``) finds the last run's data and models.

papermill gives every notebook its run's folders. Opened in JupyterLab from ``notebooks/``, a notebook has
only its parameters cell's defaults: empty folders, which :func:`run_folders` replaces with the folders of
the last ``drugsim reproduce`` (``runs/last-run.json``, written by the runner), resolved from the
repository root rather than from ``notebooks/``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from drugsim.errors import ConfigError
from drugsim.runner.layout import last_run_record


def find_root(start: Path) -> Path:
    """The project root: the first folder from ``start`` upwards that holds ``profiles.yml``.

    Raises:
        ConfigError: no such folder.
    """
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / "profiles.yml").is_file():
            return folder
    raise ConfigError(f"no profiles.yml in {start} or any folder above it; open the notebook inside the drugsim "
                      "project (make lab)")


def _from_root(path: str, root: Path, cwd: Path) -> str:
    """``path`` as given when absolute or found from ``cwd``; otherwise resolved from the project root."""
    if not path or Path(path).is_absolute() or (cwd / path).exists():
        return path
    return str(root / path)


def run_folders(profile: str, dataset: str, data_dir: str, work_dir: str, *,
                cwd: Path | None = None) -> tuple[str, str, str, str]:
    """The run's ``profile, dataset, data_dir, work_dir`` for a notebook's first cell after its parameters.

    Folders given (papermill injected them) are kept, resolved from the project root when relative and not
    found from ``cwd``. An empty ``work_dir`` (the notebook opened by hand) takes the last run's profile,
    dataset and folders, so its cells read that run's data, pair lists and models.

    Raises:
        ConfigError: no run yet (``runs/last-run.json`` missing or unreadable), naming the command to run.
    """
    cwd = Path(cwd) if cwd is not None else Path(os.getcwd())
    if work_dir:
        try:
            root = find_root(cwd)
        except ConfigError:
            return profile, dataset, data_dir, work_dir
        return profile, dataset, _from_root(data_dir, root, cwd), _from_root(work_dir, root, cwd)
    root = find_root(cwd)
    record_path = last_run_record(root)
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        last = (str(record["profile"]), str(record["dataset"]), str(record["data_dir"]), str(record["work_dir"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{record_path}: no readable record of a run ({exc.__class__.__name__}); run "
                          "`make reproduce PROFILE=tiny` first, or set work_dir and data_dir in the "
                          "parameters cell") from None
    profile, dataset, data_dir, work_dir = last
    # Absolute: the kernel's folder (notebooks/ in JupyterLab) is not the root the record is relative to.
    return profile, dataset, *(str(root / path) if path else path for path in (data_dir, work_dir))



def page_setup(*, for_book: bool) -> None:
    """Make a notebook's printed lines go to the run's log rather than its book page.

    With ``for_book`` (papermill runs it for the book), printed lines (training epochs, progress) go to
    standard error, which the run's log keeps and the book leaves out (``stderr_output: remove`` in
    ``_config.yml``), also those of worker processes (file descriptor 1 joins 2). Opened by hand, the notebook
    prints as usual.
    """
    if not for_book:
        return
    import sys

    sys.stdout.flush()
    sys.stdout = sys.stderr
    try:
        os.dup2(2, 1)
    except OSError:  # no descriptors to join (an embedded interpreter): Python-level prints are moved already
        pass
