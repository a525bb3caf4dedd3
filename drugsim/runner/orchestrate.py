"""One ``drugsim reproduce``: plan the chosen data (and the Grocery Store photos when found), run, build the book.

:func:`reproduce` is what ``drugsim reproduce`` and ``make reproduce`` call: it reads ``profiles.yml``
(:mod:`~drugsim.runner.profiles`), plans each run (:mod:`~drugsim.runner.plan`), runs it
(:mod:`~drugsim.runner.execute`), and hands the book what it shows of each run as plain data
(:class:`drugsim.book.BookRun`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drugsim import book
from drugsim.errors import ConfigError, DatasetError, DrugsimError
from drugsim.runner.execute import NotebookOutcome, run_plan, say
from drugsim.runner.layout import last_run_record
from drugsim.runner.plan import RunPlan, plan_run
from drugsim.runner.profiles import load_profiles


@dataclass
class ReproduceReport:
    runs: list[tuple[RunPlan, list[NotebookOutcome]]]
    grocery_note: str = ""
    book_index: Path | None = None
    wall_s: float = 0.0

    def book_runs(self) -> list[book.BookRun]:
        """What the book shows of each run, as plain data."""
        return [book_run(plan, outcomes) for plan, outcomes in self.runs]


def book_run(plan: RunPlan, outcomes: Sequence[NotebookOutcome]) -> book.BookRun:
    """What the book shows of one run: its layout, the chapters its data can have, outcomes, parameters."""
    profiles = plan.profiles
    chapters = [name for name, spec in profiles.notebooks.items() if plan.dataset.kind in spec.datasets] \
        if profiles else [nb.spec.name for nb in plan.notebooks]
    return book.BookRun(
        layout=plan.layout,
        dataset_kind=plan.dataset.kind,
        profile_description=profiles.profiles[plan.profile]["description"] if profiles else "",
        chapters=chapters,
        outcomes=[{"name": o.name, "status": o.status, "reason": o.reason} for o in outcomes],
        parameters={"global": plan.global_params, "notebooks": {nb.spec.name: nb.params for nb in plan.notebooks}},
        overrides=dict(plan.overrides),
    )


def write_last_run(plan: RunPlan) -> None:
    """Record the run's folder in ``runs/last-run.json``: a notebook opened by hand reads its data and models."""
    from drugsim.io import write_text_atomic

    record = {
        "profile": plan.profile,
        "dataset": plan.dataset.spec if plan.dataset.kind == "folder" else plan.dataset.kind,
        "work_dir": plan.rel(plan.work_dir),
        "data_dir": plan.rel(plan.data_dir) if plan.data_dir is not None else "",
        "overrides": plan.overrides,
    }
    path = last_run_record(plan.root)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(record, indent=2, sort_keys=True) + "\n")


def write_overrides(plan: RunPlan) -> None:
    """Keep a variant run's overrides in its folder, so the folder says what it is."""
    if plan.overrides:
        from drugsim.io import write_text_atomic

        plan.layout.overrides.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(plan.layout.overrides, json.dumps(plan.overrides, indent=2, sort_keys=True) + "\n")


def grocery_available() -> tuple[bool, str]:
    """Whether the Grocery Store photos can be found, and a sentence saying where or how to get them."""
    try:
        from drugsim.data import resolve_data_root

        root = resolve_data_root("grocery")
        return True, f"Grocery Store photos found at {root}"
    except ImportError:
        return False, "the Grocery Store loader (drugsim.data.resolve_data_root) is not available"
    except DrugsimError as exc:
        return False, str(exc)


def format_outcomes(plan: RunPlan, outcomes: Sequence[NotebookOutcome]) -> str:
    lines = [f"{plan.layout.tag}: {plan.rel(plan.work_dir)}"]
    for outcome in outcomes:
        took = f"{outcome.duration_s:7.1f} s" if outcome.duration_s is not None else "        "
        lines.append(f"  {outcome.name:<22} {outcome.status:<8} {took}  {outcome.reason}".rstrip())
    return "\n".join(lines)


def reproduce(
    *,
    root: Path,
    profile: str = "quick",
    dataset: str = "synthetic",
    only: Sequence[str] | None = None,
    force: bool = False,
    build_book: bool = True,
    grocery: str = "auto",
    strict: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = say,
    jobs: int = 1,
    overrides: Mapping[str, Any] | None = None,
) -> ReproduceReport:
    """Run the study for ``profile`` on ``dataset`` (plus the Grocery Store photos when present) and build the book.

    Args:
        root: the project root (holds profiles.yml, notebooks/, book/, _config.yml).
        grocery: with synthetic data, also run the real-photo notebooks on the Grocery Store photos:
            ``"auto"`` when they are found, ``"yes"`` (an error when missing) or ``"no"``.
        strict: treat notebooks listed in profiles.yml but not written yet as an error.
        jobs: how many notebooks may run at once (1: one after another, in profiles.yml order).
        overrides: ``-p NAME VALUE`` parameters for every planned notebook that declares them; the run then
            has its own folder and book (``runs/<profile>-<dataset>-<hash>/``), never the default run's.

    Raises:
        ConfigError, DatasetError, NotebookFailed: with a message naming what went wrong.
    """
    started = time.perf_counter()
    root = Path(root).resolve()
    if grocery not in ("auto", "yes", "no"):
        raise ConfigError(f"grocery must be auto, yes or no, got {grocery!r}")
    profiles = load_profiles(root / "profiles.yml")
    plans = [plan_run(profiles, profile, dataset, root=root, only=only, overrides=overrides)]
    report = ReproduceReport(runs=[])
    if plans[0].dataset.kind == "synthetic" and grocery != "no":
        found, note = grocery_available()
        report.grocery_note = note
        if found:
            grocery_only = [n for n in (only or []) if "grocery" in profiles.notebooks[n].datasets]
            grocery_plan = plan_run(profiles, profile, "grocery", root=root, only=grocery_only or None,
                                    overrides=overrides, require_overrides=False)
            if only and not grocery_only:
                # Nothing to run on the photos, but their chapters published earlier stay in the book.
                grocery_plan.notebooks, grocery_plan.pending, grocery_plan.blocked = [], [], {}
            plans.append(grocery_plan)
        elif grocery == "yes":
            raise DatasetError(note)
        else:
            log(f"real-photo chapters skipped: {note}")
    pending = sorted({n for p in plans for n in p.pending})
    if pending:
        message = ("notebooks listed in profiles.yml but not written yet (pending): "
                   + ", ".join(f"notebooks/{n}.ipynb" for n in pending))
        if strict:
            raise ConfigError(message)
        log("WARNING: " + message + "; their chapters are left out of the book")
    # With --only, --force reruns the notebooks named, not the ones they need (a retrained model...).
    forced: Any = set(only) if (force and only) else force
    for plan in plans:
        write_overrides(plan)
        outcomes = run_plan(plan, force=forced, progress=progress, log=log, jobs=jobs)
        report.runs.append((plan, outcomes))
        log(format_outcomes(plan, outcomes))
    write_last_run(plans[0])
    if build_book:
        book_layout = plans[0].layout.book
        book.write_book_sources(book_layout, report.book_runs(), grocery_note=report.grocery_note)
        report.book_index = book.build_book(book_layout, log=log)
    report.wall_s = time.perf_counter() - started
    return report
