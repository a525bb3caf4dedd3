"""The book's sources: the committed table of contents builds without warnings; the generated one lists runs."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml

from drugsim import book, runner
from drugsim.runner.layout import BookLayout

from .helpers import REPO, make_project


def test_config_keeps_the_build_offline_and_unexecuted():
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["only_build_toc_files"] is True
    assert config["sphinx"]["config"]["intersphinx_mapping"] == {}
    assert config["sphinx"]["config"]["numfig"] is True
    assert config["bibtex_bibfiles"] == ["references.bib"]
    for pattern in ("runs", ".venv", "notebooks", "_build"):
        assert pattern in config["exclude_patterns"]


def test_references_hold_every_work_the_book_cites():
    bib = (REPO / "references.bib").read_text()
    for key in ("csa2024similarity", "hadsell2006dimensionality", "lowe2004sift", "rublee2011orb",
                "bromley1993signature", "klasson2019grocery", "he2016resnet", "simonyan2015vgg",
                "tan2019efficientnet", "musgrave2020reality", "wang2004ssim", "johnson2019faiss"):
        assert "{" + key + "," in bib


def _outcomes(plan):
    return [runner.NotebookOutcome(nb.spec.name, "ran", 1.0) for nb in plan.notebooks]


def test_generated_toc_lists_published_chapters_in_profile_order(tmp_path, monkeypatch):
    make_project(tmp_path)
    profiles = runner.load_profiles(tmp_path / "profiles.yml")
    plan = runner.plan_run(profiles, "tiny", str(tmp_path / "photos"), root=tmp_path)
    # Only a notebook whose published copy matches its stamp is a chapter.
    from drugsim.runner import cache as rc

    for nb in plan.notebooks[:1]:
        nb.published.parent.mkdir(parents=True)
        nb.published.write_text("{}")
        rc.write_stamp(nb.stamp, {"published_sha256": rc.sha256_file(nb.published)})
    report = runner.ReproduceReport(runs=[(plan, _outcomes(plan))])
    toc = book.make_toc(BookLayout(tmp_path), report.book_runs())
    assert toc["root"] == "book/intro"
    assert toc["parts"][0]["chapters"] == [{"file": "book/generated/photos/01_first"}]
    assert toc["parts"][-1]["chapters"][0] == {"file": "book/generated/reproducibility"}


def test_synthetic_run_without_grocery_points_to_how_to_get_it(tmp_path):
    make_project(tmp_path, notebooks={"01_first": {"datasets": ["synthetic"]}}, profiles={"tiny": {}})
    profiles = runner.load_profiles(tmp_path / "profiles.yml")
    plan = runner.plan_run(profiles, "tiny", "synthetic", root=tmp_path)
    toc = book.make_toc(BookLayout(tmp_path), runner.ReproduceReport(runs=[(plan, [])]).book_runs())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert "book/grocery_missing" in files and "book/not_run" in files


def test_reproducibility_page_names_profile_machine_and_times(tmp_path):
    make_project(tmp_path)
    profiles = runner.load_profiles(tmp_path / "profiles.yml")
    plan = runner.plan_run(profiles, "tiny", str(tmp_path / "photos"), root=tmp_path)
    page = book.reproducibility_page(runner.ReproduceReport(runs=[(plan, _outcomes(plan))]).book_runs())
    for expected in ("# Reproducibility", "## Machine", "CPU cores", "## Package versions", "papermill",
                     "Run `tiny-photos`", "dataset content hash", "wall time (s)", "factor: 2"):
        assert expected in page


@pytest.mark.slow
def test_committed_sources_build_without_warnings(tmp_path):
    """A fresh clone's book (no run yet) builds with -W: no warnings, no network."""
    for name in ("_config.yml", "_toc.yml", "references.bib"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "book", tmp_path / "book", ignore=shutil.ignore_patterns("generated"))
    index = book.build_book(BookLayout(tmp_path), toc=tmp_path / "_toc.yml", log=lambda m: None)
    assert index.exists()
    assert (tmp_path / "_build" / "html" / "book" / "grocery_missing.html").exists()
    page = (tmp_path / "_build" / "html" / "book" / "grocery_missing.html").read_text()
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "drugsim data fetch grocery" in text and "DRUGSIM_GROCERY_ROOT" in text


def test_publish_moves_the_executed_notebook_and_results_into_the_book_and_withdraw_removes_them(tmp_path):
    import json

    from drugsim.runner.layout import RunLayout

    layout = RunLayout(tmp_path, "tiny", "grocery")
    executed = layout.executing("01_first")
    executed.parent.mkdir(parents=True)
    executed.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": "(intro)=\n# Intro"}],
                                    "metadata": {"papermill": {"duration": 2.5}}}))
    layout.results("01_first").parent.mkdir(parents=True)
    layout.results("01_first").write_text('{"value": 1}')
    published = book.publish_notebook(layout, "01_first", executed)
    assert published == tmp_path / "book" / "generated" / "grocery" / "01_first.ipynb"
    assert not executed.exists()
    assert json.loads(published.read_text())["cells"][0]["source"] == "(intro-grocery)=\n# Intro"
    assert book.notebook_duration(published) == 2.5
    assert layout.published_results("01_first").read_text() == '{"value": 1}'
    book.withdraw_notebook(layout, "01_first")
    assert not published.exists() and not layout.published_results("01_first").exists()
    book.withdraw_notebook(layout, "01_first")  # nothing published: nothing to do


def test_run_layout_names_the_documented_run_folder(tmp_path):
    from drugsim.runner.layout import RunLayout

    layout = RunLayout(tmp_path, "quick", "synthetic")
    work = tmp_path / "runs" / "quick-synthetic"
    assert layout.work_dir == work and layout.data_dir == work / "data"
    assert layout.stamp("05_siamese") == work / "stamps" / "05_siamese.json"
    assert layout.results("05_siamese") == work / "results" / "05_siamese.json"
    assert layout.log("05_siamese") == work / "logs" / "05_siamese.log"
    assert layout.failed("05_siamese") == work / "failed" / "05_siamese.ipynb"
    assert layout.published("05_siamese") == tmp_path / "book" / "generated" / "synthetic" / "05_siamese.ipynb"
    assert layout.chapter_doc("05_siamese") == "book/generated/synthetic/05_siamese"
    assert layout.rel(layout.log("05_siamese")) == "runs/quick-synthetic/logs/05_siamese.log"
    assert layout.book.toc == tmp_path / "book" / "generated" / "_toc.yml"
