"""Run the study: prepare a dataset, execute the notebooks with papermill, publish them into the book.

``drugsim reproduce`` and ``make reproduce`` call :func:`reproduce`. The notebook list, their order,
what each needs from earlier ones and every parameter come from ``profiles.yml`` (:func:`load_profiles`).

One run lives in ``runs/<profile>-<dataset>/`` (the notebooks' ``work_dir``)::

    data/                 the dataset (synthetic: generated here; grocery / a PATH: used in place)
    pairs/, models/, cache/   what notebooks hand to later ones
    results/<name>.json   each notebook's results (drugsim.report.save_results)
    logs/<name>.log       each notebook's cell outputs as it ran
    stamps/<name>.json    the content-hash key of its last successful run (drugsim.runner_cache)
    failed/<name>.ipynb   the executed copy of a notebook that failed (never published)

A notebook executes into ``<work_dir>/executing/`` and is moved into the book's source tree
(``book/generated/<dataset>/``) only when every cell succeeded, so a failure never reaches the book.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

from drugsim import runner_cache as rc
from drugsim.errors import ConfigError, DatasetError, DrugsimError


def say(message: str) -> None:
    """Print one progress line now: flushed, so a log file that stdout is piped into shows it as it happens."""
    print(message, flush=True)


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
                 interval: Optional[float] = None):
        import threading

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

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        self._thread.join()

#: Parameters the runner gives every notebook (each notebook's `parameters` cell declares them).
STANDARD_PARAMS = ("profile", "dataset", "data_dir", "work_dir", "results_path", "seed")
#: Kinds of data a notebook can run on.
DATASET_KINDS = ("synthetic", "grocery", "folder")
#: The kernel the Makefile installs into the virtual environment.
DEFAULT_KERNEL = "drugsim"

_NOTEBOOK_KEYS = {"title", "needs", "uses", "after_all", "outputs", "datasets"}
_PROFILE_KEYS = {"description", "global", "notebooks", "grocery"}
_OVERRIDE_KEYS = {"global", "notebooks"}
_NAME_RE = re.compile(r"^[0-9]{2}_[a-z0-9_]+$")


class NotebookFailed(DrugsimError):
    """A notebook raised an error; the message names the notebook, the cell and the error."""


# --------------------------------------------------------------------------------------------------
# profiles.yml


@dataclass(frozen=True)
class NotebookSpec:
    """One notebook as ``profiles.yml`` declares it."""

    name: str
    title: str
    needs: Tuple[str, ...] = ()
    uses: Tuple[str, ...] = ()
    after_all: bool = False
    outputs: Tuple[str, ...] = ()
    datasets: Tuple[str, ...] = ("synthetic",)


@dataclass
class Profiles:
    """The parsed, validated ``profiles.yml``."""

    path: Path
    notebooks: Dict[str, NotebookSpec]
    profiles: Dict[str, Dict[str, Any]]

    def notebook_names(self) -> List[str]:
        return list(self.notebooks)

    def profile(self, name: str) -> Dict[str, Any]:
        if name not in self.profiles:
            raise ConfigError(
                f"unknown profile {name!r}; {self.path.name} defines: {', '.join(self.profiles)}"
            )
        return self.profiles[name]

    def check_notebook_name(self, name: str) -> str:
        if name not in self.notebooks:
            raise ConfigError(
                f"unknown notebook {name!r}; {self.path.name} lists: {', '.join(self.notebooks)}"
            )
        return name


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, list):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _check_params(where: str, params: Any, *, allow_seed: bool) -> Dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: expected a mapping of parameter names to values, got {params!r}")
    for key, value in params.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ConfigError(f"{where}: parameter name {key!r} is not a Python identifier")
        reserved = [p for p in STANDARD_PARAMS if p != "seed" or not allow_seed]
        if key in reserved:
            raise ConfigError(f"{where}: {key!r} is set by the runner and cannot be given in a profile")
        if not _is_plain(value):
            raise ConfigError(f"{where}.{key}: expected a plain value (number, string, list, mapping), got {value!r}")
    return dict(params)


def _check_override(where: str, block: Any, notebooks: Mapping[str, NotebookSpec]) -> Dict[str, Any]:
    if block is None:
        return {"global": {}, "notebooks": {}}
    if not isinstance(block, dict):
        raise ConfigError(f"{where}: expected a mapping with 'global' and 'notebooks', got {block!r}")
    unknown = set(block) - _OVERRIDE_KEYS - ({"description"} if "." not in where else set())
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; expected {sorted(_OVERRIDE_KEYS)}")
    global_params = _check_params(f"{where}.global", block.get("global"), allow_seed=True)
    per_notebook = block.get("notebooks") or {}
    if not isinstance(per_notebook, dict):
        raise ConfigError(f"{where}.notebooks: expected a mapping of notebook names, got {per_notebook!r}")
    checked = {}
    for name, params in per_notebook.items():
        if name not in notebooks:
            raise ConfigError(
                f"{where}.notebooks: unknown notebook {name!r}; the 'notebooks' list has: {', '.join(notebooks)}"
            )
        checked[name] = _check_params(f"{where}.notebooks.{name}", params, allow_seed=True)
    return {"global": global_params, "notebooks": checked}


def load_profiles(path: Path) -> Profiles:
    """Read and validate ``profiles.yml``.

    Raises:
        ConfigError: naming the file, the key at fault and what was expected.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file; the run profiles live in profiles.yml at the project root")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict) or "notebooks" not in raw or "profiles" not in raw:
        raise ConfigError(f"{path}: expected top-level keys 'notebooks' and 'profiles'")
    unknown = set(raw) - {"notebooks", "profiles"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {sorted(unknown)}; expected 'notebooks' and 'profiles'")
    if not isinstance(raw["notebooks"], dict) or not raw["notebooks"]:
        raise ConfigError(f"{path}: 'notebooks' must map notebook names (like 01_data) to their settings")

    notebooks: Dict[str, NotebookSpec] = {}
    for name, entry in raw["notebooks"].items():
        where = f"{path.name}: notebooks.{name}"
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ConfigError(f"{where}: a notebook name must look like 01_data (two digits, underscore, lowercase)")
        entry = entry or {}
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping, got {entry!r}")
        bad = set(entry) - _NOTEBOOK_KEYS
        if bad:
            raise ConfigError(f"{where}: unknown key(s) {sorted(bad)}; expected some of {sorted(_NOTEBOOK_KEYS)}")
        needs = tuple(entry.get("needs") or ())
        for need in needs:
            if need not in notebooks:
                later = " (it comes later in the list: needs must come first)" if need in raw["notebooks"] else ""
                raise ConfigError(f"{where}.needs: {need!r} is not an earlier notebook{later}")
        uses = tuple(entry.get("uses") or ())
        for used in uses:
            if used not in notebooks:
                raise ConfigError(f"{where}.uses: {used!r} is not an earlier notebook")
        datasets = tuple(entry.get("datasets") or ("synthetic",))
        for kind in datasets:
            if kind not in DATASET_KINDS:
                raise ConfigError(f"{where}.datasets: {kind!r} is not one of {', '.join(DATASET_KINDS)}")
        outputs = tuple(entry.get("outputs") or ())
        for output in outputs:
            if not isinstance(output, str) or Path(output).is_absolute() or ".." in Path(output).parts:
                raise ConfigError(f"{where}.outputs: {output!r} must be a path inside work_dir")
        notebooks[name] = NotebookSpec(
            name=name,
            title=str(entry.get("title") or name),
            needs=needs,
            uses=uses,
            after_all=bool(entry.get("after_all", False)),
            outputs=outputs,
            datasets=datasets,
        )

    if not isinstance(raw["profiles"], dict) or not raw["profiles"]:
        raise ConfigError(f"{path}: 'profiles' must map profile names (tiny, quick, paper) to their settings")
    profiles: Dict[str, Dict[str, Any]] = {}
    for pname, pentry in raw["profiles"].items():
        where = f"{path.name}: profiles.{pname}"
        if not isinstance(pentry, dict):
            raise ConfigError(f"{where}: expected a mapping, got {pentry!r}")
        bad = set(pentry) - _PROFILE_KEYS
        if bad:
            raise ConfigError(f"{where}: unknown key(s) {sorted(bad)}; expected some of {sorted(_PROFILE_KEYS)}")
        base = _check_override(where, {k: pentry.get(k) for k in ("global", "notebooks")}, notebooks)
        grocery = _check_override(f"{where}.grocery", pentry.get("grocery"), notebooks)
        profiles[str(pname)] = {
            "description": str(pentry.get("description", "")),
            "global": base["global"],
            "notebooks": base["notebooks"],
            "grocery": grocery,
        }
    return Profiles(path=path, notebooks=notebooks, profiles=profiles)


# --------------------------------------------------------------------------------------------------
# Planning a run


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
    if slug in ("synthetic", "grocery", "generated"):
        slug = f"folder-{slug}"
    return DatasetChoice(kind="folder", name=slug, spec=str(folder))


@dataclass
class PlannedNotebook:
    spec: NotebookSpec
    source: Path
    params: Dict[str, Any]
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
    work_dir: Path
    data_dir: Optional[Path]
    book_dir: Path
    global_params: Dict[str, Any]
    notebooks: List[PlannedNotebook]
    pending: List[str] = field(default_factory=list)
    blocked: Dict[str, str] = field(default_factory=dict)
    profiles: Optional[Profiles] = None

    def rel(self, path: Path) -> str:
        """``path`` relative to the project root when inside it (as notebooks and the book show it)."""
        path = Path(path)
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)


def _closure(profiles: Profiles, names: Sequence[str]) -> List[str]:
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


def declared_parameters(notebook: Path) -> Dict[str, Any]:
    """Names and values assigned in a notebook's ``parameters``-tagged cell.

    Read with Python's own parser (papermill's line-based one trips over quotes inside comments).

    Raises:
        ConfigError: the notebook is unreadable, has no ``parameters`` cell, or that cell is not Python.
    """
    import ast

    try:
        cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{notebook}: not a readable notebook ({exc})") from exc
    for cell in cells:
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            try:
                tree = ast.parse(source)
            except SyntaxError as exc:
                raise ConfigError(f"{notebook}: its parameters cell is not valid Python ({exc})") from exc
            declared: Dict[str, Any] = {}
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else (
                    [node.target] if isinstance(node, ast.AnnAssign) else [])
                for target in targets:
                    if isinstance(target, ast.Name):
                        try:
                            declared[target.id] = ast.literal_eval(node.value) if node.value is not None else None
                        except ValueError:
                            declared[target.id] = None
            return declared
    raise ConfigError(f"{notebook}: no code cell tagged 'parameters' (papermill needs one to inject the run's values)")


def plan_run(
    profiles: Profiles,
    profile: str,
    dataset: str = "synthetic",
    *,
    root: Path,
    only: Optional[Sequence[str]] = None,
) -> RunPlan:
    """Resolve which notebooks run, in what order, with which parameters, for ``profile`` and ``dataset``.

    Notebooks listed in ``profiles.yml`` whose file does not exist yet are reported in ``plan.pending``
    (and those that need them in ``plan.blocked``), never silently dropped.

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

    work_dir = root / "runs" / f"{profile}-{choice.name}"
    book_dir = root / "book" / "generated" / choice.name
    data_dir = work_dir / "data" if choice.kind == "synthetic" else None
    if choice.kind == "folder":
        data_dir = Path(choice.spec).expanduser().resolve()
    plan = RunPlan(
        root=root, profile=profile, dataset=choice, work_dir=work_dir, data_dir=data_dir,
        book_dir=book_dir, global_params=global_params, notebooks=[], profiles=profiles,
    )
    unavailable: Dict[str, str] = {}
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
        params = {k: v for k, v in global_params.items() if k in declared}
        params.update(own)
        params.update(
            profile=profile,
            dataset=choice.spec if choice.kind == "folder" else choice.kind,
            data_dir="",  # filled in once the dataset is prepared
            work_dir=plan.rel(work_dir),
            results_path=plan.rel(work_dir / "results" / f"{name}.json"),
            seed=int(own.get("seed", seed)),
        )
        plan.notebooks.append(
            PlannedNotebook(
                spec=spec, source=source, params=params,
                published=book_dir / f"{name}.ipynb",
                results=work_dir / "results" / f"{name}.json",
                stamp=work_dir / "stamps" / f"{name}.json",
                log=work_dir / "logs" / f"{name}.log",
            )
        )
    return plan


# --------------------------------------------------------------------------------------------------
# Dataset


def prepare_dataset(plan: RunPlan, *, progress: bool = True, log: Callable[[str], None] = say) -> Dict[str, Any]:
    """Make the run's data ready and return its description with a content hash of every file.

    synthetic: generated into ``<work_dir>/data`` with the profile's ``synthetic_preset`` and seed (kept
    while preset, seed and the data-generating code are unchanged); grocery: the Grocery Store root from
    ``drugsim.data.resolve_data_root``; a folder: used in place.
    """
    kind = plan.dataset.kind
    info: Dict[str, Any] = {"kind": kind, "name": plan.dataset.name}
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
        stamp_path = plan.work_dir / "stamps" / "dataset.json"
        assert plan.data_dir is not None
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
    info.update(rc.tree_hash(plan.data_dir, memo_path=plan.work_dir / "cache" / "dataset-files.json"))
    for nb in plan.notebooks:
        nb.params["data_dir"] = plan.rel(plan.data_dir)
    rc.write_stamp(plan.work_dir / "dataset.json", info)
    return info


# --------------------------------------------------------------------------------------------------
# Executing notebooks


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


def failure_message(name: str, exc: BaseException, *, executed: Optional[Path], log_path: Path,
                    failed_copy: Optional[Path], rel: Callable[[Path], str]) -> str:
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


def _notebook_duration(path: Path) -> Optional[float]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("papermill", {})
        duration = meta.get("duration")
        return float(duration) if duration is not None else None
    except (OSError, ValueError):
        return None


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


_LABEL_DEF = re.compile(r"^\((?P<label>[^()\s]+)\)=\s*$|^:name:\s*(?P<name>\S+)\s*$", re.M)


def _suffix_labels(cells: List[Dict[str, Any]], suffix: str) -> None:
    """Rename the labels a notebook defines (and its own references to them) to ``<label>-<suffix>``.

    The same chapter published for two datasets would otherwise define every label twice.
    """
    sources = {}
    for i, cell in enumerate(cells):
        if cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            sources[i] = "".join(source) if isinstance(source, list) else source
    labels = {m.group("label") or m.group("name") for text in sources.values() for m in _LABEL_DEF.finditer(text)}
    for i, text in sources.items():
        for label in labels:
            new = f"{label}-{suffix}"
            text = re.sub(rf"^\({re.escape(label)}\)=", f"({new})=", text, flags=re.M)
            text = re.sub(rf"^(:name:\s*){re.escape(label)}\s*$", rf"\g<1>{new}", text, flags=re.M)
            text = re.sub(rf"(\{{(?:ref|numref|eq)\}}`(?:[^`<]*<)?){re.escape(label)}(>?`)", rf"\g<1>{new}\g<2>", text)
        cells[i]["source"] = text


def _tidy_for_book(executed: Path, *, label_suffix: Optional[str] = None) -> None:
    """Drop the default parameters and widget outputs from the page; fold the values the run injected.

    ``label_suffix`` renames the notebook's labels (a chapter published for a second dataset).
    """
    nb = json.loads(executed.read_text(encoding="utf-8"))
    if label_suffix:
        _suffix_labels(nb.get("cells", []), label_suffix)
    for cell in nb.get("cells", []):
        # Progress-bar widgets (tqdm with ipywidgets installed) have no static rendering: the book would warn.
        outputs = []
        for output in cell.get("outputs", []):
            data = output.get("data")
            if isinstance(data, dict) and _WIDGET_MIME in data:
                data.pop(_WIDGET_MIME)
                if not data or set(data) == {"text/plain"}:
                    continue
            outputs.append(output)
        if "outputs" in cell:
            cell["outputs"] = outputs
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
        if "injected-parameters" in tags and "hide-input" not in tags:
            tags.append("hide-input")
    executed.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def execute_planned(plan: RunPlan, nb: PlannedNotebook, *, kernel: str, progress: bool = True) -> float:
    """Run one notebook with papermill; publish it into the book only if every cell succeeded.

    Returns:
        Its wall time in seconds (papermill's ``metadata.papermill.duration``).

    Raises:
        NotebookFailed: with the notebook, cell and error; the executed copy goes to ``<work_dir>/failed``.
    """
    import papermill

    name = nb.spec.name
    executing = plan.work_dir / "executing" / f"{name}.ipynb"
    failed_copy = plan.work_dir / "failed" / f"{name}.ipynb"
    for path in (executing, failed_copy, nb.published, nb.results, nb.stamp):
        _unlink(path)
    _unlink(nb.published.with_suffix(".results.json"))
    for folder in (executing.parent, nb.log.parent, nb.results.parent, nb.published.parent):
        folder.mkdir(parents=True, exist_ok=True)

    handler = logging.FileHandler(nb.log, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    pm_logger = logging.getLogger("papermill")
    old_level, old_propagate = pm_logger.level, pm_logger.propagate
    pm_logger.addHandler(handler)
    pm_logger.setLevel(logging.INFO)
    pm_logger.propagate = False  # the log file gets cell output; the terminal keeps the progress bars
    started = time.perf_counter()
    try:
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
        _unlink(nb.results)
        if isinstance(exc, KeyboardInterrupt):
            raise
        message = failure_message(name, exc, executed=failed_copy, log_path=nb.log,
                                  failed_copy=failed_copy, rel=plan.rel)
        with open(nb.log, "a", encoding="utf-8") as handle:
            handle.write("\n" + message + "\n")
        raise NotebookFailed(message) from exc
    finally:
        pm_logger.removeHandler(handler)
        handler.close()
        pm_logger.setLevel(old_level)
        pm_logger.propagate = old_propagate
    _tidy_for_book(executing, label_suffix=None if plan.dataset.name == "synthetic" else plan.dataset.name)
    os.replace(executing, nb.published)
    if nb.results.exists():
        shutil.copyfile(nb.results, nb.published.with_suffix(".results.json"))
    duration = _notebook_duration(nb.published)
    return duration if duration is not None else time.perf_counter() - started


# --------------------------------------------------------------------------------------------------
# Cache keys


def _upstream_hash(plan: RunPlan, name: str) -> Optional[Dict[str, Any]]:
    stamp = rc.read_stamp(plan.work_dir / "stamps" / f"{name}.json")
    if not stamp:
        return None
    spec = plan.profiles.notebooks[name] if plan.profiles else None
    outputs = {}
    for output in (spec.outputs if spec else ()):
        outputs[output] = rc.tree_hash(plan.work_dir / output)["sha256"]
    return {"results": stamp.get("results_sha256"), "published": stamp.get("published_sha256"), "outputs": outputs}


def cache_key(plan: RunPlan, nb: PlannedNotebook, *, dataset_hash: str, environment: Mapping[str, Any]) -> Tuple[str, Dict[str, Any]]:
    """The content hash deciding whether ``nb`` must run again, and the parts it was made from."""
    upstream: Dict[str, Any] = {}
    names = list(nb.spec.needs) + [n for n in nb.spec.uses if n not in nb.spec.needs]
    if nb.spec.after_all and plan.profiles is not None:
        order = plan.profiles.notebook_names()
        names += [n for n in order[: order.index(nb.spec.name)] if n not in names]
    for name in names:
        upstream[name] = _upstream_hash(plan, name)
    parts = {
        "notebook": rc.notebook_source_hash(nb.source),
        "parameters": nb.params,
        "environment": dict(environment),
        "dataset": dataset_hash,
        "upstream": upstream,
    }
    return rc.sha256_json(parts), parts


# --------------------------------------------------------------------------------------------------
# Running a plan


def started_estimate(stamp: Optional[Mapping[str, Any]]) -> str:
    """``", last run took 93 s"`` from the notebook's previous stamp, or ``""`` when it never ran here."""
    duration = (stamp or {}).get("duration_s")
    if not isinstance(duration, (int, float)) or not duration > 0:
        return ""
    return f", last run took {duration:.0f} s"


def _why_rerun(stamp: Optional[Mapping[str, Any]], parts: Mapping[str, Any], *, force: bool) -> str:
    """Which parts of the cache key changed since the last successful run (for the run summary)."""
    if force:
        return "--force"
    if not stamp or "parts" not in stamp:
        return "no earlier successful run"
    changed = [name for name, value in parts.items()
               if rc.sha256_json(value) != rc.sha256_json(stamp["parts"].get(name))]
    return ("changed: " + ", ".join(changed)) if changed else "published copy missing or modified"


@dataclass
class NotebookOutcome:
    name: str
    status: str  # ran | cached | pending | blocked
    duration_s: Optional[float] = None
    reason: str = ""


def run_plan(
    plan: RunPlan,
    *,
    force: Any = False,
    progress: bool = True,
    kernel: Optional[str] = None,
    log: Callable[[str], None] = say,
) -> List[NotebookOutcome]:
    """Prepare the dataset and run every planned notebook that is not up to date, in order.

    ``force``: True reruns every planned notebook, a set of names reruns those.

    Raises:
        NotebookFailed: at the first notebook that fails (later ones do not run).
    """
    plan.work_dir.mkdir(parents=True, exist_ok=True)
    with _run_lock(plan):
        return _run_plan_locked(plan, force=force, progress=progress, kernel=kernel, log=log)


class _run_lock:
    """One ``drugsim reproduce`` per work folder at a time (two would overwrite each other's notebooks)."""

    def __init__(self, plan: RunPlan) -> None:
        self.path = plan.work_dir / ".lock"
        self.where = plan.rel(plan.work_dir)
        self.handle = None

    def __enter__(self) -> "_run_lock":
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


def _run_plan_locked(plan: RunPlan, *, force: Any, progress: bool, kernel: Optional[str],
                     log: Callable[[str], None]) -> List[NotebookOutcome]:
    from tqdm.auto import tqdm

    dataset_info = prepare_dataset(plan, progress=progress, log=log)
    environment = rc.environment_fingerprint()
    kernel = kernel or (ensure_kernel(log=log) if plan.notebooks else DEFAULT_KERNEL)
    outcomes: List[NotebookOutcome] = []
    bar = tqdm(plan.notebooks, desc=f"{plan.profile}-{plan.dataset.name}", unit="notebook",
               disable=not progress, position=0, leave=True)
    run_tag = f"{plan.profile}-{plan.dataset.name}"
    for position, nb in enumerate(bar, start=1):
        bar.set_postfix_str(nb.spec.name)
        tag = f"[{run_tag} {position}/{len(plan.notebooks)}] {nb.spec.name}"
        key, parts = cache_key(plan, nb, dataset_hash=dataset_info["sha256"], environment=environment)
        stamp = rc.read_stamp(nb.stamp)
        forced = force if isinstance(force, bool) else nb.spec.name in force
        if not forced and rc.stamp_is_current(stamp, key, published=nb.published, results=nb.results):
            log(f"{tag}: unchanged since the last run, not rerun")
            outcomes.append(NotebookOutcome(nb.spec.name, "cached", stamp.get("duration_s")))
            continue
        reason = _why_rerun(stamp, parts, force=forced)
        log(f"{tag}: started ({reason}){started_estimate(stamp)}; log: {plan.rel(nb.log)}")
        with Heartbeat(nb.spec.name, nb.log, log=log):
            duration = execute_planned(plan, nb, kernel=kernel, progress=progress)
        log(f"{tag}: finished in {duration:.0f} s")
        rc.write_stamp(nb.stamp, {
            "key": key,
            "parts": parts,
            "kernel": kernel,
            "duration_s": duration,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "published": plan.rel(nb.published),
            "published_sha256": rc.sha256_file(nb.published),
            "results_sha256": rc.sha256_file(nb.results) if nb.results.exists() else None,
        })
        outcomes.append(NotebookOutcome(nb.spec.name, "ran", duration, reason=reason))
    bar.close()
    for name in plan.pending:
        outcomes.append(NotebookOutcome(name, "pending", reason=f"notebooks/{name}.ipynb does not exist yet"))
    for name, reason in plan.blocked.items():
        outcomes.append(NotebookOutcome(name, "blocked", reason=reason))
    order = plan.profiles.notebook_names() if plan.profiles else []
    outcomes.sort(key=lambda o: order.index(o.name) if o.name in order else len(order))
    return outcomes


# --------------------------------------------------------------------------------------------------
# The whole study


@dataclass
class ReproduceReport:
    runs: List[Tuple[RunPlan, List[NotebookOutcome]]]
    grocery_note: str = ""
    book_index: Optional[Path] = None
    wall_s: float = 0.0


def grocery_available() -> Tuple[bool, str]:
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
    lines = [f"{plan.profile}-{plan.dataset.name}: {plan.rel(plan.work_dir)}"]
    for outcome in outcomes:
        took = f"{outcome.duration_s:7.1f} s" if outcome.duration_s is not None else "        "
        lines.append(f"  {outcome.name:<22} {outcome.status:<8} {took}  {outcome.reason}".rstrip())
    return "\n".join(lines)


def reproduce(
    *,
    root: Path,
    profile: str = "quick",
    dataset: str = "synthetic",
    only: Optional[Sequence[str]] = None,
    force: bool = False,
    build_book: bool = True,
    grocery: str = "auto",
    strict: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = say,
) -> ReproduceReport:
    """Run the study for ``profile`` on ``dataset`` (plus the Grocery Store photos when present) and build the book.

    Args:
        root: the project root (holds profiles.yml, notebooks/, book/, _config.yml).
        grocery: with synthetic data, also run the real-photo notebooks on the Grocery Store photos:
            ``"auto"`` when they are found, ``"yes"`` (an error when missing) or ``"no"``.
        strict: treat notebooks listed in profiles.yml but not written yet as an error.

    Raises:
        ConfigError, DatasetError, NotebookFailed: with a message naming what went wrong.
    """
    from drugsim import book

    started = time.perf_counter()
    root = Path(root).resolve()
    if grocery not in ("auto", "yes", "no"):
        raise ConfigError(f"grocery must be auto, yes or no, got {grocery!r}")
    profiles = load_profiles(root / "profiles.yml")
    plans = [plan_run(profiles, profile, dataset, root=root, only=only)]
    report = ReproduceReport(runs=[])
    if plans[0].dataset.kind == "synthetic" and grocery != "no":
        found, note = grocery_available()
        report.grocery_note = note
        if found:
            grocery_only = [n for n in (only or []) if "grocery" in profiles.notebooks[n].datasets]
            grocery_plan = plan_run(profiles, profile, "grocery", root=root, only=grocery_only or None)
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
        outcomes = run_plan(plan, force=forced, progress=progress, log=log)
        report.runs.append((plan, outcomes))
        log(format_outcomes(plan, outcomes))
    if build_book:
        book.write_book_sources(root, report, profiles=profiles)
        report.book_index = book.build_book(root, log=log)
    report.wall_s = time.perf_counter() - started
    return report
