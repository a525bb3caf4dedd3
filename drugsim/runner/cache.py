"""Content hashes for the notebook runner: what a notebook's result depends on, and the stamp it leaves.

A notebook is run again only when one of these changed since its last successful run:

* its code: the committed notebook's cells (type, source, tags), not outputs or other metadata;
* its parameters, as resolved from ``profiles.yml``;
* the ``drugsim`` version, a hash of the package's source, and the versions of the numeric libraries;
* its input data: a hash of the dataset's files (content, by relative path) and the hashes of the
  outputs of the notebooks it needs (their results JSON and declared output paths).

The stamp (``RunLayout.stamp(name)``: ``<work_dir>/stamps/<name>.json``) records that key with the hashes of the published
notebook and results JSON, so a notebook whose published copy was deleted or overwritten runs again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from drugsim.data.fetch import sha256_file
from drugsim.io import write_text_atomic

#: Modules of the package that orchestrate runs or build the book: editing them changes no notebook's
#: result, so they are left out of the package source hash (otherwise every runner fix reran everything).
_ORCHESTRATION_FILES = ("runner", "book.py", "cli")

#: Libraries whose version can change a number in the book.
KEY_PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "torch",
    "torchvision",
    "opencv-python-headless",
    "scikit-image",
    "scikit-learn",
    "imagehash",
    "pillow",
    "faiss-cpu",
    "matplotlib",
)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_json(value: Any) -> str:
    return sha256_bytes(json.dumps(value, sort_keys=True, default=str).encode("utf-8"))


def notebook_source_hash(path: Path) -> str:
    """Hash of a notebook's code: cell types, sources and tags (outputs and other metadata ignored)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = []
    for cell in nb.get("cells", []):
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        tags = sorted(cell.get("metadata", {}).get("tags", []))
        cells.append([cell.get("cell_type"), source, tags])
    return sha256_json(cells)


def package_source_hash(package_dir: Path | None = None) -> str:
    """Hash of every ``.py`` file of the ``drugsim`` package except the orchestration modules."""
    if package_dir is None:
        import drugsim

        package_dir = Path(drugsim.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir)
        if rel.parts[0] in _ORCHESTRATION_FILES or "__pycache__" in rel.parts:
            continue
        digest.update(str(rel.as_posix()).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def package_versions(names: Iterable[str] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``names`` (``None`` when a package is not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def environment_fingerprint() -> dict[str, Any]:
    """drugsim version, package source hash, Python and key library versions."""
    import drugsim

    return {
        "drugsim": drugsim.__version__,
        "drugsim_source": package_source_hash(),
        "python": "%d.%d.%d" % sys.version_info[:3],
        "packages": package_versions(),
    }


def _iter_files(root: Path):
    for dirpath, dirnames, filenames in os.walk(root):
        # Hidden folders hold partial outputs and caches, not data.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if filename.startswith("."):
                continue
            yield Path(dirpath) / filename


def tree_hash(root: Path, *, memo_path: Path | None = None) -> dict[str, Any]:
    """Content hash of every (non-hidden) file under ``root``, by relative path.

    ``memo_path`` keeps per-file hashes keyed by size and modification time, so a large dataset is
    read once, not on every run.

    Returns:
        ``{"sha256": ..., "n_files": ..., "n_bytes": ...}``; a missing ``root`` gives ``n_files`` 0.
    """
    root = Path(root)
    memo: dict[str, Any] = {}
    if memo_path is not None and memo_path.exists():
        try:
            memo = json.loads(memo_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            memo = {}
    new_memo: dict[str, Any] = {}
    digest = hashlib.sha256()
    n_files = n_bytes = 0
    if root.is_file():
        files = [root]
        base = root.parent
    else:
        files = list(_iter_files(root)) if root.exists() else []
        base = root
    for path in files:
        rel = path.relative_to(base).as_posix()
        stat = path.stat()
        signature = [stat.st_size, stat.st_mtime_ns]
        cached = memo.get(rel)
        if cached and cached[:2] == signature:
            file_hash = cached[2]
        else:
            file_hash = sha256_file(path)
        new_memo[rel] = signature + [file_hash]
        digest.update(f"{rel}\0{file_hash}\n".encode())
        n_files += 1
        n_bytes += stat.st_size
    if memo_path is not None and new_memo != memo:
        write_text_atomic(memo_path, json.dumps(new_memo, sort_keys=True))
    return {"sha256": digest.hexdigest(), "n_files": n_files, "n_bytes": n_bytes}


def read_stamp(path: Path) -> dict[str, Any] | None:
    """The stamp at ``path``, or ``None`` when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_stamp(path: Path, stamp: Mapping[str, Any]) -> None:
    write_text_atomic(path, json.dumps(dict(stamp), indent=2, sort_keys=True, default=str) + "\n")


def stamp_is_current(stamp: Mapping[str, Any] | None, key: str, *, published: Path,
                     results: Path) -> bool:
    """True when ``stamp`` was made for ``key`` and its published notebook and results are intact."""
    if not stamp or stamp.get("key") != key:
        return False
    if not published.exists() or sha256_file(published) != stamp.get("published_sha256"):
        return False
    expected_results = stamp.get("results_sha256")
    if expected_results is not None:
        if not results.exists() or sha256_file(results) != expected_results:
            return False
    return True
