"""The README's results block is what `drugsim report readme` renders from the committed recorded run."""

from __future__ import annotations

import json
import shutil

import pytest

from drugsim import summary
from drugsim.cli import main
from drugsim.errors import ConfigError

from .helpers import REPO

RECORDED = REPO / "results" / "recorded" / "gpu-paper-settings-8464a8d"


def test_readme_block_equals_what_the_command_renders_from_the_recorded_run():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = summary.readme_results_table(
        summary.evaluation_results(RECORDED), source="results/recorded/gpu-paper-settings-8464a8d"
    )
    assert summary.replace_readme_block(readme, table) == readme, (
        "README.md's results block is out of date: run "
        "`drugsim report readme --results results/recorded/gpu-paper-settings-8464a8d`")
    # Every row says where its threshold was fitted; none is the paper's test-fitted protocol.
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert rows and all("validation pairs" in row for row in rows)


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
        summary.replace_readme_block("<!-- results:end -->\n<!-- results:start -->\n", "table")
