"""The README's results block is what `drugsim report readme` renders from the committed recorded run."""

from __future__ import annotations

import json
import shutil

import pytest

from drugsim import readme as readme_blocks
from drugsim.cli import main
from drugsim.errors import ConfigError

from .helpers import REPO

RECORDED = REPO / "results" / "recorded" / "gpu-paper-settings-8464a8d"
#: The recorded runs the README's results block is rendered from, in its order.
README_RUNS = ["results/recorded/cpu-class-level-quick-eval", "results/recorded/cpu-grocery-partial224-58a8cd2",
               "results/recorded/cpu-grocery-quick-photos-c2810df",
               "results/recorded/gpu-paper-settings-8464a8d"]


def test_readme_block_equals_what_the_command_renders_from_the_recorded_run():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme_blocks.readme_results_table({run: readme_blocks.evaluation_results(REPO / run) for run in README_RUNS})
    assert readme_blocks.replace_readme_block(readme, table) == readme, (
        "README.md's results block is out of date: run `drugsim report readme "
        + " ".join(f"--results {run}" for run in README_RUNS) + "`")
    # Every row says where its threshold was fitted; the paper's test-fitted protocol only where labelled so,
    # and then beside a validation-fitted row of the same method and run.
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert rows and all("validation pairs" in row or "paper's protocol" in row for row in rows)
    for row in rows:
        if "paper's protocol" in row:
            run, _, method = [cell.strip() for cell in row.split("|")[1:4]]
            assert any(other.split("|")[1].strip() == run and other.split("|")[3].strip() == method
                       and "validation pairs" in other for other in rows)
    # The CPU run's intervals resample classes.
    assert all("classes (" in row for row in rows if "cpu-class-level-quick-eval" in row)


def test_report_readme_writes_and_checks(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- results:start -->\nold\n<!-- results:end -->\n\nafter\n", encoding="utf-8")
    results = tmp_path / "run"
    shutil.copytree(RECORDED, results)
    base = ["report", "readme", "--results", str(results), "--readme", str(readme)]
    assert main(base + ["--check"]) == 1
    assert "differs" in capsys.readouterr().out
    assert main(base) == 0
    text = readme.read_text(encoding="utf-8")
    assert "\nold\n" not in text and text.endswith("<!-- results:end -->\n\nafter\n") and "siamese-improved" in text
    assert main(base + ["--check"]) == 0
    # A rendered number follows the JSON, not the other way round.
    payload = json.loads((results / "syn_r18_improved_eval.json").read_text())
    payload["accuracy"] = 0.5
    (results / "syn_r18_improved_eval.json").write_text(json.dumps(payload))
    assert main(base + ["--check"]) == 1
    capsys.readouterr()


def test_report_readme_errors(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n", encoding="utf-8")
    assert main(["report", "readme", "--results", str(tmp_path / "none"), "--readme", str(readme)]) == 2
    assert "none: no such folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "train.json").write_text("{}")
    assert main(["report", "readme", "--results", str(tmp_path / "empty"), "--readme", str(readme)]) == 2
    assert "no `drugsim evaluate --json` result in it" in capsys.readouterr().err
    assert main(["report", "readme", "--results", str(RECORDED), "--readme", str(readme)]) == 2
    assert "needs exactly one '<!-- results:start -->'" in capsys.readouterr().err
    assert main(["report", "readme", "--results", str(RECORDED), "--readme", str(tmp_path / "no.md")]) == 2
    assert "no.md: no such file" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="needs exactly one"):
        readme_blocks.replace_readme_block("<!-- results:end -->\n<!-- results:start -->\n", "table")


BENCH = REPO / "benchmarks" / "results" / "bench_quick_idle.json"


def test_readme_speed_block_equals_what_the_command_renders_from_the_committed_benchmark():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    bench = json.loads(BENCH.read_text(encoding="utf-8"))
    block = readme_blocks.readme_speed_block(bench, source="benchmarks/results/bench_quick_idle.json")
    assert readme_blocks.replace_readme_block(readme, block, block="speed") == readme, (
        "README.md's speed block is out of date: run "
        "`drugsim report readme --bench benchmarks/results/bench_quick_idle.json`")
    # Each measured method is a row, with the number the JSON holds.
    for name, row in bench["methods"].items():
        assert f"| {name} |" in block and f"{row['speedup']:.1f}x" in block


def test_timings_block_renders_each_profile_from_its_json(tmp_path, capsys):
    timing = {"profile": "tiny", "machine": "2 cores", "total_s": 200.4, "cpu_s": 350.0,
              "load_average_before_after": [0.1, 1.9], "second_run_s": 9.6,
              "runs": {"synthetic": {}, "grocery": {}}}
    path = tmp_path / "reproduce-tiny.json"
    path.write_text(json.dumps(timing))
    readme = tmp_path / "README.md"
    readme.write_text("<!-- timings:start -->\n<!-- timings:end -->\n", encoding="utf-8")
    assert main(["report", "readme", "--timings", str(path), "--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert ("| `make reproduce PROFILE=tiny` | grocery, synthetic | 200 s (3 min 20 s) | 350 s | 0.1 / 1.9 | 10 s "
            "| 2 cores |") in text
    assert main(["report", "readme", "--timings", str(path), "--readme", str(readme), "--check"]) == 0
    capsys.readouterr()


def test_report_readme_block_errors(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("<!-- speed:start -->\n<!-- speed:end -->\n<!-- timings:start -->\n<!-- timings:end -->\n")
    assert main(["report", "readme", "--readme", str(readme)]) == 2
    assert "give at least one of --results DIR, --run DIR, --bench FILE, --timings FILE" in capsys.readouterr().err
    assert main(["report", "readme", "--bench", str(tmp_path / "none.json"), "--readme", str(readme)]) == 2
    assert "--bench " + str(tmp_path / "none.json") + ": no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["report", "readme", "--bench", str(bad), "--readme", str(readme)]) == 2
    assert "bad.json: not a JSON file" in capsys.readouterr().err
    bad.write_text("[1, 2]")
    assert main(["report", "readme", "--timings", str(bad), "--readme", str(readme)]) == 2
    assert "bad.json: expected a JSON object" in capsys.readouterr().err
    bad.write_text('{"profile": "tiny"}')
    assert main(["report", "readme", "--timings", str(bad), "--readme", str(readme)]) == 2
    assert "not a benchmarks/time_reproduce.py or time_command.py result" in capsys.readouterr().err
    assert main(["report", "readme", "--bench", str(bad), "--readme", str(readme)]) == 2
    assert "not a `drugsim bench --json` result (no 'methods')" in capsys.readouterr().err


def test_timings_block_renders_a_timed_command(tmp_path, capsys):
    timed = {"what": "`make test` (fresh clone)", "total_s": 605.0, "cpu_s": 900.0,
             "load_average_before_after": [0.2, 2.0], "machine": "2 cores"}
    path = tmp_path / "make-test.json"
    path.write_text(json.dumps(timed))
    readme = tmp_path / "README.md"
    readme.write_text("<!-- timings:start -->\n<!-- timings:end -->\n", encoding="utf-8")
    assert main(["report", "readme", "--timings", str(path), "--readme", str(readme)]) == 0
    assert "| `make test` (fresh clone) | n/a | 605 s (10 min 5 s) | 900 s | 0.2 / 2.0 | n/a | 2 cores |" in (
        readme.read_text(encoding="utf-8"))
    capsys.readouterr()


#: The timing results the README's timings block is rendered from, in its order.
README_TIMINGS = ["benchmarks/results/reproduce-quick.json", "benchmarks/results/reproduce-tiny.json",
                  "benchmarks/results/reproduce-tiny-with-grocery.json",
                  "benchmarks/results/make-test-fresh-clone.json"]


def test_readme_timings_block_equals_what_the_command_renders_from_the_committed_timings():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    timings = [json.loads((REPO / path).read_text(encoding="utf-8")) for path in README_TIMINGS]
    block = readme_blocks.readme_timings_block(timings, sources=README_TIMINGS)
    assert readme_blocks.replace_readme_block(readme, block, block="timings") == readme, (
        "README.md's timings block is out of date: run `drugsim report readme "
        + " ".join(f"--timings {path}" for path in README_TIMINGS) + "`")


def _siamese_row(model, accuracy, **extra):
    return {"model": model, "test_accuracy": accuracy, "test_accuracy_ci95": [accuracy - 0.01, accuracy + 0.01],
            "threshold_fitted_on": "val", "roc_auc": 0.97, "train_seconds": 321.4, "n_test_pairs": 3136, **extra}


def _verdict_row(key, stronger, weaker, a, b, low, high, outcome):
    return {"key": key, "comparison": f"{stronger} vs {weaker}", "stronger": stronger, "weaker": weaker,
            "stronger_accuracy": a, "weaker_accuracy": b, "difference": a - b, "ci_low": low, "ci_high": high,
            "p_value": 0.01, "n_pairs": 1000, "n_classes": 40, "outcome": outcome, "chosen_by": "named"}


def test_run_block_lists_chapter_05_and_the_pre_declared_verdict_from_the_runs_results(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "05_siamese.json").write_text(json.dumps({"rows": [
        _siamese_row("resnet18-improved", 0.61), _siamese_row("efficientnet-lite0-imagenet-partial-improved", 0.961)]}))
    block = readme_blocks.readme_run_block(readme_blocks.run_results(run), source="RUN")
    assert "predates the pre-declared verdict" in block  # no chapter 13 verdict: no claim about the paper
    (run / "13_summary.json").write_text(json.dumps({"verdict": [
        _verdict_row("c", "orb", "sift", 0.72, 0.66, 0.02, 0.10, "holds")]}))
    block = readme_blocks.readme_run_block(readme_blocks.run_results(run), source="RUN")
    assert "`drugsim report readme --run RUN`" in block
    assert "| efficientnet-lite0-imagenet-partial-improved | 3136 | val | 96.10 % [95.10 %, 97.10 %] | 0.970 | 321 s | n/a |" in block
    assert "| resnet18-improved | 3136 | val | 61.00 % [60.00 %, 62.00 %] | 0.970 | 321 s | 98.50 % |" in block
    assert "(c) orb (72.0 %) vs sift (66.0 %): holds, difference +6.0 points [+2.0, +10.0]" in block
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- run:start -->\nold\n<!-- run:end -->\nrest\n")
    assert main(["report", "readme", "--run", str(run), "--readme", str(readme)]) == 0
    rendered = readme_blocks.readme_run_block(readme_blocks.run_results(run), source=str(run))
    assert rendered in readme.read_text() and readme.read_text().endswith("rest\n")
    assert main(["report", "readme", "--run", str(run), "--readme", str(readme), "--check"]) == 0
    (run / "05_siamese.json").unlink()
    assert main(["report", "readme", "--run", str(run), "--readme", str(readme)]) == 2
    assert "no 05_siamese.json with Table 9 rows" in capsys.readouterr().err


README_RUN = "results/recorded/cpu-quick-reproduce-101022d"


def test_readme_run_block_equals_what_the_command_renders_from_the_recorded_quick_run():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme_blocks.readme_run_block(readme_blocks.run_results(REPO / README_RUN), source=README_RUN)
    assert readme_blocks.replace_readme_block(readme, block, block="run") == readme, (
        f"README.md's run block is out of date: run `drugsim report readme --run {README_RUN}`")
    assert README_RUN in readme.split("<!-- run:start -->")[0]  # the prose names the run the block shows
