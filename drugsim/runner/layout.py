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

Nothing else builds these paths: the runner and :mod:`drugsim.book` ask a layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The book's source folder for what runs publish (git ignores it).
GENERATED = Path("book") / "generated"


@dataclass(frozen=True)
class BookLayout:
    """The files of the book around the runs, under the project root."""

    root: Path

    @property
    def generated_dir(self) -> Path:
        return self.root / GENERATED

    @property
    def toc(self) -> Path:
        """The table of contents written after a run (``book/generated/_toc.yml``)."""
        return self.generated_dir / "_toc.yml"

    @property
    def committed_toc(self) -> Path:
        """The committed table of contents: the book with no run in it."""
        return self.root / "_toc.yml"

    @property
    def reproducibility_page(self) -> Path:
        return self.generated_dir / "reproducibility.md"

    @property
    def reproducibility_doc(self) -> str:
        """The reproducibility page as the table of contents names it (project-relative, no suffix)."""
        return (GENERATED / "reproducibility").as_posix()

    def chapters_dir(self, dataset: str) -> Path:
        """Where the notebooks run on ``dataset`` are published."""
        return self.generated_dir / dataset

    def chapter_doc(self, dataset: str, name: str) -> str:
        """A published notebook as the table of contents names it (project-relative, no suffix)."""
        return (GENERATED / dataset / name).as_posix()

    @property
    def build_dir(self) -> Path:
        return self.root / "_build"

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

    @property
    def tag(self) -> str:
        """``<profile>-<dataset>``: the run folder's name, used in progress lines."""
        return f"{self.profile}-{self.dataset}"

    @property
    def work_dir(self) -> Path:
        return self.root / "runs" / self.tag

    @property
    def book(self) -> BookLayout:
        return BookLayout(self.root)

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
