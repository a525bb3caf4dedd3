"""Publishing: executed notebooks into the book, its table of contents, reproducibility page and build.

:func:`publish_notebook` moves a notebook that ran without error into the book's source tree (tidied for
the page: parameters folded, widget outputs dropped, labels renamed for a second dataset);
:func:`withdraw_notebook` takes the published copy out before a rerun, so a failure never leaves an old
page standing for the current code.

The committed ``_toc.yml`` builds a book with no run in it (introduction, how to get the data, how to
rerun). After a run, :func:`write_book_sources` writes the generated table of contents listing the
published notebooks (one chapter each, in ``profiles.yml`` order, the Grocery Store runs as their own part)
and the reproducibility page; :func:`build_book` builds with that table of contents.

Every path comes from a :class:`~drugsim.runner.layout.RunLayout` or
:class:`~drugsim.runner.layout.BookLayout`; what the book shows of a run comes as plain data
(:class:`BookRun`), never as the runner's own types.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drugsim.errors import DrugsimError
from drugsim.hardware import hardware_info
from drugsim.runner import cache as rc
from drugsim.runner.layout import GENERATED, VARIANTS, BookLayout, RunLayout

#: Packages named on the reproducibility page besides the numeric ones of drugsim.runner.cache.KEY_PACKAGES.
_TOOL_PACKAGES = ("drugsim", "papermill", "jupyter-book", "myst-nb", "sphinx", "ipykernel")


class BookBuildError(DrugsimError):
    """``jupyter-book build`` reported warnings or errors."""


@dataclass(frozen=True)
class BookRun:
    """What the book shows of one ``(profile, dataset)`` run: plain data the runner fills in.

    Attributes:
        layout: the run's paths (its stamps, dataset description and published notebooks).
        dataset_kind: ``synthetic``, ``grocery`` or ``folder``.
        profile_description: the profile's description from ``profiles.yml``.
        chapters: the notebooks this kind of data can publish, in ``profiles.yml`` order.
        outcomes: one ``{"name", "status", "reason"}`` per notebook of the run (status: ran, cached,
            pending or blocked).
        parameters: ``{"global": {...}, "notebooks": {name: {...}}}`` as given to the notebooks.
        overrides: the ``-p NAME VALUE`` parameters of this run (empty: the profile's own values).
    """

    layout: RunLayout
    dataset_kind: str
    profile_description: str = ""
    chapters: Sequence[str] = ()
    outcomes: Sequence[Mapping[str, Any]] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    overrides: Mapping[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Publishing one notebook


def notebook_duration(path: Path) -> float | None:
    """papermill's ``metadata.papermill.duration`` of an executed notebook, or ``None`` when absent."""
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8"))["metadata"]["papermill"]
        return float(meta["duration"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


_LABEL_DEF = re.compile(r"^\((?P<label>[^()\s]+)\)=\s*$|^:name:\s*(?P<name>\S+)\s*$", re.MULTILINE)


def _suffix_labels(cells: list[dict[str, Any]], suffix: str) -> None:
    """Rename the labels a notebook defines (and its own references to them) to ``<label>-<suffix>``.

    The same chapter published for two datasets would otherwise define every label twice.
    """
    sources = {}
    for i, cell in enumerate(cells):
        if cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            sources[i] = "".join(source) if isinstance(source, list) else source
    labels = {m.group("label") or m.group("name") for text in sources.values() for m in _LABEL_DEF.finditer(text)}
    # Figures captioned in a code cell's metadata (myst-nb's mystnb.figure) are labels too.
    for cell in cells:
        figure = cell.get("metadata", {}).get("mystnb", {}).get("figure")
        if isinstance(figure, dict) and figure.get("name"):
            labels.add(str(figure["name"]))
            figure["name"] = f"{figure['name']}-{suffix}"
    for i, text in sources.items():
        for label in labels:
            new = f"{label}-{suffix}"
            text = re.sub(rf"^\({re.escape(label)}\)=", f"({new})=", text, flags=re.MULTILINE)
            text = re.sub(rf"^(:name:\s*){re.escape(label)}\s*$", rf"\g<1>{new}", text, flags=re.MULTILINE)
            text = re.sub(rf"(\{{(?:ref|numref|eq)\}}`(?:[^`<]*<)?){re.escape(label)}(>?`)", rf"\g<1>{new}\g<2>", text)
        cells[i]["source"] = text


def _drop_missing_figures(cells: list[dict[str, Any]]) -> None:
    """A figure cell that drew nothing on this data (a panel its dataset cannot have) loses its caption, and the
    sentence that refers to it goes: a reference to a figure that is not there would break the build."""
    missing = []
    for cell in cells:
        figure = cell.get("metadata", {}).get("mystnb", {}).get("figure")
        if isinstance(figure, dict) and figure.get("name") and not any(
                "image/png" in (o.get("data") or {}) and not (o.get("metadata") or {}).get("scrapbook")
                for o in cell.get("outputs", [])):
            missing.append(str(figure["name"]))
            del cell["metadata"]["mystnb"]["figure"]
    for cell in cells:
        if cell.get("cell_type") != "markdown" or not missing:
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else source
        for name in missing:
            text = re.sub(rf"\s*\{{numref\}}`{re.escape(name)}`[^.]*\.", "", text)
        cell["source"] = text


def _tidy_for_book(executed: Path, *, label_suffix: str | None = None) -> None:
    """Drop the default parameters and widget outputs from the page; fold the values the run injected.

    ``label_suffix`` renames the notebook's labels (a chapter published for a second dataset).
    """
    nb = json.loads(executed.read_text(encoding="utf-8"))
    _drop_missing_figures(nb.get("cells", []))
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


def withdraw_notebook(layout: RunLayout, name: str) -> None:
    """Take ``name``'s published copy and results out of the book (before it reruns)."""
    layout.published(name).unlink(missing_ok=True)
    layout.published_results(name).unlink(missing_ok=True)


def publish_notebook(layout: RunLayout, name: str, executed: Path) -> Path:
    """Tidy ``executed`` for the page and move it into the book, with its results beside it.

    A chapter published for a dataset other than the synthetic one gets its labels suffixed with the
    dataset's name, so the same chapter in two parts of the book defines no label twice.

    Returns:
        The published notebook's path.
    """
    published = layout.published(name)
    published.parent.mkdir(parents=True, exist_ok=True)
    _tidy_for_book(executed, label_suffix=None if layout.dataset == "synthetic" else layout.dataset)
    os.replace(executed, published)
    if layout.results(name).exists():
        shutil.copyfile(layout.results(name), layout.published_results(name))
    return published


# --------------------------------------------------------------------------------------------------
# The generated sources


def _part_caption(run: BookRun) -> str:
    profile = run.layout.profile
    if run.dataset_kind == "synthetic":
        return f"Reproduction on synthetic drug boxes (profile {profile})"
    if run.dataset_kind == "grocery":
        return f"Real photos: the Grocery Store dataset (profile {profile})"
    return f"Your photos: {run.layout.dataset} (profile {profile})"


def published_chapters(run: BookRun) -> list[str]:
    """Chapters of this run whose published copy is the one their stamp vouches for, in profile order."""
    names = []
    for name in run.chapters:
        published = run.layout.published(name)
        stamp = rc.read_stamp(run.layout.stamp(name))
        if stamp and published.exists() and rc.sha256_file(published) == stamp.get("published_sha256"):
            names.append(name)
    return names


def make_toc(book_layout: BookLayout, runs: Sequence[BookRun]) -> dict[str, Any]:
    """The table of contents for what these runs published."""
    parts: list[dict[str, Any]] = []
    grocery_run = False
    for run in runs:
        chapters = [{"file": run.layout.chapter_doc(name)} for name in published_chapters(run)]
        if run.dataset_kind == "grocery" and len(runs) > 1:
            grocery_run = True
            parts.append({"caption": _part_caption(run), "numbered": True,
                          "chapters": [{"file": "book/grocery", "sections": chapters}] if chapters
                          else [{"file": "book/grocery"}]})
        elif chapters:
            parts.append({"caption": _part_caption(run), "numbered": True, "chapters": chapters})
        else:
            parts.append({"caption": _part_caption(run), "chapters": [{"file": "book/not_run"}]})
    if runs and runs[0].dataset_kind == "synthetic" and not grocery_run:
        parts.append({"caption": "Real photos", "chapters": [{"file": "book/grocery_missing"}]})
    parts.append({"caption": "About this build", "chapters": [
        {"file": book_layout.reproducibility_doc},
        {"file": "book/references"},
    ]})
    root = book_layout.front_doc if book_layout.front_page.exists() else "book/intro"
    return {"format": "jb-book", "root": root, "parts": parts}


def _fence(text: str, lang: str = "yaml") -> str:
    return f"```{lang}\n{text.rstrip()}\n```"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
    return "\n".join(lines)


def _override_text(value: Any) -> str:
    """A ``-p`` value as it is typed on the command line (papermill's reading gives it back), quoted for a shell."""
    import shlex

    return shlex.quote("None" if value is None else str(value))


def rerun_command(runs: Sequence[BookRun]) -> str:
    """The command that rebuilds this book: ``make reproduce`` for the default run, else ``drugsim reproduce -p``."""
    profile = runs[0].layout.profile if runs else "quick"
    overrides = dict(runs[0].overrides) if runs else {}
    if not overrides:
        return f"make reproduce PROFILE={profile}"
    dataset = runs[0].layout.dataset if runs[0].dataset_kind != "folder" else "PATH"
    options = " ".join(f"-p {name} {_override_text(value)}" for name, value in overrides.items())
    return f"drugsim reproduce --profile {profile} --dataset {dataset} {options}"


def overrides_section(run: BookRun) -> list[str]:
    """Markdown lines: the run's ``-p`` overrides, or that it used the profile's values."""
    if not run.overrides:
        return ["Parameter overrides: none; every notebook ran with the profile's values "
                "(`drugsim reproduce -p NAME VALUE` sets one, in a run folder of its own)."]
    return [
        "Parameter overrides (`-p NAME VALUE`), given to every notebook whose parameters cell declares the "
        f"name; this run has its own folder (`{run.layout.rel(run.layout.work_dir)}`) and book, and the "
        "default run's are untouched:",
        "",
        _table(["parameter", "value"], [[f"`{name}`", f"`{_override_text(value)}`"]
                                        for name, value in run.overrides.items()]),
    ]


def reproducibility_page(runs: Sequence[BookRun], *, grocery_note: str = "") -> str:
    """Markdown: machine, package versions, and per run the profile, dataset hash, parameters and times."""
    from drugsim import __version__

    machine = hardware_info()
    versions = rc.package_versions(_TOOL_PACKAGES + rc.KEY_PACKAGES)
    versions["drugsim"] = versions.get("drugsim") or __version__
    out = [
        "(reproducibility)=",
        "# Reproducibility",
        "",
        "This page is written by `drugsim reproduce` from the run that built this book; every value on it "
        "comes from that run (papermill's metadata, the dataset's files, the installed packages).",
        "",
        "## Machine",
        "",
        _table(["", ""], [
            ["CPU", machine["cpu_model"]],
            ["CPU cores (usable)", f"{machine['cpu_cores']} ({machine['cpu_cores_usable']})"],
            ["Memory", f"{machine['ram_gib']} GiB" if machine["ram_gib"] else "unknown"],
            ["Torch device", machine.get("torch_device") or "none"],
            ["Operating system", machine["platform"]],
            ["Python", machine["python"]],
        ]),
        "",
        "## Package versions",
        "",
        _table(["package", "version"], [[k, v or "not installed"] for k, v in versions.items()]),
        "",
        f"drugsim source hash (what the notebook cache keys hold): `{rc.package_source_hash()[:16]}`",
    ]
    for run in runs:
        layout = run.layout
        dataset = rc.read_stamp(layout.dataset_info) or {}
        out += [
            "",
            f"## Run `{layout.tag}`",
            "",
            _table(["", ""], [
                ["profile", f"`{layout.profile}`: {run.profile_description}"],
                ["dataset", f"{run.dataset_kind} (`{dataset.get('data_dir', '')}`)"],
                ["files in the dataset", dataset.get("n_files", "")],
                ["dataset content hash (SHA-256 over every file)", f"`{dataset.get('sha256', '')}`"],
                ["work folder", f"`{layout.rel(layout.work_dir)}`"],
            ]),
            "",
            *overrides_section(run),
            "",
            "Run times per notebook (papermill's `metadata.papermill.duration` of the executed notebook). A "
            "notebook is rerun only when its code, its parameters, the drugsim source or its input data "
            "changed (the cache key below); otherwise the copy made at the time shown is kept:",
            "",
        ]
        rows = []
        for outcome in run.outcomes:
            name, executed = outcome["name"], outcome["status"] in ("ran", "cached")
            stamp = rc.read_stamp(layout.stamp(name)) or {}
            seconds = notebook_duration(layout.published(name)) if executed else None
            status = "executed" if executed else outcome["status"]
            rows.append([
                name, status,
                f"{seconds:.1f}" if seconds is not None else "",
                stamp.get("finished_at", "") if executed else outcome.get("reason", ""),
                f"`{stamp.get('key', '')[:12]}`" if executed else "",
            ])
        out.append(_table(["notebook", "status", "wall time (s)", "finished (UTC) / reason", "cache key"], rows))
        params = {"global": dict(run.parameters.get("global", {})),
                  "notebooks": dict(run.parameters.get("notebooks", {}))}
        out += ["", "Parameters (as given to each notebook by papermill):", "",
                _fence(yaml.safe_dump(params, sort_keys=False, default_flow_style=False))]
    pending = sorted({o["name"] for run in runs for o in run.outcomes if o["status"] in ("pending", "blocked")})
    if pending:
        out += ["", "## Not in this build", "",
                "Listed in `profiles.yml` but not run (a notebook not written yet, or one that needs it): "
                + ", ".join(f"`{n}`" for n in pending) + "."]
    if grocery_note:
        out += ["", "## Real photos", "", grocery_note.replace("$", "\\$") + "."]
    out += ["", "## Rerun", "", "```bash\n" + rerun_command(runs) + "\n```", ""]
    return "\n".join(out)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def front_page(book_layout: BookLayout, run: BookRun, intro: str) -> str:
    """The introduction with "What this run found" (:mod:`drugsim.findings`) right under its title."""
    from drugsim import findings

    chapters = published_chapters(run)
    results = {name: data for name in chapters if (data := _read_json(run.layout.results(name))) is not None}
    chapter_docs = {name: "/" + run.layout.chapter_doc(name) for name in chapters}
    durations = [notebook_duration(run.layout.published(name)) for name in chapters]
    dataset = rc.read_stamp(run.layout.dataset_info) or {}
    kind = {"synthetic": "synthetic drug boxes drawn by drugsim", "grocery": "the Grocery Store photos"}.get(
        run.dataset_kind, f"your photos ({run.layout.dataset})")
    facts = findings.run_facts(
        profile=run.layout.profile, profile_description=run.profile_description, dataset=kind,
        n_files=dataset.get("n_files"), machine=hardware_info(),
        run_seconds=sum(d for d in durations if d is not None) if any(d is not None for d in durations) else None,
        overrides=run.overrides)
    block = findings.findings_block(results=results, chapter_docs=chapter_docs, facts=facts,
                                    reproducibility_doc=book_layout.reproducibility_doc)
    return findings.insert_after_title(intro, block)


def write_book_sources(book_layout: BookLayout, runs: Sequence[BookRun], *, grocery_note: str = "") -> Path:
    """Write the generated front page, table of contents and reproducibility page; return the toc path."""
    from drugsim.io import write_text_atomic

    book_layout.generated_dir.mkdir(parents=True, exist_ok=True)
    intro = book_layout.root / "book" / "intro.md"
    if runs and intro.exists():
        write_text_atomic(book_layout.front_page, front_page(book_layout, runs[0], intro.read_text(encoding="utf-8")))
    else:
        book_layout.front_page.unlink(missing_ok=True)
    write_text_atomic(book_layout.reproducibility_page, reproducibility_page(runs, grocery_note=grocery_note))
    write_text_atomic(book_layout.toc, "# Written by drugsim reproduce from profiles.yml and the notebooks it "
                      "published.\n" + yaml.safe_dump(make_toc(book_layout, runs), sort_keys=False))
    return book_layout.toc


def _book_inputs_hash(book_layout: BookLayout, toc: Path) -> str:
    root = book_layout.root
    digest = hashlib.sha256()
    files = [root / "_config.yml", root / "references.bib", toc]
    generated = root / GENERATED
    # Another book's generated sources (a run with overrides, or the default run) are not this book's input.
    files += sorted(path for path in (root / "book").rglob("*")
                    if generated not in path.parents or book_layout.generated_dir in path.parents)
    if not book_layout.variant:
        files = [path for path in files if generated / VARIANTS not in path.parents]
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(rc.sha256_file(path).encode() + b"\n")
    digest.update(json.dumps(rc.package_versions(("jupyter-book", "myst-nb", "sphinx"))).encode())
    return digest.hexdigest()


def _jupyter_book_command() -> list[str]:
    beside = Path(sys.executable).parent / "jupyter-book"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("jupyter-book")
    if found:
        return [found]
    raise DrugsimError("jupyter-book is not installed; run `make install` (pyproject.toml lists it)")


def build_book(book_layout: BookLayout, *, toc: Path | None = None, force: bool = False,
               log: Callable[[str], None] = print) -> Path:
    """``jupyter-book build <root> -W`` with the generated toc; skipped when no source changed.

    Returns:
        ``<root>/_build/html/index.html``.

    Raises:
        BookBuildError: listing every warning Sphinx reported (warnings are errors here).
    """
    book_layout = BookLayout(Path(book_layout.root).resolve(), variant=book_layout.variant,
                             output=Path(book_layout.output).resolve() if book_layout.output is not None else None)
    root = book_layout.root
    toc = toc or book_layout.toc
    if not toc.exists():
        toc = book_layout.committed_toc
    index = book_layout.html_index
    stamp_path = book_layout.build_stamp
    inputs = _book_inputs_hash(book_layout, toc)
    stamp = rc.read_stamp(stamp_path)
    if not force and index.exists() and stamp and stamp.get("inputs") == inputs:
        log(f"book unchanged: {index}")
        return index
    command = _jupyter_book_command() + ["build", str(root), "--toc", str(toc), "-W", "--keep-going",
                                         "--builder", "html"]
    if book_layout.output is not None:
        command += ["--path-output", str(book_layout.output_dir)]
    log("building the book: " + " ".join(Path(command[0]).name if i == 0 else c for i, c in enumerate(command)))
    started = time.perf_counter()
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1")
    proc = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env)
    log_path = book_layout.build_log
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(proc.stdout + "\n" + proc.stderr, encoding="utf-8")
    if proc.returncode != 0 or not index.exists():
        problems = [line for line in (proc.stdout + "\n" + proc.stderr).splitlines()
                    if "WARNING" in line or "ERROR" in line or "Error" in line]
        detail = "\n  ".join(problems[:30]) or (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        stamp_path.unlink(missing_ok=True)
        raise BookBuildError(f"jupyter-book build failed (warnings are errors); full log: {log_path}\n  {detail}")
    rc.write_stamp(stamp_path, {"inputs": inputs})
    log(f"book built in {time.perf_counter() - started:.0f} s: {index}")
    return index
