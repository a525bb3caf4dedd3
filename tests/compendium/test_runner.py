"""The notebook runner: profiles validation, the content-hash cache, failures, pending notebooks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from drugsim import book, runner
from drugsim.errors import ConfigError, DatasetError
from drugsim.runner import cache, execute, orchestrate
from drugsim.runner.layout import BookLayout
from .helpers import REPO, make_project, write_notebook


@pytest.fixture
def fake_execute(monkeypatch):
    """Replace papermill with a stand-in that publishes the notebook and writes results from the parameters."""
    calls = []

    def fake(plan, nb, *, kernel, progress=True):
        calls.append(nb.spec.name)
        nb.published.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(nb.source, nb.published)
        nb.results.parent.mkdir(parents=True, exist_ok=True)
        nb.results.write_text(json.dumps({"params": nb.params}))
        for output in nb.spec.outputs:
            (plan.work_dir / output).mkdir(parents=True, exist_ok=True)
            (plan.work_dir / output / "x.txt").write_text(json.dumps(nb.params))
        return 0.5

    monkeypatch.setattr(execute, "execute_planned", fake)
    monkeypatch.setattr(execute, "ensure_kernel", lambda **kwargs: "drugsim")
    return calls


def _run(root: Path, **kwargs):
    kwargs.setdefault("build_book", False)
    kwargs.setdefault("progress", False)
    return runner.reproduce(root=root, profile="tiny", dataset=str(root / "photos"), log=lambda m: None, **kwargs)


def _statuses(report):
    return {o.name: o.status for _, outcomes in report.runs for o in outcomes}


# ------------------------------------------------------------------------------------------ profiles


def test_repository_profiles_load_and_every_profile_plans():
    profiles = runner.load_profiles(REPO / "profiles.yml")
    assert set(profiles.profiles) >= {"tiny", "quick", "paper"}
    assert profiles.notebook_names()[0] == "01_data"
    for name in profiles.profiles:
        # Checks every per-notebook parameter against the notebook's parameters cell (for those written).
        plan = runner.plan_run(profiles, name, "synthetic", root=REPO)
        assert all(nb.params["profile"] == name for nb in plan.notebooks)


def test_unknown_profile_names_the_choices(tmp_path):
    make_project(tmp_path)
    with pytest.raises(ConfigError, match=r"unknown profile 'huge'; profiles.yml defines: tiny"):
        runner.reproduce(root=tmp_path, profile="huge", dataset=str(tmp_path / "photos"), build_book=False)


def test_unknown_notebook_in_only_names_the_list(tmp_path):
    make_project(tmp_path)
    profiles = runner.load_profiles(tmp_path / "profiles.yml")
    with pytest.raises(ConfigError, match=r"unknown notebook '99_nope'; profiles.yml lists: 01_first, 02_second"):
        runner.plan_run(profiles, "tiny", str(tmp_path / "photos"), root=tmp_path, only=["99_nope"])


@pytest.mark.parametrize(
    "notebooks, profiles, message",
    [
        ({"01_a": {"needs": ["02_b"]}, "02_b": {}}, {"tiny": {}},
         r"notebooks.01_a.needs: '02_b' is not an earlier notebook \(it comes later"),
        ({"01_a": {"datasets": ["video"]}}, {"tiny": {}}, r"'video' is not one of synthetic, grocery, folder"),
        ({"01_a": {"colour": "red"}}, {"tiny": {}}, r"notebooks.01_a: unknown key\(s\) \['colour'\]"),
        ({"data": {}}, {"tiny": {}}, r"notebooks.data: a notebook name must look like 01_data"),
        ({"01_a": {}}, {"tiny": {"notebooks": {"02_zz": {}}}}, r"unknown notebook '02_zz'"),
        ({"01_a": {}}, {"tiny": {"global": {"work_dir": "x"}}}, r"'work_dir' is set by the runner"),
        ({"01_a": {}}, {"tiny": {"global": {"f": {1, 2}}}}, r"global.f: expected a plain value"),
        ({"01_a": {"outputs": ["../x"]}}, {"tiny": {}}, r"'../x' must be a path inside work_dir"),
        ({"01_a": {"uses": ["02_b"]}, "02_b": {}}, {"tiny": {}}, r"notebooks.01_a.uses: '02_b' is not an earlier"),
    ],
)
def test_profiles_schema_errors(tmp_path, notebooks, profiles, message):
    path = tmp_path / "profiles.yml"
    path.write_text(yaml.dump({"notebooks": notebooks, "profiles": profiles}))
    with pytest.raises(ConfigError, match=message):
        runner.load_profiles(path)


def test_profiles_file_missing_or_malformed(tmp_path):
    with pytest.raises(ConfigError, match=r"profiles.yml: no such file"):
        runner.load_profiles(tmp_path / "profiles.yml")
    (tmp_path / "profiles.yml").write_text("notebooks: [\n")
    with pytest.raises(ConfigError, match=r"not valid YAML"):
        runner.load_profiles(tmp_path / "profiles.yml")
    (tmp_path / "profiles.yml").write_text("profiles: {}\n")
    with pytest.raises(ConfigError, match=r"expected top-level keys 'notebooks' and 'profiles'"):
        runner.load_profiles(tmp_path / "profiles.yml")


def test_profile_parameter_the_notebook_does_not_declare(tmp_path):
    make_project(tmp_path, profiles={"tiny": {"notebooks": {"02_second": {"factr": 3}}}})
    profiles = runner.load_profiles(tmp_path / "profiles.yml")
    with pytest.raises(ConfigError, match=r"profiles.tiny.notebooks.02_second sets factr, which "
                                          r"notebooks/02_second.ipynb does not declare"):
        runner.plan_run(profiles, "tiny", str(tmp_path / "photos"), root=tmp_path)


def test_parameters_cell_required(tmp_path):
    make_project(tmp_path)
    nb = json.loads((tmp_path / "notebooks" / "01_first.ipynb").read_text())
    nb["cells"][1]["metadata"]["tags"] = []
    (tmp_path / "notebooks" / "01_first.ipynb").write_text(json.dumps(nb))
    profiles = runner.load_profiles(tmp_path / "profiles.yml")
    with pytest.raises(ConfigError, match=r"01_first.ipynb: no code cell tagged 'parameters'"):
        runner.plan_run(profiles, "tiny", str(tmp_path / "photos"), root=tmp_path)


def test_parameters_resolved_globals_only_where_declared(tmp_path):
    make_project(tmp_path, profiles={"tiny": {"global": {"seed": 3, "value": 5, "unused": 1},
                                              "notebooks": {"02_second": {"factor": 4}}}})
    plan = runner.plan_run(runner.load_profiles(tmp_path / "profiles.yml"), "tiny", str(tmp_path / "photos"),
                           root=tmp_path)
    first, second = plan.notebooks
    assert "unused" not in first.params
    assert first.params["value"] == 5 and first.params["seed"] == 3
    assert second.params["factor"] == 4
    assert first.params["work_dir"] == "runs/tiny-photos"
    assert first.params["results_path"] == "runs/tiny-photos/results/01_first.json"


# ------------------------------------------------------------------------------------------ cache


def test_second_run_with_nothing_changed_runs_no_notebook(tmp_path, fake_execute, fixed_environment):
    make_project(tmp_path)
    assert _statuses(_run(tmp_path)) == {"01_first": "ran", "02_second": "ran"}
    assert fake_execute == ["01_first", "02_second"]
    report = _run(tmp_path)
    assert _statuses(report) == {"01_first": "cached", "02_second": "cached"}
    assert fake_execute == ["01_first", "02_second"]


def test_force_reruns_everything(tmp_path, fake_execute, fixed_environment):
    make_project(tmp_path)
    _run(tmp_path)
    assert _statuses(_run(tmp_path, force=True)) == {"01_first": "ran", "02_second": "ran"}


def test_parameter_change_reruns_that_notebook_only(tmp_path, fake_execute, fixed_environment):
    make_project(tmp_path)
    _run(tmp_path)
    doc = yaml.safe_load((tmp_path / "profiles.yml").read_text())
    doc["profiles"]["tiny"]["notebooks"]["02_second"]["factor"] = 7
    (tmp_path / "profiles.yml").write_text(yaml.safe_dump(doc))
    report = _run(tmp_path)
    assert _statuses(report) == {"01_first": "cached", "02_second": "ran"}
    assert [o.reason for _, outs in report.runs for o in outs if o.name == "02_second"] == ["changed: parameters"]


def test_upstream_output_change_reruns_downstream(tmp_path, fake_execute, fixed_environment):
    make_project(tmp_path)
    _run(tmp_path)
    doc = yaml.safe_load((tmp_path / "profiles.yml").read_text())
    doc["profiles"]["tiny"]["global"]["value"] = 9  # 01_first writes it into its output and results
    (tmp_path / "profiles.yml").write_text(yaml.safe_dump(doc))
    report = _run(tmp_path)
    assert _statuses(report) == {"01_first": "ran", "02_second": "ran"}
    reasons = {o.name: o.reason for _, outs in report.runs for o in outs}
    assert reasons["02_second"] == "changed: parameters, upstream"


def test_notebook_code_change_reruns_it(tmp_path, fake_execute, fixed_environment):
    make_project(tmp_path)
    _run(tmp_path)
    write_notebook(tmp_path / "notebooks" / "02_second.ipynb", ["value = value * factor + 1", "pass"],
                   extra_parameters="value = 0  # v\nfactor = 1  # f\n")
    report = _run(tmp_path)
    assert _statuses(report) == {"01_first": "cached", "02_second": "ran"}
    assert [o.reason for _, outs in report.runs for o in outs if o.name == "02_second"] == ["changed: notebook"]


def test_dataset_change_reruns_everything(tmp_path, fake_execute, fixed_environment):
    make_project(tmp_path)
    _run(tmp_path)
    (tmp_path / "photos" / "a" / "two.txt").write_text("more pixels")
    assert _statuses(_run(tmp_path)) == {"01_first": "ran", "02_second": "ran"}


def test_package_change_reruns_everything(tmp_path, fake_execute, monkeypatch):
    make_project(tmp_path)
    monkeypatch.setattr(cache, "environment_fingerprint", lambda: {"drugsim_source": "a"})
    _run(tmp_path)
    monkeypatch.setattr(cache, "environment_fingerprint", lambda: {"drugsim_source": "b"})
    assert _statuses(_run(tmp_path)) == {"01_first": "ran", "02_second": "ran"}


def test_deleted_published_notebook_reruns(tmp_path, fake_execute, fixed_environment):
    make_project(tmp_path)
    _run(tmp_path)
    (tmp_path / "book" / "generated" / "photos" / "02_second.ipynb").unlink()
    report = _run(tmp_path)
    assert _statuses(report) == {"01_first": "cached", "02_second": "ran"}


def test_optional_use_does_not_block_but_its_change_reruns(tmp_path, fake_execute, fixed_environment):
    make_project(tmp_path, notebooks={
        "01_first": {"datasets": ["folder"], "outputs": ["made"]},
        "02_second": {"uses": ["01_first"], "datasets": ["folder"]},
    })
    _run(tmp_path)
    doc = yaml.safe_load((tmp_path / "profiles.yml").read_text())
    doc["profiles"]["tiny"]["global"]["value"] = 9
    (tmp_path / "profiles.yml").write_text(yaml.safe_dump(doc))
    report = _run(tmp_path)
    assert [o.reason for _, outs in report.runs for o in outs if o.name == "02_second"] == [
        "changed: parameters, upstream"]
    # --only follows optional inputs too: an out-of-date one runs first.
    (tmp_path / "photos" / "a" / "new.txt").write_text("more")
    assert _statuses(_run(tmp_path, only=["02_second"])) == {"01_first": "ran", "02_second": "ran"}
    (tmp_path / "notebooks" / "01_first.ipynb").unlink()
    assert _statuses(_run(tmp_path)) == {"01_first": "pending", "02_second": "cached"}


def test_only_runs_the_notebook_and_stale_needs(tmp_path, fake_execute, fixed_environment):
    make_project(tmp_path)
    assert _statuses(_run(tmp_path, only=["01_first"])) == {"01_first": "ran"}
    assert _statuses(_run(tmp_path, only=["02_second"])) == {"01_first": "cached", "02_second": "ran"}


def test_package_source_hash_ignores_orchestration_modules(tmp_path):
    from drugsim.runner.cache import package_source_hash

    (tmp_path / "cli").mkdir()
    (tmp_path / "runner").mkdir()
    (tmp_path / "a.py").write_text("x = 1\n")
    before = package_source_hash(tmp_path)
    (tmp_path / "runner" / "execute.py").write_text("y = 2\n")
    (tmp_path / "cli" / "reproduce.py").write_text("z = 3\n")
    assert package_source_hash(tmp_path) == before
    (tmp_path / "a.py").write_text("x = 2\n")
    assert package_source_hash(tmp_path) != before


def test_notebook_source_hash_ignores_outputs(tmp_path):
    from drugsim.runner.cache import notebook_source_hash

    path = write_notebook(tmp_path / "n.ipynb", ["print(1)"])
    before = notebook_source_hash(path)
    nb = json.loads(path.read_text())
    nb["cells"][2]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
    nb["cells"][2]["execution_count"] = 3
    path.write_text(json.dumps(nb))
    assert notebook_source_hash(path) == before


# ------------------------------------------------------------------------------------------ pending


def test_pending_notebook_is_reported_not_silently_skipped(tmp_path, fake_execute, fixed_environment):
    make_project(tmp_path, notebooks={
        "01_first": {"datasets": ["folder"], "outputs": ["made"]},
        "02_second": {"needs": ["01_first"], "datasets": ["folder"]},
        "03_later": {"datasets": ["folder"]},
        "04_after": {"needs": ["03_later"], "datasets": ["folder"]},
    }, sources={"04_after": ["pass"]})
    messages = []
    report = runner.reproduce(root=tmp_path, profile="tiny", dataset=str(tmp_path / "photos"),
                              build_book=False, progress=False, log=messages.append)
    statuses = _statuses(report)
    assert statuses["03_later"] == "pending" and statuses["04_after"] == "blocked"
    assert any("not written yet (pending): notebooks/03_later.ipynb" in m for m in messages)
    with pytest.raises(ConfigError, match=r"not written yet \(pending\): notebooks/03_later.ipynb"):
        _run(tmp_path, strict=True)
    with pytest.raises(ConfigError, match=r"notebook '03_later' is listed in profiles.yml but "
                                          r"notebooks/03_later.ipynb does not exist yet"):
        _run(tmp_path, only=["03_later"])


def test_notebook_that_cannot_run_on_this_data(tmp_path):
    make_project(tmp_path, notebooks={"01_first": {"datasets": ["synthetic"]}}, profiles={"tiny": {}})
    profiles = runner.load_profiles(tmp_path / "profiles.yml")
    with pytest.raises(ConfigError, match=r"notebook '01_first' cannot run on folder data"):
        runner.plan_run(profiles, "tiny", str(tmp_path / "photos"), root=tmp_path, only=["01_first"])


def test_missing_folder_dataset(tmp_path, fake_execute):
    make_project(tmp_path)
    with pytest.raises(DatasetError, match=r"nowhere: no such folder"):
        runner.reproduce(root=tmp_path, profile="tiny", dataset=str(tmp_path / "nowhere"),
                         build_book=False, progress=False, log=lambda m: None)


def test_cli_reports_config_errors_in_one_line(tmp_path, capsys):
    from drugsim.cli import main

    make_project(tmp_path)
    code = main(["reproduce", "--root", str(tmp_path), "--profile", "huge", "--no-book"])
    assert code == 2
    assert "drugsim: error: unknown profile 'huge'" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ papermill


@pytest.mark.slow
def test_real_run_then_failure_names_notebook_cell_and_error(tmp_path, fixed_environment):
    """papermill for real: a good run is published; a failing rerun is not, and says where it failed."""
    make_project(tmp_path)
    report = _run(tmp_path)
    assert _statuses(report) == {"01_first": "ran", "02_second": "ran"}
    published = tmp_path / "book" / "generated" / "photos" / "02_second.ipynb"
    results = tmp_path / "runs" / "tiny-photos" / "results" / "02_second.json"
    assert json.loads(results.read_text())["value"] == 2
    duration = json.loads(published.read_text())["metadata"]["papermill"]["duration"]
    assert duration > 0
    assert (tmp_path / "runs" / "tiny-photos" / "logs" / "02_second.log").exists()

    write_notebook(tmp_path / "notebooks" / "02_second.ipynb",
                   ["x = 1", "raise ValueError('factor ' + str(factor) + ' is bad')", "y = 2"],
                   extra_parameters="value = 0  # v\nfactor = 1  # f\n")
    with pytest.raises(runner.NotebookFailed) as failure:
        _run(tmp_path)
    message = str(failure.value)
    assert message.splitlines()[0] == "notebook 02_second failed"
    assert "in cell 4 of notebooks/02_second.ipynb (execution count" in message
    assert "| raise ValueError('factor ' + str(factor) + ' is bad')" in message
    assert "ValueError: factor 2 is bad" in message
    assert "log: runs/tiny-photos/logs/02_second.log" in message
    assert "executed copy (not published to the book): runs/tiny-photos/failed/02_second.ipynb" in message
    # The earlier good copy is withdrawn too: the book never shows results the current code did not make.
    assert not published.exists()
    assert not results.exists()
    assert not (tmp_path / "runs" / "tiny-photos" / "stamps" / "02_second.json").exists()
    assert (tmp_path / "runs" / "tiny-photos" / "failed" / "02_second.ipynb").exists()
    assert "ValueError: factor 2 is bad" in (tmp_path / "runs" / "tiny-photos" / "logs" / "02_second.log").read_text()
    assert not list((tmp_path / "runs" / "tiny-photos" / "executing").glob("*.ipynb"))


def test_two_runs_in_one_work_folder_are_refused(tmp_path, fake_execute, fixed_environment):
    make_project(tmp_path)
    profiles = runner.load_profiles(tmp_path / "profiles.yml")
    plan = runner.plan_run(profiles, "tiny", str(tmp_path / "photos"), root=tmp_path)
    plan.work_dir.mkdir(parents=True)
    with execute._run_lock(plan):
        with pytest.raises(ConfigError, match=r"another drugsim reproduce is running in runs/tiny-photos"):
            _run(tmp_path)
    assert _statuses(_run(tmp_path))["01_first"] == "ran"


def test_kernel_falls_back_to_python3_with_a_message(monkeypatch):
    import ipykernel.kernelspec
    from jupyter_client import kernelspec

    monkeypatch.setattr(kernelspec.KernelSpecManager, "find_kernel_specs", lambda self: {"python3": "/x"})

    def refuse(**kwargs):
        raise PermissionError("read-only prefix")

    monkeypatch.setattr(ipykernel.kernelspec, "install", refuse)
    messages = []
    assert execute.ensure_kernel("drugsim-missing", log=messages.append) == "python3"
    assert "could not install the Jupyter kernel 'drugsim-missing' (read-only prefix); running notebooks " \
           "with 'python3'" in messages[0]
    monkeypatch.setattr(kernelspec.KernelSpecManager, "find_kernel_specs", lambda self: {})
    with pytest.raises(ConfigError, match=r"no Jupyter kernel 'drugsim-missing' and none to fall back to"):
        execute.ensure_kernel("drugsim-missing", log=messages.append)


def test_force_with_only_reruns_just_the_named_notebook(tmp_path, fake_execute, fixed_environment):
    make_project(tmp_path)
    _run(tmp_path)
    assert _statuses(_run(tmp_path, only=["02_second"], force=True)) == {"01_first": "cached", "02_second": "ran"}


@pytest.fixture
def fake_data(monkeypatch, tmp_path):
    """Stand-ins for drugsim.data's generator and Grocery Store root (tested by the data layer's tests)."""
    import drugsim.data as data

    grocery_root = tmp_path / "grocery-store"
    (grocery_root / "dataset").mkdir(parents=True)
    (grocery_root / "dataset" / "photo.jpg").write_text("jpeg")

    def generate(out_dir, *, preset="tiny", seed=0, progress=True):
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "manifest.csv").write_text(f"preset,{preset},{seed}\n")
        return Path(out_dir)

    monkeypatch.setattr(data, "generate_dataset", generate, raising=False)
    monkeypatch.setattr(data, "resolve_data_root", lambda spec: grocery_root, raising=False)
    return grocery_root


def test_synthetic_run_adds_the_grocery_part_when_the_photos_are_found(tmp_path, fake_execute, fake_data,
                                                                        fixed_environment, monkeypatch):
    make_project(tmp_path / "project", notebooks={
        "01_first": {"datasets": ["synthetic", "grocery"]},
        "02_second": {"needs": ["01_first"], "datasets": ["synthetic"]},
    }, profiles={"tiny": {"global": {"synthetic_preset": "tiny", "value": 1},
                          "grocery": {"global": {"value": 5}}}})
    root = tmp_path / "project"
    report = runner.reproduce(root=root, profile="tiny", build_book=False, progress=False, log=lambda m: None)
    assert [(plan.dataset.name, [o.name for o in outs]) for plan, outs in report.runs] == [
        ("synthetic", ["01_first", "02_second"]), ("grocery", ["01_first"])]
    grocery_plan = report.runs[1][0]
    assert grocery_plan.notebooks[0].params["value"] == 5  # the profile's grocery overrides
    assert grocery_plan.notebooks[0].params["data_dir"] == str(fake_data)
    assert (root / "runs" / "tiny-synthetic" / "data" / "manifest.csv").read_text() == "preset,tiny,0\n"
    toc = book.make_toc(BookLayout(root), report.book_runs())
    grocery_part = toc["parts"][1]
    assert grocery_part["chapters"] == [{"file": "book/grocery",
                                         "sections": [{"file": "book/generated/grocery/01_first"}]}]
    # --only a synthetic-only notebook: the grocery chapters published earlier stay in the book.
    report = runner.reproduce(root=root, profile="tiny", only=["02_second"], build_book=False, progress=False,
                              log=lambda m: None)
    assert _statuses(report) == {"01_first": "cached", "02_second": "cached"}
    toc = book.make_toc(BookLayout(root), report.book_runs())
    assert toc["parts"][1]["chapters"][0]["sections"] == [{"file": "book/generated/grocery/01_first"}]
    monkeypatch.setattr(orchestrate, "grocery_available", lambda: (False, "DRUGSIM_GROCERY_ROOT is not set"))
    with pytest.raises(DatasetError, match="DRUGSIM_GROCERY_ROOT is not set"):
        runner.reproduce(root=root, profile="tiny", grocery="yes", build_book=False, progress=False)


def test_published_copy_folds_parameters_and_drops_widget_outputs(tmp_path):
    path = write_notebook(tmp_path / "n.ipynb", ["x = 1"])
    nb = json.loads(path.read_text())
    nb["cells"].insert(2, {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}, "source": "x = 2",
                           "outputs": [], "execution_count": 1})
    nb["cells"][3]["outputs"] = [
        {"output_type": "display_data", "metadata": {},
         "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "a"}, "text/plain": "bar"}},
        {"output_type": "display_data", "metadata": {},
         "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "b"}, "text/html": "<b>kept</b>"}},
    ]
    path.write_text(json.dumps(nb))
    book._tidy_for_book(path)
    cells = json.loads(path.read_text())["cells"]
    assert "remove-cell" in cells[1]["metadata"]["tags"]
    assert "hide-input" in cells[2]["metadata"]["tags"]
    assert cells[3]["outputs"] == [{"output_type": "display_data", "metadata": {},
                                    "data": {"text/html": "<b>kept</b>"}}]


def test_labels_of_a_second_dataset_copy_get_a_suffix():
    cells = [
        {"cell_type": "markdown", "source": "(summary)=\n# Summary\n\nSee {numref}`fig-acc` and {ref}`text <summary>`."},
        {"cell_type": "markdown", "source": ["```{glue:figure} fig\n", ":name: fig-acc\n", "\nCaption.\n```"]},
        {"cell_type": "markdown", "source": "Elsewhere: {ref}`intro` and {numref}`fig-acc-other`."},
        {"cell_type": "code", "source": "x = '(summary)='", "outputs": []},
    ]
    book._suffix_labels(cells, "grocery")
    assert cells[0]["source"] == ("(summary-grocery)=\n# Summary\n\nSee {numref}`fig-acc-grocery` and "
                                  "{ref}`text <summary-grocery>`.")
    assert ":name: fig-acc-grocery\n" in cells[1]["source"]
    assert cells[2]["source"] == "Elsewhere: {ref}`intro` and {numref}`fig-acc-other`."
    assert cells[3]["source"] == "x = '(summary)='"


# ------------------------------------------------------------------------------------------ progress


def test_each_notebook_logs_a_line_when_it_starts_and_ends(tmp_path, fake_execute, fixed_environment):
    make_project(tmp_path)
    lines = []
    runner.reproduce(root=tmp_path, profile="tiny", dataset=str(tmp_path / "photos"), build_book=False,
                     progress=False, log=lines.append)
    started = [line for line in lines if ": started (" in line]
    finished = [line for line in lines if ": finished in " in line]
    assert [line.split("] ")[1].split(":")[0] for line in started] == ["01_first", "02_second"]
    assert started[0].startswith("[tiny-photos 1/2] 01_first: started (no earlier successful run)")
    assert "last run took" not in started[0]
    assert len(finished) == 2
    # The second run knows how long the first took and says so; a forced rerun gives that estimate.
    lines.clear()
    runner.reproduce(root=tmp_path, profile="tiny", dataset=str(tmp_path / "photos"), build_book=False,
                     progress=False, log=lines.append, force=True)
    # fake_execute reports 0.5 s per notebook, shown rounded.
    assert any("01_first: started (--force), last run took 0 s" in line for line in lines), lines
    lines.clear()
    runner.reproduce(root=tmp_path, profile="tiny", dataset=str(tmp_path / "photos"), build_book=False,
                     progress=False, log=lines.append)
    assert sum("unchanged since the last run" in line for line in lines) == 2


def test_started_estimate_reads_the_previous_duration():
    assert runner.started_estimate({"duration_s": 93.4}) == ", last run took 93 s"
    assert runner.started_estimate(None) == ""
    assert runner.started_estimate({"duration_s": None}) == ""


def test_last_output_line_takes_the_text_a_terminal_shows(tmp_path):
    log = tmp_path / "nb.log"
    assert runner.last_output_line(log) == ""
    log.write_text("Executing cell 3\nepoch 1/5 loss 0.7\n\rtraining  10%\rtraining  40%\n\n")
    assert runner.last_output_line(log) == "training  40%"
    log.write_text("epoch 1\nExecuting Cell 7---------------------------------------\n")
    assert runner.last_output_line(log) == "Executing Cell 7"


def test_heartbeat_reports_the_latest_output_while_running(tmp_path):
    log = tmp_path / "nb.log"
    log.write_text("epoch 2/5 step 40 loss 0.31\n")
    lines = []
    with runner.Heartbeat("05_siamese", log, log=lines.append, interval=0.05):
        import time

        time.sleep(0.3)
    assert lines, "no heartbeat line in 0.3 s at a 0.05 s interval"
    assert lines[0].startswith("    05_siamese: running for ")
    assert lines[0].endswith("latest output: epoch 2/5 step 40 loss 0.31")


def test_progress_lines_reach_a_log_file_while_the_run_goes_on(tmp_path, fixed_environment):
    """A real papermill run with stdout piped into a file: the start line is in the file before the run ends."""
    import subprocess
    import sys
    import textwrap
    import time

    make_project(tmp_path, sources={"02_second": ["import time\nprint('step one', flush=True)\ntime.sleep(6)",
                                                   "value = value * factor", SAVE_FOR_PROGRESS]})
    script = textwrap.dedent(f"""
        from pathlib import Path
        from drugsim import runner
        from drugsim.runner import execute
        execute.HEARTBEAT_S = 1.0
        root = Path({str(tmp_path)!r})
        runner.reproduce(root=root, profile="tiny", dataset=str(root / "photos"), build_book=False, progress=False)
    """)
    out_path = tmp_path / "run.log"
    with open(out_path, "w") as out:
        process = subprocess.Popen([sys.executable, "-c", script], stdout=out, stderr=subprocess.STDOUT)
        try:
            seen_while_running = ""
            deadline = time.time() + 120
            while process.poll() is None and time.time() < deadline:
                text = out_path.read_text()
                if "02_second: running for" in text:
                    seen_while_running = text
                    break
                time.sleep(0.2)
            process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, out_path.read_text()
    assert "02_second: started" in seen_while_running
    assert "02_second: finished in" not in seen_while_running
    assert "latest output: step one" in out_path.read_text()
    assert "02_second: finished in" in out_path.read_text()


SAVE_FOR_PROGRESS = "from drugsim.report import save_results\nsave_results(results_path, {'value': value})"


# ------------------------------------------------------------------------------------------ --jobs


def test_ready_to_start_waits_for_planned_inputs_and_free_slots():
    from drugsim.runner.plan import ready_to_start

    order = ["01_a", "02_b", "03_c", "04_d"]
    inputs = {"02_b": ["01_a"], "03_c": ["01_a", "00_not_planned"], "04_d": ["01_a", "02_b", "03_c"]}
    assert ready_to_start(order, inputs, finished=set(), running=set(), jobs=4) == ["01_a"]
    assert ready_to_start(order, inputs, finished=set(), running={"01_a"}, jobs=4) == []
    # An input outside the plan (left as it is) is not waited for.
    assert ready_to_start(order, inputs, finished={"01_a"}, running=set(), jobs=4) == ["02_b", "03_c"]
    assert ready_to_start(order, inputs, finished={"01_a"}, running={"02_b"}, jobs=2) == ["03_c"]
    assert ready_to_start(order, inputs, finished={"01_a"}, running={"02_b", "03_c"}, jobs=2) == []
    assert ready_to_start(order, inputs, finished={"01_a", "02_b"}, running={"03_c"}, jobs=4) == []
    assert ready_to_start(order, inputs, finished={"01_a", "02_b", "03_c"}, running=set(), jobs=4) == ["04_d"]
    # One at a time is profiles.yml order.
    finished: set = set()
    while len(finished) < len(order):
        (name,) = ready_to_start(order, inputs, finished=finished, running=set(), jobs=1)
        finished.add(name)
        assert name == order[len(finished) - 1]


def test_each_concurrent_kernel_gets_a_fair_share_of_the_threads(monkeypatch):
    assert execute.threads_per_kernel(16, 4) == 4
    assert execute.threads_per_kernel(2, 3) == 1
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "7")  # a value the user set is kept
    monkeypatch.setattr(execute, "usable_cores", lambda: 8)
    with execute.kernel_threads(2):
        import os

        assert os.environ["OMP_NUM_THREADS"] == "4" and os.environ["MKL_NUM_THREADS"] == "7"
    assert "OMP_NUM_THREADS" not in os.environ and os.environ["MKL_NUM_THREADS"] == "7"


THREE_NOTEBOOKS = {
    "01_first": {"datasets": ["folder"], "outputs": ["made"]},
    "02_second": {"needs": ["01_first"], "datasets": ["folder"]},
    "03_other": {"datasets": ["folder"]},
}


def test_jobs_run_independent_notebooks_at_once_and_dependants_after(tmp_path, monkeypatch, fixed_environment):
    import threading

    make_project(tmp_path, notebooks=THREE_NOTEBOOKS, sources={"03_other": ["pass"]})
    other_started = threading.Event()
    events = []

    def fake(plan, nb, *, kernel, progress=True):
        events.append(("start", nb.spec.name))
        if nb.spec.name == "03_other":
            other_started.set()
        if nb.spec.name == "01_first":
            # Only a concurrent run starts 03_other while 01_first is still running.
            assert other_started.wait(10), "03_other did not start while 01_first ran"
        nb.published.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(nb.source, nb.published)
        events.append(("end", nb.spec.name))
        return 0.5

    monkeypatch.setattr(execute, "execute_planned", fake)
    monkeypatch.setattr(execute, "ensure_kernel", lambda **kwargs: "drugsim")
    lines = []
    report = runner.reproduce(root=tmp_path, profile="tiny", dataset=str(tmp_path / "photos"), build_book=False,
                              progress=False, log=lines.append, jobs=2)
    assert _statuses(report) == {"01_first": "ran", "02_second": "ran", "03_other": "ran"}
    assert [o.name for _, outs in report.runs for o in outs] == ["01_first", "02_second", "03_other"]
    assert events.index(("start", "02_second")) > events.index(("end", "01_first"))
    for name in THREE_NOTEBOOKS:
        assert sum(f"] {name}: started (" in line for line in lines) == 1
        assert sum(f"] {name}: finished in " in line for line in lines) == 1
    assert _statuses(_run(tmp_path, jobs=2)) == {"01_first": "cached", "02_second": "cached", "03_other": "cached"}


def test_jobs_after_a_failure_start_nothing_and_raise_it(tmp_path, monkeypatch, fixed_environment):
    import threading
    import time

    make_project(tmp_path, notebooks=THREE_NOTEBOOKS, sources={"03_other": ["pass"]})
    started = []
    first_failed = threading.Event()

    def fake(plan, nb, *, kernel, progress=True):
        started.append(nb.spec.name)
        if nb.spec.name == "01_first":
            first_failed.set()
            raise execute.NotebookFailed("notebook 01_first failed")
        first_failed.wait(10)
        time.sleep(0.1)  # still running when 01_first's failure is seen
        nb.published.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(nb.source, nb.published)
        return 0.5

    monkeypatch.setattr(execute, "execute_planned", fake)
    monkeypatch.setattr(execute, "ensure_kernel", lambda **kwargs: "drugsim")
    with pytest.raises(execute.NotebookFailed, match="notebook 01_first failed"):
        _run(tmp_path, jobs=2)
    assert sorted(started) == ["01_first", "03_other"]  # 02_second needs 01_first: never started
    stamps = tmp_path / "runs" / "tiny-photos" / "stamps"
    assert (stamps / "03_other.json").exists() and not (stamps / "01_first.json").exists()


def test_jobs_below_one_is_refused(tmp_path, fake_execute, fixed_environment, capsys):
    from drugsim.cli import main

    make_project(tmp_path)
    with pytest.raises(ConfigError, match=r"jobs: expected 1 or more notebooks at once, got 0"):
        _run(tmp_path, jobs=0)
    assert main(["reproduce", "--root", str(tmp_path), "--jobs", "0", "--no-book"]) == 2
    assert "argument --jobs: expected a whole number from 1 to 256, got 0" in capsys.readouterr().err
    assert fake_execute == []


@pytest.mark.slow
def test_jobs_with_papermill_keep_each_notebook_log_apart(tmp_path, monkeypatch, fixed_environment):
    """Two real kernels at once: each log holds its own notebook's output; each kernel got its thread share."""
    for name in execute.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    report_threads = ("import os\nprint('output of ' + dataset_name, flush=True)\n"
                      "from drugsim.report import save_results\n"
                      "save_results(results_path, {'value': value, 'threads': os.environ.get('OMP_NUM_THREADS')})")
    make_project(tmp_path, notebooks={
        "01_first": {"datasets": ["folder"]},
        "02_other": {"datasets": ["folder"]},
    }, sources={"01_first": ["dataset_name = 'first'", report_threads],
                "02_other": ["dataset_name = 'other'", report_threads]},
        profiles={"tiny": {"description": "test", "global": {"seed": 0, "value": 1}}})
    report = _run(tmp_path, jobs=2)
    assert _statuses(report) == {"01_first": "ran", "02_other": "ran"}
    run_dir = tmp_path / "runs" / "tiny-photos"
    share = str(execute.threads_per_kernel(execute.usable_cores(), 2))
    for name, own, theirs in (("01_first", "first", "other"), ("02_other", "other", "first")):
        log = (run_dir / "logs" / f"{name}.log").read_text()
        assert f"output of {own}" in log and f"output of {theirs}" not in log
        assert json.loads((run_dir / "results" / f"{name}.json").read_text())["threads"] == share
        assert (tmp_path / "book" / "generated" / "photos" / f"{name}.ipynb").exists()
