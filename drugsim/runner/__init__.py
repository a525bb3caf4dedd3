"""Run the study: prepare a dataset, execute the notebooks with papermill, publish them into the book.

``drugsim reproduce`` and ``make reproduce`` call :func:`reproduce`. The notebook list, their order,
what each needs from earlier ones and every parameter come from ``profiles.yml``.

The parts, in the order a run uses them:

* :mod:`~drugsim.runner.profiles`: reading and validating ``profiles.yml`` and notebooks' parameters;
* :mod:`~drugsim.runner.layout`: :class:`RunLayout`, every path of a run folder (and :class:`BookLayout`);
* :mod:`~drugsim.runner.plan`: which notebooks run, in what order, with which parameters; cache keys;
* :mod:`~drugsim.runner.cache`: the content hashes and stamps the cache keys are made of;
* :mod:`~drugsim.runner.dataset`: the run's data made ready and hashed;
* :mod:`~drugsim.runner.execute`: papermill, progress lines, stamps, several notebooks at once;
* :mod:`~drugsim.runner.orchestrate`: :func:`reproduce`, one plan per dataset, then the book
  (:mod:`drugsim.book` publishes).
"""

from __future__ import annotations

import importlib
from typing import Any

# The public names, by the module defining them. They are imported on first use: drugsim.book imports
# drugsim.runner.layout, and importing the execution modules here would make that import run back into
# drugsim.book (a cycle).
_EXPORTS = {
    "profiles": ("DATASET_KINDS", "STANDARD_PARAMS", "NotebookSpec", "Profiles", "declared_parameters",
                 "load_profiles"),
    "layout": ("BookLayout", "RunLayout"),
    "plan": ("DatasetChoice", "PlannedNotebook", "RunPlan", "cache_key", "choose_dataset", "inputs_of",
             "plan_run", "ready_to_start"),
    "execute": ("DEFAULT_KERNEL", "HEARTBEAT_S", "Heartbeat", "NotebookFailed", "NotebookOutcome",
                "ensure_kernel", "execute_planned", "failure_message", "last_output_line", "run_plan", "say",
                "started_estimate", "threads_per_kernel"),
    "dataset": ("prepare_dataset",),
    "orchestrate": ("ReproduceReport", "book_run", "format_outcomes", "grocery_available", "reproduce"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'drugsim.runner' has no attribute {name!r}")
    return getattr(importlib.import_module(f"drugsim.runner.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))
