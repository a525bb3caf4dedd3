"""The book's front page: "What this run found", generated from the run's results files.

Pure functions from the chapters' results (the JSON each notebook saves, as plain dicts) to Markdown:

* :func:`verdict_section`: the verdict on the paper's conclusions, read from chapter 13's ``verdict`` rows
  (each a pre-declared comparison with its difference, interval, p-value and outcome); "not run" when the
  summary did not run or wrote no verdict;
* :func:`headline_rows`: the run's classical and deep results with their intervals beside the paper's numbers.
  The rows are the pre-declared ones (the paper's Table 8 methods SIFT and ORB with the match filter chosen on
  validation drugs, and every Table 9 network the profile trains, in the profile's order), never a "best"
  picked by test accuracy;
* :func:`findings_block`: both, with the profile, data, machine and run time, and links to the chapters.

:mod:`drugsim.book` writes the block at the top of the generated front page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from drugsim import paper
from drugsim.tables import MISSING, reader_table

#: The outcomes chapter 13 gives a comparison, and how the front page words each.
OUTCOMES = {
    "holds": "holds",
    "reversed": "reversed",
    "not established": "not established",
    "not run": "not run",
}
#: The verdict row's keys (chapter 13's results JSON, ``verdict``).
VERDICT_KEYS = ("comparison", "stronger", "weaker", "stronger_accuracy", "weaker_accuracy", "difference",
                "ci_low", "ci_high", "p_value", "n_pairs", "n_classes", "outcome", "chosen_by")


def verdict_rows(summary: Mapping[str, Any] | None) -> list[dict[str, Any]] | None:
    """Chapter 13's verdict rows, or ``None`` when the summary did not run or wrote none."""
    if not summary or not isinstance(summary.get("verdict"), list) or not summary["verdict"]:
        return None
    return [dict(row) for row in summary["verdict"] if isinstance(row, Mapping)]


def verdict_sentence(rows: Sequence[Mapping[str, Any]]) -> str:
    """How many pre-declared comparisons hold, are reversed, are not established or did not run."""
    counts = {outcome: sum(1 for r in rows if r.get("outcome") == outcome) for outcome in OUTCOMES}
    parts = [f"{n} {OUTCOMES[outcome]}" for outcome, n in counts.items() if n]
    return (f"Of the paper's {len(rows)} pre-declared comparisons, tested on this run's test pairs: "
            + ", ".join(parts) + ".")


def verdict_section(summary: Mapping[str, Any] | None, *, summary_doc: str | None) -> list[str]:
    """Markdown lines: the verdict table with intervals, or a clear "not run" line."""
    rows = verdict_rows(summary)
    where = f" ({{doc}}`{summary_doc}`)" if summary_doc else ""
    if rows is None:
        return [f"**The paper's conclusions: not run.** The summary chapter{where} did not run in this build or "
                "wrote no verdict, so this run states no verdict on the paper's ordering."]
    table = reader_table(
        [{**row, "outcome": OUTCOMES.get(str(row.get("outcome")), str(row.get("outcome") or MISSING))} for row in rows],
        columns=["comparison", "outcome", "stronger_accuracy", "weaker_accuracy", "difference", "p_value",
                 "n_pairs", "n_classes", "chosen_by"],
        headers={"stronger_accuracy": "stronger", "weaker_accuracy": "weaker", "p_value": "p",
                 "n_classes": "classes", "chosen_by": "rows chosen by"},
        legend={"stronger_accuracy": "test accuracy of the method the paper ranks higher, with its interval",
                "weaker_accuracy": "test accuracy of the method the paper ranks lower",
                "difference": "stronger minus weaker, percentage points, 95 % interval over the test classes",
                "p_value": "paired test on the same test pairs", "n_classes": "test classes (drugs or products)"},
        kinds={"stronger_accuracy": "percent", "weaker_accuracy": "percent"},
        interval_columns={"difference": ("ci_low", "ci_high")},
        missing_note="not measured in this run",
    )
    return [f"**The paper's conclusions.** {verdict_sentence(rows)} The evidence is in the summary chapter{where}.",
            "", table.to_markdown()]


def _fraction(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def headline_rows(results: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The pre-declared rows: Table 8's SIFT and ORB (validation-fitted thresholds) and every Table 9 network.

    Args:
        results: ``{notebook name: its results JSON}`` (chapters that did not run are absent).

    Returns:
        Rows with ``method``, ``family``, ``accuracy``, ``accuracy_ci95_low``/``_high``, ``paper_accuracy`` and
        ``chapter``, in the paper's order (classical first, then the profile's networks).
    """
    rows: list[dict[str, Any]] = []
    keypoints = results.get("04_keypoints") or {}
    for row in keypoints.get("table8") or []:
        base = str(row.get("method", "")).split("@")[0]
        if row.get("threshold_fitted_on") == "val" and base in paper.TABLE8:
            rows.append({"method": row["method"], "family": "keypoints (Table 8)",
                         "accuracy": _fraction(row.get("accuracy")),
                         "accuracy_ci95_low": _fraction(row.get("accuracy_ci95_low")),
                         "accuracy_ci95_high": _fraction(row.get("accuracy_ci95_high")),
                         "paper_accuracy": _fraction(row.get("paper_accuracy", paper.TABLE8[base]["accuracy"])),
                         "chapter": "04_keypoints"})
    siamese = results.get("05_siamese") or {}
    for row in siamese.get("rows") or []:
        interval = row.get("test_accuracy_ci95") or (None, None)
        rows.append({"method": row.get("model"), "family": "Siamese network (Table 9)",
                     "accuracy": _fraction(row.get("test_accuracy")),
                     "accuracy_ci95_low": _fraction(interval[0]), "accuracy_ci95_high": _fraction(interval[1]),
                     "paper_accuracy": _fraction(paper.TABLE9.get(str(row.get("model")), {}).get("test_accuracy")),
                     "chapter": "05_siamese"})
    return rows


def headline_section(results: Mapping[str, Mapping[str, Any]], chapter_docs: Mapping[str, str]) -> list[str]:
    """Markdown lines: the pre-declared classical and deep rows beside the paper, or why there are none."""
    rows = headline_rows(results)
    if not rows:
        return ["**Classical and deep results: not run.** Neither the keypoint chapter nor the Siamese chapter "
                "ran in this build."]
    table = reader_table(rows, columns=["method", "family", "accuracy", "paper_accuracy"],
                         headers={"accuracy": "this run", "paper_accuracy": "paper"},
                         legend={"accuracy": "test accuracy at a threshold fitted on validation pairs, with its "
                                             "95 % interval over the test classes",
                                 "paper_accuracy": "the paper's number for the same row"},
                         missing_note="the paper has no such row (a network beyond the paper)")
    links = [f"{{doc}}`{chapter_docs[name]}`" for name in ("04_keypoints", "05_siamese") if name in chapter_docs]
    return ["**Classical and deep results beside the paper's.** Every row the paper's Tables 8 and 9 declare that "
            "this run measured, in the paper's order (none picked by test accuracy); details in "
            + (" and ".join(links) or "the chapters") + ".", "", table.to_markdown()]


def run_facts(*, profile: str, profile_description: str, dataset: str, n_files: Any, machine: Mapping[str, Any],
              run_seconds: float | None, overrides: Mapping[str, Any]) -> list[str]:
    """Markdown lines: profile, data, machine, run time and overrides of the run."""
    from drugsim.tables import seconds

    cores = f"{machine.get('cpu_cores_usable') or machine.get('cpu_cores')} usable cores"
    device = machine.get("torch_device") or "cpu"
    device = "no GPU" if device == "cpu" else f"torch device {device}"
    facts = [
        f"- **Profile:** `{profile}` ({profile_description.rstrip('.')})" if profile_description else f"- **Profile:** `{profile}`",
        f"- **Data:** {dataset}" + (f", {n_files:,} files" if isinstance(n_files, int) else ""),
        f"- **Machine:** {machine.get('cpu_model') or 'unknown CPU'}, {cores}, {device}",
        f"- **Run time:** {seconds(run_seconds) if run_seconds is not None else MISSING} of notebook execution",
    ]
    if overrides:
        facts.append("- **Parameters changed for this run:** "
                     + ", ".join(f"`{name} = {value!r}`" for name, value in overrides.items()))
    return facts


def findings_block(*, results: Mapping[str, Mapping[str, Any]], chapter_docs: Mapping[str, str],
                   facts: Sequence[str], reproducibility_doc: str) -> str:
    """The "What this run found" block of the front page (Markdown)."""
    lines = ["## What this run found", ""]
    lines += verdict_section(results.get("13_summary"), summary_doc=chapter_docs.get("13_summary"))
    lines += [""] + headline_section(results, chapter_docs)
    lines += ["", *facts, f"- **Everything else about the run:** {{doc}}`/{reproducibility_doc}`", ""]
    if chapter_docs:
        lines += ["The chapters, in the paper's order: "
                  + " · ".join(f"{{doc}}`{doc}`" for doc in chapter_docs.values()) + ".", ""]
    return "\n".join(lines)


def insert_after_title(page: str, block: str) -> str:
    """``page`` (Markdown with one ``# `` title) with ``block`` right after its title line."""
    lines = page.splitlines()
    at = next((i for i, line in enumerate(lines) if line.startswith("# ")), -1)
    return "\n".join(lines[: at + 1] + ["", block.rstrip(), ""] + lines[at + 1:]) + "\n"


# --------------------------------------------------------------------------------------------------
# "In this chapter": two or three lines at the top of each chapter, from its own glued results


def _first_sentence(text: Any) -> str:
    text = str(text or "").strip()
    cut = text.find(". ")
    return text if cut < 0 else text[: cut + 1]


def _sentence(text: Any) -> str:
    text = str(text or "").strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def in_this_chapter(chapter: str, glued: Mapping[str, Any]) -> str:
    """Two or three lines saying what the chapter found, from the values it glued (``drugsim.report.glued``).

    A chapter without its values (a part skipped by its profile) says so rather than guess.

    >>> in_this_chapter("02_histogram_cosine", {"nb02_agreement": "We agree with the paper for cosine."})
    'We agree with the paper for cosine.'
    """
    from drugsim.tables import percent

    g = glued

    def has(*keys: str) -> bool:
        return all(g.get(k) not in (None, "") for k in keys)

    parts: list[str] = []
    if chapter == "01_data":
        parts = [_first_sentence(g.get("nb01_protocol_sentence")), _sentence(g.get("nb01_flags_sentence"))]
    elif chapter in ("02_histogram_cosine", "03_hashes"):
        prefix = chapter[:2]
        parts = [_sentence(g.get(f"nb{prefix}_agreement")), _sentence(g.get(f"nb{prefix}_failures_sentence"))]
    elif chapter == "04_keypoints":
        parts = [_sentence(g.get("nb04_table8_sentence")), _sentence(g.get("nb04_failures_sentence"))]
    elif chapter == "05_siamese":
        parts = [_sentence(g.get("siamese_ingredient_sentence")), _sentence(g.get("siamese_seed_sentence"))]
    elif chapter == "06_classifier" and has("classifier_test_accuracy"):
        paper_value = (f" (the paper: {percent(g['classifier_paper_test_accuracy'])})"
                       if has("classifier_paper_test_accuracy") else "")
        parts = [f"The feature-face classifier labels {percent(g['classifier_test_accuracy'])} of the "
                 f"{g.get('classifier_n_test_images', 'test')} test photos correctly{paper_value}."]
    elif chapter == "07_combined":
        parts = [_sentence(g.get("combined_best_sentence"))]
    elif chapter == "08_companion":
        parts = [_sentence(g.get("companion_siamese_sentence"))]
    elif chapter == "09_thresholds" and has("thr_best_method", "thr_best_accuracy"):
        parts = [f"Chosen on validation accuracy, {g['thr_best_method']} reaches "
                 f"{percent(g['thr_best_accuracy'], g.get('thr_best_accuracy_low'), g.get('thr_best_accuracy_high'))} "
                 "on the test pairs, with its interval over the test classes."]
    elif chapter == "10_robustness" and has("robust_synthetic_n_pairs"):
        parts = [f"Each capture change is applied alone to {g['robust_synthetic_n_pairs']} synthetic test pairs "
                 f"and every method is scored again at its threshold ({g.get('robust_rule', 'fitted on validation')} "
                 "rule).", _sentence(g.get("robust_photos_note"))]
    elif chapter == "11_search" and has("search_n_gallery", "search_n_classes"):
        parts = [f"Each test photo is looked up among {g['search_n_gallery']} gallery photos of "
                 f"{g['search_n_classes']} classes, with an exact and approximate indexes."]
    elif chapter == "12_speed" and has("speed_hardware"):
        parts = [f"Every method timed on one machine ({g['speed_hardware']}): the paper's per-pair way, the "
                 "engine that describes each image once, and the limit."]
    elif chapter == "13_summary":
        parts = [_sentence(g.get("verdict_sentence"))]
    # Two or three lines: the first sentence of each part, at most two parts.
    kept = [_first_sentence(part) for part in parts if part][:2]
    text = " ".join(kept)
    return text or "This run did not produce this chapter's headline values; the sections below say why."
