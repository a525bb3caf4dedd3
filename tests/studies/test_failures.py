"""Where methods fail (drugsim.studies.failures): confident mistakes and what they share."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from PIL import Image

matplotlib.use("Agg")

from drugsim.data.records import Pair  # noqa: E402
from drugsim.studies import failures  # noqa: E402


def test_mistakes_are_ranked_by_how_far_they_lie_on_the_wrong_side():
    scores = [0.95, 0.40, 0.55, 0.02, 0.80, 0.10]
    labels = [0, 1, 0, 1, 1, 0]
    rows = failures.confident_mistakes(scores, labels, threshold=0.5, direction="higher", k=3)
    assert [r["index"] for r in rows] == [3, 0, 1]  # 0.02 (missed), 0.95 (false), 0.40 (missed)
    assert [r["mistake"] for r in rows] == ["missed match", "false match", "missed match"]
    assert rows[0]["margin"] == pytest.approx(0.48 / np.std(scores))
    # A distance (lower = more similar): the same pairs, read the other way round.
    flipped = failures.confident_mistakes([1 - s for s in scores], labels, threshold=0.5, direction="lower", k=3)
    assert [r["index"] for r in flipped] == [3, 0, 1]
    assert failures.confident_mistakes([0.9, 0.1], [1, 0], threshold=0.5, direction="higher") == []
    with pytest.raises(ValueError, match="direction must be 'higher' or 'lower'"):
        failures.confident_mistakes([0.9], [1], threshold=0.5, direction="up")


def _manifest_row(name, drug, family, face, rich="1", glare="0.0", brightness="1.0", rotation="0"):
    return {"file": f"{drug}/{name}", "drug": drug, "family": family, "face": face, "feature_rich": rich,
            "glare": glare, "occlusion": "0.0", "brightness": brightness, "rotation": rotation}


def test_pair_traits_come_from_the_manifest():
    manifest = {row["file"].split("/")[1]: row for row in [
        _manifest_row("a.jpg", "d001", "f01", "front"),
        _manifest_row("b.jpg", "d002", "f01", "front", glare="0.3"),
        _manifest_row("c.jpg", "d001", "f01", "back", rich="0", rotation="180"),
    ]}
    assert failures.pair_traits("x/a.jpg", "y/b.jpg", manifest) == {"sibling", "glare"}
    assert failures.pair_traits("a.jpg", "c.jpg", manifest) == {"same_box", "feature_poor", "turned"}
    assert failures.pair_traits("a.jpg", "unknown.jpg", manifest) == set()


def test_the_sentence_names_the_kinds_and_the_shared_traits():
    mistakes = [{"mistake": "false match"}, {"mistake": "missed match"}, {"mistake": "false match"}]
    sentence = failures.gallery_sentence("phash", mistakes, [{"sibling"}, {"feature_poor"}, {"sibling", "glare"}])
    assert sentence == ("phash: 2 false matches and 1 missed match among its most confident mistakes; "
                        "2 of 3 show a sibling drug of the same family, 1 a feature-poor face, 1 glare.")
    assert failures.gallery_sentence("orb", mistakes[:1], [set()]).endswith(
        "; the dataset records no capture details for them (real photos).")
    assert failures.gallery_sentence("orb", [], []) == "orb: no test pair on the wrong side of its threshold."


def test_manifest_and_gallery_on_files(tmp_path):
    (tmp_path / "manifest.csv").write_text("file,drug,family,face,feature_rich\nd1/a.jpg,d1,f1,front,0\n")
    assert failures.read_manifest(tmp_path)["a.jpg"]["feature_rich"] == "0"
    assert failures.read_manifest(tmp_path / "nowhere") == {}
    paths = []
    for name in ("a.jpg", "b.jpg"):
        Image.new("RGB", (200, 120), (200, 30, 30)).save(tmp_path / name)
        paths.append(tmp_path / name)
    pairs = [Pair(paths[0], paths[1], 0)]
    mistakes = failures.confident_mistakes([0.9], [0], threshold=0.5, direction="higher")
    axes = failures.plot_gallery(pairs, mistakes, threshold=0.5, method="orb")
    assert axes.shape == (1, 2)
    assert axes[0][0].get_title(loc="left") == "orb: score 0.9 (threshold 0.5), truly different"
