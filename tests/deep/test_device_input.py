"""The cached, device-augmented input path: same pixels as decoding, the paper's transforms, seeded, and the
`paper` profile's training code path at toy size on the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF

from drugsim import paper
from drugsim.deep.datasets import ImageCache, images_to_tensor, resize_image
from drugsim.deep.device_input import (
    AugmentationParams,
    CachedBatches,
    apply_augmentation,
    augment_batch,
    cached_step,
    sample_augmentation,
    to_unit_float,
    uint8_batch,
)
from drugsim.io import read_image

CPU = torch.device("cpu")


def test_cached_batches_equal_decoded_batches_without_augmentation(toy_records):
    paths = [r.path for r in toy_records[:6]]
    # The decode path, spelled out: read each file, resize, scale to [0, 1].
    decoded = torch.stack([torch.from_numpy(np.array(resize_image(read_image(p), 48))).permute(2, 0, 1)
                           for p in paths]).float() / 255.0
    batches = CachedBatches(ImageCache(paths + paths[:2], 48), augment=True)
    cached = batches.images(batches.rows(paths), CPU, train=False)  # train=False: never augmented
    assert torch.equal(cached, decoded)
    # The evaluation engine's path (SiameseMethod.describe_batch: images_to_tensor) gives the same tensor too.
    assert torch.equal(images_to_tensor([read_image(p) for p in paths], 48, device=CPU), decoded)
    assert torch.equal(to_unit_float(uint8_batch([read_image(p) for p in paths], 48), CPU, channels_last=True),
                       decoded)


def test_cached_step_turns_rows_into_augmented_images_and_passes_labels(toy_records):
    paths = [r.path for r in toy_records[:4]]
    batches = CachedBatches(ImageCache(paths, 24), augment=True)
    seen = {}

    def step(model, batch):
        seen["batch"] = batch
        return torch.zeros(())

    rows = batches.rows(paths)
    cached_step(step, batches, 2)(None, [rows, rows.flip(0), torch.ones(4)])
    image_a, _, labels = seen["batch"]
    assert image_a.shape == (4, 3, 24, 24) and image_a.dtype == torch.float32 and torch.equal(labels, torch.ones(4))
    assert not torch.equal(image_a, batches.images(rows, CPU))  # augmented


def _torchvision_reference(image: torch.Tensor, params: AugmentationParams, i: int) -> torch.Tensor:
    """One image through torchvision's functional ops with the i-th drawn factors."""
    if bool(params.vflip[i]) != bool(params.rot180[i]):
        image = TF.vflip(image)
    if bool(params.hflip[i]) != bool(params.rot180[i]):
        image = TF.hflip(image)
    image = TF.adjust_brightness(image, float(params.brightness[i]))
    image = TF.adjust_contrast(image, float(params.contrast[i]))
    image = TF.adjust_saturation(image, float(params.saturation[i]))
    return TF.adjust_hue(image, float(params.hue[i]))


def test_batched_augmentation_is_torchvisions_transforms_per_image():
    images = torch.rand(16, 3, 12, 10, generator=torch.Generator().manual_seed(1))
    params = sample_augmentation(16, generator=torch.Generator().manual_seed(2))
    out = apply_augmentation(images, params)
    expected = torch.stack([_torchvision_reference(images[i], params, i) for i in range(16)])
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_drawn_augmentation_follows_the_papers_settings():
    settings = paper.TRAINING["augmentation"]
    params = sample_augmentation(4000, generator=torch.Generator().manual_seed(0))
    for name in ("brightness", "contrast", "saturation", "hue"):
        values = getattr(params, name)
        low, high = settings[name]
        assert low <= float(values.min()) and float(values.max()) <= high
        assert float(values.max() - values.min()) > 0.9 * (high - low)  # the whole range is used
    for flag, p in ((params.vflip, settings["vflip_p"]), (params.hflip, settings["hflip_p"]), (params.rot180, 0.5)):
        assert abs(float(flag.float().mean()) - p) < 0.05


def test_augment_batch_shape_dtype_range_and_seeding():
    images = torch.rand(8, 3, 16, 16)
    first = augment_batch(images, generator=torch.Generator().manual_seed(5))
    again = augment_batch(images, generator=torch.Generator().manual_seed(5))
    other = augment_batch(images, generator=torch.Generator().manual_seed(6))
    assert first.shape == images.shape and first.dtype == torch.float32
    assert 0.0 <= float(first.min()) and float(first.max()) <= 1.0
    assert torch.equal(first, again) and not torch.equal(first, other)
    # Without a generator the draws come from torch's global one, which the trainer seeds per epoch.
    torch.manual_seed(3)
    global_first = augment_batch(images)
    torch.manual_seed(3)
    assert torch.equal(augment_batch(images), global_first)


def test_input_path_errors_are_one_line():
    with pytest.raises(TypeError, match="expected a uint8 image tensor, got torch.float32"):
        to_unit_float(torch.zeros(1, 3, 4, 4), CPU)
    with pytest.raises(ValueError, match=r"expected a float image batch of shape \(N, 3, H, W\), got \(3, 4, 4\)"):
        apply_augmentation(torch.zeros(3, 4, 4), sample_augmentation(3))
    with pytest.raises(ValueError, match="augmentation drawn for 2 images, batch has 3"):
        apply_augmentation(torch.zeros(3, 3, 4, 4), sample_augmentation(2))


def test_paper_profile_trains_on_the_cpu_at_toy_size(tmp_path, toy_pair_list):
    """The `paper` profile's training code path (224 px, batch 64, Adam 5e-4, the paper's augmentation on the
    cached batches, every pair) for 1 epoch on four toy pairs (at 224 px a CPU trains on them in seconds)."""
    from drugsim.deep.config import siamese_config
    from drugsim.deep.training import load_siamese, train_siamese

    config = siamese_config("paper", device="cpu", epochs=1)
    expected = paper.TRAINING["siamese"]
    assert (config.image_size, config.batch_size, config.lr, config.augment, config.n_train_pairs) == (
        paper.TRAINING["image_size"], expected["batch_size"], expected["lr"], True, None)
    result = train_siamese(config, toy_pair_list[:4], toy_pair_list[4:8], out=tmp_path / "paper.pt", progress=False)
    assert len(result.history) == 1 and result.extra["n_train_items"] == 4
    _, payload = load_siamese(tmp_path / "paper.pt")
    assert payload["config"]["profile"] == "paper" and payload["config"]["image_size"] == config.image_size


def test_input_throughput_times_the_three_paths_on_the_same_draws(toy_records):
    from drugsim.deep.device_input import input_throughput

    result = input_throughput([r.path for r in toy_records[:4]], size=16, batch_size=4, n_batches=1, device=CPU)
    rates = [result[f"{name}_images_per_second"] for name in ("decode", "cached_per_image", "cached")]
    assert all(rate > 0 for rate in rates) and result["cache_images"] == 4
    assert result["cached_over_decode"] == pytest.approx(rates[2] / rates[0])
    with pytest.raises(ValueError, match="no images to time"):
        input_throughput([], size=16, batch_size=4, n_batches=1, device=CPU)
