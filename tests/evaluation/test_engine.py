"""The engine equals the paper's per-pair way pair by pair; parallel, batched and cached paths agree."""


import numpy as np
import pytest
from evaluation_helpers import MeanGrey

from drugsim.data.records import Pair
from drugsim.errors import ConfigError, ImageReadError
from drugsim.evaluation import engine
from drugsim.evaluation.cache import FeatureCache, file_sha256
from drugsim.methods import create_method


@pytest.mark.parametrize("name", ["ahash", "dhash", "hist-correl", "hist-chisqr", "orb", "sift"])
def test_engine_equals_per_pair(name, pair_list):
    method = create_method(name)
    per_pair = engine.score_pairs_per_pair(method, pair_list, progress=False)
    features = engine.describe_images(method, engine.pair_paths(pair_list), n_jobs=1, progress=False)
    np.testing.assert_allclose(engine.score_pair_list(method, pair_list, features), per_pair, rtol=1e-9)


@pytest.mark.parametrize("name", ["ahash", "orb"])
def test_process_pool_equals_serial(name, image_set, monkeypatch):
    _, paths, _ = image_set
    monkeypatch.setattr(engine, "WORKER_START_SECONDS", -1.0)  # always choose the pool
    method = create_method(name)
    serial = engine.describe_images(method, paths, n_jobs=1, progress=False)
    parallel = engine.describe_images(method, paths, n_jobs=2, progress=False)
    assert list(parallel) == list(serial)
    pairs = [Pair(a, b, 0) for a, b in zip(paths, paths[1:])]
    np.testing.assert_array_equal(
        engine.score_pair_list(method, pairs, serial), engine.score_pair_list(method, pairs, parallel)
    )


def test_each_distinct_image_described_once(image_set, monkeypatch):
    _, paths, _ = image_set
    method = MeanGrey()
    features = engine.describe_images(method, paths + paths[:5], batch_size=7, progress=False)
    assert len(features) == len(paths)
    assert sum(method.batches) == len(paths)
    assert max(method.batches) == 7


def test_batched_method_equals_per_pair(pair_list):
    method = MeanGrey()
    features = engine.describe_images(method, engine.pair_paths(pair_list), progress=False)
    np.testing.assert_allclose(
        engine.score_pair_list(method, pair_list, features),
        engine.score_pairs_per_pair(method, pair_list, progress=False),
    )


def test_cache_reuses_features_and_recovers_from_corruption(image_set, tmp_path):
    _, paths, _ = image_set
    method = MeanGrey()
    stats = {}
    first = engine.describe_images(method, paths, cache_dir=tmp_path, progress=False, stats=stats)
    assert stats["computed"] == len(paths) and stats["cache_hits"] == 0

    # Second run: nothing described again.
    method.batches.clear()
    second = engine.describe_images(method, paths, cache_dir=tmp_path, progress=False, stats=stats)
    assert method.batches == [] and stats["cache_hits"] == len(paths)
    assert second == {p: first[p] for p in paths}

    # A truncated entry and a garbage entry are recomputed, not trusted and not fatal.
    cache = FeatureCache(tmp_path, method.cache_key())
    cache.path_for(file_sha256(paths[0])).write_bytes(b"\x80\x05garbage")
    cache.path_for(file_sha256(paths[1])).write_bytes(b"")
    third = engine.describe_images(method, paths, cache_dir=tmp_path, progress=False, stats=stats)
    assert stats["computed"] == 2 and stats["recovered"] == 2
    assert third == second
    assert cache.get(file_sha256(paths[0])) == first[paths[0]]


def test_cache_keyed_by_content_not_path(image_set, tmp_path):
    _, paths, _ = image_set
    copy = tmp_path / "renamed.png"
    copy.write_bytes(paths[0].read_bytes())
    method = MeanGrey()
    stats = {}
    engine.describe_images(
        method, [paths[0], copy], cache_dir=tmp_path / "cache", progress=False, stats=stats
    )
    assert stats["computed"] == 1


def test_cache_separates_method_settings(image_set, tmp_path):
    _, paths, _ = image_set
    first = create_method("ahash")
    second = create_method("dhash")
    assert first.cache_key() != second.cache_key()
    a = engine.describe_images(first, paths[:3], cache_dir=tmp_path, n_jobs=1, progress=False)
    b = engine.describe_images(second, paths[:3], cache_dir=tmp_path, n_jobs=1, progress=False)
    pairs = [Pair(paths[0], paths[1], 0)]
    assert (
        engine.score_pair_list(first, pairs, a)[0]
        == engine.score_pairs_per_pair(first, pairs, progress=False)[0]
    )
    assert (
        engine.score_pair_list(second, pairs, b)[0]
        == engine.score_pairs_per_pair(second, pairs, progress=False)[0]
    )


def test_missing_image_is_a_clear_error(tmp_path, image_set):
    _, paths, _ = image_set
    missing = tmp_path / "nope.jpg"
    with pytest.raises(ImageReadError, match="nope.jpg: no such file"):
        engine.describe_images(MeanGrey(), [paths[0], missing], progress=False)
    with pytest.raises(ImageReadError, match="nope.jpg: no such file"):
        engine.describe_images(MeanGrey(), [missing], cache_dir=tmp_path / "c", progress=False)


def test_corrupt_image_error_crosses_process_boundary(tmp_path, image_set, monkeypatch):
    _, paths, _ = image_set
    monkeypatch.setattr(engine, "WORKER_START_SECONDS", -1.0)  # always choose the pool
    method = create_method("ahash")
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg at all")
    with pytest.raises(ImageReadError, match="broken.jpg"):
        engine.describe_images(method, list(paths) + [bad], n_jobs=2, progress=False)


def test_score_pair_list_errors(image_set):
    _, paths, _ = image_set
    method = MeanGrey()
    features = engine.describe_images(method, paths[:2], progress=False)
    with pytest.raises(ConfigError, match="no feature for image"):
        engine.score_pair_list(method, [Pair(paths[0], paths[5], 0)], features)
    assert engine.score_pair_list(method, [], features).shape == (0,)
    with pytest.raises(ConfigError, match="batch_size must be at least 1"):
        engine.describe_images(method, paths, batch_size=0)


def test_workers_do_not_rerun_an_unguarded_script(image_set, tmp_path):
    """A user's script without `if __name__ == "__main__":` must not run again inside the workers."""
    import subprocess
    import sys

    _, paths, _ = image_set
    marker = tmp_path / "runs.txt"
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from drugsim.evaluation import engine\n"
        "from drugsim.evaluation.engine import describe_images\n"
        "engine.WORKER_START_SECONDS = -1.0\n"
        "from drugsim.methods import create_method\n"
        f"open({str(marker)!r}, 'a').write('run\\n')\n"
        f"paths = {[str(p) for p in paths]!r}\n"
        "features = describe_images(create_method('ahash'), paths, n_jobs=2, progress=False)\n"
        "print(len(features))\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(len(paths))
    assert marker.read_text() == "run\n"


def test_cheap_images_stay_in_process(image_set, monkeypatch):
    _, paths, _ = image_set
    monkeypatch.setattr(engine, "WORKER_START_SECONDS", 1e9)

    def no_pool(*args, **kwargs):
        raise AssertionError("the process pool should not start for cheap images")

    monkeypatch.setattr(engine, "_describe_processes", no_pool)
    features = engine.describe_images(create_method("ahash"), paths, n_jobs=2, progress=False)
    assert len(features) == len(paths)
