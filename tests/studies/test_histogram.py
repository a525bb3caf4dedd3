"""The histogram chapter's backend (drugsim.studies.histogram): which histogram scale matches the paper."""

from __future__ import annotations

from drugsim.studies import histogram as study


def test_closest_normalisation_finds_matching_magnitudes():
    rows = [
        {"normalisation": "l1", "cv2_method": "kl_div", "positive_mean": 4.2, "negative_mean": 3.2},
        {"normalisation": "l1", "cv2_method": "bhattacharyya", "positive_mean": 0.2, "negative_mean": 0.3},
    ]
    assert study.closest_normalisation(rows)["hist-bhattacharyya"]["cv2_method"] == "kl_div"


def test_closest_sentence_names_each_metric():
    closest = {"hist-correl": {"normalisation": "l1", "cv2_method": "correl", "positive_mean": 0.91234,
                               "negative_mean": 0.5}}
    assert study.closest_sentence(closest) == "hist-correl: closest is correl on l1 histograms (0.9123 / 0.5)"
