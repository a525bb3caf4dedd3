"""Where a run keeps its files: the one place that names the paths of a run folder and of the book.

One run of a ``(profile, dataset)`` pair lives in ``runs/<profile>-<dataset>/`` (the notebooks'
``work_dir``)::

    data/                 the dataset (synthetic: generated here; grocery / a PATH: used in place)
    pairs/, models/, cache/   what notebooks hand to later ones
    results/<name>.json   each notebook's results (drugsim.report.save_results)
    logs/<name>.log       each notebook's cell outputs as it ran
    stamps/<name>.json    the content-hash key of its last successful run (drugsim.runner.cache)
    stamps/dataset.json   what the synthetic dataset was generated from
    dataset.json          the dataset's description and content hash
    executing/<name>.ipynb    the notebook while papermill runs it
    failed/<name>.ipynb   the executed copy of a notebook that failed (never published)

Its notebooks are published into the book's source tree, ``book/generated/<dataset>/<name>.ipynb`` (with
their results beside them as ``<name>.results.json``). :class:`BookLayout` names the book's own files:
the generated table of contents and reproducibility page, and the HTML build under ``_build/``.

A run with parameter overrides (``drugsim reproduce -p NAME VALUE``) is a *variant*: its folder is
``runs/<profile>-<dataset>-<variant>/`` (the variant is a short hash of the overrides), its chapters are
published under ``book/generated/variants/<variant>/`` and its book is built inside its run folder
(``runs/<profile>-<dataset>-<variant>/_build/html/``), so the default run and book are never overwritten.
``runs/last-run.json`` (:func:`last_run_record`) names the folder of the last run, for notebooks opened by hand.

Nothing else builds these paths: the runner and :mod:`drugsim.book` ask a layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The book's source folder for what runs publish (git ignores it).
GENERATED = Path("book") / "generated"
#: Inside GENERATED: the sources of the books of runs with parameter overrides, one folder per variant.
VARIANTS = "variants"


def last_run_record(root: Path) -> Path:
    """``runs/last-run.json``: the last ``drugsim reproduce``'s run folder, read by notebooks opened by hand."""
    return Path(root) / "runs" / "last-run.json"


@dataclass(frozen=True)
class BookLayout:
    """The files of the book around the runs, under the project root.

    Attributes:
        root: the project root.
        variant: empty for the default book; the overrides' hash for the book of a run with overrides.
        output: where that book's ``_build/`` goes (the variant run's folder); the root when ``None``.
    """

    root: Path
    variant: str = ""
    output: Path | None = None

    @property
    def generated(self) -> Path:
        """The generated sources' folder, relative to the root (as the table of contents names files)."""
        return GENERATED / VARIANTS / self.variant if self.variant else GENERATED

    @property
    def generated_dir(self) -> Path:
        return self.root / self.generated

    @property
    def toc(self) -> Path:
        """The table of contents written after a run (``book/generated/_toc.yml``)."""
        return self.generated_dir / "_toc.yml"

    @property
    def committed_toc(self) -> Path:
        """The committed table of contents: the book with no run in it."""
        return self.root / "_toc.yml"

    @property
    def front_page(self) -> Path:
        """The generated front page: the introduction opened by "What this run found"."""
        return self.generated_dir / "index.md"

    @property
    def front_doc(self) -> str:
        return (self.generated / "index").as_posix()

    @property
    def reproducibility_page(self) -> Path:
        return self.generated_dir / "reproducibility.md"

    @property
    def reproducibility_doc(self) -> str:
        """The reproducibility page as the table of contents names it (project-relative, no suffix)."""
        return (self.generated / "reproducibility").as_posix()

    def chapters_dir(self, dataset: str) -> Path:
        """Where the notebooks run on ``dataset`` are published."""
        return self.generated_dir / dataset

    def chapter_doc(self, dataset: str, name: str) -> str:
        """A published notebook as the table of contents names it (project-relative, no suffix)."""
        return (self.generated / dataset / name).as_posix()

    @property
    def output_dir(self) -> Path:
        """The folder holding ``_build/`` (``jupyter-book build --path-output``)."""
        return Path(self.output) if self.output is not None else self.root

    @property
    def build_dir(self) -> Path:
        return self.output_dir / "_build"

    @property
    def html_index(self) -> Path:
        return self.build_dir / "html" / "index.html"

    @property
    def build_stamp(self) -> Path:
        """The hash of the book's inputs at its last successful build."""
        return self.build_dir / ".drugsim-book.json"

    @property
    def build_log(self) -> Path:
        return self.build_dir / "jupyter-book.log"


@dataclass(frozen=True)
class RunLayout:
    """Every path of one run: ``runs/<profile>-<dataset>/`` and its published chapters in the book."""

    root: Path
    profile: str
    dataset: str  # the name used for folders (synthetic, grocery, or a slug of the folder given)
    variant: str = ""  # empty, or the hash of the run's parameter overrides (drugsim reproduce -p)

    @property
    def tag(self) -> str:
        """``<profile>-<dataset>[-<variant>]``: the run folder's name, used in progress lines."""
        return f"{self.profile}-{self.dataset}" + (f"-{self.variant}" if self.variant else "")

    @property
    def work_dir(self) -> Path:
        return self.root / "runs" / self.tag

    @property
    def default(self) -> RunLayout:
        """The same profile and dataset without overrides (where a variant finds its dataset)."""
        return RunLayout(root=self.root, profile=self.profile, dataset=self.dataset)

    @property
    def book(self) -> BookLayout:
        return BookLayout(self.root, variant=self.variant, output=self.work_dir if self.variant else None)

    # ------------------------------------------------------------------ inside the run folder

    @property
    def data_dir(self) -> Path:
        """Where a synthetic dataset is generated (other datasets are used where they are)."""
        return self.work_dir / "data"

    @property
    def pairs_dir(self) -> Path:
        return self.work_dir / "pairs"

    @property
    def models_dir(self) -> Path:
        return self.work_dir / "models"

    @property
    def cache_dir(self) -> Path:
        return self.work_dir / "cache"

    @property
    def dataset_memo(self) -> Path:
        """Per-file hashes of the dataset keyed by size and time, so a large dataset is read once."""
        return self.cache_dir / "dataset-files.json"

    @property
    def dataset_stamp(self) -> Path:
        """What the synthetic dataset was generated from (preset, seed, data code)."""
        return self.work_dir / "stamps" / "dataset.json"

    @property
    def dataset_info(self) -> Path:
        """The dataset's description and content hash, as the reproducibility page shows it."""
        return self.work_dir / "dataset.json"

    @property
    def overrides(self) -> Path:
        """The parameter overrides a variant run was made with (``-p NAME VALUE``)."""
        return self.work_dir / "overrides.json"

    @property
    def lock(self) -> Path:
        return self.work_dir / ".lock"

    def output(self, relative: str) -> Path:
        """An output a notebook declares in profiles.yml (a path inside ``work_dir``)."""
        return self.work_dir / relative

    def results(self, name: str) -> Path:
        return self.work_dir / "results" / f"{name}.json"

    def log(self, name: str) -> Path:
        return self.work_dir / "logs" / f"{name}.log"

    def stamp(self, name: str) -> Path:
        return self.work_dir / "stamps" / f"{name}.json"

    def executing(self, name: str) -> Path:
        return self.work_dir / "executing" / f"{name}.ipynb"

    def failed(self, name: str) -> Path:
        return self.work_dir / "failed" / f"{name}.ipynb"

    # ------------------------------------------------------------------ in the book

    @property
    def book_dir(self) -> Path:
        return self.book.chapters_dir(self.dataset)

    def published(self, name: str) -> Path:
        return self.book_dir / f"{name}.ipynb"

    def published_results(self, name: str) -> Path:
        return self.book_dir / f"{name}.results.json"

    def chapter_doc(self, name: str) -> str:
        return self.book.chapter_doc(self.dataset, name)

    # ------------------------------------------------------------------ showing paths

    def rel(self, path: Path) -> str:
        """``path`` relative to the project root when inside it (as notebooks and the book show it)."""
        path = Path(path)
        try:
            return path.resolve().relative_to(Path(self.root).resolve()).as_posix()
        except ValueError:
            return str(path)
