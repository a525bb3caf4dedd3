"""One protocol across the chapters: in the tiny book's run, every chapter that scores test pairs records the
same ``test_pairs_sha256`` (the hash of the data chapter's test list), on the synthetic boxes and on the
Grocery photos; a chapter without test pairs says why instead of passing silently.

Reuses the session's ``tiny_book`` build (the browser test builds the same one).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Dict

import pytest

pytestmark = pytest.mark.slow


def recorded_hashes(work_dir: Path) -> Dict[str, dict]:
    """``{chapter: {"sha256": ..., "note": ..., "scored": ..., "n_scored": ...}}`` from a run's results JSON."""
    out = {}
    for path in sorted((work_dir / "results").glob("*.json")):
        result = json.loads(path.read_text())
        assert "test_pairs_sha256" in result, f"{path}: records no test_pairs_sha256 (nor why it has none)"
        about = result.get("protocol") or {}
        out[path.stem] = {"sha256": result["test_pairs_sha256"], "note": about.get("note", ""),
                          "scored": about.get("scored_test_pairs_sha256"), "n_scored": about.get("n_scored_test_pairs")}
    return out


def check_run(work_dir: Path) -> Dict[str, dict]:
    hashes = recorded_hashes(work_dir)
    assert "01_data" in hashes, f"{work_dir}: the data chapter did not run"
    written = hashlib.sha256((work_dir / "pairs" / "test.txt").read_bytes()).hexdigest()
    scoring = {name: h for name, h in hashes.items() if h["sha256"] is not None}
    for name, h in hashes.items():
        if h["sha256"] is None:
            assert h["note"], f"{work_dir.name}/{name}: no test pairs and no note saying why"
    assert {name: h["sha256"] for name, h in scoring.items()} == {name: written for name in scoring}
    # Chapters scoring equally many pairs of the same list score the same subset (one seeded sampler).
    by_size: Dict[int, set] = {}
    for h in scoring.values():
        by_size.setdefault(h["n_scored"], set()).add(h["scored"])
    assert all(len(subsets) == 1 for subsets in by_size.values()), by_size
    return scoring


def test_every_chapter_scores_the_same_test_pairs_on_synthetic_data(tiny_book):
    scoring = check_run(tiny_book / "runs" / "tiny-synthetic")
    # Chapters 02-05, 07-09 and 12 score test pairs on the synthetic boxes.
    assert {"02_histogram_cosine", "03_hashes", "04_keypoints", "05_siamese", "07_combined", "08_companion",
            "09_thresholds", "12_speed"} <= set(scoring)


def test_every_chapter_scores_the_same_test_pairs_on_grocery_photos(tiny_book):
    from drugsim.runner import grocery_available

    found, note = grocery_available()
    if not found:
        pytest.skip(f"no Grocery Store photos, so the book has no Grocery part: {note}")
    scoring = check_run(tiny_book / "runs" / "tiny-grocery")
    assert {"02_histogram_cosine", "03_hashes", "04_keypoints", "05_siamese", "08_companion",
            "09_thresholds"} <= set(scoring)
