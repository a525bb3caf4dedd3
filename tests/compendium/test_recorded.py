"""Recorded runs: `drugsim record` writes them, load_recorded_runs reads them as the summary's rows."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from drugsim import recorded
from drugsim.cli import main
from drugsim.errors import ConfigError
from drugsim.studies import recorded_runs, summary

RUN = "gpu-paper-settings-8464a8d"


def _committed_accuracies():
    folder = recorded.RECORDED_DIR / RUN
    return {p.stem: json.loads(p.read_text())["accuracy"] for p in folder.glob("*_eval.json")}


def test_the_committed_gpu_run_reads_as_table9_rows():
    rows = [r for r in recorded_runs.load_recorded_runs() if r["run"] == RUN]
    assert {r["source"]: r["value"] for r in rows} == _committed_accuracies()
    assert {r["row"] for r in rows} == {"resnet18-improved", "resnet18-classic", "efficientnet-lite0-improved"}
    assert sorted(r["dataset"] for r in rows) == ["grocery", "synthetic", "synthetic", "synthetic"]
    assert {(r["threshold_fitted_on"], r["ci_unit"], r["commit"]) for r in rows} == {("val", "pairs", "8464a8d")}
    described = recorded_runs.runs_described(rows)
    assert len(described) == 1
    sentence = recorded_runs.run_sentence(described[0])
    assert "commit 8464a8d" in sentence and "H200" in sentence and "too narrow" in sentence


def _as_if_hashed(rows, sha):
    """The rows as a record of the same pair list would carry them (the committed record predates pair hashes)."""
    return [{**r, "test_pairs_sha256": sha} for r in rows]


def test_recorded_runs_become_columns_only_where_they_scored_this_runs_test_pairs():
    rows = [r for r in recorded_runs.load_recorded_runs() if r["run"] == RUN]
    table = summary.comparison_table({})
    # Written before pair hashes: never beside a run, and the differences table says why.
    assert RUN not in recorded_runs.with_recorded_columns(table, rows, dataset="synthetic", test_pairs_sha256="abc")
    differs = recorded_runs.recorded_differences(rows, dataset="synthetic", protocol="class-disjoint",
                                                 test_pairs_sha256="abc")
    assert "not recorded" in differs.set_index("run").loc[RUN, "differs"]
    assert RUN not in recorded_runs.with_recorded_columns(table, _as_if_hashed(rows, "other"), dataset="synthetic",
                                                          test_pairs_sha256="abc")
    rows = _as_if_hashed(rows, "abc")
    synthetic = recorded_runs.with_recorded_columns(table, rows, dataset="synthetic", test_pairs_sha256="abc")
    key = (synthetic["table"] == "Table 9") & (synthetic["quantity"] == "test_accuracy")
    by_row = dict(zip(synthetic.loc[key, "row"], synthetic.loc[key, RUN]))
    assert by_row["resnet18-improved"] == _committed_accuracies()["syn_r18_improved_eval"]
    assert by_row["resnet18-classic"] == _committed_accuracies()["syn_r18_classic_eval"]
    assert synthetic.loc[~key, RUN].isna().all()
    grocery = recorded_runs.with_recorded_columns(table, rows, dataset="grocery", test_pairs_sha256="abc")
    assert grocery[RUN].isna().all()  # its one Grocery model (EfficientNet-Lite0) has no paper row
    display = recorded_runs.recorded_table(rows)
    assert len(display) == 4 and set(display["CI resamples"]) == {"pairs"}
    assert recorded_runs.plot_recorded(rows).get_ylabel() == "test accuracy (%)"
    grocery_rows = recorded_runs.recorded_table(rows, table="Table 9", dataset="grocery")
    assert list(grocery_rows["model"]) == ["efficientnet-lite0-improved"]
    assert len(recorded_runs.recorded_table(rows, table="Table 8")) == 0
    assert len(recorded_runs.recorded_table(rows, dataset="/my/photos")) == 0  # a folder: no folder run recorded


def test_chapter_05_sentence_reads_the_recorded_rows_and_labels_the_papers_protocol():
    from drugsim.studies import siamese

    rows = recorded_runs.load_recorded_runs()
    frame = recorded_runs.recorded_table(rows, table="Table 9", dataset="synthetic")
    sentence = siamese.recorded_sentence(frame)
    assert sentence.startswith(f"{len(frame)} recorded result(s): ")
    for value in frame["test accuracy"]:
        assert f"{value:.4g}" in sentence
    if (frame["threshold fitted on"] == "test").any():
        assert "the paper's protocol" in sentence
    assert siamese.recorded_sentence(frame.iloc[0:0]) == "No run on this kind of data has been recorded yet."


def _evaluate_result(dataset="data/synthetic-quick", accuracy=0.7):
    return {"method": "siamese-improved", "accuracy": accuracy, "threshold": 0.5, "dataset": dataset,
            "method_config": {"backbone": "resnet18", "variant": "improved", "weights": "random"},
            "ci95": {"accuracy": [0.6, 0.8]}, "ci_unit": "class", "threshold_fitted_on": "val",
            "timing": {"total_seconds": 2.0}}


def test_record_cli_runs_times_and_records_a_command(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "r18_eval.json").write_text(json.dumps(_evaluate_result()))
    dest = tmp_path / "recorded"
    interpreter = os.path.abspath(sys.executable)  # absolute, as a recording machine's path would be
    code = main(["record", "toy-run", "--results", str(results), "--dest", str(dest), "--run",
                 f"{interpreter} -c pass"])
    assert code == 0
    record = json.loads((dest / "toy-run" / "run.json").read_text())
    # The recording machine's absolute paths are not recorded: the interpreter by its name only.
    # The interpreter by its name, or relative to the folder the record was made in: never an absolute path.
    assert record["command"][1:] == ["-c", "pass"] and not record["command"][0].startswith("/")
    assert record["command"][0].endswith(Path(interpreter).name) and record["timings"]["command_seconds"] >= 0
    assert record["timings"]["r18_eval.evaluate_seconds"] == 2.0 and record["hardware"]["cpu_model"]
    assert "commit" in record and record["protocol"] == {"threshold_fitted_on": ["val"], "ci_unit": ["class"]}
    assert main(["record", "described", "--results", str(results), "--dest", str(dest), "--command",
                 "make reproduce PROFILE=paper", "--seconds", "12.5"]) == 0
    described = json.loads((dest / "described" / "run.json").read_text())
    assert (described["command"], described["timings"]["command_seconds"]) == ("make reproduce PROFILE=paper", 12.5)
    rows = [r for r in recorded_runs.load_recorded_runs(dest) if r["run"] == "toy-run"]
    assert [(r["run"], r["row"], r["value"], r["ci_unit"]) for r in rows] == [
        ("toy-run", "resnet18-improved", 0.7, "class")]


def test_a_recorded_reproduce_run_gives_the_summarys_rows(tmp_path):
    work = tmp_path / "runs" / "paper-synthetic"
    (work / "results").mkdir(parents=True)
    (work / "dataset.json").write_text(json.dumps({"kind": "synthetic", "preset": "quick", "seed": 0}))
    (work / "results" / "05_siamese.json").write_text(json.dumps({"rows": [{"model": "resnet18-improved",
                                                                            "test_accuracy": 0.91}]}))
    assert main(["record", "repro", "--results", str(work / "results"), "--dest", str(tmp_path / "rec")]) == 0
    assert json.loads((tmp_path / "rec" / "repro" / "run.json").read_text())["dataset"] == "synthetic"
    rows = recorded_runs.load_recorded_runs(tmp_path / "rec")
    assert [(r["table"], r["row"], r["quantity"], r["value"]) for r in rows] == [
        ("Table 9", "resnet18-improved", "test_accuracy", 0.91)]
    assert rows[0]["dataset"] == "synthetic" and rows[0]["source"] == "05_siamese"
    assert recorded_runs.load_recorded_runs(tmp_path / "missing") == []


@pytest.mark.parametrize("argv, message", [
    (["record", "bad name!", "--results", "."], "record name 'bad name!': use letters, digits"),
    (["record", "ok", "--results", "{tmp}/missing"], "missing: no such folder (expected the JSON results"),
    (["record", "ok", "--results", "{tmp}/empty"], "empty: no JSON results in it (nothing to record)"),
    (["record", "ok", "--results", "{tmp}/broken"], "bad.json: not readable JSON"),
    (["record", "taken", "--results", "{tmp}/good", "--dest", "{tmp}/dest"], "exists already; choose another name"),
    (["record", "ok", "--results", "{tmp}/good", "--dest", "{tmp}/dest", "--run",
      f"{sys.executable} -c 'raise SystemExit(3)'"], "failed with exit status 3; nothing recorded"),
    (["record", "ok", "--results", "{tmp}/good", "--dest", "{tmp}/dest", "--run", "{tmp}/no-such-program"],
     "no-such-program': No such file or directory; nothing recorded"),
    (["record", "ok", "--results", "{tmp}/good", "--run", "true", "--command", "x"],
     "--run measures the command itself; --command and --seconds describe a command run before")])
def test_record_errors_are_one_line(tmp_path, capsys, argv, message):
    for name in ("empty", "broken", "good", "dest/taken"):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "broken" / "bad.json").write_text("{")
    (tmp_path / "good" / "r.json").write_text(json.dumps(_evaluate_result()))
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "dest" / "ok").exists()


def test_a_broken_manifest_is_named(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text("not json")
    with pytest.raises(ConfigError, match="run.json: not readable JSON"):
        recorded_runs.load_recorded_runs(tmp_path)


def test_the_summary_chapter_shows_recorded_runs_with_glued_descriptions():
    import re
    from pathlib import Path

    notebook = json.loads((Path(__file__).resolve().parents[2] / "notebooks" / "13_summary.ipynb").read_text())
    code = "".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    text = "".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")
    for call in ("recorded_runs.load_recorded_runs()", "recorded_runs.with_recorded_columns(table", "recorded_runs.run_sentence",
                 "recorded_runs.plot_recorded("):
        assert call in code
    wanted = {"n_recorded_runs", "recorded_runs_described", "fig_recorded_runs"}
    assert wanted <= set(re.findall(r"\{glue:text\}`(\w+)`", text)) | set(re.findall(r"glue:figure\} (\w+)", text))
    assert all(f'glue("{key}"' in code for key in wanted)


def test_the_class_level_cpu_record_fills_table_8_and_9_with_its_validation_fitted_rows():
    rows = [r for r in recorded_runs.load_recorded_runs() if r["run"] == "cpu-class-level-quick-eval"]
    assert {r["threshold_fitted_on"] for r in rows} == {"val", "test"} and {r["ci_unit"] for r in rows} == {"class"}
    frame = recorded_runs.with_recorded_columns(summary.comparison_table({}), _as_if_hashed(rows, "h"),
                                                dataset="synthetic", test_pairs_sha256="h")
    column = frame.set_index(["table", "row", "quantity"])["cpu-class-level-quick-eval"]
    validation = {r["row"]: r["value"] for r in rows if r["threshold_fitted_on"] == "val"}
    assert column[("Table 8", "orb", "accuracy")] == validation["orb"]
    assert column[("Table 8", "sift", "accuracy")] == validation["sift"]
    display = recorded_runs.recorded_table(rows)
    assert set(display.loc[display["model"] == "orb", "paper"]) == {0.9309}


def test_evaluate_json_and_record_carry_the_protocol_the_test_pairs_hash_and_no_absolute_path(tmp_path, capsys):
    """Issue 20, item 5: a result names its pair protocol and test-pair hash; a record has no machine path."""
    import numpy as np

    from drugsim.data.protocol import ProtocolSettings, load_protocol_pairs, pairs_sha256
    from drugsim.io import write_image

    rng = np.random.default_rng(0)
    data = tmp_path / "my-boxes"
    for c in range(12):
        base = np.kron(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), np.ones((8, 8, 1), np.uint8))
        for shot in range(3):
            write_image(data / f"c{c:02d}" / f"c{c:02d}_{shot}.png", np.roll(base, shot, axis=1))
    results = tmp_path / "results"
    results.mkdir()
    assert main(["evaluate", "--data", str(data), "--method", "ahash", "--quiet", "--n-boot", "10", "--jobs", "1",
                 "--json", str(results / "ahash.json")]) == 0
    result = json.loads((results / "ahash.json").read_text())
    expected = pairs_sha256(load_protocol_pairs(data, settings=ProtocolSettings(seed=0), splits=["test"]).pairs("test"),
                            data.resolve())
    assert result["test_pairs_sha256"] == expected
    assert result["pairs_protocol"]["name"] and result["pairs_protocol"]["scored_test_pairs_sha256"] == expected
    assert result["dataset"] == "my-boxes" and str(tmp_path) not in json.dumps(result["dataset_id"])
    assert result["dataset_id"]["kind"] == "photos" and len(result["dataset_id"]["content_sha256"]) == 64
    # The same photos elsewhere are the same dataset.
    copy = tmp_path / "elsewhere" / "my-boxes"
    import shutil

    shutil.copytree(data, copy)
    from drugsim.cli.common import dataset_identity

    assert dataset_identity(copy) == result["dataset_id"]
    capsys.readouterr()
    assert main(["record", "rec", "--results", str(results), "--dest", str(tmp_path / "store")]) == 0
    folder = tmp_path / "store" / "rec"
    for path in folder.glob("*.json"):
        text = path.read_text()
        assert str(tmp_path) not in text and "/tmp/" not in text, path.name
    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["protocol"]["test_pairs_sha256"] == [expected]
    assert manifest["protocol"]["pairs_protocol"] == [result["pairs_protocol"]["name"]]
    recorded_result = json.loads((folder / "ahash.json").read_text())
    assert recorded_result["test_pairs_sha256"] == expected and recorded_result["accuracy"] == result["accuracy"]


def test_strip_absolute_paths_keeps_names_and_paths_under_known_folders():
    data = {"dataset": "/home/me/data/synthetic-quick", "pairs_source": "file:/home/me/run/pairs/test.txt",
            "list": ["/srv/x/model.pt", "relative/path.txt", 3, None], "nested": {"path": "C:\\Users\\me\\m.pt"}}
    cleaned = recorded.strip_absolute_paths(data, [(Path("/home/me/run"), "results")])
    assert cleaned == {"dataset": "synthetic-quick", "pairs_source": "file:results/pairs/test.txt",
                       "list": ["model.pt", "relative/path.txt", 3, None], "nested": {"path": "m.pt"}}


def test_no_recorded_file_carries_an_absolute_path_of_the_recording_machine():
    import re

    from drugsim.recorded import RECORDED_DIR

    offenders = [str(p.relative_to(RECORDED_DIR)) for p in RECORDED_DIR.rglob("*.json")
                 if re.search(r'"(file:)?/[A-Za-z]', p.read_text(encoding="utf-8"))]
    assert offenders == []
