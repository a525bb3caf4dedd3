"""The keypoint chapter (notebook 04): which match filter SIFT and ORB use (chosen on validation pairs), the
Fig. 6/7 match counts, Table 8 two ways (the midpoint fitted on validation drugs, and the paper's protocol
beside) and the sentences the chapter glues, generated from the numbers.

The shared classical steps (example pair, Table 7 rows, agreement sentence) are in
:mod:`drugsim.studies.classical_common`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from drugsim import paper
from drugsim.classical.keypoints import MATCH_FILTERS, KeypointFeatures, KeypointMethod
from drugsim.data.records import Pair
from drugsim.errors import ConfigError
from drugsim.methods import SimilarityMethod, create_method
from drugsim.studies.classical_common import evaluate_methods

#: The chapter's two detectors.
DETECTORS = ("sift", "orb")
#: The paper's example-pair match counts per detector (Figs. 6 and 7).
PAPER_FIGURES = {"sift": paper.FIG6_SIFT, "orb": paper.FIG7_ORB}


def table8_rows(results: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Table 8 beside the paper's: midpoint threshold, where it was fitted (``protocol`` in words), accuracy
    (with its 95 % class-level interval), pairs/s."""
    from drugsim.evaluation.evaluate import fitted_on_label

    rows = []
    for name, result in results.items():
        base = name.split("@")[0]
        published = paper.TABLE8.get(base, {})
        ci = (result.get("ci95") or {}).get("accuracy") or [float("nan"), float("nan")]
        rows.append(
            {
                "method": name,
                "n_pairs": result["n_pairs"],
                "threshold": result["threshold"],
                "threshold_fitted_on": result.get("threshold_fitted_on"),
                "protocol": fitted_on_label(result.get("threshold_fitted_on")),
                "paper_threshold": paper.TABLE8_THRESHOLDS.get(base, float("nan")),
                "accuracy": result["accuracy"],
                "accuracy_ci95_low": ci[0],
                "accuracy_ci95_high": ci[1],
                "paper_accuracy": published.get("accuracy", float("nan")),
                "pairs_per_second": result.get("pairs_per_second"),
                "paper_pairs_per_second": published.get("pairs_per_second", float("nan")),
            }
        )
    return rows


def best_by_validation(results: Mapping[str, Mapping[str, Any]]) -> str:
    """The method (display name) with the highest validation accuracy at its validation-fitted threshold
    (ties: the first in order). Never chosen by test accuracy.

    Raises:
        ConfigError: no result has a validation accuracy (all were fitted the paper's way, or given).
    """
    from drugsim.errors import ConfigError

    scored = {name: r["val_accuracy"] for name, r in results.items() if r.get("val_accuracy") is not None}
    if not scored:
        raise ConfigError("no result has a validation accuracy to choose the best method by (fit on val pairs)")
    return max(scored, key=scored.get)


def best_filter(rows: Sequence[Mapping[str, Any]]) -> str:
    """The match filter with the highest validation accuracy at the midpoint threshold (ties: ROC AUC)."""
    usable = [r for r in rows if r["match_filter"] != "none"] or list(rows)
    return max(usable, key=lambda r: (r["accuracy"], np.nan_to_num(r["roc_auc"], nan=0.0)))["match_filter"]


def table8_evaluation(
    methods: Sequence[SimilarityMethod],
    test_pairs: Sequence[Pair],
    val_pairs: Sequence[Pair] | None,
    *,
    cache_dir: str | Path | None = None,
    n_jobs: int | None = None,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Table 8 two ways from one scoring of the whole test list.

    Returns:
        ``{"val": results, "paper": results}``: the midpoint fitted on the validation drugs' pairs and
        applied unchanged to the test pairs (the headline), and the paper's protocol, the midpoint fitted
        on the test pairs themselves (shown beside, labelled).
    """
    from drugsim.evaluation.evaluate import evaluate_scores

    fitted_on_val = evaluate_methods(
        methods,
        test_pairs,
        val_pairs=val_pairs,
        cache_dir=cache_dir,
        n_jobs=n_jobs,
        n_boot=n_boot,
        seed=seed,
    )
    paper_way: dict[str, dict[str, Any]] = {}
    for name, result in fitted_on_val.items():
        redone = evaluate_scores(
            result["scores"],
            result["labels"],
            direction=result["direction"],
            protocol="paper",
            clusters=result["classes"],
            n_boot=n_boot,
            seed=seed,
        )
        paper_way[name] = {**result, **redone}
    return {"val": fitted_on_val, "paper": paper_way}


def filter_comparison(
    detector: str,
    val_pairs: Sequence[Pair],
    *,
    n_jobs: int | None = None,
    cache_dir: str | Path | None = None,
    **options: Any,
) -> list[dict[str, Any]]:
    """:func:`~drugsim.classical.keypoints.compare_match_filters` on validation pairs, images described once
    by the evaluation engine."""
    from drugsim.evaluation.engine import describe_images, pair_paths

    features = describe_images(
        create_method(detector, **options),
        pair_paths(val_pairs),
        n_jobs=n_jobs,
        cache_dir=cache_dir,
        progress=False,
    )
    rows = compare_match_filters(
        lambda match_filter: create_method(detector, match_filter=match_filter, **options),
        val_pairs,
        features=features,
    )
    return [{"detector": detector, **row} for row in rows]


def paper_matched_fractions(detector: str) -> dict[str, float]:
    """Matches per keypoint implied by the paper: Table 7's mean matches over the keypoints of its Fig. 6/7
    example's first image (the only keypoint count it gives), for positives and negatives."""
    figure = paper.FIG6_SIFT if detector == "sift" else paper.FIG7_ORB
    table = paper.TABLE7[detector]
    return {
        "positive": table["positive_mean"] / figure["keypoints_a"],
        "negative": table["negative_mean"] / figure["keypoints_a"],
    }


def closest_to_paper(rows: Sequence[Mapping[str, Any]], detector: str) -> str:
    """The match filter whose matched fractions (positives, negatives) are nearest the paper's."""
    target = paper_matched_fractions(detector)
    candidates = [r for r in rows if r.get("detector", detector) == detector]

    def gap(row: Mapping[str, Any]) -> float:
        return abs(row["matched_fraction_positive"] - target["positive"]) + abs(
            row["matched_fraction_negative"] - target["negative"]
        )

    return min(candidates, key=gap)["match_filter"]


def paper_figure_phrase(detector: str) -> str:
    """The paper's example-pair counts for ``detector`` in words:
    ``"<matches> matches from <a> / <b> keypoints"``."""
    figure = PAPER_FIGURES[detector]
    return f"{figure['matches']} matches from {figure['keypoints_a']} / {figure['keypoints_b']} keypoints"


def choose_filters(rows: Sequence[Mapping[str, Any]], match_filter: str = "auto") -> dict[str, str]:
    """The match filter of each detector: :func:`best_filter` on its validation rows when ``match_filter`` is
    ``"auto"``, else ``match_filter`` for both.

    Args:
        rows: :func:`filter_comparison` rows of both detectors.
        match_filter: the chapter's parameter: ``auto`` or a filter name.
    """
    return {
        detector: best_filter([r for r in rows if r["detector"] == detector])
        if match_filter == "auto"
        else match_filter
        for detector in DETECTORS
    }


def _filter_row(rows: Sequence[Mapping[str, Any]], detector: str, match_filter: str) -> Mapping[str, Any]:
    return next(r for r in rows if r["detector"] == detector and r["match_filter"] == match_filter)


def paper_like_sentence(rows: Sequence[Mapping[str, Any]], paper_like: Mapping[str, str]) -> str:
    """Per detector: the matched fractions the paper's counts imply, and the filter here nearest them.

    Args:
        rows: :func:`filter_comparison` rows of both detectors.
        paper_like: ``{detector: filter}``, :func:`closest_to_paper` of each detector.
    """
    parts = []
    for d in DETECTORS:
        implied, nearest = paper_matched_fractions(d), _filter_row(rows, d, paper_like[d])
        parts.append(
            f"{d}: the paper's counts imply {implied['positive']:.0%} of keypoints matched on positive pairs "
            f"and {implied['negative']:.0%} on negative ones; the nearest filter here is {paper_like[d]} "
            f"({nearest['matched_fraction_positive']:.0%} and {nearest['matched_fraction_negative']:.0%})"
        )
    return "; ".join(parts)


def filter_sentence(rows: Sequence[Mapping[str, Any]], chosen: Mapping[str, str]) -> str:
    """Per detector: the chosen filter's validation accuracy beside the cross-check filter's.

    Args:
        rows: :func:`filter_comparison` rows of both detectors (with a ``crosscheck`` row each).
        chosen: ``{detector: filter}``, e.g. :func:`choose_filters`.
    """
    return "; ".join(
        f"{d}: {chosen[d]} (validation accuracy {_filter_row(rows, d, chosen[d])['accuracy']:.3f}, "
        f"{_filter_row(rows, d, 'crosscheck')['accuracy']:.3f} with cross-check)"
        for d in chosen
    )


def figure_count_rows(
    image_a: np.ndarray, image_b: np.ndarray, methods: Sequence[SimilarityMethod]
) -> list[dict[str, Any]]:
    """Keypoints and matches of the example pair per keypoint method, beside the paper's Fig. 6/7 counts.

    Each row: ``method``, ``match_filter``, ``keypoints_a``, ``keypoints_b``, ``matches``, ``paper_matches``
    and ``paper_keypoints`` (``"<a> / <b>"``).
    """
    from drugsim.classical.plots import draw_matches

    rows = []
    for method in methods:
        published = PAPER_FIGURES[method.name]
        rows.append(
            {
                "method": method.name,
                "match_filter": method.match_filter,
                **draw_matches(image_a, image_b, method)[1],
                "paper_matches": published["matches"],
                "paper_keypoints": f"{published['keypoints_a']} / {published['keypoints_b']}",
            }
        )
    return rows


def chosen_name(detector: str, match_filter: str) -> str:
    """The display name of ``detector`` with ``match_filter``, as
    :func:`~drugsim.studies.classical_common.display_name` gives it: the bare name for the default filter,
    else ``<detector>@<filter>``."""
    from drugsim.classical.keypoints import DEFAULT_MATCH_FILTER

    return detector if match_filter == DEFAULT_MATCH_FILTER else f"{detector}@{match_filter}"


def table8_sentence(
    val_rows: Sequence[Mapping[str, Any]],
    paper_rows: Sequence[Mapping[str, Any]],
    chosen: Mapping[str, str],
    best: str,
) -> str:
    """Table 8 in words: ORB and SIFT at the validation-fitted midpoint beside the paper's, whether ORB beats
    SIFT as in the paper, the same two under the paper's protocol, and the method chosen on validation.

    Args:
        val_rows: :func:`table8_rows` of the validation-fitted results (the headline).
        paper_rows: :func:`table8_rows` of the paper's protocol (midpoint fitted on the test pairs).
        chosen: ``{detector: filter}`` of the chapter.
        best: :func:`best_by_validation` of the validation-fitted results.
    """
    ours = {row["method"]: row for row in val_rows}
    paper_way = {row["method"]: row for row in paper_rows}
    orb_name, sift_name = chosen_name("orb", chosen["orb"]), chosen_name("sift", chosen["sift"])
    orb, sift = ours[orb_name]["accuracy"], ours[sift_name]["accuracy"]
    beats = "ORB beats SIFT, as in the paper. "
    verdict = beats if orb > sift else "ORB does not beat SIFT here, unlike the paper. "
    return (
        f"On the whole test list ({int(val_rows[0]['n_pairs'])} pairs) ORB reaches {orb:.1%} "
        f"and SIFT {sift:.1%} at the midpoint threshold fitted on the validation drugs "
        f"(the paper: {paper.TABLE8['orb']['accuracy']:.2%} and {paper.TABLE8['sift']['accuracy']:.2%}), so "
        + verdict
        + "With the paper's protocol (midpoint fitted on the test pairs themselves) ORB reaches "
        f"{paper_way[orb_name]['accuracy']:.1%} and SIFT {paper_way[sift_name]['accuracy']:.1%}. "
        + f"The method with the best validation accuracy is {best}; "
        f"its test accuracy is {ours[best]['accuracy']:.1%}."
    )


# --------------------------------------------------------------------- comparing the match filters


def _midpoint_accuracy(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Means, midpoint threshold, accuracy and ROC-AUC of match counts (higher = more similar) by the
    evaluation's own functions, plus the separation of the means in pooled standard deviations."""
    from drugsim.evaluation.metrics import compute_metrics
    from drugsim.evaluation.thresholds import fit_threshold

    threshold = fit_threshold(scores, labels, rule="midpoint", direction="higher")
    metrics = compute_metrics(scores, labels, threshold, direction="higher")
    positive, negative = scores[labels == 1], scores[labels == 0]
    pooled = np.sqrt((positive.var() + negative.var()) / 2.0)
    separation = (metrics["positive_mean"] - metrics["negative_mean"]) / pooled if pooled > 0 else float("nan")
    return {
        "positive_mean": metrics["positive_mean"],
        "negative_mean": metrics["negative_mean"],
        "threshold": float(threshold),
        "accuracy": metrics["accuracy"],
        "roc_auc": metrics["roc_auc"],
        "separation": float(separation),
        # The filters are ranked on validation pairs: the midpoint is fitted on those same pairs.
        "threshold_fitted_on": "val",
    }


def compare_match_filters(
    method_factory: str | Callable[[str], KeypointMethod],
    val_pairs: Sequence[Any],
    *,
    features: Mapping[Any, KeypointFeatures] | None = None,
    filters: Sequence[str] = MATCH_FILTERS,
    read_image: Callable[[Any], np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """Score validation pairs with every match filter and report how well each separates them.

    Features do not depend on the filter, so each image is described once (or taken from ``features``).
    The threshold is the paper's midpoint of the two means, fitted and applied on the same validation
    pairs: this ranks the filters, it is not a test accuracy.

    Args:
        method_factory: ``"sift"``/``"orb"``, or a callable ``match_filter -> KeypointMethod``
            (e.g. ``lambda f: create_method("orb", match_filter=f)``).
        val_pairs: :class:`drugsim.data.Pair` objects (``path_a``, ``path_b``, ``label``).
        features: precomputed features by path (e.g. from ``engine.describe_images``); missing ones are
            computed with ``read_image``.
        filters: the filters to compare.
        read_image: image reader (default :func:`drugsim.io.read_image`).

    Returns:
        One dict per filter: ``match_filter``, ``positive_mean``, ``negative_mean``, ``threshold``
        (midpoint), ``accuracy`` (at the midpoint), ``roc_auc``, ``separation`` (difference of means over
        the pooled standard deviation), ``matched_fraction_positive`` (matches / keypoints of image A).
    """
    for match_filter in filters:
        if match_filter not in MATCH_FILTERS:
            raise ConfigError(
                f"match_filter {match_filter!r} is not supported. Try one of {list(MATCH_FILTERS)}"
            )
    if isinstance(method_factory, str):
        detector = method_factory

        def method_factory(match_filter: str) -> KeypointMethod:
            return KeypointMethod(detector, match_filter=match_filter)

    if read_image is None:
        from drugsim.io import read_image as default_reader

        read_image = default_reader
    describer = method_factory(filters[0])
    cache: dict[Any, KeypointFeatures] = {Path(k): v for k, v in (features or {}).items()}
    for pair in val_pairs:
        for path in (pair.path_a, pair.path_b):
            if Path(path) not in cache:
                cache[Path(path)] = describer.describe(read_image(path))
    labels = np.array([int(pair.label) for pair in val_pairs])
    rows = []
    for match_filter in filters:
        method = method_factory(match_filter)
        scores = np.array(
            [method.score(cache[Path(p.path_a)], cache[Path(p.path_b)]) for p in val_pairs], float
        )
        keypoints_a = np.array([max(len(cache[Path(p.path_a)]), 1) for p in val_pairs], dtype=float)
        fraction = scores / keypoints_a
        rows.append(
            {
                "match_filter": match_filter,
                **_midpoint_accuracy(scores, labels),
                "matched_fraction_positive": float(fraction[labels == 1].mean())
                if (labels == 1).any()
                else float("nan"),
                "matched_fraction_negative": float(fraction[labels == 0].mean())
                if (labels == 0).any()
                else float("nan"),
            }
        )
    return rows
