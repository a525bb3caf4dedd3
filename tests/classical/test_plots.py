"""Plot helpers: take ax=, return it, draw what they say."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from classical_images import rotate

from drugsim.classical.keypoints import KeypointMethod
from drugsim.classical.plots import (
    draw_matches,
    plot_histogram_pair,
    plot_matches,
    plot_score_distribution,
    plot_score_distributions,
)


def test_histogram_pair_uses_given_axes(face_a, face_b):
    fig, ax = plt.subplots()
    assert plot_histogram_pair(face_a, face_b, ax=ax) is ax
    assert len(ax.lines) == 2 and ax.get_xlim() == (0, 255)
    plt.close(fig)


def test_match_drawing_counts(face_a):
    method = KeypointMethod("orb")
    canvas, counts = draw_matches(face_a, rotate(face_a, 2.0), method)
    assert canvas.shape == (240, 640, 3) and canvas.dtype == np.uint8
    assert counts["matches"] == method.score(method.describe(face_a), method.describe(rotate(face_a, 2.0)))
    fig, ax = plt.subplots()
    assert plot_matches(face_a, face_a, method, ax=ax, max_lines=20) is ax
    assert "matches" in ax.get_title()
    plt.close(fig)


def test_score_distributions():
    rng = np.random.default_rng(0)
    scores, labels = rng.normal(size=40), np.repeat([1, 0], 20)
    fig, ax = plt.subplots()
    assert plot_score_distribution(scores, labels, ax=ax, threshold=0.0, title="orb") is ax
    plt.close(fig)
    fig = plot_score_distributions(
        {name: {"scores": scores, "labels": labels, "direction": "lower"} for name in ("a", "b", "c")},
        ncols=2,
    )
    assert len(fig.axes) == 4
    plt.close(fig)
