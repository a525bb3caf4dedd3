"""Where methods fail: the test pairs a method misjudges most confidently, and what they share.

For teaching, the pairs a method gets wrong are the lesson. :func:`confident_mistakes` ranks the wrongly
decided test pairs by how far their score lies on the wrong side of the threshold (in units of the spread
of all scores, so methods with different scales compare); :func:`shared_traits` reads what those pairs have
in common from the synthetic dataset's ``manifest.csv`` (feature-poor faces, glare, a finger in the frame,
a sibling drug of the same manufacturer family, another face of the same box, a dark or tilted capture);
:func:`gallery_sentence` words it; :func:`plot_gallery` draws them as thumbnail pairs with score, threshold
and the true label. Real photos without a manifest get the sentence from their labels alone.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Manifest traits a mistake can share, with how the sentence names each.
TRAITS = {
    "feature_poor": "a feature-poor face",
    "glare": "glare",
    "occlusion": "a finger in the frame",
    "sibling": "a sibling drug of the same family",
    "same_box": "another face of the same box",
    "dark": "a dark capture",
    "turned": "a box turned upside down in one photo only",
}


def confident_mistakes(scores: Sequence[float], labels: Sequence[int], *, threshold: float, direction: str,
                       k: int = 6) -> list[dict[str, Any]]:
    """The ``k`` wrongly decided pairs whose scores lie furthest on the wrong side of ``threshold``.

    Args:
        scores: (N,) scores of the test pairs.
        labels: (N,) 1 for a positive pair, 0 for a negative.
        threshold: the threshold the method applies (fitted on validation pairs).
        direction: ``higher`` (a higher score is more similar) or ``lower``.
        k: how many to return.

    Returns:
        Rows ``{"index", "score", "label", "margin", "mistake"}``, most confident first; ``margin`` is the
        distance to the threshold over the spread (standard deviation) of all scores; ``mistake`` is
        ``"false match"`` (a negative taken for a positive) or ``"missed match"``.

    >>> [r["index"] for r in confident_mistakes([0.9, 0.2, 0.6, 0.1], [0, 1, 0, 0], threshold=0.5, direction="higher")]
    [0, 1, 2]
    """
    if direction not in ("higher", "lower"):
        raise ValueError(f"direction must be 'higher' or 'lower', got {direction!r}")
    scores_arr = np.asarray(scores, dtype=float)
    labels_arr = np.asarray(labels, dtype=int)
    if scores_arr.shape != labels_arr.shape:
        raise ValueError(f"scores and labels differ in length: {scores_arr.shape} vs {labels_arr.shape}")
    sign = 1.0 if direction == "higher" else -1.0
    similar = sign * (scores_arr - threshold) >= 0
    wrong = np.flatnonzero(similar != (labels_arr == 1))
    spread = float(np.std(scores_arr)) or 1.0
    margins = np.abs(scores_arr[wrong] - threshold) / spread
    order = wrong[np.argsort(-margins, kind="stable")][:k]
    return [{"index": int(i), "score": float(scores_arr[i]), "label": int(labels_arr[i]),
             "margin": float(abs(scores_arr[i] - threshold) / spread),
             "mistake": "missed match" if labels_arr[i] == 1 else "false match"} for i in order]


def read_manifest(data_dir: str | Path) -> dict[str, dict[str, str]]:
    """``manifest.csv`` of a synthetic dataset keyed by file name (empty when there is none: real photos)."""
    path = Path(data_dir) / "manifest.csv"
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        return {Path(row["file"]).name: row for row in csv.DictReader(handle)}


def _traits(row: Mapping[str, str] | None) -> set[str]:
    if not row:
        return set()
    found = set()
    if row.get("feature_rich") == "0":
        found.add("feature_poor")
    for key, trait, limit in (("glare", "glare", 0.05), ("occlusion", "occlusion", 0.05)):
        try:
            if float(row.get(key) or 0) > limit:
                found.add(trait)
        except ValueError:
            pass
    try:
        if float(row.get("brightness") or 1) < 0.7:
            found.add("dark")
    except ValueError:
        pass
    return found


def pair_traits(path_a: str | Path, path_b: str | Path, manifest: Mapping[str, Mapping[str, str]]) -> set[str]:
    """What a pair's two photos show, from the manifest: traits of either photo and how the two relate."""
    row_a, row_b = manifest.get(Path(path_a).name), manifest.get(Path(path_b).name)
    found = _traits(row_a) | _traits(row_b)
    if row_a and row_b:
        if row_a.get("drug") != row_b.get("drug") and row_a.get("family") == row_b.get("family"):
            found.add("sibling")
        if row_a.get("drug") == row_b.get("drug") and row_a.get("face") != row_b.get("face"):
            found.add("same_box")
        if row_a.get("rotation") != row_b.get("rotation"):
            found.add("turned")
    return found


def shared_traits(traits: Sequence[set[str]]) -> list[tuple[str, int]]:
    """Traits by how many of the pairs show them, most common first (ties in :data:`TRAITS` order)."""
    counts = {trait: sum(trait in t for t in traits) for trait in TRAITS}
    return sorted(((t, n) for t, n in counts.items() if n), key=lambda item: (-item[1], list(TRAITS).index(item[0])))


def gallery_sentence(method: str, mistakes: Sequence[Mapping[str, Any]], traits: Sequence[set[str]]) -> str:
    """One sentence: how many confident mistakes of which kind, and what most of them share.

    >>> gallery_sentence("orb", [{"mistake": "false match"}, {"mistake": "false match"}],
    ...                  [{"sibling", "glare"}, {"sibling"}])
    'orb: 2 false matches and no missed match among its most confident mistakes; 2 of 2 show a sibling drug of the same family, 1 glare.'
    """
    if not mistakes:
        return f"{method}: no test pair on the wrong side of its threshold."
    false = sum(m["mistake"] == "false match" for m in mistakes)
    missed = len(mistakes) - false

    def count(n: int, word: str) -> str:
        return f"no {word}" if n == 0 else f"{n} {word}{'es' if n != 1 else ''}"

    sentence = (f"{method}: {count(false, 'false match')} and {count(missed, 'missed match')} among its most "
                "confident mistakes")
    common = shared_traits(traits)
    if common:
        parts = [f"{n} of {len(mistakes)} show {TRAITS[t]}" if i == 0 else f"{n} {TRAITS[t]}"
                 for i, (t, n) in enumerate(common[:3])]
        sentence += "; " + ", ".join(parts)
    elif traits and not any(traits):
        sentence += "; the dataset records no capture details for them (real photos)"
    return sentence + "."


def plot_gallery(pairs: Sequence[Any], mistakes: Sequence[Mapping[str, Any]], *, threshold: float, method: str,
                 axes: Any = None, thumb: int = 96) -> Any:
    """Thumbnail pairs of ``mistakes`` (rows of :func:`confident_mistakes`), each titled with score,
    threshold and true label. Returns the axes array (two per pair, side by side)."""
    import matplotlib.pyplot as plt
    from PIL import Image

    n = max(1, len(mistakes))
    if axes is None:
        _, axes = plt.subplots(n, 2, figsize=(4.2, 2.0 * n), squeeze=False)
    for ax in np.ravel(axes):
        ax.axis("off")
    for row_axes, mistake in zip(axes, mistakes):
        pair = pairs[mistake["index"]]
        for ax, path in zip(row_axes, (pair.path_a, pair.path_b)):
            with Image.open(path) as image:
                image.thumbnail((thumb, thumb))
                ax.imshow(np.asarray(image.convert("RGB")))
        truth = "same" if mistake["label"] == 1 else "different"
        row_axes[0].set_title(f"{method}: score {mistake['score']:.3g} (threshold {threshold:.3g}), truly {truth}",
                              fontsize=7, loc="left")
    if not mistakes:
        axes[0][0].text(0, 0.5, f"{method}: no mistakes", fontsize=8)
    return axes
