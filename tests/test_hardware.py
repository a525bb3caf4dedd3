"""The one description of a machine: the keys every report reads, and the sentence built from them."""

from __future__ import annotations

from drugsim.hardware import hardware_info, hardware_sentence


def test_hardware_info_keys_and_units():
    info = hardware_info(load_torch=False)
    keys = {"cpu_model", "cpu_cores", "cpu_cores_usable", "ram_bytes", "ram_gib", "platform", "python"}
    assert keys <= set(info)
    if info["ram_bytes"]:
        assert info["ram_gib"] == round(info["ram_bytes"] / 1024**3, 1)
    assert 1 <= info["cpu_cores_usable"] <= info["cpu_cores"]


def test_hardware_sentence_says_whether_a_gpu_was_used_or_looked_for():
    info = {"cpu_model": "Xeon", "cpu_cores": 8, "cpu_cores_usable": 2, "ram_gib": 15.6}
    assert hardware_sentence({**info, "torch_device": "cuda (NVIDIA H200)"}) == (
        "Xeon (2 of 8 cores usable), 15.6 GiB RAM, GPU NVIDIA H200")
    assert hardware_sentence({**info, "torch_device": "cpu"}).endswith(", no GPU")
    assert hardware_sentence({**info, "torch_device": "not used (no network timed)"}).endswith(
        ", GPU not checked (no network timed)")
    assert hardware_sentence({**info, "ram_gib": None}) == "Xeon (2 of 8 cores usable), no GPU"
