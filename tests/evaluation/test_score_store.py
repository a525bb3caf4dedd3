"""The per-pair score store: round trip, planted pickles and other pair lists refused, bad fields named."""

import pickle
from pathlib import Path

import numpy as np
import pytest

from drugsim.data.records import Pair
from drugsim.errors import ConfigError
from drugsim.evaluation.evaluate import evaluate_scores
from drugsim.evaluation.score_store import (
    load_method_scores,
    pair_indices,
    read_method_scores,
    record_fields,
    save_method_scores,
    score_path,
)

SHA = "0123456789abcdef" * 4
OTHER_SHA = "f" * 64


def _fields(**changes):
    fields = dict(method="sift", family="keypoint", in_paper=True, paper_name="SIFT", direction="higher",
                  threshold=5.0, threshold_rule="youden", val_accuracy=0.75, val_roc_auc=0.8,
                  test_pair_indices=[3, 0, 7], test_scores=[9.0, 1.0, 6.0], test_labels=[1, 1, 0],
                  test_classes=["drug1", "drug2", "drug1"], test_pairs_sha256=SHA)
    fields.update(changes)
    return fields


def test_round_trip_keeps_every_field(tmp_path):
    path = save_method_scores(tmp_path, **_fields())
    assert path == tmp_path / "scores" / "sift.npz"
    record = load_method_scores(tmp_path)["sift"]
    assert (record.family, record.in_paper, record.paper_name, record.direction) == ("keypoint", True, "SIFT", "higher")
    assert (record.threshold, record.threshold_rule, record.val_accuracy, record.val_roc_auc) == (5.0, "youden", 0.75, 0.8)
    assert record.test_pair_indices.tolist() == [3, 0, 7] and record.test_pairs_sha256 == SHA
    assert record.test_scores.tolist() == [9.0, 1.0, 6.0] and record.test_labels.tolist() == [1, 1, 0]
    assert record.test_classes.tolist() == ["drug1", "drug2", "drug1"]
    # 9 >= 5 on a positive: right; 1 on a positive: wrong; 6 on a negative: wrong.
    assert record.correct().tolist() == [True, False, False]
    lower = save_method_scores(tmp_path, **_fields(method="hist chisqr/x", direction="lower", paper_name=None))
    assert lower.name == "hist_chisqr_x.npz"
    assert load_method_scores(tmp_path)["hist chisqr/x"].correct().tolist() == [False, True, True]
    assert load_method_scores(tmp_path / "nowhere") == {}


def test_planted_pickle_and_object_arrays_are_left_out(tmp_path):
    save_method_scores(tmp_path, **_fields())
    folder = tmp_path / "scores"
    (folder / "planted.npz").write_bytes(pickle.dumps({"method": "planted"}))
    np.savez(folder / "objects.npz", format=np.array("drugsim-scores-v1"), method=np.array([{"a": 1}], dtype=object))
    with pytest.warns(UserWarning, match="score file left out") as caught:
        found = load_method_scores(tmp_path)
    assert list(found) == ["sift"] and len(caught) == 2
    with pytest.raises(ConfigError, match="planted.npz: not a readable score file"):
        read_method_scores(folder / "planted.npz")


def test_a_record_of_another_test_pair_list_is_refused(tmp_path):
    save_method_scores(tmp_path, **_fields())
    save_method_scores(tmp_path, **_fields(method="orb", test_pairs_sha256=OTHER_SHA))
    assert set(load_method_scores(tmp_path)) == {"sift", "orb"}
    with pytest.warns(UserWarning, match="orb.npz holds scores of another test pair list"):
        assert list(load_method_scores(tmp_path, test_pairs_sha256=SHA)) == ["sift"]


@pytest.mark.parametrize("change, message", [
    ({"family": "deep"}, "family 'deep' is not supported"),
    ({"direction": "up"}, "direction must be 'higher' or 'lower'"),
    ({"threshold": float("nan")}, "threshold must be a finite number"),
    ({"test_scores": [1.0]}, "one entry per pair; got 3, 1, 3 and 3"),
    ({"test_pair_indices": [0, 0, 1]}, "distinct non-negative integers"),
    ({"test_labels": [1, 2, 0]}, "labels must be 0 or 1"),
    ({"test_pairs_sha256": "abc"}, "64 hex digits"),
])
def test_bad_fields_are_named(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        save_method_scores(tmp_path, **_fields(**change))
    assert not score_path(tmp_path, "sift").exists()


def test_pair_indices_and_record_fields_from_an_evaluation(tmp_path):
    full = [Pair(Path(f"d{i}/a.jpg"), Path(f"d{i}/b.jpg"), i % 2) for i in range(6)]
    sample = [full[4], full[1], full[2]]
    indices = pair_indices(sample, full)
    assert indices.tolist() == [4, 1, 2]
    with pytest.raises(ConfigError, match="not in the full test pair list"):
        pair_indices([Pair(Path("x"), Path("y"), 1)], full)
    val_scores, val_labels = np.array([0.9, 0.8, 0.2, 0.6]), np.array([1, 1, 0, 0])
    test_scores, test_labels = np.array([0.9, 0.3, 0.7]), np.array([0, 1, 1])
    result = evaluate_scores(test_scores, test_labels, direction="higher", val_scores=val_scores,
                             val_labels=val_labels, clusters=["d4", "d1", "d2"])
    result["method"] = "cosine"
    fields = record_fields(result, val_scores=val_scores, val_labels=val_labels, test_scores=test_scores,
                           test_labels=test_labels, test_classes=["d4", "d1", "d2"], test_pair_indices=indices,
                           test_pairs_sha256=SHA, family="cosine", in_paper=True, paper_name="cosine")
    save_method_scores(tmp_path, **fields)
    record = load_method_scores(tmp_path)["cosine"]
    assert record.threshold == pytest.approx(0.625) and record.val_roc_auc == 1.0 and record.val_accuracy == 1.0
    paper = evaluate_scores(test_scores, test_labels, direction="higher", protocol="paper", ci_unit="pair", n_boot=5)
    with pytest.raises(ConfigError, match="fitted on the test pairs"):
        record_fields({**paper, "method": "cosine"}, val_scores=val_scores, val_labels=val_labels,
                      test_scores=test_scores, test_labels=test_labels, test_classes=["a", "b", "c"],
                      test_pair_indices=indices, test_pairs_sha256=SHA, family="cosine", in_paper=True)
