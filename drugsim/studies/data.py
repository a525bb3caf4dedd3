"""The data chapter (notebook 01): what the dataset holds in words (faces, feature flags), how Algorithms 1
and 2 compose their pairs on the training drugs, and the pair counts per split.

The counts themselves come from :func:`drugsim.data.info.dataset_info`; the splits and pair lists from the
one pair source, :mod:`drugsim.data.protocol`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from drugsim.data.records import ImageRecord


def feature_rich_share_text(info: Mapping[str, Any]) -> str:
    """The share of feature-rich photos as a percentage, or ``"unknown"`` when no flag is known."""
    share = info["feature_rich_share"]
    return "unknown" if share is None else f"{share:.1%}"


def faces_sentence(info: Mapping[str, Any]) -> str:
    """One sentence for the data chapter: are faces (and so the paper's positives) known here?"""
    if info["faces_known"]:
        return (
            f"Faces are known for every photo ({len(info['per_face'])} faces), so a positive pair is two "
            "photos of the same face of the same drug, as in the paper."
        )
    return (
        "Faces are unknown for this dataset (no manifest with faces), so Table 5 cannot be filled in and a "
        "positive pair is any two photos of the same class; Algorithm 2 then has no intra-class negatives."
    )


def flags_sentence(info: Mapping[str, Any]) -> str:
    """One sentence on the feature flags: the share of feature-rich photos, or that flags are unknown."""
    if info["feature_rich_share"] is None:
        return "Feature flags are unknown for this dataset (file names without the paper's _<flag> suffix)."
    return (
        f"{info['n_feature_rich']} of {info['n_images']} photos ({info['feature_rich_share']:.1%}) show a "
        f"feature-rich face (flag 1); {info['n_feature_poor']} are feature-poor (flag 0)."
    )


def pair_count_table(
    splits: Mapping[str, Sequence[ImageRecord]], pairs: Mapping[str, Mapping[int, Sequence[Any]]]
):
    """Algorithm 1 vs Algorithm 2 on each split: images, classes, pairs and their composition.

    Args:
        splits: ``{split: records}``.
        pairs: ``{split: {algorithm: [Pair, ...]}}``.

    Returns:
        A ``pandas.DataFrame`` with one row per (split, algorithm): ``images``, ``classes``, ``pairs``,
        ``positives``, ``intra-class negatives``, ``inter-class negatives`` and ``positive share``.
    """
    import pandas as pd

    from drugsim.data.pairs import pair_statistics

    rows = []
    for split, by_algorithm in pairs.items():
        records = splits[split]
        for algorithm, pair_list in sorted(by_algorithm.items()):
            stats = pair_statistics(pair_list, records)
            rows.append(
                {
                    "split": split,
                    "algorithm": algorithm,
                    "images": len(records),
                    "classes": len({r.label for r in records}),
                    "pairs": stats["n_pairs"],
                    "positives": stats["positives"],
                    "intra-class negatives": stats["intra_class_negatives"],
                    "inter-class negatives": stats["inter_class_negatives"],
                    "positive share": round(stats["positives"] / stats["n_pairs"], 4)
                    if stats["n_pairs"]
                    else None,
                }
            )
    return pd.DataFrame(rows).set_index(["split", "algorithm"])


def pair_composition(records: Sequence[ImageRecord], *, seed: int = 0) -> dict[str, dict[str, Any]]:
    """``{"Algorithm 1": stats, "Algorithm 2": stats}``: :func:`~drugsim.data.pairs.pair_statistics` of the
    pairs each algorithm builds from ``records`` (:func:`drugsim.data.protocol.algorithm_comparison`)."""
    from drugsim.data import protocol
    from drugsim.data.pairs import pair_statistics

    return {
        f"Algorithm {k}": pair_statistics(pairs, records)
        for k, pairs in protocol.algorithm_comparison(records, seed=seed).items()
    }
