"""The run's data: generate the synthetic dataset, find the Grocery Store photos, or check a folder; hash it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drugsim.errors import DatasetError
from drugsim.runner import cache as rc
from drugsim.runner.plan import RunPlan


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: a copy costs disk, not correctness
        shutil.copy2(source, target)


def reuse_default_dataset(plan: RunPlan, *, log: Callable[[str], None]) -> bool:
    """Give a run with overrides the default run's synthetic dataset (hard links) instead of drawing it again.

    Only when the variant has no dataset yet and the default run's has a stamp; :func:`prepare_dataset` then
    checks that stamp like its own (the same preset, seed and data code), so a stale copy is still redrawn.
    The files are never written in place (a new dataset is built under another name and renamed), so the
    links cannot change the default run's data.

    Returns:
        Whether the dataset was linked.
    """
    default = plan.layout.default
    if (not plan.layout.variant or plan.dataset.kind != "synthetic" or plan.data_dir is None
            or plan.data_dir.exists() or not default.data_dir.is_dir() or not default.dataset_stamp.exists()):
        return False
    log(f"linking the dataset of {plan.rel(default.work_dir)} into {plan.rel(plan.work_dir)}")
    staging = plan.data_dir.with_name(plan.data_dir.name + ".linking")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(default.data_dir, staging, copy_function=_link_or_copy)
    os.replace(staging, plan.data_dir)
    plan.layout.dataset_stamp.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(default.dataset_stamp, plan.layout.dataset_stamp)
    return True


def prepare_dataset(plan: RunPlan, *, log: Callable[[str], None], progress: bool = True) -> dict[str, Any]:
    """Make the run's data ready and return its description with a content hash of every file.

    synthetic: generated into ``RunLayout.data_dir`` with the profile's ``synthetic_preset`` and seed (kept
    while preset, seed and the data-generating code are unchanged); grocery: the Grocery Store root from
    ``drugsim.data.resolve_data_root``; a folder: used in place.
    """
    kind = plan.dataset.kind
    info: dict[str, Any] = {"kind": kind, "name": plan.dataset.name}
    if kind == "synthetic":
        import drugsim.data as data_pkg

        try:
            from drugsim.data import generate_dataset
        except ImportError:  # the package re-export may lag behind the module
            from drugsim.data.synth import generate_dataset

        preset = str(plan.global_params.get("synthetic_preset", plan.profile))
        seed = int(plan.global_params.get("seed", 0))
        wanted = {"preset": preset, "seed": seed,
                  "data_code": rc.package_source_hash(Path(data_pkg.__file__).resolve().parent)}
        stamp_path = plan.layout.dataset_stamp
        assert plan.data_dir is not None
        reuse_default_dataset(plan, log=log)
        if rc.read_stamp(stamp_path) != wanted or not plan.data_dir.is_dir():
            log(f"generating the synthetic dataset (preset {preset}, seed {seed}) in {plan.rel(plan.data_dir)}")
            # generate_dataset builds under a temporary name and renames: never half a dataset.
            generate_dataset(plan.data_dir, preset=preset, seed=seed, progress=progress)
            rc.write_stamp(stamp_path, wanted)
        info.update(preset=preset, seed=seed)
    elif kind == "grocery":
        from drugsim.data import resolve_data_root

        plan.data_dir = Path(resolve_data_root("grocery")).resolve()
    else:
        assert plan.data_dir is not None
        if not plan.data_dir.is_dir():
            raise DatasetError(f"{plan.data_dir}: no such folder (--dataset takes synthetic, grocery or a folder of images)")
    info["data_dir"] = plan.rel(plan.data_dir)
    info.update(rc.tree_hash(plan.data_dir, memo_path=plan.layout.dataset_memo))
    for nb in plan.notebooks:
        nb.params["data_dir"] = plan.rel(plan.data_dir)
    rc.write_stamp(plan.layout.dataset_info, info)
    return info
