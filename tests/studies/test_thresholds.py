"""The chapter helpers (notebook 09) and the plot helpers on generated images and toy scores."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from evaluation_helpers import make_pairs_from  # noqa: E402

from drugsim.data.records import ImageRecord  # noqa: E402
from drugsim.evaluation import plots  # noqa: E402
from drugsim.studies import models  # noqa: E402
from drugsim.studies import thresholds as ts  # noqa: E402
from drugsim.studies.thresholds import MethodScores, holm_adjust  # noqa: E402
from drugsim.evaluation.search import evaluate_retrieval  # noqa: E402


def test_holm_by_hand():
    # p = .01, .04, .03 with m = 3: sorted .01*3 = .03, .03*2 = .06, .04*1 = .04 -> monotone: .03 .06 .06
    np.testing.assert_allclose(holm_adjust([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])


def test_chapter_pipeline_on_generated_images(image_set, tmp_path):
    _, paths, labels = image_set
    val_idx = [i for i, label in enumerate(labels) if label in ("class0", "class1", "class2")]
    test_idx = [i for i in range(len(paths)) if i not in val_idx]
    val_pairs = make_pairs_from([paths[i] for i in val_idx], [labels[i] for i in val_idx], seed=1)
    test_pairs = make_pairs_from([paths[i] for i in test_idx], [labels[i] for i in test_idx], seed=2)
    methods = models.build_methods("ahash,hist-chisqr")
    scored = ts.score_methods(
        methods, test_pairs, val_pairs, cache_dir=tmp_path / "cache", n_jobs=1
    )
    thresholds = ts.threshold_table(scored, n_boot=50)
    assert {"paper_midpoint", "youden", "youden_shift", "far_accuracy", "best_val_rule"} <= set(
        thresholds.columns
    )
    assert set(thresholds["threshold_fitted_on"]) == {"val"}
    assert set(thresholds["paper_midpoint_fitted_on"]) == {"test"}
    results = ts.headline_results(scored, rule="youden", n_boot=50)
    assert all(r["threshold_fitted_on"] == "val" for r in results.values())
    headline = ts.headline_table(results)
    assert (headline["accuracy_low"] <= headline["accuracy"]).all()
    assert set(headline["threshold_fitted_on"]) == {"val"} and set(headline["ci_unit"]) == {"class"}
    assert set(headline["n_classes"]) == {3}  # class3, class4, class5
    assert ts.family_table(scored, results).empty  # no ORB scored: no comparison of the declared family
    pairwise = ts.family_table(scored, results, family=[("ahash", "hist-chisqr")])
    assert len(pairwise) == 1
    assert {"p_value", "p_holm", "real", "mcnemar_p_holm", "real_if_pairs_independent"} <= set(pairwise.columns)
    assert set(pairwise["threshold_fitted_on"]) == {"val"} and set(pairwise["n_classes"]) == {3}
    records = [ImageRecord(p, label) for p, label in zip(paths, labels)]
    retrieval = ts.retrieval_table(methods, records, max_queries=6, n_jobs=1)
    assert retrieval.loc["ahash", "n_queries"] == 6
    glued = ts.glue_study(thresholds, headline, pairwise, retrieval)
    assert (
        glued["thr_best_method"] in methods
        and "thr_ahash_threshold_youden" in glued
        and "thr_ahash_eer" in glued
    )
    figure, axes = plt.subplots(1, 3)
    plots.plot_roc_curves(ts.roc_inputs(scored), ax=axes[0])
    plots.plot_score_distributions(
        scored["ahash"].test_scores,
        scored["ahash"].test_labels,
        thresholds=results["ahash"]["thresholds"],
        ax=axes[1],
    )
    plots.plot_threshold_comparison({n: r["accuracy_by_rule"] for n, r in results.items()}, ax=axes[2])
    plt.close(figure)


def test_siamese_checkpoints_are_found_and_unloadable_ones_skipped(tmp_path):
    folder = tmp_path / "models" / "siamese"
    folder.mkdir(parents=True)
    for name in ("resnet18-improved.pt", "vgg16-classic.pt", "resnet18-improved.last.pt", "notes.pt"):
        (folder / name).write_bytes(b"")
    found = models.siamese_checkpoints(folder)
    assert sorted(found) == ["resnet18-improved", "vgg16-classic"]
    # Unloadable checkpoints are skipped, not fatal (chapter 09 lists the ones it used).
    methods = models.build_methods(["ahash"], models=models.trained_model_labels(found),
                                   include_checkpointed=True, skip_unloadable=True)
    assert list(methods) == ["ahash"]


def test_plots_return_axes():
    labels = np.array([1, 1, 0, 0])
    ax = plots.plot_intervals({"orb": (0.9, 0.85, 0.95), "ahash": (0.6, 0.5, 0.7)})
    assert [t.get_text() for t in ax.get_yticklabels()] == ["orb", "ahash"]
    ax = plots.plot_score_distributions(np.array([3.0, 2.0, 1.0, 0.0]), labels, thresholds={"midpoint": 1.5})
    assert ax.get_xlabel() == "score"
    plt.close("all")


def test_score_methods_needs_both_pair_lists():
    with pytest.raises(Exception, match="need validation and test pairs"):
        ts.score_methods({}, [], [])
    assert MethodScores  # exported for notebooks


def _scores(name, val_separates: bool, seed: int) -> MethodScores:
    """Toy scores: perfect on one split and coin-flip on the other."""
    rng = np.random.default_rng(seed)
    labels = np.tile([1, 0], 40)
    clean = labels + 0.01 * rng.normal(size=labels.size)
    noisy = rng.normal(size=labels.size)
    val, test = (clean, noisy) if val_separates else (noisy, clean)
    classes = np.repeat([f"c{i}" for i in range(8)], 10)
    return MethodScores(name, "higher", val, labels, test, labels, None, classes)


def test_best_method_and_rule_are_chosen_on_validation():
    scored = {"good-on-val": _scores("good-on-val", True, 0), "good-on-test": _scores("good-on-test", False, 1)}
    thresholds = ts.threshold_table(scored, n_boot=20)
    results = ts.headline_results(scored, rule="midpoint", n_boot=20)
    headline = ts.headline_table(results)
    # The test accuracy would pick the other method; the validation accuracy picks this one.
    assert headline.loc["good-on-test", "accuracy"] > headline.loc["good-on-val", "accuracy"]
    pairwise = ts.family_table(scored, results, family=[("good-on-val", "good-on-test")])
    glued = ts.glue_study(thresholds, headline, pairwise, None)
    assert glued["thr_best_method"] == "good-on-val"
    assert glued["thr_best_val_accuracy"] == 1.0
    row = thresholds.loc["good-on-val"]
    best = row["best_val_rule"]
    assert row[f"{best}_val_accuracy"] == max(
        row[f"{rule}_val_accuracy"] for rule in ("midpoint", "max_accuracy", "youden", "eer", "far")
    )
    assert row["best_val_rule_accuracy"] == row[f"{best}_accuracy"]


def _planted(name, accuracy, seed, n_classes=40, per_class=20):
    """A method whose test pairs (40 classes) are right with probability ``accuracy`` at threshold 0.5."""
    rng = np.random.default_rng(seed)
    labels = np.tile([1, 0], n_classes * per_class // 2)
    correct = rng.random(labels.size) < accuracy
    test = np.where(correct, labels, 1 - labels).astype(float)
    classes = np.repeat([f"drug{i}" for i in range(n_classes)], per_class)
    return MethodScores(name, "higher", labels.astype(float), labels, test, labels, None, classes)


def test_the_family_rejects_a_planted_gap_and_not_when_there_is_none():
    # Issue 20: with the old all-pairs family (Holm over 78 sign-flip tests of 8 classes) nothing could ever be
    # significant. Here ORB is right on 85 % of the pairs, SIFT on 75 % (a 10-point gap), pHash on 85 % too.
    scored = {"orb": _planted("orb", 0.85, 1), "sift": _planted("sift", 0.75, 2), "phash": _planted("phash", 0.85, 3)}
    results = ts.headline_results(scored, rule="midpoint")
    family = ts.family_table(scored, results).set_index("method_a")
    assert list(family.index) == ["sift", "phash"]  # the declared order; ORB is the reference
    assert family.loc["sift", "real"] and family.loc["sift", "accuracy_difference"] < 0
    assert family.loc["sift", "ci_high"] < 0 and family.loc["sift", "p_holm"] < 0.05
    assert not family.loc["phash", "real"] and family.loc["phash", "ci_low"] < 0 < family.loc["phash", "ci_high"]
    assert family.loc["sift", "n_classes"] == 40 and family.loc["sift", "n_pairs"] == 800
    assert ("sift", "orb") in ts.FAMILY and all(b == ts.FAMILY_REFERENCE for _, b in ts.FAMILY)
    glued = ts.glue_study(ts.threshold_table(scored), ts.headline_table(results), family.reset_index(), None)
    assert glued["thr_n_comparisons"] == 2 and glued["thr_n_real_differences"] == 1


def test_chapter_09_reuses_networks_only_through_the_fingerprint_check(monkeypatch, tmp_path):
    # Chapter 09 loads no checkpoint as it finds it: each network goes through train_or_reuse_siamese, which
    # reuses a checkpoint only when its stored fingerprint matches the profile's settings and the run's pairs.
    import drugsim.deep.train_or_reuse as train_or_reuse
    import drugsim.methods as methods_module

    calls = []

    def fake_train_or_reuse(name, profile, train_pairs, val_pairs, **kwargs):
        calls.append((name, profile, train_pairs, val_pairs, kwargs))
        return {"checkpoint": tmp_path / f"{name}.pt"}

    monkeypatch.setattr(train_or_reuse, "train_or_reuse_siamese", fake_train_or_reuse)
    monkeypatch.setattr(methods_module, "create_method", lambda name, **kwargs: (name, kwargs["model"]))
    pairs = {"train": ["t"], "val": ["v"], "test": ["x"]}
    built = ts.trained_siamese_methods(["resnet18-improved", "resnet18-classic"], "quick", pairs,
                                       models_dir=tmp_path, data_kind="synthetic")
    assert built == {"resnet18-improved": ("siamese-improved", str(tmp_path / "resnet18-improved.pt")),
                     "resnet18-classic": ("siamese-classic", str(tmp_path / "resnet18-classic.pt"))}
    assert [c[:4] for c in calls] == [("resnet18-improved", "quick", ["t"], ["v"]), ("resnet18-classic", "quick", ["t"], ["v"])]
    assert calls[0][4]["models_dir"] == tmp_path and calls[0][4]["data_kind"] == "synthetic"


def test_a_retrieval_hit_shares_drug_and_face_as_in_the_search_chapter(image_set):
    # Faces alternate within each class, unrelated to the pictures: the nearest image of the same class is
    # often of the other face, a hit by drug alone but not by drug and face.
    _, paths, labels = image_set
    records = [ImageRecord(p, label, face=("front", "back")[i % 2]) for i, (p, label) in enumerate(zip(paths, labels))]
    methods = models.build_methods("ahash")
    table = ts.retrieval_table(methods, records, max_queries=None, n_jobs=1)
    by_drug = evaluate_retrieval(methods["ahash"], records, by="label", n_jobs=1)
    same_face = evaluate_retrieval(methods["ahash"], records, by="group", n_jobs=1)
    assert table.loc["ahash", "precision_at_1"] == same_face["precision_at_1"] < by_drug["precision_at_1"]
