"""The combined pipeline (paper section 4.3, Table 10): compare a pair only when it is worth comparing.

The feature-face classifier labels each image feature-rich or feature-poor; a pair is compared only when
at least one of its two images is feature-rich. Skipped pairs are left out of the accuracy, as in the
paper, and the share skipped is reported beside it. The filter works in front of any
:class:`~drugsim.methods.SimilarityMethod` (the paper's improved Siamese networks, or ORB).

Example:
    >>> from pathlib import Path
    >>> from drugsim.data.records import Pair
    >>> pairs = [Pair(Path("a"), Path("b"), 1), Pair(Path("c"), Path("d"), 0)]
    >>> kept, compared = filter_pairs(pairs, {Path("a"): False, Path("b"): True, Path("c"): False,
    ...                                       Path("d"): False})
    >>> compared.tolist()
    [True, False]
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from drugsim.data.records import Pair
from drugsim.errors import ConfigError, DatasetError
from drugsim.methods import SimilarityMethod


def filter_pairs(pairs: Sequence[Pair], feature_rich: Mapping[Path, bool]) -> Tuple[List[Pair], np.ndarray]:
    """Keep the pairs where at least one image is feature-rich.

    Args:
        pairs: the pairs.
        feature_rich: ``{image path: True if feature-rich}`` covering every image of ``pairs``.

    Returns:
        (kept pairs, boolean mask of shape (N,) marking the compared pairs).

    Raises:
        DatasetError: an image of a pair has no entry in ``feature_rich``.

    References:
        Paper section 4.3, Table 10.
    """
    flags = {Path(k): bool(v) for k, v in feature_rich.items()}
    compared = np.zeros(len(pairs), dtype=bool)
    for index, pair in enumerate(pairs):
        try:
            compared[index] = flags[Path(pair.path_a)] or flags[Path(pair.path_b)]
        except KeyError as exc:
            raise DatasetError(f"no feature-rich flag for image {exc.args[0]} (classify every image of the "
                               f"pairs first)") from None
    return [pair for pair, keep in zip(pairs, compared) if keep], compared


def run_combined(
    method: SimilarityMethod,
    pairs: Sequence[Pair],
    *,
    classifier: Union["FeatureFacePredictor", Mapping[Path, bool]],  # noqa: F821
    val_pairs: Optional[Sequence[Pair]] = None,
    threshold: Optional[float] = None,
    threshold_rule: str = "midpoint",
    progress: bool = False,
    n_boot: int = 200,
    seed: int = 0,
) -> Dict[str, Any]:
    """Classifier filter, then ``method`` on the compared pairs, evaluated by the evaluation engine.

    Args:
        method: any similarity method.
        pairs: the test pairs.
        classifier: a :class:`~drugsim.deep.classifier.FeatureFacePredictor` (its time counts in pairs/s),
            or a ready ``{path: feature_rich}`` mapping (e.g. the ground-truth flags: an oracle filter).
        val_pairs: validation pairs to fit the threshold on (filtered the same way, not timed). When the
            filter leaves them a single label, the threshold is fitted on all of them, unfiltered, and
            ``val_filtered`` says so; it is never fitted on the test pairs. Required unless ``threshold``.
        threshold: a fixed threshold on the method's scale instead of fitting one.
        threshold_rule: rule of :func:`drugsim.evaluation.evaluate.evaluate_scores`.

    Returns:
        ``{"method", "n_pairs", "n_compared", "skipped_share", "accuracy", "pairs_per_second",
        "threshold_fitted_on", "val_filtered", "classifier_seconds", "compare_seconds",
        "evaluation": <evaluate_method result>}``; ``pairs_per_second`` counts every pair handled (skipped
        ones included) over the total time of classifying and comparing, like the paper's Table 10.

    Raises:
        ConfigError: no pairs, or neither validation pairs nor a threshold.
    """
    from drugsim.evaluation.evaluate import evaluate_method

    if not pairs:
        raise ConfigError("no pairs to run the combined pipeline on")
    if not val_pairs and threshold is None:
        raise ConfigError(
            "the combined pipeline needs validation pairs to fit its threshold on (or a fixed threshold); "
            "it never fits one on the test pairs"
        )
    paths = list(dict.fromkeys([Path(p.path_a) for p in pairs] + [Path(p.path_b) for p in pairs]))
    started = time.perf_counter()
    if hasattr(classifier, "predict_paths"):
        flags = classifier.predict_paths(paths, progress=progress)
        filter_name = f"classifier:{Path(getattr(classifier, 'checkpoint', 'model')).name}"
    else:
        flags = {Path(k): bool(v) for k, v in classifier.items()}
        filter_name = "given-flags"
    classifier_seconds = time.perf_counter() - started
    kept, compared = filter_pairs(pairs, flags)
    kept_val, val_filtered = None, False
    if val_pairs:
        val_paths = list(dict.fromkeys([Path(p.path_a) for p in val_pairs] + [Path(p.path_b) for p in val_pairs]))
        val_flags = classifier.predict_paths(val_paths) if hasattr(classifier, "predict_paths") else flags
        kept_val, _ = filter_pairs(val_pairs, val_flags)
        val_filtered = len({p.label for p in kept_val}) >= 2
        if not val_filtered:
            kept_val = list(val_pairs)  # one label left: fit on every validation pair (recorded), not on test
    result: Dict[str, Any] = {
        "method": method.name, "filter": filter_name, "n_pairs": len(pairs), "n_compared": int(compared.sum()),
        "skipped_share": float(1.0 - compared.mean()), "classifier_seconds": classifier_seconds,
        "threshold_fitted_on": "given" if threshold is not None else "val", "val_filtered": val_filtered,
    }
    if not kept or len({p.label for p in kept}) < 2:
        result.update(accuracy=float("nan"), pairs_per_second=len(pairs) / max(classifier_seconds, 1e-9),
                      compare_seconds=0.0, evaluation=None)
        return result
    # A filter may leave the pairs of a single class: then intervals can only resample pairs (recorded).
    ci_unit = "class" if len({Path(p.path_a).parent for p in kept}) >= 2 else "pair"
    evaluation, _ = evaluate_method(method, kept, val_pairs=kept_val, threshold=threshold, ci_unit=ci_unit,
                                    threshold_rule=threshold_rule, progress=progress, n_boot=n_boot, seed=seed)
    compare_seconds = float(evaluation["timing"]["total_seconds"])
    result.update(accuracy=evaluation["accuracy"], compare_seconds=compare_seconds,
                  threshold_fitted_on=evaluation["threshold_fitted_on"],
                  pairs_per_second=len(pairs) / max(classifier_seconds + compare_seconds, 1e-9),
                  evaluation=evaluation)
    return result
