"""What the classical chapters (notebooks 02-04) share: the Fig. 1 example pair, example scores beside the
paper's (Tables 3 and 4), Table 7 rows, and the sentences that state where our results agree with the paper's
conclusions, generated from the numbers. Chapter-specific steps live in :mod:`drugsim.studies.histogram`,
:mod:`drugsim.studies.hashes` and :mod:`drugsim.studies.keypoints`.

"Separates" is made concrete: a method separates positive from negative pairs when its ROC AUC on the
evaluated pairs is at least :data:`SEPARATES_AUC` (0.8) and its mean scores point the right way. The paper
judged this by eye from the two means (Table 7); the AUC makes the judgement repeatable.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from drugsim import paper
from drugsim.data.records import Pair
from drugsim.errors import DatasetError
from drugsim.methods import SimilarityMethod, create_method

#: ROC AUC from which we say a method separates positive from negative pairs.
SEPARATES_AUC = 0.8

def pick_example_pair(pairs: Sequence[Pair], *, seed: int = 0, n_candidates: int = 20) -> Pair:
    """The Fig. 1 stand-in: a feature-rich positive pair (same drug, same face).

    The paper's example is a well-textured face. Among ``n_candidates`` positive pairs drawn with ``seed``,
    the one whose poorer image has the most ORB keypoints is returned (so blank faces are not chosen).
    """
    from drugsim.classical.keypoints import KeypointMethod
    from drugsim.io import read_image

    positives = [p for p in pairs if p.label == 1]
    if not positives:
        raise DatasetError("no positive pair to use as the Fig. 1 example")
    order = np.random.default_rng(seed).permutation(len(positives))[:n_candidates]
    orb = KeypointMethod("orb")
    counts: Dict[Path, int] = {}

    def keypoints(path: Path) -> int:
        if path not in counts:
            counts[path] = len(orb.describe(read_image(path)))
        return counts[path]

    return max(
        (positives[i] for i in order), key=lambda p: min(keypoints(Path(p.path_a)), keypoints(Path(p.path_b)))
    )


def example_scores(
    names: Sequence[str], image_a: np.ndarray, image_b: np.ndarray, *, paper_values: Mapping[str, float]
) -> List[Dict[str, Any]]:
    """Scores of one pair under several methods beside the paper's values (Tables 3 and 4)."""
    rows = []
    for name in names:
        method = create_method(name)
        ours = method.score(method.describe(image_a), method.describe(image_b))
        rows.append(
            {
                "method": name,
                "ours": ours,
                "paper": paper_values.get(name, float("nan")),
                "direction": method.direction,
                "in_paper": method.paper_section != "beyond",
            }
        )
    return rows


def separates(result: Mapping[str, Any]) -> bool:
    """True when the ROC AUC reaches :data:`SEPARATES_AUC` (AUC is computed on the oriented scores)."""
    auc = result.get("roc_auc")
    return auc is not None and math.isfinite(auc) and auc >= SEPARATES_AUC


def means_point_right_way(result: Mapping[str, Any], direction: str) -> bool:
    """Positive mean on the similar side of the negative mean."""
    pos, neg = result["positive_mean"], result["negative_mean"]
    return pos > neg if direction == "higher" else pos < neg


def display_name(method: SimilarityMethod) -> str:
    """``method.name``, plus ``@<filter>`` for a keypoint method whose match filter is not the default."""
    from drugsim.classical.keypoints import DEFAULT_MATCH_FILTER

    match_filter = getattr(method, "match_filter", None)
    if match_filter is None or getattr(method, "ransac", False) or match_filter == DEFAULT_MATCH_FILTER:
        return method.name
    return f"{method.name}@{match_filter}"


def evaluate_methods(
    methods: Sequence[SimilarityMethod],
    pairs: Sequence[Pair],
    *,
    val_pairs: Optional[Sequence[Pair]] = None,
    protocol: str = "val",
    cache_dir: Optional[str | Path] = None,
    n_jobs: Optional[int] = None,
    n_boot: int = 200,
    seed: int = 0,
) -> Dict[str, Dict[str, Any]]:
    """:func:`drugsim.evaluation.evaluate.evaluate_method` for each method; results keyed by display name.

    The midpoint threshold is fitted on ``val_pairs`` (required), unless ``protocol="paper"`` asks for the
    paper's own protocol (fitted on ``pairs``). The display name is the method's name, with
    ``@<match_filter>`` for keypoint methods whose filter is not the class default. Each result also
    carries ``scores``, ``labels``, ``classes`` (per pair, for class-level intervals) and ``direction``.
    """
    from drugsim.evaluation.engine import pair_classes, pair_labels
    from drugsim.evaluation.evaluate import evaluate_method

    results: Dict[str, Dict[str, Any]] = {}
    labels = pair_labels(pairs)
    classes = pair_classes(pairs)
    for method in methods:
        result, scores = evaluate_method(
            method,
            pairs,
            val_pairs=val_pairs,
            protocol=protocol,
            classes=classes,
            cache_dir=cache_dir,
            n_jobs=n_jobs,
            progress=False,
            n_boot=n_boot,
            seed=seed,
        )
        result.update(scores=np.asarray(scores), labels=labels, classes=classes, direction=method.direction)
        results[display_name(method)] = result
    return results


def table7_rows(results: Mapping[str, Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Table 7 beside the paper's: means, midpoint accuracy (with ``threshold_fitted_on``), ROC AUC,
    pairs/s, and whether it separates."""
    rows = []
    for name, result in results.items():
        published = paper.TABLE7.get(name.split("@")[0], {})
        rows.append(
            {
                "method": name,
                "in_paper": result.get("paper_section", "beyond") != "beyond",
                "direction": result["direction"],
                "positive_mean": result["positive_mean"],
                "negative_mean": result["negative_mean"],
                "paper_positive_mean": published.get("positive_mean", float("nan")),
                "paper_negative_mean": published.get("negative_mean", float("nan")),
                "accuracy_midpoint": result["accuracy"],
                "threshold_fitted_on": result.get("threshold_fitted_on"),
                "roc_auc": result.get("roc_auc"),
                "pairs_per_second": result.get("pairs_per_second"),
                "paper_pairs_per_second": published.get("pairs_per_second", float("nan")),
                "right_way": means_point_right_way(result, result["direction"]),
                "separates": separates(result),
            }
        )
    return rows


def _names(items: Sequence[str]) -> str:
    items = list(items)
    if not items:
        return "none"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def agreement_sentence(rows: Sequence[Mapping[str, Any]], *, paper_says_separates: Mapping[str, bool]) -> str:
    """Plain sentence saying, for the paper's methods in ``rows``, where our verdict agrees with the paper's.

    Args:
        rows: :func:`table7_rows` output.
        paper_says_separates: the paper's verdict per method (False for histograms, cosine and hashes,
            True for SIFT and ORB, section 4.3.2).
    """
    judged = [r for r in rows if r["method"].split("@")[0] in paper_says_separates]
    agree = [r["method"] for r in judged if r["separates"] == paper_says_separates[r["method"].split("@")[0]]]
    disagree = [r["method"] for r in judged if r["method"] not in agree]
    auc = {r["method"]: r["roc_auc"] for r in judged}
    parts = []
    if agree:
        parts.append(
            f"We agree with the paper for {_names(agree)} "
            f"(ROC AUC {_names([f'{auc[m]:.2f}' for m in agree])}; 'separates' means AUC >= {SEPARATES_AUC})."
        )
    if disagree:
        verdicts = []
        for m in disagree:
            paper_verdict = paper_says_separates[m.split("@")[0]]
            ours = "does not separate" if paper_verdict else "separates"
            theirs = "separates" if paper_verdict else "does not"
            verdicts.append(f"{m} (AUC {auc[m]:.2f}, so it {ours} here; the paper says it {theirs})")
        parts.append(f"We disagree for {_names(verdicts)}.")
    wrong_way = [r["method"] for r in judged if not r["right_way"]]
    if wrong_way:
        parts.append(
            f"The mean scores point the wrong way (negatives look more similar) for {_names(wrong_way)}."
        )
    return " ".join(parts) if parts else "No method of the paper was evaluated."


#: The paper's verdicts (section 4.3.2): only SIFT and ORB separate positive from negative pairs.
PAPER_SEPARATES: Dict[str, bool] = {
    **{
        name: False
        for name in (
            "hist-correl",
            "hist-chisqr",
            "hist-intersect",
            "hist-bhattacharyya",
            "cosine",
            "ahash",
            "phash",
            "dhash",
        )
    },
    "sift": True,
    "orb": True,
}


def beyond_sentence(rows: Sequence[Mapping[str, Any]]) -> str:
    """ROC AUC and midpoint accuracy of the methods the paper did not test (``in_paper`` false), as one
    ``"; "``-joined phrase for the chapter's prose (empty when every method is the paper's).

    Args:
        rows: :func:`table7_rows` output.
    """
    return "; ".join(
        f"{row['method']}: ROC AUC {row['roc_auc']:.2f}, midpoint accuracy {row['accuracy_midpoint']:.2f}"
        for row in rows
        if not row["in_paper"]
    )


def method_family(name: str) -> str:
    """The score store's family of a method name (``orb@crosscheck`` -> ``keypoint``)."""
    base = name.split("@")[0]
    if base.startswith("hist-"):
        return "histogram"
    if base == "cosine":
        return "cosine"
    if base in ("ahash", "phash", "dhash", "whash", "colorhash"):
        return "hash"
    if base.split("-")[0] in ("sift", "orb"):
        return "keypoint"
    return "other"


def store_scores(work_dir: str | Path, results: Mapping[str, Mapping[str, Any]], *, scored: Sequence[Pair],
                 full_test: Sequence[Pair], test_pairs_sha256: str) -> List[Path]:
    """Keep each method's test scores and validation-fitted decision for the summary's paired comparisons
    (:mod:`drugsim.evaluation.score_store`): ``results`` of :func:`evaluate_methods` on the ``scored`` pairs,
    a seeded sample of the run's ``full_test`` list. A keypoint method is stored under its detector's name
    (``orb@crosscheck`` as ``orb``: the chapter evaluates one chosen filter per detector)."""
    from drugsim.evaluation.score_store import pair_indices, save_method_scores
    from drugsim.methods import method_spec

    indices = pair_indices(scored, full_test)
    paths = []
    for name, result in results.items():
        base = name.split("@")[0]
        try:
            in_paper = method_spec(base).in_paper
        except Exception:  # noqa: BLE001 - a name outside the registry is beyond the paper
            in_paper = False
        val_auc = result.get("val_roc_auc")
        paths.append(save_method_scores(
            work_dir, method=base, family=method_family(base), in_paper=bool(in_paper),
            direction=str(result["direction"]), threshold=float(result["threshold"]),
            threshold_rule=str(result["threshold_rule"]),
            val_accuracy=float("nan") if result.get("val_accuracy") is None else float(result["val_accuracy"]),
            val_roc_auc=float("nan") if val_auc is None else float(val_auc), test_pair_indices=indices,
            test_scores=result["scores"], test_labels=result["labels"], test_classes=result["classes"],
            test_pairs_sha256=test_pairs_sha256))
    return paths
