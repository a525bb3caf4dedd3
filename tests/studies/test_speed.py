"""The speed chapter's sentences: issue 7's targets in words, the machine in the one hardware sentence."""

from __future__ import annotations

from drugsim import paper
from drugsim.evaluation import timing
from drugsim.hardware import hardware_sentence
from drugsim.report import glued
from drugsim.studies import speed


def _result(hardware):
    row = {"per_pair_pairs_per_second": 30.0, "engine_pairs_per_second": 600.0,
           "limit_pairs_per_second": 650.0, "speedup": 20.0, "engine_over_limit": 1.08,
           "feature_cache_bytes": 2**20, "n_pairs_per_pair": 40,
           "targets": {"speedup": 5.0, "speedup_ok": True, "engine_over_limit": 1.5,
                       "engine_over_limit_ok": True}}
    return {"n_pairs": 300, "n_images": 90, "hardware": hardware, "methods": {"orb": row}}


def test_target_sentence_lists_every_target_in_order():
    assert speed.target_sentence({"sift": 5.0, "ahash": 20.0}) == "sift 5 times, ahash 20 times"
    sentence = speed.target_sentence()
    assert sentence.count(" times") == len(timing.SPEEDUP_TARGETS)
    assert sentence.startswith(f"{next(iter(timing.SPEEDUP_TARGETS))} ")


def test_glue_targets_glues_what_the_chapter_quotes():
    values = speed.glue_targets()
    assert values == {"speed_paper_hardware": paper.HARDWARE["timing"],
                      "speed_limit_target": timing.LIMIT_TARGET,
                      "speed_target_sentence": speed.target_sentence()}
    assert glued()["speed_limit_target"] == timing.LIMIT_TARGET


def test_glue_speed_describes_the_machine_with_the_one_hardware_sentence():
    hardware = {"cpu_model": "Toy CPU", "cpu_cores": 8, "cpu_cores_usable": 2, "ram_gib": 15.6,
                "torch_device": "not used (no network timed)"}
    values = speed.glue_speed(_result(hardware))
    assert values["speed_hardware"] == hardware_sentence(hardware)
    assert values["speed_hardware"] == (
        "Toy CPU (2 of 8 cores usable), 15.6 GiB RAM, GPU not checked (no network timed)")
    assert values["speed_targets_held"] == "2" and values["speed_orb_speedup"] == "20.0"
