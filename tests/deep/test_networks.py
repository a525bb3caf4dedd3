"""Backbones and heads: output shapes, gradients reaching both branches, weight loading and its errors."""

from __future__ import annotations

import pytest
import torch

from drugsim.deep.backbones import build_backbone, torchvision_weights_path
from drugsim.deep.config import classifier_config, siamese_config
from drugsim.deep.siamese import SiameseNetwork
from drugsim.errors import ConfigError


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return build_backbone("resnet18")


@pytest.mark.parametrize("size", [32, 64])
def test_resnet_backbone_takes_small_inputs(resnet, size):
    assert resnet(torch.rand(2, 3, size, size)).shape == (2, 512)


def test_vgg_and_pool_size_shapes():
    vgg = build_backbone("vgg16", pool_size=2)
    assert vgg(torch.rand(1, 3, 32, 32)).shape == (1, 512 * 4)


@pytest.mark.parametrize("variant", ["improved", "classic", "triplet"])
def test_head_shapes_and_gradients_reach_shared_backbone(resnet, variant):
    net = SiameseNetwork(resnet, variant=variant, head_hidden=8)
    net.zero_grad()
    a, b = torch.rand(3, 3, 32, 32), torch.rand(3, 3, 32, 32)
    if variant == "triplet":
        anchor, positive, _ = net(a, b, torch.rand(3, 3, 32, 32))
        assert anchor.shape == (3, 512)
        torch.testing.assert_close(anchor.norm(dim=1), torch.ones(3))  # L2-normalised embeddings
        (anchor - positive).pow(2).sum().backward()
    else:
        out = net(a, b)
        assert out.shape == (3,)
        if variant == "classic":
            assert (out >= 0).all()
            # eq. 23: the distance of the two embeddings (one batch, as forward does: BatchNorm in train mode)
            embeddings = net.embed(torch.cat([a, b]))
            expected = (embeddings[:3] - embeddings[3:]).pow(2).sum(1).sqrt()
            torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)
        else:
            probability = net.similarity(out)
            assert ((probability > 0) & (probability < 1)).all()
        out.sum().backward()
    first_conv = net.backbone.trunk[0].weight.grad
    assert first_conv is not None and first_conv.abs().sum() > 0
    if variant == "improved":
        assert net.pair_head.layers[0].weight.grad.abs().sum() > 0


def test_improved_head_is_symmetric(resnet):
    net = SiameseNetwork(resnet, variant="improved", head_hidden=8).eval()
    a, b = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(net(a, b), net(b, a), atol=1e-5, rtol=1e-5)


def test_weights_from_a_state_dict_file(tmp_path, resnet):
    path = tmp_path / "resnet.pth"
    torch.save(resnet.state_dict(), path)
    loaded = build_backbone("resnet18", weights=str(path))
    assert loaded.weights == str(path)
    x = torch.rand(1, 3, 32, 32)
    resnet.eval(), loaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), resnet(x))


def test_missing_weights_are_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    expected = torchvision_weights_path("vgg16")
    with pytest.raises(ConfigError, match=rf"imagenet weights for vgg16 not found at {expected}.*never downloads"):
        build_backbone("vgg16", weights="imagenet")
    with pytest.raises(ConfigError, match="weights file .*nope.pth does not exist"):
        build_backbone("resnet18", weights=str(tmp_path / "nope.pth"))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="could not be read as a PyTorch state dict"):
        build_backbone("resnet18", weights=str(junk))
    torch.save({"unrelated.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(ConfigError, match="does not fit resnet18"):
        build_backbone("resnet18", weights=str(tmp_path / "other.pth"))


def test_unknown_backbone_and_bad_config_values():
    with pytest.raises(ConfigError, match="backbone 'alexnet' is not supported"):
        build_backbone("alexnet")
    with pytest.raises(ConfigError, match="variant='siamese' is not supported"):
        siamese_config("tiny", variant="siamese")
    with pytest.raises(ConfigError, match="profile='huge' is not supported"):
        siamese_config("huge")
    with pytest.raises(ConfigError, match="image_size must be at least 32"):
        classifier_config("tiny", image_size=16)


def test_paper_profile_holds_the_papers_settings():
    from drugsim import paper

    cfg = siamese_config("paper")
    settings = paper.TRAINING["siamese"]
    assert (cfg.image_size, cfg.epochs, cfg.batch_size, cfg.lr) == (224, settings["epochs"], settings["batch_size"],
                                                                   settings["lr"])
    assert (cfg.lr_step_epochs, cfg.lr_gamma, cfg.threshold, cfg.margin) == (
        settings["lr_step_epochs"], settings["lr_gamma"], settings["threshold"], settings["contrastive_margin"])
    assert cfg.n_train_pairs is None and cfg.contrastive_form == "paper"
    clf = classifier_config("paper")
    settings = paper.TRAINING["classifier"]
    assert (clf.epochs, clf.batch_size, clf.lr, clf.lr_step_epochs, clf.lr_gamma) == (
        settings["epochs"], settings["batch_size"], settings["lr"], settings["lr_step_epochs"], settings["lr_gamma"])


def test_imagenet_weights_come_from_the_local_torch_cache_only(tmp_path, monkeypatch):
    # Stand-in for torchvision's file: a full resnet18 state dict under the name torch.hub would use.
    from torchvision.models import resnet18

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    full = resnet18(weights=None)
    path = torchvision_weights_path("resnet18")
    path.parent.mkdir(parents=True)
    torch.save(full.state_dict(), path)
    backbone = build_backbone("resnet18", weights="imagenet").eval()
    assert backbone.weights == "imagenet"
    torch.testing.assert_close(backbone.trunk[0].weight, full.conv1.weight)
