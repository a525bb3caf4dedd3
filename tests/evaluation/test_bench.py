"""The speed benchmark: engine scores equal per-pair scores pair by pair through the timing code path,
the JSON has the agreed schema, and the search benchmark's recall is computed right."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drugsim import data
from drugsim.data.records import Pair
from drugsim.errors import ConfigError
from drugsim.evaluation import search_speed, timing
from drugsim.io import write_image
from drugsim.studies import search as search_study
from drugsim.studies import speed


@pytest.fixture(scope="module")
def pair_list(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench_images")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(10):
        base = np.full((60, 80, 3), 30 + 20 * i, np.uint8)
        base[10:50, 10 + 3 * i : 40 + 3 * i] = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
        paths.append(write_image(folder / f"img{i}.png", base))
    pairs = [Pair(paths[i % 10], paths[(i * 3 + 1) % 10], int(i % 2)) for i in range(20)]
    return pairs


def test_engine_equals_per_pair_through_bench(pair_list):
    from drugsim.methods import create_method

    methods = [create_method("ahash"), create_method("hist-correl")]
    config = timing.BenchConfig(repeats=1, per_pair_pairs=None, warmup_pairs=1, n_jobs=1)
    result = timing.bench_methods(methods, pair_list, config, dataset="toy")
    for name, row in result["methods"].items():
        assert row["scores_agree"], name
        assert row["limit_scores_agree"], name
        assert row["max_abs_difference"] <= 1e-6
        assert row["n_pairs_per_pair"] == len(pair_list)

    # The same pair by pair, outside the bench: the engine's path vs the paper's path.
    from drugsim.evaluation.engine import describe_images, score_pair_list, score_pairs_per_pair

    for method in methods:
        features = describe_images(method, timing.distinct_paths(pair_list), n_jobs=1, progress=False)
        np.testing.assert_allclose(
            score_pair_list(method, pair_list, features),
            score_pairs_per_pair(method, pair_list, progress=False),
            rtol=1e-9,
        )

    # JSON schema agreed in issue 7.
    text = json.dumps(result)
    loaded = json.loads(text)
    assert {"methods", "n_pairs", "n_images", "hardware"} <= set(loaded)
    assert loaded["n_pairs"] == 20 and loaded["n_images"] == 10
    for row in loaded["methods"].values():
        for key in (
            "per_pair_pairs_per_second",
            "engine_pairs_per_second",
            "speedup",
            "limit_pairs_per_second",
            "engine_over_limit",
            "feature_cache_bytes",
        ):
            assert isinstance(row[key], (int, float)) and row[key] > 0, key
        assert row["speedup"] == pytest.approx(
            row["engine_pairs_per_second"] / row["per_pair_pairs_per_second"]
        )
    assert loaded["targets"]["speedup"]["ahash"] == 20.0
    for key in ("cpu_model", "cpu_cores", "ram_bytes", "torch_device"):
        assert key in loaded["hardware"]
    table = speed.speed_table(result)
    assert table.loc["ahash", "paper pairs/s"] == pytest.approx(106.55)  # paper Table 7
    markdown = speed.markdown_speed_table(result)
    assert markdown.count("\n") == 3 and "| ahash | 106.55 |" in markdown
    glued = speed.glue_speed(result)
    assert glued["speed_ahash_paper"] == "106.55" and glued["speed_n_pairs"] == "20"
    assert float(glued["speed_hist-correl_speedup"]) == pytest.approx(
        result["methods"]["hist-correl"]["speedup"], abs=0.05
    )


def test_per_pair_subset_and_medians(pair_list):
    from drugsim.methods import create_method

    row = timing.bench_method(
        create_method("dhash"),
        pair_list,
        timing.BenchConfig(repeats=3, per_pair_pairs=5, warmup_pairs=0, n_jobs=1),
    )
    assert row["n_pairs_per_pair"] == 5
    assert len(row["times"]["engine"]) == 3
    assert row["engine_seconds"] == pytest.approx(float(np.median(row["times"]["engine"])))
    assert row["scores_agree"]


def test_time_call_median_and_errors():
    calls = []
    seconds, times, result = timing.time_call(lambda: calls.append(1) or len(calls), repeats=3)
    assert result == 3 and len(times) == 3 and seconds == pytest.approx(sorted(times)[1])
    with pytest.raises(ConfigError, match="repeats must be >= 1, got 0"):
        timing.time_call(lambda: None, repeats=0)
    with pytest.raises(ConfigError, match="per_pair_pairs must be >= 1, got 0"):
        timing.BenchConfig(per_pair_pairs=0)


def test_feature_cache_bytes_is_what_the_cache_writes(tmp_path):
    from drugsim.evaluation.cache import FeatureCache

    features = {f"{i:064x}": np.full(8, i, np.uint8) for i in range(20)}
    cache = FeatureCache(tmp_path, "toy")
    for content_hash, feature in features.items():
        cache.put(content_hash, feature)
    assert timing.feature_cache_bytes(features) == cache.size_bytes() > 20 * 8


def test_recall_at_k_by_hand():
    exact = np.array([[0, 1, 2], [3, 4, 5]])
    approx = np.array([[2, 1, 9], [3, 4, 5]])
    assert search_speed.recall_at_k(approx, exact) == pytest.approx((2 / 3 + 1) / 2)
    # With ties: row 9 scores like the exact 3rd neighbour, so it counts.
    exact_scores = np.array([[64, 60, 58], [50, 49, 48]], float)
    approx_scores = np.array([[58, 60, 58], [50, 49, 48]], float)
    assert search_speed.recall_at_k(approx, exact, approx_scores=approx_scores, exact_scores=exact_scores) == 1.0


def test_search_benchmark_small():
    result = search_speed.bench_search((100, 400), dim=8, n_queries=10, k=5, repeats=1)
    assert {r["kind"] for r in result["rows"]} == {"flat", "ivf", "hnsw"}
    assert all(0.0 <= r["recall_at_k"] <= 1.0 for r in result["rows"])
    assert all(r["queries_per_second"] > 0 for r in result["rows"])
    assert all(r["recall_at_k"] > 0.5 for r in result["rows"])
    assert search_study.markdown_search_table(result).count("\n") == 1 + len(result["rows"])
    axes = search_study.plot_search_benchmark(result)
    assert axes[1].get_ylabel() == "recall@5 vs exact"


def test_cli_bench_on_pair_list(tmp_path, pair_list, monkeypatch):
    from drugsim.cli import main

    pair_file = tmp_path / "pairs.txt"
    data.write_pairs(pair_file, pair_list)
    out = tmp_path / "bench.json"
    code = main(
        [
            "bench",
            "--pair-list",
            str(pair_file),
            "--methods",
            "ahash",
            "--repeats",
            "1",
            "--per-pair-pairs",
            "4",
            "--jobs",
            "1",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    loaded = json.loads(out.read_text())
    assert loaded["methods"]["ahash"]["n_pairs_per_pair"] == 4


def test_cli_errors(capsys):
    from drugsim.cli import main

    assert main(["bench", "--methods", "siamese-improved", "--data", "x"]) == 2
    assert "needs a trained checkpoint" in capsys.readouterr().err
    assert main(["bench", "--model", "nonsense", "--data", "x"]) == 2
    assert "--model expects NAME=PATH" in capsys.readouterr().err
