"""Per-pair score store: what a chapter keeps of each method so that the summary can run paired tests later.

A paired class-level test (:func:`drugsim.evaluation.inference.paired_class_test`) needs both methods'
decisions on the *same* test pairs. Each chapter that scores test pairs saves, per method, one ``.npz``
under ``<work_dir>/scores/``:

* who it is: ``method``, ``family`` (one of :data:`FAMILIES`), ``in_paper``, ``paper_name`` ("" when the
  paper has no such row), ``direction``;
* what was chosen on validation pairs only: ``threshold`` and its ``threshold_rule``, ``val_accuracy``
  and ``val_roc_auc`` (what the summary may choose a method by);
* the test pairs: ``test_pair_indices`` (positions in the run's full test pair list, so two methods scored
  on different samples meet on their intersection), ``test_scores``, ``test_labels``, ``test_classes``
  (:func:`drugsim.evaluation.engine.pair_classes`) and ``test_pairs_sha256`` of the full list.

Files are written atomically and read with ``allow_pickle=False``: a planted pickle, an object array or a
malformed archive is refused (left out with a one-line warning), and so is a record of another test pair
list when the caller names the one it expects.

Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = save_method_scores(folder, method="orb", family="keypoint", in_paper=True, paper_name="ORB",
    ...     direction="higher", threshold=10.0, threshold_rule="midpoint", val_accuracy=0.8, val_roc_auc=0.9,
    ...     test_pair_indices=[0, 1], test_scores=[12.0, 3.0], test_labels=[1, 0], test_classes=["a", "b"],
    ...     test_pairs_sha256="ab" * 32)
    >>> record = load_method_scores(folder)["orb"]
    >>> record.family, record.correct().tolist()
    ('keypoint', [True, True])
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np

from drugsim.data.records import Pair
from drugsim.errors import ConfigError
from drugsim.io import PathLike, atomic_path

#: Method families a record may name (the summary picks its comparisons by family).
FAMILIES = ("histogram", "cosine", "hash", "keypoint", "siamese", "other")
#: Format tag of a score file; a file of another format is refused.
SCORE_STORE_FORMAT = "drugsim-scores-v1"
#: Where a run keeps its score files, under its work folder.
SCORES_FOLDER = "scores"
#: Largest score file read (a planted archive must not fill the memory).
MAX_FILE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class MethodScores:
    """One method's stored test scores and its validation-chosen settings (see the module docstring)."""

    method: str
    family: str
    in_paper: bool
    paper_name: str
    direction: str
    threshold: float
    threshold_rule: str
    val_accuracy: float
    val_roc_auc: float
    test_pair_indices: np.ndarray
    test_scores: np.ndarray
    test_labels: np.ndarray
    test_classes: np.ndarray
    test_pairs_sha256: str

    def correct(self) -> np.ndarray:
        """(N,) booleans: was each stored test pair decided correctly at the validation-fitted threshold?"""
        similar = self.test_scores >= self.threshold if self.direction == "higher" else (
            self.test_scores <= self.threshold)
        return similar == (self.test_labels == 1)


def _checked(fields: Mapping[str, Any]) -> MethodScores:
    """A :class:`MethodScores` from plain fields, every field checked (ConfigError naming the bad one)."""
    method = str(fields["method"])
    if not method:
        raise ConfigError("score record: the method name is empty")
    family = str(fields["family"])
    if family not in FAMILIES:
        raise ConfigError(f"score record {method!r}: family {family!r} is not supported. Try one of {list(FAMILIES)}")
    direction = str(fields["direction"])
    if direction not in ("higher", "lower"):
        raise ConfigError(f"score record {method!r}: direction must be 'higher' or 'lower'; got {direction!r}")
    threshold = float(fields["threshold"])
    if not math.isfinite(threshold):
        raise ConfigError(f"score record {method!r}: threshold must be a finite number; got {threshold}")
    indices = np.asarray(fields["test_pair_indices"]).reshape(-1)
    scores = np.asarray(fields["test_scores"], dtype=np.float64).reshape(-1)
    labels = np.asarray(fields["test_labels"]).reshape(-1)
    classes = np.asarray(fields["test_classes"]).reshape(-1).astype(str)
    sizes = {indices.size, scores.size, labels.size, classes.size}
    if len(sizes) != 1 or indices.size == 0:
        raise ConfigError(f"score record {method!r}: test pair indices, scores, labels and classes need one entry "
                          f"per pair; got {indices.size}, {scores.size}, {labels.size} and {classes.size}")
    if not np.issubdtype(indices.dtype, np.integer) or indices.min() < 0 or np.unique(indices).size != indices.size:
        raise ConfigError(f"score record {method!r}: test pair indices must be distinct non-negative integers")
    if not np.all(np.isin(labels, (0, 1))):
        raise ConfigError(f"score record {method!r}: test labels must be 0 or 1")
    digest = str(fields["test_pairs_sha256"])
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ConfigError(f"score record {method!r}: test_pairs_sha256 must be 64 hex digits; got {digest!r}")
    return MethodScores(
        method=method, family=family, in_paper=bool(fields["in_paper"]), paper_name=str(fields["paper_name"] or ""),
        direction=direction, threshold=threshold, threshold_rule=str(fields["threshold_rule"]),
        val_accuracy=float(fields["val_accuracy"]), val_roc_auc=float(fields["val_roc_auc"]),
        test_pair_indices=indices.astype(np.int64), test_scores=scores, test_labels=labels.astype(np.int8),
        test_classes=classes, test_pairs_sha256=digest,
    )


def score_path(work_dir: PathLike, method: str) -> Path:
    """``<work_dir>/scores/<method>.npz`` (characters outside ``[A-Za-z0-9._+-]`` become ``_``)."""
    safe = "".join(c if c.isalnum() or c in "._+-" else "_" for c in method)
    return Path(work_dir) / SCORES_FOLDER / f"{safe}.npz"


def save_method_scores(
    work_dir: PathLike,
    *,
    method: str,
    family: str,
    in_paper: bool,
    direction: str,
    threshold: float,
    threshold_rule: str,
    val_accuracy: float,
    val_roc_auc: float,
    test_pair_indices: Sequence[int],
    test_scores: Sequence[float],
    test_labels: Sequence[int],
    test_classes: Sequence[str],
    test_pairs_sha256: str,
    paper_name: Optional[str] = None,
) -> Path:
    """Write one method's record to ``<work_dir>/scores/<method>.npz`` atomically; returns the path.

    Raises:
        ConfigError: a field is malformed (see :class:`MethodScores`); OutputError: the file cannot be written.
    """
    record = _checked(dict(method=method, family=family, in_paper=in_paper, paper_name=paper_name,
                           direction=direction, threshold=threshold, threshold_rule=threshold_rule,
                           val_accuracy=val_accuracy, val_roc_auc=val_roc_auc, test_pair_indices=test_pair_indices,
                           test_scores=test_scores, test_labels=test_labels, test_classes=test_classes,
                           test_pairs_sha256=test_pairs_sha256))
    arrays = {
        "format": np.array(SCORE_STORE_FORMAT), "method": np.array(record.method), "family": np.array(record.family),
        "in_paper": np.array(record.in_paper), "paper_name": np.array(record.paper_name),
        "direction": np.array(record.direction), "threshold": np.array(record.threshold),
        "threshold_rule": np.array(record.threshold_rule), "val_accuracy": np.array(record.val_accuracy),
        "val_roc_auc": np.array(record.val_roc_auc), "test_pair_indices": record.test_pair_indices,
        "test_scores": record.test_scores, "test_labels": record.test_labels, "test_classes": record.test_classes,
        "test_pairs_sha256": np.array(record.test_pairs_sha256),
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path = score_path(work_dir, record.method)
    with atomic_path(path, suffix=".npz") as tmp:
        tmp.write_bytes(buffer.getvalue())
    return path


def read_method_scores(path: PathLike) -> MethodScores:
    """One score file, checked. Nothing in it can run code (``allow_pickle=False``).

    Raises:
        ConfigError: not a regular file, too large, not an npz archive of :data:`SCORE_STORE_FORMAT`, an
            object array (a pickle), a missing field or a malformed one.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: not a score file (expected a regular .npz file)")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: {path.stat().st_size} bytes, more than a score file may hold ({MAX_FILE_BYTES})")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except Exception as exc:  # noqa: BLE001 - pickles, truncated zips and garbage raise many kinds
        raise ConfigError(f"{path}: not a readable score file (an npz archive without pickles): "
                          f"{str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}") from None
    if str(arrays.get("format", "")) != SCORE_STORE_FORMAT:
        raise ConfigError(f"{path}: not a score file of format {SCORE_STORE_FORMAT!r}")
    missing = [f for f in MethodScores.__dataclass_fields__ if f not in arrays]
    if missing:
        raise ConfigError(f"{path}: score file lacks {', '.join(missing)}")
    fields = {name: (arrays[name].item() if arrays[name].ndim == 0 else arrays[name])
              for name in MethodScores.__dataclass_fields__}
    return _checked(fields)


def load_method_scores(work_dir: PathLike, *, test_pairs_sha256: Optional[str] = None) -> Dict[str, MethodScores]:
    """Every method's record under ``<work_dir>/scores/``, keyed by method name (sorted by file name).

    A file that is refused by :func:`read_method_scores` (a planted pickle, a malformed archive), or whose
    ``test_pairs_sha256`` differs from the expected one (when given: a record of another pair list), is
    left out with a one-line warning; a missing folder gives an empty dict.
    """
    folder = Path(work_dir) / SCORES_FOLDER
    found: Dict[str, MethodScores] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.npz")):
        try:
            record = read_method_scores(path)
        except ConfigError as exc:
            warnings.warn(f"score file left out: {exc}", stacklevel=2)
            continue
        if test_pairs_sha256 is not None and record.test_pairs_sha256 != test_pairs_sha256:
            warnings.warn(f"score file left out: {path} holds scores of another test pair list "
                          f"({record.test_pairs_sha256[:12]}, expected {test_pairs_sha256[:12]})", stacklevel=2)
            continue
        found[record.method] = record
    return found


def pair_indices(sample: Sequence[Pair], full: Sequence[Pair]) -> np.ndarray:
    """(len(sample),) positions of each sampled pair in the run's full pair list.

    Raises:
        ConfigError: a sampled pair is not in the full list.

    Example:
        >>> a, b, c = (Pair(Path(x), Path(y), 1) for x, y in ("ab", "cd", "ef"))
        >>> pair_indices([c, a], [a, b, c]).tolist()
        [2, 0]
    """
    position: Dict[Pair, int] = {}
    for index, pair in enumerate(full):
        position.setdefault(pair, index)
    try:
        return np.array([position[pair] for pair in sample], dtype=np.int64)
    except KeyError as exc:
        raise ConfigError(f"pair {exc.args[0]} is not in the full test pair list") from None


def record_fields(result: Mapping[str, Any], *, val_scores, val_labels, test_scores, test_labels, test_classes,
                  test_pair_indices, test_pairs_sha256: str, family: str, in_paper: bool,
                  paper_name: Optional[str] = None, method: Optional[str] = None) -> Dict[str, Any]:
    """The keyword arguments of :func:`save_method_scores` from an ``evaluate_scores``-style ``result``
    (its ``method``, ``direction``, ``threshold``, ``threshold_rule``, ``val_accuracy``), the validation
    ROC-AUC computed from ``val_scores``; use as ``save_method_scores(work_dir, **record_fields(...))``.

    Raises:
        ConfigError: the result's threshold was not fitted on validation pairs (``threshold_fitted_on`` is
            ``"test"``: the paper's protocol may not choose anything).
    """
    from drugsim.evaluation.metrics import roc_auc

    if result.get("threshold_fitted_on") == "test":
        raise ConfigError("score record: the threshold was fitted on the test pairs (the paper's protocol); "
                          "store the validation-fitted result")
    name = method or result.get("method")
    if not name:
        raise ConfigError("score record: name the method (the result has no 'method' key)")
    direction = str(result["direction"])
    val_accuracy = result.get("val_accuracy")
    return dict(method=str(name), family=family, in_paper=in_paper, paper_name=paper_name, direction=direction,
                threshold=float(result["threshold"]), threshold_rule=str(result["threshold_rule"]),
                val_accuracy=math.nan if val_accuracy is None else float(val_accuracy),
                val_roc_auc=roc_auc(val_scores, val_labels, direction=direction), test_pair_indices=test_pair_indices,
                test_scores=test_scores, test_labels=test_labels, test_classes=test_classes,
                test_pairs_sha256=test_pairs_sha256)
