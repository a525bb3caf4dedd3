"""The feature cache stores data only: planted pickles, FIFOs and foreign entries are misses, never code."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from drugsim.classical.keypoints import KeypointMethod
from drugsim.evaluation.cache import CacheEntryError, FeatureCache, decode_feature, encode_feature

HASH = "ab" * 32


class _TouchFile:
    """Unpickling this runs ``open(path, "w")``: proof that a pickle was loaded."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_planted_pickle_is_a_miss_and_runs_nothing(tmp_path):
    cache = FeatureCache(tmp_path / "cache", "m")
    marker = tmp_path / "pwned"
    entry = cache.path_for(HASH)
    entry.parent.mkdir(parents=True)
    entry.write_bytes(pickle.dumps(_TouchFile(marker)))
    entry.with_suffix(".pkl").write_bytes(pickle.dumps(_TouchFile(marker)))  # the old layout's name
    assert cache.get(HASH) is None
    assert not marker.exists()
    assert cache.recovered == 1 and not entry.exists()


def test_npz_with_an_object_array_is_a_miss(tmp_path):
    cache = FeatureCache(tmp_path, "m")
    marker = tmp_path / "pwned"
    entry = cache.path_for(HASH)
    entry.parent.mkdir(parents=True)
    with open(entry, "wb") as handle:
        np.savez(handle, format=np.array("drugsim-feature-v1"), content=np.array(HASH),
                 kind=np.array("ndarray"), value=np.array([_TouchFile(marker)], dtype=object))
    assert cache.get(HASH) is None
    assert not marker.exists() and cache.recovered == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_fifo_entry_is_a_miss_not_a_hang(tmp_path):
    cache = FeatureCache(tmp_path, "m")
    entry = cache.path_for(HASH)
    entry.parent.mkdir(parents=True)
    os.mkfifo(entry)
    assert cache.get(HASH) is None


def test_entry_of_another_image_is_a_miss(tmp_path):
    cache = FeatureCache(tmp_path, "m")
    cache.put("cd" * 32, np.arange(4))
    cache.path_for(HASH).parent.mkdir(parents=True, exist_ok=True)
    os.replace(cache.path_for("cd" * 32), cache.path_for(HASH))
    assert cache.get(HASH) is None


def test_every_feature_kind_round_trips(tmp_path):
    image = np.kron(np.random.default_rng(0).integers(0, 256, (12, 12, 3), dtype=np.uint8),
                    np.ones((8, 8, 1), np.uint8))
    keypoints = KeypointMethod("orb").describe(image)
    assert len(keypoints) > 0
    cache = FeatureCache(tmp_path, "m")
    for i, feature in enumerate([np.arange(5, dtype=np.float32), 1.5, 3, True, keypoints]):
        key = f"{i:064x}"
        cache.put(key, feature)
        back = cache.get(key)
        assert type(back) is type(feature)
        if feature is keypoints:
            for name in ("points", "sizes", "angles", "descriptors"):
                np.testing.assert_array_equal(getattr(back, name), getattr(keypoints, name))
            assert back.image_shape == keypoints.image_shape and back.scale == keypoints.scale
        elif isinstance(feature, np.ndarray):
            np.testing.assert_array_equal(back, feature)
        else:
            assert back == feature


def test_unsupported_feature_is_not_cached(tmp_path):
    cache = FeatureCache(tmp_path, "m")
    cache.put(HASH, {"a": 1})
    assert cache.uncacheable == 1 and len(cache) == 0


def test_decode_names_what_is_wrong():
    arrays = encode_feature(np.zeros(2), HASH)
    with pytest.raises(CacheEntryError, match="another image"):
        decode_feature(arrays, "cd" * 32)
    with pytest.raises(CacheEntryError, match="format"):
        decode_feature({**arrays, "format": np.array("drugsim-feature-v0")}, HASH)
    with pytest.raises(CacheEntryError, match="unknown feature kind"):
        decode_feature({**arrays, "kind": np.array("pickle")}, HASH)
