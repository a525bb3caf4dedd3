"""Chapter 05's seed study: every chosen network retrained with other seeds and scored on the same test pairs,
the spread over seeds and what it says about the gaps between the paper's Table 9 rows.

:mod:`drugsim.studies.siamese` re-exports these names, so chapter 05 reads one study module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from drugsim import paper
from drugsim.data.records import Pair
from drugsim.deep.train_or_reuse import split_model_name, train_or_reuse_many
from drugsim.errors import ConfigError
from drugsim.report import slug


def seed_study(names: Sequence[str], profile: str, pairs: Mapping[str, Sequence[Pair]], *, seeds: Sequence[int],
               models_dir: str | Path, seeds_dir: str | Path, base_seed: int = 0, test_pairs: Sequence[Pair],
               threshold_rule: str = "midpoint", device: str | None = None, n_boot: int = 100, workers: int = 1,
               **overrides: Any) -> list[dict[str, Any]]:
    """Train every model of ``names`` once per seed and score each on the same test pairs.

    The seed changes what training draws at random (initial weights, the pairs sampled, augmentation,
    batch order); the data split and the pair lists stay fixed, so the spread is the training's own.
    ``base_seed``'s models are those of ``models_dir`` (reused when already trained there); the others go
    to ``seeds_dir/seed<k>``, where no other chapter looks for models. ``workers``: training runs at once
    (:func:`drugsim.deep.train_or_reuse.train_or_reuse_many`).

    Returns:
        One row per (model, seed): ``model, seed, test_accuracy, roc_auc, threshold, train_seconds, reused``.
    """
    from drugsim.parallel import run_in_processes

    if not seeds:
        raise ConfigError("seed_study needs at least one seed")
    requests = seed_requests(names, profile, pairs, seeds=seeds, base_seed=base_seed, models_dir=models_dir,
                             seeds_dir=seeds_dir, device=device, **overrides)
    runs = [(request["name"], request["seed"]) for request in requests]
    trained_runs = train_or_reuse_many(requests, workers=workers)
    calls = [{"name": name, "run_seed": run_seed, "trained": trained, "test_pairs": list(test_pairs),
              "val_pairs": list(pairs["val"]), "threshold_rule": threshold_rule, "device": device, "n_boot": n_boot}
             for (name, run_seed), trained in zip(runs, trained_runs)]
    return run_in_processes(_seed_row, calls, workers=workers)


def seed_requests(names: Sequence[str], profile: str, pairs: Mapping[str, Sequence[Pair]], *, seeds: Sequence[int],
                  base_seed: int, models_dir: str | Path, seeds_dir: str | Path, **overrides: Any
                  ) -> list[dict[str, Any]]:
    """The training runs of :func:`seed_study`, as :func:`drugsim.deep.train_or_reuse.train_or_reuse_many`
    requests: every model of ``names`` once per seed, ``base_seed``'s in ``models_dir`` and the others in
    ``seeds_dir/seed<k>``. A chapter may train them together with its other networks (so a worker that
    finished the short runs takes these while another trains a long one); the study then reuses them."""
    return [{"name": name, "profile": profile, "train_pairs": pairs["train"], "val_pairs": pairs["val"],
             "models_dir": Path(models_dir) if run_seed == base_seed else Path(seeds_dir) / f"seed{run_seed}",
             "seed": run_seed, **overrides} for name in names for run_seed in seeds]


def _seed_row(*, name: str, run_seed: int, trained: Mapping[str, Any], test_pairs: Sequence[Pair],
              val_pairs: Sequence[Pair], threshold_rule: str, device: str | None, n_boot: int) -> dict[str, Any]:
    """One row of :func:`seed_study`: a seed's model scored on the test pairs, threshold fitted on val."""
    from drugsim.evaluation.evaluate import evaluate_method
    from drugsim.methods import create_method

    _, variant = split_model_name(name)
    method = create_method(f"siamese-{variant}", model=str(trained["checkpoint"]), device=device)
    result, _ = evaluate_method(method, test_pairs, val_pairs=val_pairs, threshold_rule=threshold_rule,
                                progress=False, n_boot=n_boot, seed=run_seed)
    return {"model": name, "seed": int(run_seed), "test_accuracy": result["accuracy"],
            "roc_auc": result["roc_auc"], "threshold": result["threshold"],
            "threshold_fitted_on": result["threshold_fitted_on"],
            "train_seconds": trained["train_seconds"], "reused": trained["reused"]}


def seed_summary(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str] = ("test_accuracy", "roc_auc")
                 ) -> dict[str, dict[str, dict[str, Any]]]:
    """``{model: {metric: summarise_seeds(values)}}``: mean, sample standard deviation, range over seeds."""
    from drugsim.evaluation.bootstrap import summarise_seeds

    models = list(dict.fromkeys(row["model"] for row in rows))
    return {model: {metric: summarise_seeds([row[metric] for row in rows if row["model"] == model])
                    for metric in metrics} for model in models}


def seed_frame(summary: Mapping[str, Mapping[str, Mapping[str, Any]]],
               rows: Sequence[Mapping[str, Any]] | None = None):
    """One row per model: seeds, where the thresholds were fitted (from :func:`seed_study`'s ``rows``,
    when given), then mean, sd, min and max of test accuracy and ROC AUC."""
    import pandas as pd

    records = []
    for model, metrics in summary.items():
        record: dict[str, Any] = {"model": model, "seeds": next(iter(metrics.values()))["n"]}
        if rows is not None:
            record["threshold fitted on"] = "/".join(sorted({str(r["threshold_fitted_on"]) for r in rows
                                                              if r["model"] == model}))
        for metric, label in (("test_accuracy", "test acc"), ("roc_auc", "ROC AUC")):
            stats = metrics[metric]
            record.update({f"{label} mean": stats["mean"], f"{label} sd": stats["std"],
                           f"{label} min": stats["min"], f"{label} max": stats["max"]})
        records.append(record)
    return pd.DataFrame(records).set_index("model")


def plot_seed_spread(rows: Sequence[Mapping[str, Any]], *, ax=None):
    """Test accuracy of every seed (dots) and the mean (bar) per model; the paper's one run as a cross."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    models = list(dict.fromkeys(row["model"] for row in rows))
    for position, model in enumerate(models):
        values = [row["test_accuracy"] for row in rows if row["model"] == model]
        ax.scatter([position] * len(values), values, color="tab:blue", zorder=3,
                   label="one training seed" if position == 0 else None)
        ax.hlines(float(np.mean(values)), position - 0.25, position + 0.25, color="tab:blue", lw=2,
                  label="mean over seeds" if position == 0 else None)
        reported = paper.TABLE9.get(model, {}).get("test_accuracy")
        if reported is not None:
            ax.scatter([position], [reported], marker="x", color="tab:red", zorder=3,
                       label="paper (one run)" if "paper (one run)" not in ax.get_legend_handles_labels()[1] else None)
    ax.set_xticks(range(len(models)), models, rotation=15, ha="right", fontsize="small")
    ax.set(ylabel="test accuracy", ylim=(0, 1.02), title="Spread over training seeds")
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.legend(fontsize="small", loc="lower right")
    return ax


# ------------------------------------------------------------------------- what the chapter glues


def seed_models(text: str) -> list[str]:
    """The ``seed_models`` parameter as model names (empty entries dropped)."""
    return [name.strip() for name in str(text).split(",") if name.strip()]


def seed_study_skip_reason(models: Sequence[str], n_seeds: int) -> str | None:
    """Why the seed study is skipped with these parameters, or None when it runs.

    Example:
        >>> seed_study_skip_reason(["resnet18-improved"], 1)
        'its parameter n_seeds is 1, one training run per model, so there is no spread to measure'
    """
    if not models:
        return "its parameter seed_models is empty, so no model is retrained"
    if n_seeds <= 1:
        return f"its parameter n_seeds is {n_seeds}, one training run per model, so there is no spread to measure"
    return None


def paper_gap_list() -> list[float]:
    """Every gap (percentage points, 2 decimals) between the test accuracies of two of the paper's Table 9 rows."""
    paper_test = sorted(row["test_accuracy"] for row in paper.TABLE9.values())
    return [round(100 * (b - a), 2) for i, a in enumerate(paper_test) for b in paper_test[i + 1:]]


def paper_gaps() -> tuple[float, float]:
    """Smallest and largest gap (percentage points) between the test accuracies of any two of the paper's
    Table 9 rows."""
    gaps = paper_gap_list()
    return min(gaps), max(gaps)


def seed_noise_sentence(spread_points: float | None, gaps: Sequence[float]) -> str:
    """How the paper's gaps between its rows compare with ``spread_points`` (twice this run's largest
    standard deviation over seeds, in percentage points): the words follow from the numbers.

    Example:
        >>> seed_noise_sentence(1.0, [0.8, 2.99])
        "1 of the paper's 2 gaps between two of its Siamese rows (0.8 to 2.99 percentage points) is smaller than that"
    """
    described = (f"the paper's {len(gaps)} gaps between two of its Siamese rows ({min(gaps)} to {max(gaps)} "
                 f"percentage points)")
    if spread_points is None:
        return f"no model here was trained with two seeds, so {described} cannot be set against a spread"
    smaller = sum(gap < spread_points for gap in gaps)
    if smaller == len(gaps):
        return f"all {described} are smaller than that, the size seed-to-seed differences alone reach here"
    if smaller == 0:
        return f"none of {described} is smaller than that, so they exceed what seeds alone moved here"
    return f"{smaller} of {described} {'is' if smaller == 1 else 'are'} smaller than that"


def seed_glue(summary: Mapping[str, Mapping[str, Mapping[str, Any]]], *, n_seeds: int,
              skip_reason: str | None = None) -> dict[str, Any]:
    """The seed study's glue keys: per model and metric the mean and standard deviation, the paper's gaps
    between its rows, and ``siamese_seed_sentence``, what the spread says (or why the study was skipped);
    whether the paper's gaps are of the seed spread's size is decided by :func:`seed_noise_sentence`."""
    gap_min, gap_max = paper_gaps()
    values: dict[str, Any] = {"siamese_paper_gap_min": gap_min, "siamese_paper_gap_max": gap_max}
    if skip_reason is not None:
        values["siamese_seed_sentence"] = (
            f"This run skipped the seed study: {skip_reason}. It cannot tell how much a model's test accuracy "
            f"moves between training seeds; the paper's gaps between any two of its Siamese rows are {gap_min} to "
            f"{gap_max} percentage points of test accuracy, each from one run.")
        return values
    values["siamese_n_seeds"] = n_seeds
    clauses = []
    for model, metrics in summary.items():
        for metric, stats in metrics.items():
            sd = stats["std"]
            values[f"siamese_seeds_{slug(model)}_{metric}_mean"] = round(stats["mean"], 4)
            values[f"siamese_seeds_{slug(model)}_{metric}_sd"] = "n/a (one seed)" if sd is None else round(sd, 4)
        clauses.append(f"{model} reaches a mean test accuracy of {values[f'siamese_seeds_{slug(model)}_test_accuracy_mean']} "
                       f"(standard deviation {values[f'siamese_seeds_{slug(model)}_test_accuracy_sd']})")
    sds = [m["test_accuracy"]["std"] for m in summary.values()
           if "test_accuracy" in m and m["test_accuracy"]["std"] is not None]
    spread = round(2 * 100 * max(sds), 2) if sds else None
    within = f" (here up to {spread} percentage points)" if spread is not None else ""
    values["siamese_seed_sentence"] = (
        f"Over {n_seeds} seeds, {'; '.join(clauses)}. A difference between two single runs smaller than about "
        f"twice these standard deviations{within} says little about the models; "
        f"{seed_noise_sentence(spread, paper_gap_list())}.")
    return values


def plot_skipped(title: str, reason: str, *, ax=None):
    """An empty panel saying why a study drew nothing (the chapter's figure slot stays filled)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 1.6))
    ax.axis("off")
    ax.set_title(title)
    ax.text(0.5, 0.5, f"Skipped: {reason}.", ha="center", va="center", wrap=True, fontsize="small",
            transform=ax.transAxes)
    return ax
