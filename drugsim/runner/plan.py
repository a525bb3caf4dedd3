"""Planning a run: which notebooks run, in what order, with which parameters, and when one must run again.

:func:`plan_run` resolves a ``(profile, dataset)`` pair from ``profiles.yml`` into a :class:`RunPlan`;
:func:`cache_key` is the content hash deciding whether a planned notebook is up to date
(:mod:`drugsim.runner.cache` holds the hashing); :func:`ready_to_start` is the scheduling rule when
several notebooks run at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drugsim.errors import ConfigError
from drugsim.runner import cache as rc
from drugsim.runner.layout import VARIANTS, RunLayout
from drugsim.runner.overrides import check_overrides, variant_name
from drugsim.runner.profiles import STANDARD_PARAMS, NotebookSpec, Profiles, declared_parameters


@dataclass(frozen=True)
class DatasetChoice:
    """What ``--dataset`` named: its kind, the name used for folders, and the original spec."""

    kind: str
    name: str
    spec: str


def choose_dataset(spec: str) -> DatasetChoice:
    """``synthetic``, ``grocery``, or a folder path (named after its last component)."""
    if spec in ("synthetic", "grocery"):
        return DatasetChoice(kind=spec, name=spec, spec=spec)
    folder = Path(spec).expanduser()
    slug = re.sub(r"[^a-z0-9]+", "-", folder.resolve().name.lower()).strip("-") or "data"
    if slug in ("synthetic", "grocery", "generated", VARIANTS):
        slug = f"folder-{slug}"
    return DatasetChoice(kind="folder", name=slug, spec=str(folder))


@dataclass
class PlannedNotebook:
    """One notebook of a plan: its spec, source, resolved parameters, and its files (from the run's layout)."""

    spec: NotebookSpec
    source: Path
    params: dict[str, Any]
    published: Path
    results: Path
    stamp: Path
    log: Path


@dataclass
class RunPlan:
    """Everything one ``(profile, dataset)`` run needs, resolved from ``profiles.yml``."""

    root: Path
    profile: str
    dataset: DatasetChoice
    layout: RunLayout
    data_dir: Path | None
    global_params: dict[str, Any]
    notebooks: list[PlannedNotebook]
    pending: list[str] = field(default_factory=list)
    blocked: dict[str, str] = field(default_factory=dict)
    profiles: Profiles | None = None
    #: ``-p NAME VALUE`` overrides given to every planned notebook that declares the name.
    overrides: dict[str, Any] = field(default_factory=dict)
    #: Each planned notebook's parameters cell, ``{name: {parameter: default}}`` (to check overrides against).
    declared: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def work_dir(self) -> Path:
        return self.layout.work_dir

    @property
    def book_dir(self) -> Path:
        return self.layout.book_dir

    def rel(self, path: Path) -> str:
        """``path`` relative to the project root when inside it (as notebooks and the book show it)."""
        return self.layout.rel(path)


def _closure(profiles: Profiles, names: Sequence[str]) -> list[str]:
    wanted: set = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in wanted:
            continue
        wanted.add(name)
        # Optional inputs too: one out of date (a regenerated dataset...) must run before its reader.
        stack.extend(profiles.notebooks[name].needs + profiles.notebooks[name].uses)
    return [n for n in profiles.notebooks if n in wanted]


def plan_run(
    profiles: Profiles,
    profile: str,
    dataset: str = "synthetic",
    *,
    root: Path,
    only: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    require_overrides: bool = True,
) -> RunPlan:
    """Resolve which notebooks run, in what order, with which parameters, for ``profile`` and ``dataset``.

    Notebooks listed in ``profiles.yml`` whose file does not exist yet are reported in ``plan.pending``
    (and those that need them in ``plan.blocked``), never silently dropped. ``overrides`` (``-p``) replace
    the profile's value in every planned notebook that declares them, and make the run a variant with its
    own folder (:class:`~drugsim.runner.layout.RunLayout`); :func:`drugsim.runner.overrides.check_overrides`
    checks them against the planned notebooks' parameters cells (with ``require_overrides``, each name must
    be declared by one of them; without, as for the Grocery part of a run, only their values are checked).

    Raises:
        ConfigError: an unknown profile, an unknown notebook in ``only``, a notebook asked for that cannot
            run on this kind of data or does not exist, or a profile parameter the notebook does not declare.
    """
    root = Path(root).resolve()
    pentry = profiles.profile(profile)
    choice = choose_dataset(dataset)
    names = profiles.notebook_names()
    if only:
        for name in only:
            profiles.check_notebook_name(name)
            if choice.kind not in profiles.notebooks[name].datasets:
                raise ConfigError(
                    f"notebook {name!r} cannot run on {choice.kind} data; profiles.yml gives it: "
                    f"{', '.join(profiles.notebooks[name].datasets)}"
                )
            if not (root / "notebooks" / f"{name}.ipynb").exists():
                raise ConfigError(f"notebook {name!r} is listed in profiles.yml but notebooks/{name}.ipynb does not exist yet")
        names = _closure(profiles, only)
    names = [n for n in names if choice.kind in profiles.notebooks[n].datasets]

    global_params = dict(pentry["global"])
    per_notebook = {k: dict(v) for k, v in pentry["notebooks"].items()}
    if choice.kind == "grocery":
        global_params.update(pentry["grocery"]["global"])
        for name, params in pentry["grocery"]["notebooks"].items():
            per_notebook.setdefault(name, {}).update(params)
    seed = int(global_params.get("seed", 0))

    overrides = dict(overrides or {})
    layout = RunLayout(root=root, profile=profile, dataset=choice.name, variant=variant_name(overrides))
    data_dir = layout.data_dir if choice.kind == "synthetic" else None
    if choice.kind == "folder":
        data_dir = Path(choice.spec).expanduser().resolve()
    plan = RunPlan(
        root=root, profile=profile, dataset=choice, layout=layout, data_dir=data_dir,
        global_params=global_params, notebooks=[], profiles=profiles, overrides=overrides,
    )
    unavailable: dict[str, str] = {}
    for name in names:
        spec = profiles.notebooks[name]
        source = root / "notebooks" / f"{name}.ipynb"
        if not source.exists():
            plan.pending.append(name)
            unavailable[name] = "pending"
            continue
        missing_needs = [n for n in spec.needs if n in unavailable or choice.kind not in profiles.notebooks[n].datasets]
        if missing_needs:
            plan.blocked[name] = f"needs {', '.join(missing_needs)}, which cannot run"
            unavailable[name] = "blocked"
            continue
        declared = declared_parameters(source)
        missing_standard = [p for p in STANDARD_PARAMS if p not in declared]
        if missing_standard:
            raise ConfigError(
                f"notebooks/{name}.ipynb: its parameters cell must declare {', '.join(missing_standard)} "
                "(the runner sets profile, dataset, data_dir, work_dir, results_path and seed)"
            )
        own = per_notebook.get(name, {})
        undeclared = sorted(set(own) - set(declared))
        if undeclared:
            raise ConfigError(
                f"profiles.yml: profiles.{profile}.notebooks.{name} sets {', '.join(undeclared)}, which "
                f"notebooks/{name}.ipynb does not declare in its parameters cell (it declares: "
                f"{', '.join(sorted(declared))})"
            )
        plan.declared[name] = declared
        params = {k: v for k, v in global_params.items() if k in declared}
        params.update(own)
        params.update({k: v for k, v in overrides.items() if k in declared})
        params.update(
            profile=profile,
            dataset=choice.spec if choice.kind == "folder" else choice.kind,
            data_dir="",  # filled in once the dataset is prepared
            work_dir=plan.rel(layout.work_dir),
            results_path=plan.rel(layout.results(name)),
            seed=int(own.get("seed", seed)),
        )
        if "seed" in overrides:
            params["seed"] = overrides["seed"]
        plan.notebooks.append(PlannedNotebook(
            spec=spec, source=source, params=params, published=layout.published(name),
            results=layout.results(name), stamp=layout.stamp(name), log=layout.log(name),
        ))
    if overrides:
        check_overrides(overrides, plan.declared, require_declared=require_overrides)
    return plan


# --------------------------------------------------------------------------------------------------
# Cache keys and scheduling


def inputs_of(spec: NotebookSpec, order: Sequence[str]) -> list[str]:
    """The notebooks whose outputs ``spec`` reads: its needs, its optional uses, and with ``after_all``
    every notebook before it in ``order`` (profiles.yml order)."""
    names = list(spec.needs) + [n for n in spec.uses if n not in spec.needs]
    if spec.after_all and spec.name in order:
        names += [n for n in order[: order.index(spec.name)] if n not in names]
    return names


def _upstream_hash(plan: RunPlan, name: str) -> dict[str, Any] | None:
    stamp = rc.read_stamp(plan.layout.stamp(name))
    if not stamp:
        return None
    spec = plan.profiles.notebooks[name] if plan.profiles else None
    outputs = {}
    for output in (spec.outputs if spec else ()):
        outputs[output] = rc.tree_hash(plan.layout.output(output))["sha256"]
    return {"results": stamp.get("results_sha256"), "published": stamp.get("published_sha256"), "outputs": outputs}


def cache_key(plan: RunPlan, nb: PlannedNotebook, *, dataset_hash: str, environment: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The content hash deciding whether ``nb`` must run again, and the parts it was made from."""
    names = inputs_of(nb.spec, plan.profiles.notebook_names() if plan.profiles else [])
    upstream = {name: _upstream_hash(plan, name) for name in names}
    parts = {
        "notebook": rc.notebook_source_hash(nb.source),
        "parameters": nb.params,
        "environment": dict(environment),
        "dataset": dataset_hash,
        "upstream": upstream,
    }
    return rc.sha256_json(parts), parts


def why_rerun(stamp: Mapping[str, Any] | None, parts: Mapping[str, Any], *, force: bool) -> str:
    """Which parts of the cache key changed since the last successful run (for the run summary)."""
    if force:
        return "--force"
    if not stamp or "parts" not in stamp:
        return "no earlier successful run"
    changed = [name for name, value in parts.items()
               if rc.sha256_json(value) != rc.sha256_json(stamp["parts"].get(name))]
    return ("changed: " + ", ".join(changed)) if changed else "published copy missing or modified"


def ready_to_start(order: Sequence[str], inputs: Mapping[str, Sequence[str]], *, finished: AbstractSet[str],
                   running: AbstractSet[str], jobs: int) -> list[str]:
    """The notebooks that may start now, in ``order``, when at most ``jobs`` run at once.

    A notebook may start once every notebook among its ``inputs`` (:func:`inputs_of`) that is in ``order``
    (the plan) has finished; inputs outside the plan were left as they are and are not waited for.

    Args:
        order: the planned notebooks in profiles.yml order.
        inputs: each notebook's inputs.
        finished: notebooks done (run or found up to date).
        running: notebooks started and not finished.
        jobs: how many may run at once.
    """
    free = jobs - len(running)
    if free <= 0:
        return []
    planned = set(order)
    waiting = [name for name in order if name not in finished and name not in running]
    ready = [name for name in waiting
             if all(upstream in finished for upstream in inputs.get(name, ()) if upstream in planned)]
    return ready[:free]
