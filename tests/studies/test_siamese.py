"""Chapter 05's study: the glue keys and sentences it builds, step counts, and the seed study and transfer
ablation that parameters can skip (then a sentence says so instead of missing glue keys)."""

from __future__ import annotations

import math

import pytest

from drugsim import paper
from drugsim.errors import ConfigError
from drugsim.studies import siamese as study


def table9_row(model, test_accuracy, **extra):
    row = {"model": model, "train_accuracy": 0.9, "test_accuracy": test_accuracy,
           "test_accuracy_at_paper_threshold": 0.5, "roc_auc": 0.8, "pairs_per_second": 100.123456,
           "train_seconds": 12.345678, "threshold_fitted_on": "val"}
    row.update(extra)
    return row


def test_table9_glue_names_every_metric_and_the_network_chosen_on_validation_not_test():
    # vgg16-classic has the higher test accuracy, resnet18-improved the higher validation ROC-AUC: it is chosen.
    values = study.table9_glue([table9_row("resnet18-improved", 0.61234, val_roc_auc=0.9),
                                table9_row("vgg16-classic", 0.7, val_roc_auc=0.8)])
    assert values["siamese_resnet18_improved_test_accuracy"] == 0.6123
    assert values["siamese_vgg16_classic_pairs_per_second"] == 100.1235
    assert values["siamese_chosen_model"] == "resnet18-improved" and values["siamese_chosen_test_accuracy"] == 0.6123
    assert not any("best" in key for key in values)


def test_no_network_is_chosen_without_validation_numbers():
    assert study.chosen_by_validation([table9_row("resnet18-improved", 0.9)]) is None


def test_table9_frame_sets_the_papers_row_beside_ours_only_where_the_paper_has_the_model():
    frame = study.table9_frame([table9_row("resnet18-improved", 0.6), table9_row("resnet18-triplet", 0.5)])
    assert frame.loc["resnet18-improved", "paper test acc"] == paper.TABLE9["resnet18-improved"]["test_accuracy"]
    assert math.isnan(frame.loc["resnet18-triplet", "paper test acc"])


def test_negatives_note_gives_the_share_of_same_box_negatives_or_says_there_are_none():
    note = study.negatives_note({"n_pairs": 10, "positives": 2, "intra_class_negatives": 2})
    assert "(25% of the training negatives)" in note
    assert study.negatives_note({"n_pairs": 10, "positives": 2, "intra_class_negatives": 0}).startswith(
        "the negatives are photos of other products")


@pytest.mark.parametrize("epochs, batch, items, steps", [(1, 8, 8, 1), (1, 8, 9, 2), (5, 64, 1000, 80), (2, 4, 0, 0)])
def test_training_steps_count_every_partial_batch(epochs, batch, items, steps):
    assert study.training_steps({"epochs": epochs, "batch_size": batch}, items) == steps


def test_training_glue_gives_steps_and_input_size_per_model():
    trained = {"resnet18-improved": {"config": {"epochs": 2, "batch_size": 10, "image_size": 64},
                                     "results": {"n_train_items": 25}}}
    assert study.training_glue(trained) == {"siamese_resnet18_improved_steps": 6,
                                            "siamese_resnet18_improved_image_size": 64}


def test_transfer_glue_is_empty_without_the_model_and_full_with_it():
    assert study.transfer_glue(None, None) == {}
    transfer = {"config": {"fine_tune_from": 11, "frozen_views": 3, "image_size": 64}, "history": [{}, {}],
                "train_seconds": 3.21, "results": {"n_train_items": 40, "feature_cache_seconds": 1.04}}
    row = table9_row("efficientnet-lite0-imagenet-partial-improved", 0.75, threshold=0.42)
    values = study.transfer_glue(transfer, row)
    assert values["siamese_transfer_model"] == "efficientnet-lite0-imagenet-partial-improved"
    assert (values["siamese_transfer_augmented_views"], values["siamese_transfer_epochs"]) == (2, 2)
    assert values["siamese_transfer_cache_seconds"] == 1.0 and values["siamese_transfer_threshold"] == 0.42
    assert values["siamese_transfer_pairs_text"] == "all 40"
    assert study.transfer_glue(transfer, row, n_available=40)["siamese_transfer_pairs_text"] == "all 40"
    assert (study.transfer_glue(transfer, row, n_available=900)["siamese_transfer_pairs_text"]
            == "a seeded sample of 40 of the 900")


@pytest.mark.parametrize("text, sizes", [("", []), ("64", [64]), ("64, 96", [64, 96]), ("64,", [64])])
def test_ablation_sizes_read_the_parameter_and_empty_means_skip(text, sizes):
    assert study.ablation_sizes(text) == sizes


def ablation_row(setting, model, size, **extra):
    row = {"setting": setting, "model": model, "image_size": size, "n_train_pairs": 1000, "epochs": 1,
           "test_accuracy": 0.61234, "roc_auc": 0.7, "train_seconds": 2.0, "feature_cache_seconds": 1.0}
    row.update(extra)
    return row


def test_a_skipped_ablation_glues_a_sentence_saying_so_and_why():
    values = study.ablation_glue([])
    assert values == {"siamese_ablation_budget": "This run skipped the ablation: its parameter ablation_sizes is "
                                                 "empty, so no ablation model was trained."}


def test_ablation_glue_states_this_runs_budget_and_every_rows_scores():
    rows = [ablation_row("frozen backbone, head only, 1 view", "efficientnet-lite0-imagenet-frozen-improved", 64,
                         epochs=12),
            ablation_row("partial fine-tune, 1 view", "efficientnet-lite0-imagenet-partial-improved", 64),
            ablation_row("partial fine-tune, 1 view", "efficientnet-lite0-imagenet-partial-improved", 96)]
    values = study.ablation_glue(rows)
    assert values["siamese_ablation_budget"] == ("In this run each setting trained on the same 1000 training pairs "
                                                 "for 1 epoch(s) of the fine-tuned rows at 64, 96 px.")
    assert values["siamese_ablation_epochs"] == 1  # the fine-tuned rows', not the frozen head's
    assert values["siamese_ablation_partial_fine_tune_1_view_96px_test_accuracy"] == 0.6123
    frame = study.ablation_frame(rows)
    assert frame.index.names == ["setting", "input px"] and len(frame) == 3


def test_transfer_ablation_needs_an_image_size(tmp_path):
    with pytest.raises(ConfigError, match="transfer_ablation needs at least one image size"):
        study.transfer_ablation("tiny", {"train": [], "val": []}, test_pairs=[], models_dir=tmp_path, image_sizes=[])


@pytest.mark.parametrize("models, n_seeds, reason", [
    (["resnet18-improved"], 2, None),
    (["resnet18-improved"], 1, ("its parameter n_seeds is 1, one training run per model, so there is no spread "
                                "to measure")),
    (["resnet18-improved"], 0, ("its parameter n_seeds is 0, one training run per model, so there is no spread "
                                "to measure")),
    ([], 3, "its parameter seed_models is empty, so no model is retrained"),
])
def test_the_seed_study_is_skipped_when_its_parameters_say_so(models, n_seeds, reason):
    assert study.seed_study_skip_reason(models, n_seeds) == reason


def test_seed_models_drop_empty_names():
    assert study.seed_models("") == [] and study.seed_models("a-improved, b-classic,") == ["a-improved", "b-classic"]


def test_paper_gaps_span_the_papers_table9_test_accuracies():
    # Table 9 test accuracies 0.9551, 0.9657, 0.9737, 0.9850: closest two rows 0.80 points apart, farthest 2.99.
    assert study.paper_gaps() == (0.8, 2.99)


def test_a_skipped_seed_study_glues_a_sentence_saying_so_and_why():
    values = study.seed_glue({}, n_seeds=1, skip_reason=study.seed_study_skip_reason(["resnet18-improved"], 1))
    assert values["siamese_seed_sentence"] == (
        "This run skipped the seed study: its parameter n_seeds is 1, one training run per model, so there is no "
        "spread to measure. It cannot tell how much a model's test accuracy moves between training seeds; the "
        "paper's gaps between any two of its Siamese rows are 0.8 to 2.99 percentage points of test accuracy, each "
        "from one run.")
    assert set(values) == {"siamese_seed_sentence", "siamese_paper_gap_min", "siamese_paper_gap_max"}


def test_seed_glue_reports_each_models_mean_and_spread():
    rows = [{"model": "resnet18-improved", "test_accuracy": value, "roc_auc": 0.5} for value in (0.5, 0.7)]
    rows.append({"model": "vgg16-classic", "test_accuracy": 0.6, "roc_auc": 0.5})
    values = study.seed_glue(study.seed_summary(rows), n_seeds=2)
    assert values["siamese_seeds_resnet18_improved_test_accuracy_mean"] == 0.6
    assert values["siamese_seeds_resnet18_improved_test_accuracy_sd"] == 0.1414
    assert values["siamese_seeds_vgg16_classic_test_accuracy_sd"] == "n/a (one seed)"
    assert values["siamese_seed_sentence"].startswith(
        "Over 2 seeds, resnet18-improved reaches a mean test accuracy of 0.6 (standard deviation 0.1414); "
        "vgg16-classic reaches a mean test accuracy of 0.6 (standard deviation n/a (one seed)). A difference")
    assert values["siamese_n_seeds"] == 2
    # Twice the largest standard deviation, 28.28 points, exceeds all six of the paper's gaps (0.8 to 2.99).
    assert values["siamese_seed_sentence"].endswith(
        "(here up to 28.28 percentage points) says little about the models; all the paper's 6 gaps between two of "
        "its Siamese rows (0.8 to 2.99 percentage points) are smaller than that, the size seed-to-seed differences "
        "alone reach here.")


def test_seed_glue_says_the_papers_gaps_exceed_a_small_seed_spread():
    # Issue 20: the sentence said the paper's gaps "are of that size" whatever the numbers were.
    rows = [{"model": "resnet18-improved", "test_accuracy": value, "roc_auc": 0.5} for value in (0.600, 0.601)]
    sentence = study.seed_glue(study.seed_summary(rows), n_seeds=2)["siamese_seed_sentence"]
    assert "(here up to 0.14 percentage points)" in sentence
    assert "none of the paper's 6 gaps" in sentence and "are smaller than that" not in sentence
    assert study.seed_noise_sentence(1.0, [0.8, 2.99]).startswith("1 of the paper's 2 gaps")
    assert study.seed_noise_sentence(None, [0.8, 2.99]).startswith("no model here was trained with two seeds")


def test_the_seed_figures_slot_says_why_when_the_study_is_skipped():
    ax = study.plot_skipped("Spread over training seeds", "its parameter n_seeds is 1")
    assert [text.get_text() for text in ax.texts] == ["Skipped: its parameter n_seeds is 1."]
    assert ax.get_title() == "Spread over training seeds"


def test_plot_seed_spread_marks_each_seed_and_the_papers_run():
    rows = [{"model": "resnet18-improved", "test_accuracy": value} for value in (0.5, 0.7)]
    ax = study.plot_seed_spread(rows)
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["one training seed", "mean over seeds", "paper (one run)"]


def test_table9_keeps_every_paper_row_and_names_the_untrained_ones():
    rows = [table9_row("resnet18-improved", 0.61), table9_row("efficientnet-lite0-frozen-improved", 0.8)]
    frame = study.table9_frame(rows)
    assert set(paper.TABLE9) <= set(frame.index)
    assert math.isnan(frame.loc["vgg16-classic", "test acc"])
    assert frame.loc["vgg16-classic", "paper test acc"] == paper.TABLE9["vgg16-classic"]["test_accuracy"]
    assert study.untrained_paper_rows(rows) == ["vgg16-improved", "vgg16-classic", "resnet18-classic"]
    assert list(study.table9_frame(rows, paper_rows=False).index) == [r["model"] for r in rows]


def test_ingredient_steps_come_from_the_runs_rows_with_the_change_from_the_step_before():
    rows = [table9_row("resnet18-improved", 0.55, roc_auc=0.6, train_seconds=50.0),
            table9_row("efficientnet-lite0-frozen-improved", 0.6, roc_auc=0.65, train_seconds=40.0),
            table9_row("efficientnet-lite0-imagenet-frozen-improved", 0.86, roc_auc=0.93, train_seconds=60.0),
            table9_row("efficientnet-lite0-imagenet-partial-improved", 0.96, roc_auc=0.97, train_seconds=300.0)]
    steps = study.ingredient_rows(rows)
    assert [s["model"] for s in steps] == [r["model"] for r in rows]
    assert steps[0]["test_accuracy_gain"] is None
    assert [s["test_accuracy_gain"] for s in steps[1:]] == [0.05, 0.26, 0.1]
    assert steps[2]["roc_auc_gain"] == 0.28
    sentence = study.ingredient_sentence(steps)
    assert "ImageNet weights" in sentence and "+0.26" in sentence and "0.96" in sentence
    assert list(study.ingredient_frame(steps)["train s"]) == [50.0, 40.0, 60.0, 300.0]
    # a step the run did not train is left out; the next one is compared with the last one trained
    fewer = study.ingredient_rows([rows[0], rows[3]])
    assert fewer[1]["test_accuracy_gain"] == 0.41
    assert "fewer than two" in study.ingredient_sentence(study.ingredient_rows(rows[:1]))


def test_every_network_of_the_chapter_trains_with_the_notebooks_seed(tmp_path):
    pairs = {"train": ["t"], "val": ["v"]}
    requests = study.network_requests(["resnet18-improved", "resnet18-classic"], "tiny", pairs, seed=7,
                                      models_dir=tmp_path, device="cpu")
    assert [r["seed"] for r in requests] == [7, 7] and all(r["train_pairs"] == ["t"] for r in requests)
