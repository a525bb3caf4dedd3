"""The robustness chapter's sentence about the paper's augmentation."""

from __future__ import annotations

from drugsim import paper
from drugsim.studies import robustness as study


def test_glue_paper_augmentation_says_the_papers_ranges():
    values = study.glue_paper_augmentation()
    augmentation = paper.TRAINING["augmentation"]
    low, _, high = values["robust_paper_brightness"].partition(" to ")
    assert (float(low), float(high)) == tuple(augmentation["brightness"])
    assert values["robust_paper_rotation"] == max(augmentation["rotation"]) > 0
