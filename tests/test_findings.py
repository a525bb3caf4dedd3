"""drugsim.findings: the front page's "What this run found", built from made-up results files."""

from __future__ import annotations

from drugsim import findings, paper

VERDICT = [
    {"comparison": "improved Siamese network > ORB", "stronger": "efficientnet-lite0-imagenet-partial-improved",
     "weaker": "orb@crosscheck", "stronger_accuracy": 0.9608, "weaker_accuracy": 0.8231, "difference": 0.1377,
     "ci_low": 0.11, "ci_high": 0.16, "p_value": 0.0001, "n_pairs": 3136, "n_classes": 8, "outcome": "holds",
     "chosen_by": "validation accuracy"},
    {"comparison": "ORB > SIFT", "stronger": "orb", "weaker": "sift", "stronger_accuracy": 0.70,
     "weaker_accuracy": 0.71, "difference": -0.01, "ci_low": -0.04, "ci_high": 0.02, "p_value": 0.4,
     "n_pairs": 3136, "n_classes": 8, "outcome": "not established", "chosen_by": "pre-declared"},
    {"comparison": "filter + Siamese > Siamese", "stronger": None, "weaker": None, "stronger_accuracy": None,
     "weaker_accuracy": None, "difference": None, "ci_low": None, "ci_high": None, "p_value": None,
     "n_pairs": None, "n_classes": None, "outcome": "not run", "chosen_by": "pre-declared"},
]
RESULTS = {
    "04_keypoints": {"table8": [
        {"method": "sift@ratio", "accuracy": 0.776, "accuracy_ci95_low": 0.75, "accuracy_ci95_high": 0.80,
         "paper_accuracy": 0.8238, "threshold_fitted_on": "val"},
        {"method": "sift@ratio", "accuracy": 0.79, "threshold_fitted_on": "test", "paper_accuracy": 0.8238},
        {"method": "orb-ransac", "accuracy": 0.81, "threshold_fitted_on": "val"},
    ]},
    "05_siamese": {"rows": [
        {"model": "resnet18-improved", "test_accuracy": 0.61, "test_accuracy_ci95": [0.584, 0.644]},
        {"model": "efficientnet-lite0-imagenet-partial-improved", "test_accuracy": 0.9608,
         "test_accuracy_ci95": [0.9552, 0.9662]},
    ]},
    "13_summary": {"verdict": VERDICT},
}
DOCS = {"04_keypoints": "/book/generated/synthetic/04_keypoints", "05_siamese": "/book/generated/synthetic/05_siamese",
        "13_summary": "/book/generated/synthetic/13_summary"}


def test_the_verdict_reads_with_its_intervals_and_counts():
    lines = findings.verdict_section(RESULTS["13_summary"], summary_doc=DOCS["13_summary"])
    text = "\n".join(lines)
    assert "Of the paper's 3 pre-declared comparisons, tested on this run's test pairs: 1 holds, " \
           "1 not established, 1 not run." in text
    assert "| improved Siamese network > ORB | holds | 96.1 % | 82.3 % | +13.8 pp [11.0, 16.0] | <0.001 | 3,136 | 8 |" in text
    assert "| filter + Siamese > Siamese | not run | – | – | – | – | – | – | pre-declared |" in text
    assert "nan" not in text.lower() and "None" not in text


def test_no_verdict_says_not_run():
    for summary in (None, {}, {"verdict": []}):
        text = "\n".join(findings.verdict_section(summary, summary_doc=None))
        assert text.startswith("**The paper's conclusions: not run.**")


def test_headline_rows_are_the_pre_declared_ones_in_the_papers_order():
    rows = findings.headline_rows(RESULTS)
    assert [r["method"] for r in rows] == ["sift@ratio", "resnet18-improved",
                                           "efficientnet-lite0-imagenet-partial-improved"]
    assert rows[1]["paper_accuracy"] == paper.TABLE9["resnet18-improved"]["test_accuracy"]
    assert rows[2]["paper_accuracy"] is None  # beyond the paper: a dash with a footnote on the page
    text = "\n".join(findings.headline_section(RESULTS, DOCS))
    assert "| efficientnet-lite0-imagenet-partial-improved | Siamese network (Table 9) | 96.1 % [95.5, 96.6] | – |" in text
    assert "{doc}`/book/generated/synthetic/04_keypoints`" in text


def test_the_block_sits_under_the_title_of_the_introduction():
    facts = findings.run_facts(profile="tiny", profile_description="a few minutes.", dataset="synthetic boxes",
                               n_files=288, machine={"cpu_model": "AMD EPYC", "cpu_cores_usable": 2},
                               run_seconds=174.2, overrides={"match_filter": "crosscheck"})
    block = findings.findings_block(results=RESULTS, chapter_docs=DOCS, facts=facts,
                                    reproducibility_doc="book/generated/reproducibility")
    page = findings.insert_after_title("(intro)=\n# Title\n\nThe introduction.\n", block)
    assert page.startswith("(intro)=\n# Title\n\n## What this run found\n")
    assert page.index("The introduction.") > page.index("**Run time:** 174 s (2 min 54 s)")
    assert "`match_filter = 'crosscheck'`" in page and "288 files" in page
    assert "{doc}`//" not in page


def test_in_this_chapter_is_two_or_three_lines_from_the_chapters_own_values():
    glued = {"siamese_ingredient_sentence": "The largest step is + ImageNet weights (+0.2292 test accuracy); the "
                                            "last step reaches 0.4931.",
             "siamese_seed_sentence": "Over 2 seeds, a net reaches 0.52. A difference between two single runs "
                                      "says little. The paper's gaps are of that size."}
    text = findings.in_this_chapter("05_siamese", glued)
    assert text == ("The largest step is + ImageNet weights (+0.2292 test accuracy); the last step reaches 0.4931. "
                    "Over 2 seeds, a net reaches 0.52.")
    assert findings.in_this_chapter("09_thresholds", {"thr_best_method": "orb", "thr_best_accuracy": 0.8,
                                                      "thr_best_accuracy_low": 0.75, "thr_best_accuracy_high": 0.85}
                                    ).startswith("Chosen on validation accuracy, orb reaches 80.0 % [75.0, 85.0]")
    assert findings.in_this_chapter("06_classifier", {}).startswith("This run did not produce")


def test_the_summary_chapter_opens_with_its_pre_declared_verdict():
    text = findings.in_this_chapter("13_summary", {"verdict_sentence": "Of the 4 comparisons fixed before the run, "
                                                                      "2 held, 2 not established: (a) x vs y."})
    assert text.startswith("Of the 4 comparisons fixed before the run")
