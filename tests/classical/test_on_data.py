"""The chapters' path end to end on real files: the tiny synthetic boxes and the Grocery photos."""

from __future__ import annotations

import numpy as np

from drugsim.data import protocol
from drugsim.methods import create_method
from drugsim.studies import classical_common as study


def test_chapter_path_on_tiny_synthetic(tiny_dataset, tmp_path):
    pairs = protocol.load_protocol_pairs(tiny_dataset, work_dir=tmp_path, splits=("val", "test")).pairs_by_split
    assert pairs["val"] and pairs["test"]
    drugs = {split: {p.path_a.parent.name for p in pairs[split]} for split in pairs}
    assert not drugs["val"] & drugs["test"]  # class-disjoint: the test drugs are unseen
    sample = protocol.sample_pairs(pairs["test"], 40, seed=0)
    results = study.evaluate_methods(
        [create_method("orb"), create_method("ahash"), create_method("hist-chisqr")],
        sample,
        val_pairs=protocol.sample_pairs(pairs["val"], 40, seed=0),
        n_jobs=1,
        n_boot=20,
    )
    rows = {row["method"]: row for row in study.table7_rows(results)}
    assert {row["threshold_fitted_on"] for row in rows.values()} == {"val"}
    assert set(rows) == {"orb", "ahash", "hist-chisqr"}
    assert rows["orb"]["positive_mean"] > rows["orb"]["negative_mean"]  # same face: more ORB matches
    assert all(np.isfinite(row["roc_auc"]) for row in rows.values())
    example = study.pick_example_pair(pairs["test"], seed=0, n_candidates=5)
    assert example.label == 1


def test_pairs_on_grocery_photos(grocery_root, tmp_path):
    settings = protocol.ProtocolSettings(max_images_per_class=3)
    data = protocol.load_protocol_pairs(grocery_root, work_dir=tmp_path, settings=settings, splits=("val", "test"))
    pairs = data.pairs_by_split
    sample = protocol.sample_pairs(pairs["test"], 16, seed=0)
    val_sample = protocol.sample_pairs(pairs["val"], 16, seed=0)
    results = study.evaluate_methods(
        [create_method("hist-correl")], sample, val_pairs=val_sample, n_jobs=1, n_boot=20
    )
    assert results["hist-correl"]["n_pairs"] == len(sample) > 0
    assert results["hist-correl"]["ci_unit"] == "class"
