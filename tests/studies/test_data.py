"""The data chapter's backend (drugsim.studies.data): pair tables and the sentences it glues."""

from __future__ import annotations

from data_helpers import hand_built

from drugsim.data import pair_statistics
from drugsim.data.info import dataset_info
from drugsim.data.records import ImageRecord
from drugsim.studies import data as study


def test_pair_count_table_and_sentences(tmp_path):
    from data_helpers import hand_built

    from drugsim.data import make_pairs
    from drugsim.studies.data import faces_sentence, flags_sentence, pair_count_table

    records = hand_built(tmp_path, {"A": [("front", 3), ("back", 2)], "B": [("front", 2)]})
    pairs = {
        "test": {1: make_pairs(records, algorithm=1, seed=0, n_pairs=12), 2: make_pairs(records, algorithm=2)}
    }
    table = pair_count_table({"test": records}, pairs)
    assert table.loc[("test", 2), "pairs"] == 10 and table.loc[("test", 2), "positives"] == 5
    assert table.loc[("test", 2), "positive share"] == 0.5
    assert table.loc[("test", 1), "intra-class negatives"] == 0 and table.loc[("test", 1), "images"] == 7
    info = dataset_info(records)
    assert "same face of the same drug" in faces_sentence(info)
    assert flags_sentence(info).startswith("7 of 7 photos (100.0%)")
    unknown = dataset_info([ImageRecord(f"{c}{i}.jpg", c) for c in "xy" for i in range(2)])
    assert faces_sentence(unknown).startswith("Faces are unknown for this dataset")
    assert flags_sentence(unknown).startswith("Feature flags are unknown")


def test_feature_rich_share_text():
    assert study.feature_rich_share_text({"feature_rich_share": 0.4567}) == "45.7%"
    assert study.feature_rich_share_text({"feature_rich_share": None}) == "unknown"


def test_pair_composition_counts_each_algorithms_pairs(tmp_path):
    from drugsim.data import protocol

    records = hand_built(tmp_path, {"A": [("front", 3), ("back", 2)], "B": [("front", 2)]})
    composition = study.pair_composition(records, seed=0)
    assert list(composition) == ["Algorithm 1", "Algorithm 2"]
    built = protocol.algorithm_comparison(records, seed=0)
    assert composition["Algorithm 2"] == pair_statistics(built[2], records)
    assert composition["Algorithm 2"]["n_pairs"] == 10
