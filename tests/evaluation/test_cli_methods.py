"""`drugsim compare | evaluate | search | methods` through drugsim.cli.main, with bad input."""

import json
from pathlib import Path

import numpy as np
import pytest
from evaluation_helpers import make_image_set

import drugsim.data.splits
from drugsim.cli import main
from drugsim.data.records import ImageRecord


@pytest.fixture()
def fake_data(tmp_path, monkeypatch):
    """A 6-class image folder whose class-disjoint split is fixed: classes 0-1 "train", 2-3 "val", 4-5 "test".

    Everything else (loading, Algorithm 2 pairs, pair files) is the real data layer (drugsim.data.protocol).
    """
    paths, labels = make_image_set(tmp_path / "data", n_classes=6, per_class=4, seed=1)
    records = [ImageRecord(p, label) for p, label in zip(paths, labels)]

    def split_dataset(records, *, seed=0, **kwargs):
        by = {"train": ("class0", "class1"), "val": ("class2", "class3"), "test": ("class4", "class5")}
        return {name: [r for r in records if r.label in classes] for name, classes in by.items()}

    monkeypatch.setattr(drugsim.data.splits, "split_dataset", split_dataset)
    return tmp_path / "data", records


def test_methods_lists_every_method(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for name in ("hist-correl", "orb", "siamese-improved", "ssim"):
        assert name in out
    assert main(["methods", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    orb = next(r for r in rows if r["name"] == "orb")
    assert orb["direction"] == "higher" and orb["paper_section"] == "2.5" and orb["in_paper"] is True


def test_compare_default_threshold_and_json(fake_data, capsys):
    _, records = fake_data
    a, b = records[0].path, records[1].path
    # Table 8's ORB threshold was fitted on the paper's test pairs: not a default, only on request.
    assert main(["compare", str(a), str(a), "--method", "orb"]) == 0
    out = capsys.readouterr().out
    assert "higher = more similar" in out and "no validation-fitted default" in out and "decision:" not in out
    assert main(["compare", str(a), str(a), "--method", "orb", "--paper-protocol"]) == 0
    out = capsys.readouterr().out
    assert "paper's protocol: Table 8" in out and "decision:" in out
    assert main(["compare", str(a), str(b), "--method", "ahash"]) == 0
    assert "54 of 64 bits" in capsys.readouterr().out
    assert main(["compare", str(a), str(a), "--method", "orb", "--threshold", "10"]) == 0
    assert "decision: SIMILAR" in capsys.readouterr().out
    assert main(["compare", str(a), str(b), "--method", "ahash", "--threshold", "64", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["threshold"] == 64 and payload["direction"] == "higher"
    assert payload["similar"] is (payload["score"] >= 64)
    # A threshold fitted the paper's way keeps saying so when reused.
    paper_json = a.parent.parent / "paper.json"
    paper_json.write_text(json.dumps({"method": "ahash", "threshold": 40.0, "threshold_rule": "midpoint",
                                      "threshold_fitted_on": "test"}))
    assert main(["compare", str(a), str(b), "--method", "ahash", "--threshold-from", str(paper_json), "--json"]) == 0
    assert "paper's protocol" in json.loads(capsys.readouterr().out)["threshold_source"]


def test_compare_without_default_threshold_says_so(fake_data, capsys):
    _, records = fake_data
    assert main(["compare", str(records[0].path), str(records[1].path), "--method", "hist-chisqr"]) == 0
    out = capsys.readouterr().out
    assert "lower = more similar" in out and "pass --threshold" in out


def test_compare_errors(fake_data, tmp_path, capsys):
    _, records = fake_data
    assert main(["compare", str(tmp_path / "missing.jpg"), str(records[0].path), "--method", "orb"]) == 2
    assert "missing.jpg: no such file" in capsys.readouterr().err
    assert main(["compare", str(records[0].path), str(records[1].path), "--method", "nope"]) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err
    assert (
        main(["compare", str(records[0].path), str(records[1].path), "--method", "orb", "--model", "x.pt"])
        == 2
    )
    assert "--model is for the trained siamese-* methods" in capsys.readouterr().err
    assert main(["compare", str(records[0].path), str(records[1].path), "--method", "siamese-improved"]) == 2
    assert "needs a trained checkpoint" in capsys.readouterr().err
    assert (
        main(
            [
                "compare",
                str(records[0].path),
                str(records[1].path),
                "--method",
                "siamese-improved",
                "--model",
                str(tmp_path / "none.pt"),
            ]
        )
        == 2
    )
    assert "no such checkpoint file" in capsys.readouterr().err


def test_evaluate_midpoint_writes_json(fake_data, tmp_path, capsys):
    root, _ = fake_data
    out = tmp_path / "ahash.json"
    assert (
        main(
            [
                "evaluate",
                "--data",
                str(root),
                "--method",
                "ahash",
                "--json",
                str(out),
                "--quiet",
                "--n-boot",
                "50",
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "threshold" in text and "95% CI" in text
    result = json.loads(out.read_text())
    for key in (
        "method",
        "n_pairs",
        "positive_mean",
        "negative_mean",
        "threshold",
        "threshold_rule",
        "accuracy",
        "pairs_per_second",
        "balanced_accuracy",
        "roc_auc",
        "eer",
        "ci95",
        "thresholds",
        "threshold_fitted_on",
    ):
        assert key in result, key
    # The default: midpoint fitted on the validation drugs' pairs, intervals over the test classes.
    assert result["threshold_fitted_on"] == "val" and result["threshold_rule"] == "midpoint"
    assert result["protocol"] == "val" and result["n_val_pairs"] > 0
    assert result["ci_unit"] == "class" and result["n_classes"] == 2
    assert set(result["thresholds"]) == {"midpoint", "max_accuracy", "youden", "eer", "far"}
    # Test pairs come from the test drugs only.
    assert result["pairs_source"] == "algorithm2:test"
    assert "fitted on validation pairs" in text and "class-level jackknife" in text


def test_evaluate_paper_protocol_and_pair_intervals_only_when_asked(fake_data, tmp_path, capsys):
    root, _ = fake_data
    out = tmp_path / "paper.json"
    base = ["evaluate", "--data", str(root), "--method", "ahash", "--quiet", "--n-boot", "50", "--jobs", "1"]
    assert main(base + ["--paper-protocol", "--ci-unit", "pair", "--json", str(out)]) == 0
    assert "paper's protocol" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["threshold_fitted_on"] == "test" and result["protocol"] == "paper"
    assert result["ci_unit"] == "pair" and result["n_val_pairs"] == 0


def test_evaluate_rule_fits_on_val_and_threshold_from_reuses(fake_data, tmp_path, capsys, monkeypatch):
    root, records = fake_data
    from drugsim.evaluation import evaluate as evaluate_module

    seen = {}
    original = evaluate_module.evaluate_method

    def spy(method, test_pairs, **kwargs):
        seen["test"] = {p for pair in test_pairs for p in (pair.path_a, pair.path_b)}
        seen["val"] = {p for pair in kwargs["val_pairs"] or [] for p in (pair.path_a, pair.path_b)}
        return original(method, test_pairs, **kwargs)

    monkeypatch.setattr(evaluate_module, "evaluate_method", spy)
    fitted = tmp_path / "youden.json"
    assert (
        main(
            [
                "evaluate",
                "--data",
                str(root),
                "--method",
                "dhash",
                "--threshold-rule",
                "youden",
                "--json",
                str(fitted),
                "--quiet",
                "--n-boot",
                "20",
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    result = json.loads(fitted.read_text())
    assert result["threshold_fitted_on"] == "val" and result["threshold_rule"] == "youden"
    # The validation drugs' images never appear among the test pairs, and vice versa.
    assert seen["val"] and not (seen["val"] & seen["test"])
    assert {Path(p).parent.name for p in seen["val"]} == {"class2", "class3"}

    # Reuse on every class (a held-out set): the threshold is taken unchanged.
    reused = tmp_path / "all.json"
    assert (
        main(
            [
                "evaluate",
                "--data",
                str(root),
                "--method",
                "dhash",
                "--split",
                "all",
                "--threshold-from",
                str(fitted),
                "--json",
                str(reused),
                "--quiet",
                "--n-boot",
                "20",
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    again = json.loads(reused.read_text())
    assert again["threshold"] == result["threshold"]
    assert again["threshold_fitted_on"] == f"file:{fitted}" and again["threshold_rule"] == "youden"
    capsys.readouterr()


def test_evaluate_per_pair_equals_engine(fake_data, tmp_path, capsys):
    root, _ = fake_data
    engine_json, per_pair_json = tmp_path / "e.json", tmp_path / "p.json"
    common = [
        "evaluate",
        "--data",
        str(root),
        "--method",
        "ahash",
        "--quiet",
        "--n-boot",
        "20",
        "--jobs",
        "1",
    ]
    assert main(common + ["--json", str(engine_json), "--cache-dir", str(tmp_path / "cache")]) == 0
    assert main(common + ["--json", str(per_pair_json), "--per-pair"]) == 0
    engine_result = json.loads(engine_json.read_text())
    per_pair_result = json.loads(per_pair_json.read_text())
    assert engine_result["accuracy"] == per_pair_result["accuracy"]
    assert engine_result["positive_mean"] == per_pair_result["positive_mean"]
    assert per_pair_result["timing"]["mode"] == "per-pair"
    capsys.readouterr()


def test_evaluate_pairs_file(fake_data, tmp_path, capsys):
    root, records = fake_data
    pairs_file = tmp_path / "pairs.txt"
    rel = [r.path.relative_to(root) for r in records]
    pairs_file.write_text(
        # Test classes only (class4 = records 16-19, class5 = 20-23): the threshold is fitted on the val classes.
        f"{rel[16]}\t{rel[17]}\t1\n{rel[16]}\t{rel[20]}\t0\n{rel[20]}\t{rel[21]}\t1\n{rel[21]}\t{rel[17]}\t0\n"
    )
    out = tmp_path / "r.json"
    assert (
        main(
            [
                "evaluate",
                "--data",
                str(root),
                "--method",
                "ahash",
                "--pairs",
                str(pairs_file),
                "--json",
                str(out),
                "--quiet",
                "--n-boot",
                "10",
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert result["n_pairs"] == 4 and result["pairs_source"] == f"file:{pairs_file}"
    assert result["threshold_fitted_on"] == "val" and result["n_classes"] == 2  # class4 and class5
    capsys.readouterr()


def test_evaluate_errors(fake_data, tmp_path, capsys):
    root, _ = fake_data
    base = ["evaluate", "--data", str(root), "--quiet", "--n-boot", "10", "--jobs", "1"]
    assert main(base + ["--method", "ahash", "--split", "all", "--threshold-rule", "eer"]) == 2
    assert "leaves no separate validation drugs" in capsys.readouterr().err
    assert main(base + ["--method", "ahash", "--split", "all"]) == 2  # the midpoint too needs validation
    assert "leaves no separate validation drugs" in capsys.readouterr().err
    assert main(base + ["--method", "ahash", "--paper-protocol", "--threshold", "50"]) == 2
    assert "--paper-protocol fits the midpoint on the evaluated pairs" in capsys.readouterr().err
    assert main(base + ["--method", "ahash", "--paper-protocol", "--threshold-rule", "youden"]) == 2
    assert "--paper-protocol is the paper's midpoint rule" in capsys.readouterr().err
    assert main(base + ["--method", "ahash", "--threshold-from", str(tmp_path / "none.json")]) == 2
    assert "none.json: no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(base + ["--method", "ahash", "--threshold-from", str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"method": "orb", "threshold": 200.0, "threshold_rule": "midpoint"}))
    assert main(base + ["--method", "ahash", "--threshold-from", str(other)]) == 2
    assert "fitted for 'orb', not 'ahash'" in capsys.readouterr().err
    assert main(base + ["--method", "ahash", "--n-pairs", "0"]) == 2
    assert "argument --n-pairs: expected a whole number from 1 to 10000000, got 0" in capsys.readouterr().err
    assert main(base + ["--method", "ahash", "--filter-model", str(tmp_path / "c.pt")]) == 2
    assert "c.pt: no such checkpoint" in capsys.readouterr().err


def test_search_ranks_query_first(fake_data, tmp_path, capsys):
    root, records = fake_data
    query = records[9].path
    assert (
        main(
            [
                "search",
                str(query),
                "--gallery",
                str(root),
                "--method",
                "ahash",
                "--top-k",
                "3",
                "--json",
                "--quiet",
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    assert payload["hits"][0]["path"] == str(query) and payload["hits"][0]["label"] == records[9].label
    assert len(payload["hits"]) == 3 and payload["n_gallery"] == len(records)
    assert (
        main(["search", str(query), "--gallery", str(root), "--method", "orb", "--quiet", "--jobs", "1"]) == 0
    )
    assert "top 5 of 24 gallery images" in capsys.readouterr().out


def test_search_with_index(fake_data, tmp_path, capsys):
    root, records = fake_data
    index_path = tmp_path / "gallery.faiss"
    args = [
        "search",
        str(records[3].path),
        "--gallery",
        str(root),
        "--method",
        "dhash",
        "--index",
        str(index_path),
        "--json",
        "--quiet",
        "--jobs",
        "1",
    ]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert index_path.exists() and first["hits"][0]["score"] == 64.0
    assert main(args) == 0  # loads the saved index
    assert json.loads(capsys.readouterr().out)["hits"] == first["hits"]


def test_search_errors(fake_data, tmp_path, capsys):
    root, records = fake_data
    assert (
        main(["search", str(records[0].path), "--gallery", str(tmp_path / "nowhere"), "--method", "ahash"])
        == 2
    )
    assert "nowhere" in capsys.readouterr().err
    assert (
        main(["search", str(records[0].path), "--gallery", str(root), "--method", "ahash", "--top-k", "0"])
        == 2
    )
    assert "argument --top-k: expected a whole number from 1 to 1000000, got 0" in capsys.readouterr().err


def test_help_has_examples(capsys):
    for command in ("compare", "evaluate", "search", "methods"):
        assert main([command, "--help"]) == 0
        assert "examples:" in capsys.readouterr().out


def test_threshold_json_is_strict(fake_data, tmp_path, capsys):
    """NaN metrics (e.g. precision with nothing accepted) are written as null, never as NaN."""
    root, _ = fake_data
    out = tmp_path / "strict.json"
    assert (
        main(
            [
                "evaluate",
                "--data",
                str(root),
                "--method",
                "ahash",
                "--threshold",
                "1000",
                "--json",
                str(out),
                "--quiet",
                "--n-boot",
                "10",
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert result["precision"] is None and result["threshold_fitted_on"] == "--threshold"
    assert np.isfinite(result["accuracy"])
    capsys.readouterr()


def test_evaluate_filter_model_skips_feature_poor_pairs(fake_data, tmp_path, capsys, monkeypatch):
    """Table 10 wiring: the classifier's verdicts decide which pairs are compared (classifier faked)."""
    import drugsim.deep.classifier as classifier

    root, records = fake_data
    poor = {r.path for r in records if r.label == "class4"}

    class FakePredictor:
        def __init__(self, model, **kwargs):
            self.model = model

        def predict_paths(self, paths, *, progress=False):
            return {Path(p): Path(p) not in poor for p in paths}

    monkeypatch.setattr(classifier, "FeatureFacePredictor", FakePredictor)
    checkpoint = tmp_path / "classifier.pt"
    checkpoint.write_bytes(b"stand-in")
    out = tmp_path / "filtered.json"
    assert (
        main(
            [
                "evaluate",
                "--data",
                str(root),
                "--method",
                "ahash",
                "--filter-model",
                str(checkpoint),
                "--json",
                str(out),
                "--quiet",
                "--n-boot",
                "10",
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    # Pairs with both images of class4 are skipped; the rest are compared.
    assert result["n_pairs_skipped"] > 0
    assert result["n_pairs"] == result["n_pairs_before_filter"] - result["n_pairs_skipped"]
    assert 0 < result["share_skipped"] < 1 and result["pairs_per_second_with_filter"] > 0
    assert "feature-face filter skipped" in capsys.readouterr().out


def test_evaluate_on_the_real_data_layer(request, tmp_path, capsys):
    """End to end with drugsim.data (load, split, Algorithm 2 pairs) once the data layer provides them."""
    root = request.getfixturevalue("tiny_dataset")
    out = tmp_path / "orb.json"
    assert main(["evaluate", "--data", str(root), "--method", "ahash", "--threshold-rule", "youden", "--json",
                 str(out), "--quiet", "--n-boot", "50", "--n-pairs", "60"]) == 0
    result = json.loads(out.read_text())
    assert result["threshold_fitted_on"] == "val" and result["n_pairs"] <= 60
    assert result["ci_unit"] == "class" and result["n_classes"] >= 2
    capsys.readouterr()


def test_evaluate_json_dash_is_stdout_alone(fake_data, tmp_path, capsys, monkeypatch):
    """--json - prints the JSON alone on stdout (the summary goes to stderr) and makes no file '-'."""
    root, _ = fake_data
    monkeypatch.chdir(tmp_path)
    argv = ["evaluate", "--data", str(root), "--method", "ahash", "--threshold", "40", "--json", "-",
            "--quiet", "--n-boot", "10", "--jobs", "1"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["method"] == "ahash"
    assert "mean score" in captured.err and not (tmp_path / "-").exists()
