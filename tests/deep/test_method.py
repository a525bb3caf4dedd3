"""SiameseMethod and EmbeddingMethod through the common interface and the registry."""

from __future__ import annotations

import numpy as np
import pytest

from drugsim.deep.config import siamese_config
from drugsim.deep.training import train_siamese
from drugsim.errors import ConfigError
from drugsim.io import read_image
from drugsim.methods import create_method


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, toy_pair_list):
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for variant in ("improved", "classic"):
        config = siamese_config("tiny", variant=variant, epochs=1, image_size=32, head_hidden=8, device="cpu",
                                n_train_pairs=None, n_val_pairs=None)
        paths[variant] = folder / f"{variant}.pt"
        train_siamese(config, toy_pair_list, toy_pair_list, out=paths[variant], progress=False)
    return paths


@pytest.mark.parametrize("variant, direction", [("improved", "higher"), ("classic", "lower")])
def test_siamese_method_via_registry(checkpoints, toy_records, variant, direction):
    method = create_method(f"siamese-{variant}", model=str(checkpoints[variant]))
    assert method.name == f"siamese-{variant}" and method.direction == direction
    assert method.parallel_describe is False and method.threshold == 0.8
    images = [read_image(r.path) for r in toy_records[:5]]
    features = method.describe_batch(images)
    assert len(features) == 5 and features[0].dtype == np.float32
    # Batched and one-at-a-time give the same features and scores.
    np.testing.assert_allclose(method.describe(images[1]), features[1], rtol=1e-3, atol=1e-3)
    scores = method.score_pairs(features[:4], features[1:])
    assert scores.shape == (4,)
    assert method.score(features[0], features[1]) == pytest.approx(scores[0], rel=1e-5)
    if variant == "improved":
        assert ((scores > 0) & (scores < 1)).all()
    else:
        assert method.score(features[0], features[0]) == pytest.approx(0.0, abs=1e-3)
    assert method.cache_key().startswith(f"siamese-{variant}-")


def test_siamese_method_errors(checkpoints, tmp_path):
    with pytest.raises(ConfigError, match="siamese-improved needs a trained checkpoint"):
        create_method("siamese-improved")
    with pytest.raises(ConfigError, match="holds a 'classic' network, not 'improved'"):
        create_method("siamese-improved", model=str(checkpoints["classic"]))
    with pytest.raises(ConfigError, match="fixes variant='improved'"):
        create_method("siamese-improved", variant="classic", model=str(checkpoints["improved"]))
    with pytest.raises(Exception, match="does not exist"):
        create_method("siamese-classic", model=str(tmp_path / "none.pt"))
    method = create_method("siamese-classic", model=str(checkpoints["classic"]))
    with pytest.raises(ConfigError, match=r"expected a non-empty uint8 image .* dtype float32"):
        method.describe_batch([np.zeros((32, 32, 3), np.float32)])
    with pytest.raises(ValueError, match="features_a has 1 items but features_b has 0"):
        method.score_pairs([np.zeros(4, np.float32)], [])


def test_embedding_methods(checkpoints, toy_records):
    images = [read_image(r.path) for r in toy_records[:3]]
    cosine = create_method("cnn-cosine", backbone="resnet18", weights="random", image_size=32)
    features = cosine.describe_batch(images)
    assert cosine.direction == "higher" and features[0].shape == (512,)
    assert cosine.score(features[0], features[0]) == pytest.approx(1.0, abs=1e-6)
    euclidean = create_method("cnn-euclidean", model=str(checkpoints["classic"]))
    assert euclidean.direction == "lower" and euclidean.image_size == 32
    features = euclidean.describe_batch(images)
    a, b = features[0].astype(np.float64), features[1].astype(np.float64)
    assert euclidean.score(features[0], features[1]) == pytest.approx(np.linalg.norm(a - b), rel=1e-6)
    # The classic checkpoint's embedding distance is the classic network's own score.
    classic = create_method("siamese-classic", model=str(checkpoints["classic"]))
    assert euclidean.score(features[0], features[1]) == pytest.approx(
        classic.score_pairs(features[:1], features[1:2])[0], rel=1e-4)
    with pytest.raises(ConfigError, match="metric 'manhattan' is not supported"):
        from drugsim.deep.embedding import EmbeddingMethod

        EmbeddingMethod("manhattan")


def test_default_embedding_is_pretrained_efficientnet():
    method = create_method("cnn-cosine")
    assert method.config()["backbone"] == "efficientnet-lite0" and method.config()["weights"] == "imagenet"
