"""`drugsim reproduce -p NAME VALUE`: checked against the parameters cells, run in a folder and book of its own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drugsim import book, runner
from drugsim.errors import ConfigError
from drugsim.runner import execute
from drugsim.runner.by_hand import run_folders
from drugsim.runner.layout import BookLayout, last_run_record
from drugsim.runner.overrides import check_overrides, collect, parse_value, variant_name
from .helpers import REPO, make_project


@pytest.fixture
def fake_execute(monkeypatch):
    """papermill replaced: publish the notebook and write its parameters as its results."""

    def fake(plan, nb, *, kernel, progress=True):
        nb.published.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(nb.source, nb.published)
        nb.results.parent.mkdir(parents=True, exist_ok=True)
        nb.results.write_text(json.dumps({"params": nb.params}))
        for output in nb.spec.outputs:
            (plan.work_dir / output).mkdir(parents=True, exist_ok=True)
        return 0.5

    monkeypatch.setattr(execute, "execute_planned", fake)
    monkeypatch.setattr(execute, "ensure_kernel", lambda **kwargs: "drugsim")


def _run(root: Path, **kwargs):
    kwargs.setdefault("build_book", False)
    return runner.reproduce(root=root, profile="tiny", dataset=str(root / "photos"), progress=False,
                            log=lambda m: None, **kwargs)


def test_values_are_read_as_papermill_reads_them():
    assert [parse_value(v) for v in ("3", "-2", "0.25", "1e-3", "True", "False", "None", "crosscheck", "3a")] == [
        3, -2, 0.25, 0.001, True, False, None, "crosscheck", "3a"]
    assert collect([["a", "1"], ["b", "x"], ["a", "2"]]) == {"a": 2, "b": "x"}  # the last -p of a name wins


def test_the_variant_name_is_a_hash_of_the_overrides_in_any_order():
    assert variant_name({}) == ""
    one = variant_name({"a": 1, "b": "x"})
    assert one == variant_name({"b": "x", "a": 1}) and len(one) == 8
    assert one != variant_name({"a": 2, "b": "x"})


@pytest.mark.parametrize("overrides, message", [
    ({"nope": 1}, r"^-p nope: no notebook of this run \(04_x\) declares 'nope' in its parameters cell; "
                  r"they declare: match_filter, n_pairs$"),
    ({"n_pairs": "many"}, r"^-p n_pairs 'many': notebooks/04_x.ipynb's parameters cell sets n_pairs = 200; "
                          r"expected an integer$"),
    ({"match_filter": 3}, r"expected text$"),
    ({"work_dir": "elsewhere"}, r"^-p work_dir: set by the runner"),
    ({"seed": 0.5}, r"^-p seed 0.5: expected a whole number$"),
])
def test_overrides_are_checked_against_the_parameters_cells(overrides, message):
    declared = {"04_x": {"work_dir": "", "seed": 0, "n_pairs": 200, "match_filter": "auto"}}
    with pytest.raises(ConfigError, match=message):
        check_overrides(overrides, declared)


def test_a_number_is_accepted_where_the_default_is_a_float_and_none_anywhere():
    check_overrides({"rate": 1, "cap": None}, {"05_x": {"rate": 0.5, "cap": 3}})


def test_the_repository_chapter_04_takes_a_match_filter_into_its_own_folder():
    profiles = runner.load_profiles(REPO / "profiles.yml")
    plan = runner.plan_run(profiles, "tiny", "synthetic", root=REPO, only=["04_keypoints"],
                           overrides={"match_filter": "crosscheck"})
    keypoints = next(nb for nb in plan.notebooks if nb.spec.name == "04_keypoints")
    assert keypoints.params["match_filter"] == "crosscheck"
    variant = variant_name({"match_filter": "crosscheck"})
    assert plan.work_dir == REPO / "runs" / f"tiny-synthetic-{variant}"
    assert keypoints.params["work_dir"] == f"runs/tiny-synthetic-{variant}"
    assert keypoints.published == REPO / "book" / "generated" / "variants" / variant / "synthetic" / "04_keypoints.ipynb"
    # The data notebook it needs does not declare match_filter: it runs with the profile's values.
    data = next(nb for nb in plan.notebooks if nb.spec.name == "01_data")
    assert "match_filter" not in data.params
    with pytest.raises(ConfigError, match=r"^-p match_filtr: no notebook of this run \(01_data, 04_keypoints\)"):
        runner.plan_run(profiles, "tiny", "synthetic", root=REPO, only=["04_keypoints"],
                        overrides={"match_filtr": "crosscheck"})


def test_a_run_with_overrides_never_touches_the_default_run(tmp_path, fake_execute, fixed_environment):
    make_project(tmp_path)
    _run(tmp_path)
    default = tmp_path / "runs" / "tiny-photos"
    before = {p: p.read_bytes() for p in default.rglob("*") if p.is_file()}
    published_before = (tmp_path / "book" / "generated" / "photos" / "02_second.ipynb").read_bytes()

    report = _run(tmp_path, overrides={"factor": 3})
    variant = variant_name({"factor": 3})
    folder = tmp_path / "runs" / f"tiny-photos-{variant}"
    assert report.runs[0][0].work_dir == folder
    assert json.loads((folder / "results" / "02_second.json").read_text())["params"]["factor"] == 3
    assert "factor" not in json.loads((folder / "results" / "01_first.json").read_text())["params"]
    assert json.loads((folder / "overrides.json").read_text()) == {"factor": 3}
    assert (tmp_path / "book" / "generated" / "variants" / variant / "photos" / "02_second.ipynb").exists()
    assert {p: p.read_bytes() for p in default.rglob("*") if p.is_file()} == before
    assert (tmp_path / "book" / "generated" / "photos" / "02_second.ipynb").read_bytes() == published_before
    assert json.loads(last_run_record(tmp_path).read_text())["work_dir"] == f"runs/tiny-photos-{variant}"

    # Its book: its own sources, and a build inside its run folder.
    book_run = report.book_runs()[0]
    layout = book_run.layout.book
    assert layout == BookLayout(tmp_path, variant=variant, output=folder)
    assert layout.html_index == folder / "_build" / "html" / "index.html"
    toc = book.make_toc(layout, report.book_runs())
    assert toc["parts"][0]["chapters"] == [{"file": f"book/generated/variants/{variant}/photos/01_first"},
                                           {"file": f"book/generated/variants/{variant}/photos/02_second"}]
    page = book.reproducibility_page(report.book_runs())
    assert "| `factor` | `3` |" in page
    assert "drugsim reproduce --profile tiny --dataset PATH -p factor 3" in page  # a folder: the reader's own path


def test_the_default_run_says_it_has_no_overrides(tmp_path, fake_execute, fixed_environment):
    make_project(tmp_path)
    page = book.reproducibility_page(_run(tmp_path).book_runs())
    assert "Parameter overrides: none" in page
    assert "make reproduce PROFILE=tiny" in page


def test_cli_refuses_an_undeclared_parameter_in_one_line(tmp_path, capsys):
    from drugsim.cli import main

    make_project(tmp_path)
    code = main(["reproduce", "--root", str(tmp_path), "--profile", "tiny", "--dataset", str(tmp_path / "photos"),
                 "--no-book", "--only", "02_second", "-p", "factr", "2"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        "drugsim: error: -p factr: no notebook of this run (01_first, 02_second) declares 'factr' in its "
        "parameters cell; they declare: factor, value"]
    assert not (tmp_path / "runs").exists()


def test_cli_passes_repeated_parameters(tmp_path, fake_execute, fixed_environment, capsys):
    from drugsim.cli import main

    make_project(tmp_path)
    code = main(["reproduce", "--root", str(tmp_path), "--profile", "tiny", "--dataset", str(tmp_path / "photos"),
                 "--no-book", "-p", "factor", "5", "-p", "value", "2"])
    assert code == 0
    folder = tmp_path / "runs" / f"tiny-photos-{variant_name({'factor': 5, 'value': 2})}"
    assert json.loads((folder / "results" / "02_second.json").read_text())["params"]["factor"] == 5
    assert json.loads((folder / "results" / "01_first.json").read_text())["params"]["value"] == 2


def test_a_synthetic_variant_links_the_default_runs_dataset(tmp_path, fake_execute, fixed_environment, monkeypatch):
    import drugsim.data as data

    drawn = []

    def generate(out_dir, *, preset="tiny", seed=0, progress=True):
        drawn.append(Path(out_dir))
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "manifest.csv").write_text("drug\n")
        return Path(out_dir)

    monkeypatch.setattr(data, "generate_dataset", generate, raising=False)
    make_project(tmp_path, notebooks={"01_first": {"datasets": ["synthetic"]}},
                 profiles={"tiny": {"global": {"synthetic_preset": "tiny", "value": 1}}})
    runner.reproduce(root=tmp_path, profile="tiny", grocery="no", build_book=False, progress=False, log=lambda m: None)
    runner.reproduce(root=tmp_path, profile="tiny", grocery="no", build_book=False, progress=False,
                     log=lambda m: None, overrides={"value": 4})
    assert drawn == [tmp_path / "runs" / "tiny-synthetic" / "data"]  # drawn once, linked into the variant
    linked = tmp_path / "runs" / f"tiny-synthetic-{variant_name({'value': 4})}" / "data" / "manifest.csv"
    assert linked.read_text() == "drug\n"
    assert linked.stat().st_ino == (tmp_path / "runs" / "tiny-synthetic" / "data" / "manifest.csv").stat().st_ino


# ------------------------------------------------------------------------------------------ opened by hand


def test_a_notebook_opened_by_hand_takes_the_last_runs_folders_from_the_root(tmp_path):
    (tmp_path / "profiles.yml").write_text("notebooks: {}\n")
    (tmp_path / "notebooks").mkdir()
    with pytest.raises(ConfigError, match=r"last-run.json: no readable record of a run .*make reproduce PROFILE=tiny"):
        run_folders("tiny", "synthetic", "", "", cwd=tmp_path / "notebooks")
    last_run_record(tmp_path).parent.mkdir()
    last_run_record(tmp_path).write_text(json.dumps({
        "profile": "quick", "dataset": "synthetic", "data_dir": "runs/quick-synthetic/data",
        "work_dir": "runs/quick-synthetic", "overrides": {}}))
    assert run_folders("tiny", "synthetic", "", "", cwd=tmp_path / "notebooks") == (
        "quick", "synthetic", str(tmp_path / "runs/quick-synthetic/data"), str(tmp_path / "runs/quick-synthetic"))
    # papermill's values are kept; relative ones resolve from the root when the kernel runs elsewhere.
    assert run_folders("tiny", "grocery", "/photos", "runs/x", cwd=tmp_path / "notebooks") == (
        "tiny", "grocery", "/photos", str(tmp_path / "runs/x"))
    (tmp_path / "runs" / "x").mkdir()
    assert run_folders("tiny", "grocery", "/photos", "runs/x", cwd=tmp_path) == ("tiny", "grocery", "/photos", "runs/x")


def test_every_notebook_opened_by_hand_finds_the_last_run():
    """Every notebook's parameters leave the folders empty and its next cell fills them from the last run."""
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        index = next(i for i, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", []))
        declared = runner.declared_parameters(path)
        assert (declared["data_dir"], declared["work_dir"]) == ("", ""), path.name
        after = "".join(cells[index + 1]["source"])
        assert "run_folders(profile, dataset, data_dir, work_dir)" in after, path.name
        assert "remove-cell" in cells[index + 1]["metadata"]["tags"], path.name


@pytest.mark.slow
def test_only_04_keypoints_with_a_match_filter_reruns_that_chapter_into_its_own_folder_and_book(tmp_path):
    """The README's teacher's loop for real: papermill runs chapter 04 (and the data chapter it needs) with
    ``match_filter = crosscheck`` into ``runs/tiny-synthetic-<hash>/``, and its book is built there."""
    for name in ("profiles.yml", "_config.yml", "_toc.yml", "references.bib"):
        shutil.copyfile(REPO / name, tmp_path / name)
    for folder in ("notebooks", "book"):
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("generated", ".ipynb_checkpoints"))
    overrides = collect([["match_filter", "crosscheck"]])
    report = runner.reproduce(root=tmp_path, profile="tiny", only=["04_keypoints"], overrides=overrides,
                              grocery="no", progress=False, log=lambda m: None)
    folder = tmp_path / "runs" / f"tiny-synthetic-{variant_name(overrides)}"
    assert [(o.name, o.status) for o in report.runs[0][1]] == [("01_data", "ran"), ("04_keypoints", "ran")]
    results = json.loads((folder / "results" / "04_keypoints.json").read_text())
    assert results["chosen_match_filter"] == {"sift": "crosscheck", "orb": "crosscheck"}
    assert not (tmp_path / "runs" / "tiny-synthetic").exists()  # no default run was made or touched
    assert report.book_index == folder / "_build" / "html" / "index.html" and report.book_index.exists()
    pages = {p.name: p.read_text(encoding="utf-8") for p in report.book_index.parent.rglob("*.html")}
    assert "crosscheck" in pages["04_keypoints.html"]
    assert "match_filter" in pages["reproducibility.html"] and "crosscheck" in pages["reproducibility.html"]


def test_a_figure_its_data_cannot_have_loses_its_caption_and_the_sentence_about_it(tmp_path):
    """The feature-face panel needs face flags, which real photos lack: the page must not refer to it."""
    nb = {"cells": [
        {"cell_type": "markdown", "id": "m", "metadata": {},
         "source": "Faces. {numref}`fig-faces` shows faces of both kinds. {numref}`fig-pairs` shows pairs.\n"},
        {"cell_type": "code", "id": "a", "metadata": {"mystnb": {"figure": {"name": "fig-faces", "caption": "c"}}},
         "outputs": [], "execution_count": 1, "source": "x"},
        {"cell_type": "code", "id": "b", "metadata": {"mystnb": {"figure": {"name": "fig-pairs", "caption": "c"}}},
         "outputs": [{"output_type": "display_data", "data": {"image/png": "iVBOR"}, "metadata": {}}],
         "execution_count": 2, "source": "y"},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb))
    book._tidy_for_book(path, label_suffix="grocery")
    cells = json.loads(path.read_text())["cells"]
    assert cells[0]["source"] == "Faces. {numref}`fig-pairs-grocery` shows pairs.\n"
    assert "figure" not in cells[1]["metadata"]["mystnb"]
    assert cells[2]["metadata"]["mystnb"]["figure"]["name"] == "fig-pairs-grocery"
