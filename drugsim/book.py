"""The Jupyter Book around the executed notebooks: its table of contents, reproducibility page and build.

The committed ``_toc.yml`` builds a book with no run in it (introduction, how to get the data, how to
rerun). After a run, :func:`write_book_sources` writes ``book/generated/_toc.yml`` listing the published
notebooks (one chapter each, in ``profiles.yml`` order, the Grocery Store runs as their own part) and
``book/generated/reproducibility.md``; :func:`build_book` builds with that table of contents.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

import yaml

from drugsim import runner_cache as rc
from drugsim.errors import DrugsimError
from drugsim.hardware import hardware_info

if TYPE_CHECKING:  # pragma: no cover
    from drugsim.runner import Profiles, ReproduceReport, RunPlan

GENERATED = Path("book") / "generated"
TOC_NAME = "_toc.yml"

#: Packages named on the reproducibility page besides the numeric ones of runner_cache.KEY_PACKAGES.
_TOOL_PACKAGES = ("drugsim", "papermill", "jupyter-book", "myst-nb", "sphinx", "ipykernel")


class BookBuildError(DrugsimError):
    """``jupyter-book build`` reported warnings or errors."""


def _part_caption(plan: "RunPlan") -> str:
    kind = plan.dataset.kind
    if kind == "synthetic":
        return f"Reproduction on synthetic drug boxes (profile {plan.profile})"
    if kind == "grocery":
        return f"Real photos: the Grocery Store dataset (profile {plan.profile})"
    return f"Your photos: {plan.dataset.name} (profile {plan.profile})"


def published_chapters(plan: "RunPlan", profiles: "Profiles") -> List[str]:
    """Notebooks of this run whose published copy is the one their stamp vouches for, in profile order."""
    names = []
    for name, spec in profiles.notebooks.items():
        if plan.dataset.kind not in spec.datasets:
            continue
        published = plan.book_dir / f"{name}.ipynb"
        stamp = rc.read_stamp(plan.work_dir / "stamps" / f"{name}.json")
        if stamp and published.exists() and rc.sha256_file(published) == stamp.get("published_sha256"):
            names.append(name)
    return names


def make_toc(root: Path, report: "ReproduceReport", profiles: "Profiles") -> Dict[str, Any]:
    """The table of contents for what this run published."""
    parts: List[Dict[str, Any]] = []
    grocery_run = False
    for plan, _ in report.runs:
        chapters = [{"file": (GENERATED / plan.dataset.name / name).as_posix()}
                    for name in published_chapters(plan, profiles)]
        if plan.dataset.kind == "grocery" and len(report.runs) > 1:
            grocery_run = True
            parts.append({"caption": _part_caption(plan), "numbered": True,
                          "chapters": [{"file": "book/grocery", "sections": chapters}] if chapters
                          else [{"file": "book/grocery"}]})
        elif chapters:
            parts.append({"caption": _part_caption(plan), "numbered": True, "chapters": chapters})
        else:
            parts.append({"caption": _part_caption(plan), "chapters": [{"file": "book/not_run"}]})
    if report.runs and report.runs[0][0].dataset.kind == "synthetic" and not grocery_run:
        parts.append({"caption": "Real photos", "chapters": [{"file": "book/grocery_missing"}]})
    parts.append({"caption": "About this build", "chapters": [
        {"file": (GENERATED / "reproducibility").as_posix()},
        {"file": "book/references"},
    ]})
    return {"format": "jb-book", "root": "book/intro", "parts": parts}


def _fence(text: str, lang: str = "yaml") -> str:
    return f"```{lang}\n{text.rstrip()}\n```"


def _table(header: List[str], rows: List[List[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
    return "\n".join(lines)


def _duration(plan: "RunPlan", name: str) -> Optional[float]:
    try:
        meta = json.loads((plan.book_dir / f"{name}.ipynb").read_text(encoding="utf-8"))["metadata"]["papermill"]
        return float(meta["duration"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def reproducibility_page(report: "ReproduceReport", profiles: "Profiles") -> str:
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
    for plan, outcomes in report.runs:
        dataset = rc.read_stamp(plan.work_dir / "dataset.json") or {}
        out += [
            "",
            f"## Run `{plan.profile}-{plan.dataset.name}`",
            "",
            _table(["", ""], [
                ["profile", f"`{plan.profile}`: {profiles.profiles[plan.profile]['description']}"],
                ["dataset", f"{plan.dataset.kind} (`{dataset.get('data_dir', '')}`)"],
                ["files in the dataset", dataset.get("n_files", "")],
                ["dataset content hash (SHA-256 over every file)", f"`{dataset.get('sha256', '')}`"],
                ["work folder", f"`{plan.rel(plan.work_dir)}`"],
            ]),
            "",
            "Run times per notebook (papermill's `metadata.papermill.duration` of the executed notebook). A "
            "notebook is rerun only when its code, its parameters, the drugsim source or its input data "
            "changed (the cache key below); otherwise the copy made at the time shown is kept:",
            "",
        ]
        rows = []
        for outcome in outcomes:
            stamp = rc.read_stamp(plan.work_dir / "stamps" / f"{outcome.name}.json") or {}
            seconds = _duration(plan, outcome.name) if outcome.status in ("ran", "cached") else None
            status = "executed" if outcome.status in ("ran", "cached") else outcome.status
            rows.append([
                outcome.name, status,
                f"{seconds:.1f}" if seconds is not None else "",
                stamp.get("finished_at", "") if outcome.status in ("ran", "cached") else outcome.reason,
                f"`{stamp.get('key', '')[:12]}`" if outcome.status in ("ran", "cached") else "",
            ])
        out.append(_table(["notebook", "status", "wall time (s)", "finished (UTC) / reason", "cache key"], rows))
        params = {"global": plan.global_params,
                  "notebooks": {nb.spec.name: nb.params for nb in plan.notebooks}}
        out += ["", "Parameters (as given to each notebook by papermill):", "",
                _fence(yaml.safe_dump(params, sort_keys=False, default_flow_style=False))]
    pending = sorted({o.name for _, outcomes in report.runs for o in outcomes if o.status in ("pending", "blocked")})
    if pending:
        out += ["", "## Not in this build", "",
                "Listed in `profiles.yml` but not run (a notebook not written yet, or one that needs it): "
                + ", ".join(f"`{n}`" for n in pending) + "."]
    if report.grocery_note:
        out += ["", "## Real photos", "", report.grocery_note.replace("$", "\\$") + "."]
    out += ["", "## Rerun", "", "```bash\nmake reproduce PROFILE="
            + (report.runs[0][0].profile if report.runs else "quick") + "\n```", ""]
    return "\n".join(out)


def write_book_sources(root: Path, report: "ReproduceReport", *, profiles: "Profiles") -> Path:
    """Write ``book/generated/_toc.yml`` and ``book/generated/reproducibility.md``; return the toc path."""
    from drugsim.io import write_text_atomic

    generated = Path(root) / GENERATED
    generated.mkdir(parents=True, exist_ok=True)
    write_text_atomic(generated / "reproducibility.md", reproducibility_page(report, profiles))
    toc = generated / TOC_NAME
    write_text_atomic(toc, "# Written by drugsim reproduce from profiles.yml and the notebooks it published.\n"
                      + yaml.safe_dump(make_toc(root, report, profiles), sort_keys=False))
    return toc


def _book_inputs_hash(root: Path, toc: Path) -> str:
    digest = hashlib.sha256()
    files = [root / "_config.yml", root / "references.bib", toc]
    files += sorted((root / "book").rglob("*"))
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(rc.sha256_file(path).encode() + b"\n")
    digest.update(json.dumps(rc.package_versions(("jupyter-book", "myst-nb", "sphinx"))).encode())
    return digest.hexdigest()


def _jupyter_book_command() -> List[str]:
    beside = Path(sys.executable).parent / "jupyter-book"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("jupyter-book")
    if found:
        return [found]
    raise DrugsimError("jupyter-book is not installed; run `make install` (pyproject.toml lists it)")


def build_book(root: Path, *, toc: Optional[Path] = None, force: bool = False,
               log: Callable[[str], None] = print) -> Path:
    """``jupyter-book build <root> -W`` with the generated toc; skipped when no source changed.

    Returns:
        ``<root>/_build/html/index.html``.

    Raises:
        BookBuildError: listing every warning Sphinx reported (warnings are errors here).
    """
    root = Path(root).resolve()
    toc = toc or (root / GENERATED / TOC_NAME)
    if not toc.exists():
        toc = root / TOC_NAME
    index = root / "_build" / "html" / "index.html"
    stamp_path = root / "_build" / ".drugsim-book.json"
    inputs = _book_inputs_hash(root, toc)
    stamp = rc.read_stamp(stamp_path)
    if not force and index.exists() and stamp and stamp.get("inputs") == inputs:
        log(f"book unchanged: {index}")
        return index
    command = _jupyter_book_command() + ["build", str(root), "--toc", str(toc), "-W", "--keep-going",
                                         "--builder", "html"]
    log("building the book: " + " ".join(Path(command[0]).name if i == 0 else c for i, c in enumerate(command)))
    started = time.perf_counter()
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1")
    proc = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env)
    log_path = root / "_build" / "jupyter-book.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(proc.stdout + "\n" + proc.stderr, encoding="utf-8")
    if proc.returncode != 0 or not index.exists():
        problems = [line for line in (proc.stdout + "\n" + proc.stderr).splitlines()
                    if "WARNING" in line or "ERROR" in line or "Error" in line]
        detail = "\n  ".join(problems[:30]) or (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        _unlink_quiet(stamp_path)
        raise BookBuildError(f"jupyter-book build failed (warnings are errors); full log: {log_path}\n  {detail}")
    rc.write_stamp(stamp_path, {"inputs": inputs})
    log(f"book built in {time.perf_counter() - started:.0f} s: {index}")
    return index


def _unlink_quiet(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
