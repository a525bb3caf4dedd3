"""Fixtures for the compendium tests."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest


@pytest.fixture
def fixed_environment(monkeypatch):
    """Pin the package fingerprint: other files of drugsim may change while the tests run."""
    from drugsim.runner import cache

    monkeypatch.setattr(cache, "environment_fingerprint", lambda: {"drugsim": "test"})


#: Where the browser test builds its tiny-profile book: a copy of the project's sources under runs/
#: (git ignores it), so the runner's content-hash cache makes a second test session fast.
BOOK_TEST_ROOT_ENV = "DRUGSIM_BOOK_TEST_ROOT"


@pytest.fixture(scope="session")
def tiny_book() -> Path:
    """Build the book once per session with the tiny profile (via the runner) and return its project root."""
    from .helpers import REPO

    prebuilt = os.environ.get("DRUGSIM_BOOK_TEST_PREBUILT")
    if prebuilt:  # iterating on the browser checks: read a book built earlier, as it is (no sync, no run)
        assert (Path(prebuilt) / "_build" / "html").is_dir(), f"{prebuilt}: no _build/html to read"
        return Path(prebuilt)
    root = Path(os.environ.get(BOOK_TEST_ROOT_ENV, REPO / "runs" / "book-test"))
    root.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers each set this fixture up: the first builds, the others wait and hit the cache.
    with open(root / ".fixture-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _build_tiny_book(root, REPO)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build_tiny_book(root: Path, repo: Path) -> Path:
    """Sync the project's sources into ``root`` (keeping earlier runs there) and reproduce with ``tiny``."""
    from drugsim.runner import reproduce

    for name in ("profiles.yml", "_config.yml", "_toc.yml", "references.bib"):
        shutil.copyfile(repo / name, root / name)
    for folder in ("notebooks", "book"):
        target = root / folder
        keep = target / "generated" if folder == "book" else None
        if target.exists():
            for child in target.iterdir():
                if child != keep:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
        shutil.copytree(repo / folder, target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("generated", ".ipynb_checkpoints"))
    dataset = os.environ.get("DRUGSIM_BOOK_TEST_DATASET", "synthetic")  # or a folder of your photos
    # A quick local check of a few chapters: DRUGSIM_BOOK_TEST_ONLY=01_data,13_summary (CI runs them all).
    only = [n for n in os.environ.get("DRUGSIM_BOOK_TEST_ONLY", "").split(",") if n] or None
    # Two notebooks at a time, as `make reproduce` runs them: the suite's wall time is mostly this book.
    report = reproduce(root=root, profile="tiny", dataset=dataset, only=only, progress=False, jobs=2)
    assert report.book_index is not None and report.book_index.exists()
    return root
