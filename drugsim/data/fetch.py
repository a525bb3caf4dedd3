"""Download and verify the Grocery Store dataset (the packaged products) against a committed checksum list.

The Grocery Store dataset (Klasson et al., WACV 2019; github.com/marcusklasson/GroceryStoreDataset, MIT
licence) is our public stand-in for the paper's private drug-box photos. ``grocery_sha256.txt`` beside
this module lists the sha256 of every packaged-product photo, iconic image, description, split file and
``classes.csv`` of the upstream repository at one pinned commit (named in its first line).
:func:`fetch_grocery` downloads exactly those files from that commit, checks every checksum and renames
the folder into place only when all are right; :func:`verify_files` and :func:`verify_grocery_copy`
check an existing copy.

Example:
    >>> manifest = read_manifest()
    >>> len(manifest.commit), "dataset/train.txt" in manifest.files
    (40, True)
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from drugsim.errors import DatasetError
from drugsim.io import atomic_path, check_replaceable, read_text_lines, write_marker

PathLike = str | os.PathLike

#: The committed checksum manifest: ``<sha256>  <path relative to the repository root>`` lines.
GROCERY_MANIFEST = Path(__file__).with_name("grocery_sha256.txt")
GROCERY_RAW_URL = "https://raw.githubusercontent.com/marcusklasson/GroceryStoreDataset/{commit}/"
#: Files a partial copy (such as the project's shared one, filtered to packages) may legitimately change.
METADATA_FILES = ("dataset/classes.csv", "dataset/train.txt", "dataset/val.txt", "dataset/test.txt")

_LINE = re.compile(r"^(?P<sha>[0-9a-f]{64}) [ *](?P<path>\S.*)$")
_COMMIT = re.compile(r"\bcommit ([0-9a-f]{40})\b")


@dataclass(frozen=True)
class Manifest:
    """A checksum manifest: the upstream commit and ``{relative path: sha256}``."""

    commit: str
    files: dict[str, str]


def read_manifest(path: PathLike = GROCERY_MANIFEST) -> Manifest:
    """Parse a ``sha256sum``-style manifest whose comment header names the upstream commit.

    Raises:
        DatasetError: the file is missing, a line is malformed, a path leaves the root, or no commit is named.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such checksum manifest")
    commit = ""
    files: dict[str, str] = {}
    for number, line in enumerate(read_text_lines(path), start=1):
        if not line.strip():
            continue
        if line.startswith("#"):
            found = _COMMIT.search(line)
            commit = commit or (found.group(1) if found else "")
            continue
        match = _LINE.match(line)
        if not match:
            raise DatasetError(f"{path}:{number}: expected '<64 hex digits>  <relative path>', got {line!r}")
        relative = match.group("path")
        _check_relative(relative, f"{path}:{number}")
        files[relative] = match.group("sha")
    if not commit:
        raise DatasetError(f"{path}: no 'commit <40 hex digits>' in its comment header")
    return Manifest(commit=commit, files=files)


def _check_relative(relative: str, where: str) -> None:
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts:
        raise DatasetError(f"{where}: path {relative!r} must be relative and stay inside the dataset root")


def sha256_file(path: PathLike, *, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_files(
    root: PathLike,
    manifest: Manifest | Mapping[str, str],
    *,
    missing_ok: bool = False,
    progress: bool = False,
) -> list[str]:
    """Check every file of ``manifest`` under ``root``; returns one problem per bad file (empty = all good).

    Args:
        root: folder the manifest's paths are relative to.
        manifest: a :class:`Manifest` or ``{relative path: sha256}``.
        missing_ok: skip files that are absent (a partial copy) instead of reporting them.
        progress: show a tqdm bar.

    Returns:
        Problems such as ``"dataset/train.txt: missing"`` or
        ``"dataset/x.jpg: sha256 ab12... differs from the expected 34cd..."``, in manifest order.
    """
    from tqdm.auto import tqdm

    files = manifest.files if isinstance(manifest, Manifest) else dict(manifest)
    root = Path(root)
    problems: list[str] = []
    for relative, expected in tqdm(files.items(), desc="verify", unit="file", disable=not progress):
        _check_relative(relative, "manifest")
        path = root / relative
        if not path.is_file():
            if not missing_ok:
                problems.append(f"{relative}: missing")
            continue
        got = sha256_file(path)
        if got != expected.lower():
            problems.append(f"{relative}: sha256 {got} differs from the expected {expected.lower()}")
    return problems


def verify_grocery_copy(
    root: PathLike, manifest: Manifest | None = None, *, complete: bool = False, progress: bool = False
) -> dict[str, object]:
    """Verify an existing Grocery Store copy, allowing for a copy filtered to some classes or splits.

    Photos, iconic images and descriptions must match upstream byte for byte. The split files and
    ``classes.csv`` (:data:`METADATA_FILES`) of a filtered copy differ by design; they are reported
    separately, not as problems. Absent files are counted (a copy without the test split is normal) and
    are problems only when ``complete``.

    Returns:
        ``{"commit", "n_listed", "n_checked", "problems": [...], "missing": [...], "metadata_differs": [...]}``;
        the copy is good when ``problems`` is empty.

    Raises:
        DatasetError: ``root`` has no ``dataset/`` folder.
    """
    root = Path(root)
    if not (root / "dataset").is_dir():
        raise DatasetError(f"{root}: no Grocery Store copy here (expected a dataset/ folder inside)")
    manifest = manifest or read_manifest()
    content = {k: v for k, v in manifest.files.items() if k not in METADATA_FILES}
    metadata = {k: v for k, v in manifest.files.items() if k in METADATA_FILES}
    missing = sorted(k for k in manifest.files if not (root / k).is_file())
    problems = verify_files(root, content, missing_ok=True, progress=progress)
    metadata_differs = [p.split(":", 1)[0] for p in verify_files(root, metadata, missing_ok=True)]
    if complete:
        problems += [f"{k}: missing" for k in missing]
    return {
        "commit": manifest.commit,
        "n_listed": len(manifest.files),
        "n_checked": len(manifest.files) - len(missing),
        "problems": problems,
        "missing": missing,
        "metadata_differs": metadata_differs,
    }


def _download(url: str, target: Path, *, retries: int = 3, timeout: float = 60.0) -> None:
    last: Exception | None = None
    for attempt in range(retries):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                data = response.read()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
            time.sleep(min(2**attempt, 5) if attempt + 1 < retries else 0)
    raise DatasetError(f"{url}: download failed after {retries} attempts ({last})")


def fetch_grocery(
    dest: PathLike,
    *,
    manifest: Manifest | None = None,
    base_url: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    n_threads: int = 8,
    download: Callable[[str, Path], None] = _download,
) -> Path:
    """Download every manifest file from the pinned upstream commit into ``dest``, verified, atomically.

    Files land in a hidden temporary folder beside ``dest``; each is checked against its sha256 and the
    folder is renamed to ``dest`` only when every file is right, so a failure or Ctrl-C leaves nothing.

    Args:
        dest: folder to create (the Grocery Store repository root: ``dest/dataset/train.txt``...).
        manifest: defaults to the committed :data:`GROCERY_MANIFEST`.
        base_url: defaults to the raw GitHub URL of the manifest's commit; any ``urllib`` URL works
            (``file://`` for tests).
        overwrite: replace an existing ``dest``.
        progress: show a tqdm bar.
        n_threads: parallel downloads.
        download: ``download(url, target_path)``; replaceable for tests.

    Returns:
        ``dest`` as a Path.

    Raises:
        DatasetError: ``dest`` exists (without ``overwrite``), a download fails or a checksum differs.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise DatasetError(
            f"{dest} exists; verify it with `drugsim data fetch grocery --verify-only --dest {dest}` "
            "or pass --overwrite to download again"
        )
    if dest.exists():  # only a copy drugsim fetched (or an empty folder) is ever replaced
        check_replaceable(dest, what="--dest", also_made_if=("FETCHED.txt",))
    manifest = manifest or read_manifest()
    base = (base_url or GROCERY_RAW_URL.format(commit=manifest.commit)).rstrip("/") + "/"
    relatives: Sequence[str] = list(manifest.files)
    with atomic_path(dest) as tmp:
        tmp.mkdir(parents=True)
        with tqdm(total=len(relatives), desc="grocery", unit="file", disable=not progress) as bar:

            def one(relative: str) -> None:
                download(base + urllib.request.pathname2url(relative).lstrip("/"), tmp / relative)
                bar.update(1)

            with ThreadPoolExecutor(max_workers=max(1, n_threads)) as pool:
                list(pool.map(one, relatives))
        problems = verify_files(tmp, manifest)
        if problems:
            shown = "\n  ".join(problems[:10])
            more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
            raise DatasetError(
                f"{len(problems)} downloaded file(s) failed verification (nothing was kept):\n  {shown}{more}"
            )
        write_marker(tmp, "grocery-copy")
        (tmp / "FETCHED.txt").write_text(
            f"Grocery Store dataset (packaged products) fetched by drugsim from {base}\n"
            f"upstream commit {manifest.commit}; {len(relatives)} files, each verified by sha256.\n",
            encoding="utf-8",
        )
    return dest
