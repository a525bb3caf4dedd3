"""The methods a chapter runs: built by name, plus the Siamese networks a run has trained.

One finder of trained Siamese checkpoints serves every chapter and command:

* :func:`siamese_checkpoints`: every trained checkpoint under a folder, keyed by its file stem
  (``<backbone>-<variant>``, as notebook 05 saves them under ``<work_dir>/models/siamese``);
* :func:`find_checkpoints`: one checkpoint per Siamese method (``siamese-<variant>``), for a command or
  chapter that runs each method once (the speed benchmark);
* :func:`build_methods`: the method objects, ``{label: method}``.

A checkpoint's file stem must *end* in its variant (``-improved``, ``-classic``, ``-triplet``): the
transfer ablation's checkpoints (``ablation-...-64px-200pairs.pt``) mention a variant inside the stem but
are no headline model, resumable training states (``*.last.pt``) are no finished model, and the seed
study's copies (``siamese_seeds/``) repeat the headline models.

Example:
    >>> sorted(build_methods("ahash,orb"))
    ['ahash', 'orb']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from drugsim.errors import ConfigError, DrugsimError
from drugsim.io import PathLike
from drugsim.methods import SimilarityMethod, available_methods

#: Methods run when none are named: the paper's classical ones (Tables 7-8).
DEFAULT_METHODS = tuple(available_methods("classical", in_paper=True))
SIAMESE_METHODS = ("siamese-improved", "siamese-classic", "siamese-triplet")
SIAMESE_VARIANTS = tuple(name.split("-", 1)[1] for name in SIAMESE_METHODS)


def siamese_checkpoints(models_dir: PathLike) -> dict[str, Path]:
    """Every trained Siamese checkpoint under ``models_dir`` (searched recursively), keyed by file stem.

    A stem counts when it ends in ``-<variant>`` (see the module docstring); ``*.last.pt`` and anything
    under ``siamese_seeds/`` are skipped; of two files with the same stem the first in sorted path order
    wins. A missing folder gives an empty dict (no trained model yet).
    """
    folder = Path(models_dir)
    if not str(models_dir) or not folder.is_dir():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(folder.rglob("*.pt")):
        if path.name.endswith(".last.pt") or "siamese_seeds" in path.relative_to(folder).parts:
            continue
        if path.stem.rpartition("-")[2] in SIAMESE_VARIANTS:
            found.setdefault(path.stem, path)
    return found


def find_checkpoints(models_dir: PathLike) -> dict[str, Path]:
    """One trained checkpoint per Siamese method found under ``models_dir``: ``{"siamese-<variant>": path}``.

    Of the :func:`siamese_checkpoints` of a variant, ``siamese-<variant>.pt`` wins, then
    ``resnet18-<variant>.pt`` (the paper's headline backbone), then the first stem in sorted order.
    """
    checkpoints = siamese_checkpoints(models_dir)
    found: dict[str, Path] = {}
    for name in SIAMESE_METHODS:
        variant = name.split("-", 1)[1]
        stems = sorted(stem for stem in checkpoints if stem.rpartition("-")[2] == variant)
        preferred = [stem for stem in (name, f"resnet18-{variant}") if stem in stems] + stems
        if preferred:
            found[name] = checkpoints[preferred[0]]
    return found


def trained_model_labels(checkpoints: Mapping[str, PathLike]) -> dict[str, PathLike]:
    """Checkpoints keyed ``"<backbone>-<variant>"`` (:func:`siamese_checkpoints`) keyed
    ``"siamese-<variant> (<backbone>)"`` instead: the labels :func:`build_methods` takes for several backbones
    of one method.

    Example:
        >>> trained_model_labels({"vgg16-classic": "m.pt"})
        {'siamese-classic (vgg16)': 'm.pt'}
    """
    labels: dict[str, PathLike] = {}
    for stem, path in checkpoints.items():
        backbone, _, variant = stem.rpartition("-")
        labels[f"siamese-{variant} ({backbone})"] = path
    return labels


def _method_name(label: str) -> str:
    """The method a label names: ``"siamese-classic (vgg16)"`` -> ``"siamese-classic"``."""
    return label.split(" (", 1)[0]


def build_methods(
    names: Sequence[str] | str | None = None,
    *,
    models: Mapping[str, Any] | None = None,
    include_checkpointed: bool = False,
    skip_unloadable: bool = False,
) -> dict[str, SimilarityMethod]:
    """The methods to run, ``{label: method}``: ``names`` (a list or comma-separated text) or, by default,
    :data:`DEFAULT_METHODS` plus every Siamese method that has a checkpoint in ``models``.

    Args:
        names: method names; None or empty = the default list.
        models: ``{label: checkpoint path}`` for Siamese methods; a label is the method name
            (:func:`find_checkpoints`) or the name with its backbone in brackets
            (:func:`trained_model_labels`); labels of other methods are ignored.
        include_checkpointed: also add every Siamese method of ``models`` that ``names`` leaves out.
        skip_unloadable: leave out a checkpoint that cannot be loaded (the caller lists the labels it
            got) instead of raising.

    Raises:
        ConfigError: an unknown name, or a Siamese method named without a checkpoint.
    """
    from drugsim.methods import create_method, method_spec

    trained = {label: path for label, path in (models or {}).items()
               if _method_name(label) in SIAMESE_METHODS}
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    chosen = list(names) if names else list(DEFAULT_METHODS) + list(trained)
    if include_checkpointed:
        chosen += [label for label in trained if label not in chosen]
    methods: dict[str, SimilarityMethod] = {}
    for label in chosen:
        name = _method_name(label) if label in trained else label
        method_spec(name)  # a clear error for an unknown name
        if label in trained:
            try:
                methods[label] = create_method(name, model=str(trained[label]))
            except (DrugsimError, ImportError, RuntimeError):
                if not skip_unloadable:
                    raise
        elif name in SIAMESE_METHODS:
            raise ConfigError(
                f"method {name!r} needs a trained checkpoint: --model {name}=PATH or "
                "--models-dir DIR (train one with drugsim train siamese)"
            )
        else:
            methods[label] = create_method(name)
    return methods
