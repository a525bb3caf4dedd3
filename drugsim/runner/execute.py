"""Executing a plan: prepare the dataset, run each notebook that is not up to date with papermill, stamp it.

Progress goes to ``log`` (:func:`say` prints and flushes): one line when a notebook starts (with the last
run's duration when known), a :class:`Heartbeat` line every :data:`HEARTBEAT_S` seconds with its latest
output, one line when it ends. A notebook executes into ``RunLayout.executing(name)`` and is handed to
:func:`drugsim.book.publish_notebook` only when every cell succeeded, so a failure never reaches the book.

With ``jobs`` above 1 several notebooks run at once, each in a thread of this process driving its own
kernel (:func:`drugsim.runner.plan.ready_to_start` decides which may start); book order, stamps, caching
and failure handling are those of one at a time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drugsim import book
from drugsim.errors import ConfigError, DrugsimError
from drugsim.runner import cache as rc
from drugsim.runner.dataset import prepare_dataset
from drugsim.runner.plan import PlannedNotebook, RunPlan, cache_key, inputs_of, ready_to_start, why_rerun

#: The kernel the Makefile installs into the virtual environment.
DEFAULT_KERNEL = "drugsim"


class NotebookFailed(DrugsimError):
    """A notebook raised an error; the message names the notebook, the cell and the error."""


# --------------------------------------------------------------------------------------------------
# Progress lines


def say(message: str) -> None:
    """Print one progress line now: flushed, so a log file that stdout is piped into shows it as it happens.

    One write per line: heartbeats and concurrent notebooks print from several threads, and ``print``
    writes the text and the newline separately, so two lines could interleave.
    """
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


#: Seconds between "still running" lines while a notebook executes.
HEARTBEAT_S = 30.0


def last_output_line(log_path: Path, *, max_bytes: int = 4096) -> str:
    """The last non-empty line a notebook printed (papermill copies cell output into its log), or ``""``.

    Progress bars rewrite one line with carriage returns; the text after the last one is what a terminal shows.
    """
    try:
        with open(log_path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    for line in reversed(tail.splitlines()):
        # papermill's own marker lines end in a run of dashes ("Executing Cell 7-----"): keep the words.
        line = line.rsplit("\r", 1)[-1].strip().rstrip("-").strip()
        if line:
            return line[:160]
    return ""


class Heartbeat:
    """While a notebook runs, log every ``interval`` seconds how long it has run and its latest output line.

    A training cell can run for minutes between cell boundaries; this line is what tells a person watching a
    log file that the run is alive and where it is (epoch, step).
    """

    def __init__(self, name: str, log_path: Path, *, log: Callable[[str], None],
                 interval: float | None = None):
        self.name, self.log_path, self.log = name, log_path, log
        self.interval = HEARTBEAT_S if interval is None else interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{name}", daemon=True)
        self._started = time.perf_counter()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            elapsed = time.perf_counter() - self._started
            latest = last_output_line(self.log_path)
            self.log(f"    {self.name}: running for {elapsed:.0f} s" + (f"; latest output: {latest}" if latest else ""))

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        self._thread.join()


def started_estimate(stamp: Mapping[str, Any] | None) -> str:
    """``", last run took 93 s"`` from the notebook's previous stamp, or ``""`` when it never ran here."""
    duration = (stamp or {}).get("duration_s")
    if not isinstance(duration, (int, float)) or not duration > 0:
        return ""
    return f", last run took {duration:.0f} s"


# --------------------------------------------------------------------------------------------------
# Executing one notebook


def ensure_kernel(preferred: str = DEFAULT_KERNEL, *, log: Callable[[str], None] = say) -> str:
    """The kernel to run notebooks with: ``preferred`` (installed into this environment when missing).

    Falls back to ``python3`` with a message when ``preferred`` cannot be installed; the notebooks then
    run with whatever Python that kernel starts, which must have drugsim installed.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if preferred in specs:
        return preferred
    try:
        from ipykernel.kernelspec import install

        install(kernel_name=preferred, display_name=f"{preferred} (Python 3)", prefix=sys.prefix)
        log(f"installed the Jupyter kernel {preferred!r} into {sys.prefix}")
        return preferred
    except Exception as exc:  # noqa: BLE001 - any failure: fall back, but say so
        if "python3" in specs:
            log(f"could not install the Jupyter kernel {preferred!r} ({exc}); running notebooks with 'python3' "
                f"(run `{sys.executable} -m ipykernel install --sys-prefix --name {preferred}` to fix)")
            return "python3"
        raise ConfigError(
            f"no Jupyter kernel {preferred!r} and none to fall back to ({exc}); run "
            f"`{sys.executable} -m ipykernel install --sys-prefix --name {preferred}`"
        ) from exc


def _source_lines(source: str, limit: int = 6) -> str:
    lines = source.rstrip().splitlines() or [""]
    shown = lines[:limit] + (["..."] if len(lines) > limit else [])
    return "\n".join(f"      | {line}" for line in shown)


def failure_message(name: str, exc: BaseException, *, executed: Path | None, log_path: Path,
                    failed_copy: Path | None, rel: Callable[[Path], str]) -> str:
    """One readable message: the notebook, the cell (numbered as in the committed notebook), the error."""
    from papermill.exceptions import PapermillExecutionError

    lines = [f"notebook {name} failed"]
    if isinstance(exc, PapermillExecutionError):
        cell_number = exc.cell_index + 1
        if executed is not None and executed.exists():
            # papermill inserts an injected-parameters cell; number cells as the committed notebook does.
            try:
                cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
                injected = [i for i, c in enumerate(cells)
                            if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
                if injected and injected[0] < exc.cell_index:
                    cell_number -= 1
            except (OSError, ValueError, KeyError):
                pass
        lines.append(f"  in cell {cell_number} of notebooks/{name}.ipynb (execution count {exc.exec_count}):")
        lines.append(_source_lines(exc.source))
        lines.append(f"  {exc.ename}: {exc.evalue}")
    else:
        lines.append(f"  {type(exc).__name__}: {exc}")
    lines.append(f"  log: {rel(log_path)}")
    if failed_copy is not None and failed_copy.exists():
        lines.append(f"  executed copy (not published to the book): {rel(failed_copy)}")
    return "\n".join(lines)




_PAPERMILL_LOGGER = logging.getLogger("papermill")
_papermill_logging_lock = threading.Lock()
_papermill_logging_users = 0
_papermill_logging_saved: tuple[int, bool] = (logging.NOTSET, True)


@contextlib.contextmanager
def _papermill_log_to(log_path: Path) -> Iterator[None]:
    """Write papermill's records from this thread (the cell outputs of the notebook it runs) to ``log_path``.

    Several notebooks may run at once, each in its own thread, all logging to the one ``papermill`` logger:
    each log file takes only the records of the thread that runs its notebook.
    """
    global _papermill_logging_users, _papermill_logging_saved
    handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    thread = threading.get_ident()
    handler.addFilter(lambda record: record.thread == thread)
    with _papermill_logging_lock:
        if _papermill_logging_users == 0:
            _papermill_logging_saved = (_PAPERMILL_LOGGER.level, _PAPERMILL_LOGGER.propagate)
            _PAPERMILL_LOGGER.setLevel(logging.INFO)
            _PAPERMILL_LOGGER.propagate = False  # the log file gets cell output; the terminal keeps the progress bars
        _papermill_logging_users += 1
        _PAPERMILL_LOGGER.addHandler(handler)
    try:
        yield
    finally:
        with _papermill_logging_lock:
            _PAPERMILL_LOGGER.removeHandler(handler)
            _papermill_logging_users -= 1
            if _papermill_logging_users == 0:
                _PAPERMILL_LOGGER.setLevel(_papermill_logging_saved[0])
                _PAPERMILL_LOGGER.propagate = _papermill_logging_saved[1]
        handler.close()


def is_interrupt(exc: BaseException) -> bool:
    """True for Ctrl-C, also when it arrives as the kernel's error: the terminal's interrupt reaches the kernel
    too, and its cell's ``KeyboardInterrupt`` is the user's, not a failing notebook (it then ends the run in
    one line instead of a kernel traceback)."""
    return isinstance(exc, KeyboardInterrupt) or getattr(exc, "ename", None) == "KeyboardInterrupt"


def execute_planned(plan: RunPlan, nb: PlannedNotebook, *, kernel: str, progress: bool = True) -> float:
    """Run one notebook with papermill; publish it into the book only if every cell succeeded.

    Returns:
        Its wall time in seconds (papermill's ``metadata.papermill.duration``).

    Raises:
        NotebookFailed: with the notebook, cell and error; the executed copy goes to ``RunLayout.failed``.
    """
    import papermill

    name, layout = nb.spec.name, plan.layout
    executing, failed_copy = layout.executing(name), layout.failed(name)
    for path in (executing, failed_copy, nb.results, nb.stamp):
        path.unlink(missing_ok=True)
    book.withdraw_notebook(layout, name)
    for folder in (executing.parent, nb.log.parent, nb.results.parent):
        folder.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    try:
        with _papermill_log_to(nb.log):
            papermill.execute_notebook(
                str(nb.source), str(executing), parameters=nb.params, kernel_name=kernel,
                cwd=str(plan.root), progress_bar=progress, log_output=True,
                # The kernel's start-up notice about unencrypted local TCP is noise on every notebook.
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
    except BaseException as exc:
        if executing.exists():
            failed_copy.parent.mkdir(parents=True, exist_ok=True)
            os.replace(executing, failed_copy)
        nb.results.unlink(missing_ok=True)
        if isinstance(exc, KeyboardInterrupt):
            raise
        if is_interrupt(exc):
            raise KeyboardInterrupt from None
        message = failure_message(name, exc, executed=failed_copy, log_path=nb.log,
                                  failed_copy=failed_copy, rel=plan.rel)
        with open(nb.log, "a", encoding="utf-8") as handle:
            handle.write("\n" + message + "\n")
        raise NotebookFailed(message) from exc
    book.publish_notebook(layout, name, executing)
    duration = book.notebook_duration(nb.published)
    return duration if duration is not None else time.perf_counter() - started


# --------------------------------------------------------------------------------------------------
# Running a plan


@dataclass
class NotebookOutcome:
    name: str
    status: str  # ran | cached | pending | blocked
    duration_s: float | None = None
    reason: str = ""


def run_plan(
    plan: RunPlan,
    *,
    force: Any = False,
    progress: bool = True,
    kernel: str | None = None,
    log: Callable[[str], None] = say,
    jobs: int = 1,
) -> list[NotebookOutcome]:
    """Prepare the dataset and run every planned notebook that is not up to date, in order.

    ``force``: True reruns every planned notebook, a set of names reruns those. ``jobs``: how many
    notebooks may run at once; each starts once the planned notebooks it reads have finished.

    Raises:
        ConfigError: ``jobs`` is below 1.
        NotebookFailed: at the first notebook that fails (no later one starts; with ``jobs`` above 1 the
            ones already running finish first).
    """
    if jobs < 1:
        raise ConfigError(f"jobs: expected 1 or more notebooks at once, got {jobs}")
    plan.work_dir.mkdir(parents=True, exist_ok=True)
    with _run_lock(plan):
        return _run_plan_locked(plan, force=force, progress=progress, kernel=kernel, log=log, jobs=jobs)


class _run_lock:
    """One ``drugsim reproduce`` per work folder at a time (two would overwrite each other's notebooks)."""

    def __init__(self, plan: RunPlan) -> None:
        self.path = plan.layout.lock
        self.where = plan.rel(plan.work_dir)
        self.handle = None

    def __enter__(self) -> _run_lock:
        import fcntl

        self.handle = open(self.path, "w")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self.handle.close()
            raise ConfigError(f"another drugsim reproduce is running in {self.where}; wait for it to finish") from exc
        return self

    def __exit__(self, *exc_info: Any) -> None:
        import fcntl

        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


@dataclass
class _Due:
    """A notebook that must run: its cache key and the parts it was made from, and why it reruns."""

    key: str
    parts: dict[str, Any]
    reason: str


class _Stepper:
    """The steps around each notebook of one run: the cache check and start line, the run, the end line
    and stamp. Shared by the one-at-a-time loop and the concurrent one."""

    def __init__(self, plan: RunPlan, *, force: Any, kernel: str, log: Callable[[str], None],
                 dataset_hash: str, environment: Mapping[str, Any]) -> None:
        self.plan, self.force, self.kernel, self.log = plan, force, kernel, log
        self.dataset_hash, self.environment = dataset_hash, environment
        self.position = {nb.spec.name: i for i, nb in enumerate(plan.notebooks, start=1)}

    def tag(self, nb: PlannedNotebook) -> str:
        return f"[{self.plan.layout.tag} {self.position[nb.spec.name]}/{len(self.plan.notebooks)}] {nb.spec.name}"

    def begin(self, nb: PlannedNotebook) -> tuple[NotebookOutcome | None, _Due | None]:
        """The cached outcome when ``nb`` is up to date; otherwise log its start line and say why it runs."""
        key, parts = cache_key(self.plan, nb, dataset_hash=self.dataset_hash, environment=self.environment)
        stamp = rc.read_stamp(nb.stamp)
        forced = self.force if isinstance(self.force, bool) else nb.spec.name in self.force
        if not forced and rc.stamp_is_current(stamp, key, published=nb.published, results=nb.results):
            self.log(f"{self.tag(nb)}: unchanged since the last run, not rerun")
            return NotebookOutcome(nb.spec.name, "cached", stamp.get("duration_s")), None
        reason = why_rerun(stamp, parts, force=forced)
        self.log(f"{self.tag(nb)}: started ({reason}){started_estimate(stamp)}; log: {self.plan.rel(nb.log)}")
        return None, _Due(key, parts, reason)

    def execute(self, nb: PlannedNotebook, *, progress: bool) -> float:
        with Heartbeat(nb.spec.name, nb.log, log=self.log):
            return execute_planned(self.plan, nb, kernel=self.kernel, progress=progress)

    def end(self, nb: PlannedNotebook, due: _Due, duration: float) -> NotebookOutcome:
        self.log(f"{self.tag(nb)}: finished in {duration:.0f} s")
        rc.write_stamp(nb.stamp, {
            "key": due.key,
            "parts": due.parts,
            "kernel": self.kernel,
            "duration_s": duration,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "published": self.plan.rel(nb.published),
            "published_sha256": rc.sha256_file(nb.published),
            "results_sha256": rc.sha256_file(nb.results) if nb.results.exists() else None,
        })
        return NotebookOutcome(nb.spec.name, "ran", duration, reason=due.reason)


def _run_plan_locked(plan: RunPlan, *, force: Any, progress: bool, kernel: str | None,
                     log: Callable[[str], None], jobs: int) -> list[NotebookOutcome]:
    from tqdm.auto import tqdm

    dataset_info = prepare_dataset(plan, progress=progress, log=log)
    environment = rc.environment_fingerprint()
    kernel = kernel or (ensure_kernel(log=log) if plan.notebooks else DEFAULT_KERNEL)
    stepper = _Stepper(plan, force=force, kernel=kernel, log=log, dataset_hash=dataset_info["sha256"],
                       environment=environment)
    bar = tqdm(total=len(plan.notebooks), desc=plan.layout.tag, unit="notebook",
               disable=not progress, position=0, leave=True)
    if jobs == 1:
        outcomes = _run_in_order(plan, stepper, bar=bar, progress=progress)
    else:
        outcomes = _run_concurrently(plan, stepper, bar=bar, jobs=jobs)
    bar.close()
    for name in plan.pending:
        outcomes.append(NotebookOutcome(name, "pending", reason=f"notebooks/{name}.ipynb does not exist yet"))
    for name, reason in plan.blocked.items():
        outcomes.append(NotebookOutcome(name, "blocked", reason=reason))
    order = plan.profiles.notebook_names() if plan.profiles else []
    outcomes.sort(key=lambda o: order.index(o.name) if o.name in order else len(order))
    return outcomes


def _run_in_order(plan: RunPlan, stepper: _Stepper, *, bar: Any, progress: bool) -> list[NotebookOutcome]:
    outcomes: list[NotebookOutcome] = []
    for nb in plan.notebooks:
        bar.set_postfix_str(nb.spec.name)
        cached, due = stepper.begin(nb)
        if cached is not None:
            outcomes.append(cached)
        else:
            assert due is not None
            outcomes.append(stepper.end(nb, due, stepper.execute(nb, progress=progress)))
        bar.update(1)
    return outcomes


def _run_concurrently(plan: RunPlan, stepper: _Stepper, *, bar: Any, jobs: int) -> list[NotebookOutcome]:
    """Run up to ``jobs`` notebooks at once, each as soon as the planned notebooks it reads have finished.

    After a failure no notebook starts; those running finish (and are stamped), then the failure is raised.
    papermill's per-cell progress bars are off: several would overwrite each other's line.
    """
    by_name = {nb.spec.name: nb for nb in plan.notebooks}
    order = list(by_name)
    profile_order = plan.profiles.notebook_names() if plan.profiles else order
    inputs = {name: inputs_of(nb.spec, profile_order) for name, nb in by_name.items()}
    outcomes: dict[str, NotebookOutcome] = {}
    running: dict[str, tuple[Future, _Due]] = {}
    failure: NotebookFailed | None = None
    # papermill changes the working folder around each notebook and back, which is not thread-safe
    # (nteract/papermill#473); with this process already in the project root every change is a no-op.
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="notebook") as pool, \
            kernel_threads(jobs), _working_folder(plan.root):
        while True:
            ready = [] if failure else ready_to_start(order, inputs, finished=set(outcomes),
                                                      running=set(running), jobs=jobs)
            for name in ready:
                cached, due = stepper.begin(by_name[name])
                if cached is not None:
                    outcomes[name] = cached
                    bar.update(1)
                else:
                    assert due is not None
                    running[name] = (pool.submit(stepper.execute, by_name[name], progress=False), due)
            if any(name in outcomes for name in ready):
                continue  # an up-to-date notebook may let others start
            if not running:
                break
            wait([future for future, _ in running.values()], return_when=FIRST_COMPLETED)
            for name, (future, due) in list(running.items()):
                if not future.done():
                    continue
                del running[name]
                bar.update(1)
                try:
                    outcomes[name] = stepper.end(by_name[name], due, future.result())
                except NotebookFailed as exc:
                    failure = failure or exc
    if failure is not None:
        raise failure
    return [outcomes[name] for name in order if name in outcomes]


@contextlib.contextmanager
def _working_folder(path: Path) -> Iterator[None]:
    """This process in ``path`` for the block (``contextlib.chdir`` needs Python 3.11)."""
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


#: Environment variables that size the thread pools of OpenMP (torch, faiss, OpenCV builds using it),
#: MKL and OpenBLAS (numpy, scipy) in a kernel.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_per_kernel(cores: int, jobs: int) -> int:
    """Each of ``jobs`` kernels' share of ``cores``: at least one thread."""
    return max(1, cores // jobs)


@contextlib.contextmanager
def kernel_threads(jobs: int) -> Iterator[None]:
    """Give the kernels started inside this block ``threads_per_kernel(usable_cores(), jobs)`` threads each.

    Each numeric library starts one thread per core by default; ``jobs`` kernels doing so at once would
    run ``jobs`` times as many threads as there are cores, which preempt each other and thrash the caches
    (slower than one notebook after another). A kernel reads these variables from the environment it
    inherits from this process when it starts (torch sizes its intra-op pool from OMP_NUM_THREADS). A
    value the user set is kept.
    """
    share = str(threads_per_kernel(usable_cores(), jobs))
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, share)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
