"""``drugsim compare | evaluate | search | methods``: use any similarity method from the command line."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Any, Dict

from drugsim.cli import options, search
from drugsim.cli.common import (
    build_method,
    dataset_folder,
    dataset_identity,
    fmt,
    guard_outputs,
    print_json,
    threshold_from_file,
    write_json,
)
from drugsim.errors import ConfigError, DatasetError, DrugsimError

RULES = ("midpoint", "max_accuracy", "youden", "eer", "far")
#: False-accept rate of ``--threshold-rule far`` when ``--target-far`` is not given.
DEFAULT_TARGET_FAR = 0.01


def _compare_epilog() -> str:
    from drugsim import paper

    return COMPARE_EPILOG.format(
        siamese=paper.TRAINING["siamese"]["threshold"],
        sift=paper.TABLE8_THRESHOLDS["sift"],
        orb=paper.TABLE8_THRESHOLDS["orb"],
    )


COMPARE_EPILOG = """examples:
  drugsim compare a.jpg b.jpg --method orb
  drugsim compare a.jpg b.jpg --method ahash --threshold 50 --json
  drugsim compare a.jpg b.jpg --method orb --threshold-from results/orb_youden.json
  drugsim compare a.jpg b.jpg --method siamese-improved --model models/resnet18-improved.pt

Default thresholds: the checkpoint's own for Siamese networks ({siamese:g}, paper section 4.2); cosine
{siamese:g} (paper section 2.2); aHash/pHash/dHash/wHash 54 of 64 equal bits (a conventional near-duplicate
cut, not from the paper). Other methods need --threshold or --threshold-from a result of `drugsim
evaluate --json` (fitted on validation pairs). --paper-protocol uses the paper's Table 8 thresholds for
SIFT ({sift:g}) and ORB ({orb:g}), which the paper fitted on its own test pairs (labelled so).
`drugsim methods` lists every method and its direction.
"""

EVALUATE_EPILOG = """examples:
  drugsim evaluate --data data/synthetic-quick --method orb --json orb.json
  drugsim evaluate --data data/synthetic-quick --method orb --threshold-rule youden --json orb_youden.json
  drugsim evaluate --data data/synthetic-quick --method orb --paper-protocol --json orb_paper.json
  drugsim evaluate --data grocery --method ahash --n-pairs 1000 --per-pair
  drugsim evaluate --data my_photos --method orb --split all --threshold-from orb_youden.json
  drugsim evaluate --data data/synthetic-quick --method siamese-improved --model m.pt \\
      --filter-model classifier.pt --json table10.json
  drugsim evaluate --data data/synthetic-quick --method sift --pairs test_pairs.txt --cache-dir cache

Pairs: Algorithm 2 on the test drugs of a class-disjoint split (seeded), unless --pairs gives a file.
Threshold: every rule, the midpoint included, is fitted on pairs of the validation drugs and applied
unchanged to the test pairs (threshold_fitted_on = "val"); --threshold-from reuses an earlier result's
threshold ("file:PATH"). --paper-protocol fits the midpoint on the evaluated pairs themselves, as the
paper did (threshold_fitted_on = "test", labelled the paper's protocol). The JSON has every metric with a
95 % class-level interval (ci95: the delete-one-class jackknife with a t quantile, ci_unit = "class"; --ci-unit
pair for the narrower pair-level bootstrap interval) and the threshold every rule fits (thresholds).
"""

METHODS_EPILOG = """examples:
  drugsim methods
  drugsim methods --json
"""


# --------------------------------------------------------------------------------------------- compare


def cmd_compare(args: argparse.Namespace) -> int:
    from drugsim.evaluation.thresholds import default_threshold
    from drugsim.io import read_image

    method = build_method(args.method, args.model)
    image_a = read_image(args.image_a)
    image_b = read_image(args.image_b)
    from drugsim.evaluation.engine import describe_image

    start = time.perf_counter()
    score = float(
        method.score(describe_image(method, image_a, args.image_a), describe_image(method, image_b, args.image_b))
    )
    seconds = time.perf_counter() - start
    if args.threshold is not None and args.threshold_from is not None:
        raise ConfigError("give --threshold or --threshold-from, not both")
    if args.threshold is not None:
        threshold, source = float(args.threshold), "--threshold"
    elif args.threshold_from is not None:
        threshold, rule, label = threshold_from_file(args.threshold_from, method.name)
        source = f"{label} ({rule})"
    else:
        threshold, source = default_threshold(method, paper_protocol=args.paper_protocol)
    similar = method.is_similar(score, threshold) if threshold is not None else None
    payload = {
        "image_a": str(args.image_a),
        "image_b": str(args.image_b),
        "method": method.name,
        "score": score,
        "direction": method.direction,
        "threshold": threshold,
        "threshold_source": source,
        "similar": similar,
        "seconds": seconds,
    }
    if args.json:
        print_json(payload)
        return 0
    print(f"{method.name}: score {fmt(score)} ({method.direction} = more similar)")
    if threshold is None:
        print(
            f"threshold: none ({source}); pass --threshold T or --threshold-from RESULT.json (a "
            "validation-fitted `drugsim evaluate --json` result) for a decision"
        )
    else:
        relation = ">=" if method.direction == "higher" else "<="
        print(f"threshold: {fmt(threshold)} ({source})")
        print(f"decision: {'SIMILAR' if similar else 'DIFFERENT'} (similar when score {relation} threshold)")
    return 0


# -------------------------------------------------------------------------------------------- evaluate


def _apply_filter(model: Path, test_pairs, val_pairs, progress: bool):
    """Table 10: keep pairs where the feature-face classifier calls at least one image feature-rich."""
    try:
        from drugsim.deep.classifier import FeatureFacePredictor
        from drugsim.deep.combined import filter_pairs
    except ImportError as exc:  # pragma: no cover - the deep package is part of drugsim
        raise ConfigError(f"--filter-model needs drugsim.deep: {exc}") from None
    from drugsim.evaluation.engine import pair_paths

    if not Path(model).is_file():
        raise ConfigError(
            f"--filter-model {model}: no such checkpoint (train one with `drugsim train classifier`)"
        )
    predictor = FeatureFacePredictor(model)
    start = time.perf_counter()
    feature_rich = predictor.predict_paths(pair_paths(test_pairs), progress=progress)
    classify_seconds = time.perf_counter() - start
    kept, mask = filter_pairs(test_pairs, feature_rich)
    if val_pairs:
        val_rich = predictor.predict_paths(pair_paths(val_pairs), progress=progress)
        val_pairs, _ = filter_pairs(val_pairs, val_rich)
    info = {
        "filter_model": str(model),
        "n_pairs_before_filter": len(test_pairs),
        "n_pairs_skipped": int(len(test_pairs) - int(mask.sum())),
        "share_skipped": float(1 - mask.mean()) if len(mask) else 0.0,
        "classify_seconds": classify_seconds,
    }
    if not kept:
        raise DatasetError("the feature-face filter skipped every pair; nothing left to evaluate")
    return kept, val_pairs, info


def _print_summary(result: Dict[str, Any]) -> None:
    from drugsim.evaluation.evaluate import fitted_on_label

    timing = result["timing"]
    print(
        f"{result['method']} on {result['n_pairs']} pairs ({result['n_positive']} positive, "
        f"{result['n_negative']} negative; {timing['mode']}, {result.get('pairs_source', '')})"
    )
    print(
        f"  mean score: positives {fmt(result['positive_mean'])}, negatives {fmt(result['negative_mean'])} "
        f"({result['direction']} = more similar)"
    )
    print(
        f"  threshold {fmt(result['threshold'])} ({result['threshold_rule']}, fitted on "
        f"{fitted_on_label(result['threshold_fitted_on'])})"
    )
    n_classes = f" ({result['n_classes']} classes)" if result["n_classes"] else ""
    print("  95% intervals: " + (f"class-level jackknife{n_classes}" if result["ci_unit"] == "class"
                                  else "pair-level bootstrap"))
    ci = result["ci95"]
    for key, label in (
        ("accuracy", "accuracy"),
        ("balanced_accuracy", "balanced accuracy"),
        ("precision", "precision"),
        ("recall", "recall"),
        ("roc_auc", "ROC-AUC"),
        ("eer", "EER"),
    ):
        low, high = ci.get(key, (None, None))
        print(f"  {label:<18} {fmt(result[key])}  95% CI [{fmt(low)}, {fmt(high)}]")
    if result["thresholds_fitted_on"] is not None:
        rules = ", ".join(f"{rule} {fmt(value)}" for rule, value in result["thresholds"].items())
        print(f"  thresholds fitted on {fitted_on_label(result['thresholds_fitted_on'])}: {rules}")
    if "share_skipped" in result:
        print(
            f"  feature-face filter skipped {result['n_pairs_skipped']} of {result['n_pairs_before_filter']} "
            f"pairs ({100 * result['share_skipped']:.1f} %)"
        )
    speed = f"  speed: {fmt(result['pairs_per_second'])} pairs/s"
    if timing.get("describe_seconds") is not None:
        speed += (
            f" (describe {timing['n_images']} images {timing['describe_seconds']:.2f} s, "
            f"score {timing['score_seconds']:.3f} s)"
        )
    print(speed)


def _pairs_record(args: argparse.Namespace, root: Path, listed, scored) -> Dict[str, Any]:
    """``test_pairs_sha256`` and the pair protocol (its name) of an evaluation, as every chapter records them.

    The test split's pairs come from :func:`drugsim.data.protocol.results_record` (the run's full test list,
    the same hash as the chapters'); a pair file or another split is identified by the hash of its list.
    """
    from drugsim.data.protocol import ProtocolSettings, load_protocol_pairs, pairs_sha256, results_record

    if args.pairs is None and args.split == "test":
        data = load_protocol_pairs(root, settings=ProtocolSettings(seed=args.seed), splits=["test"])
        record = results_record(data, scored=scored)
        record["protocol"]["pairs_source"] = str(record["protocol"].get("pairs_source", ""))
        return {"test_pairs_sha256": record["test_pairs_sha256"], "pairs_protocol": record["protocol"]}
    name = "pair-file" if args.pairs is not None else f"split-{args.split}"
    return {"test_pairs_sha256": pairs_sha256(listed, root),
            "pairs_protocol": {"name": name, "n_test_pairs": len(listed),
                               "scored_test_pairs_sha256": pairs_sha256(scored, root),
                               "n_scored_test_pairs": len(scored)}}


def cmd_evaluate(args: argparse.Namespace) -> int:
    from drugsim.data.protocol import ProtocolSettings, evaluation_pairs
    from drugsim.evaluation.evaluate import evaluate_method

    if args.threshold_from is not None and args.threshold is not None:
        raise ConfigError("give --threshold or --threshold-from, not both")
    if args.paper_protocol and (args.threshold is not None or args.threshold_from is not None):
        raise ConfigError(
            "--paper-protocol fits the midpoint on the evaluated pairs; do not combine it with --threshold "
            "or --threshold-from"
        )
    if args.paper_protocol and args.threshold_rule != "midpoint":
        raise ConfigError(
            f"--paper-protocol is the paper's midpoint rule; got --threshold-rule {args.threshold_rule} "
            "(other rules are fitted on validation pairs: drop --paper-protocol)"
        )
    if args.target_far is not None and (args.threshold_rule != "far" or args.threshold is not None
                                        or args.threshold_from is not None):
        raise ConfigError("--target-far is the false-accept rate of --threshold-rule far; it would be ignored "
                          "here (give --threshold-rule far, without --threshold/--threshold-from)")
    root_folder = dataset_folder(args.data)
    guard_outputs({"--json": args.json, "--cache-dir": args.cache_dir},
                  files={"--model": args.model, "--pairs": args.pairs, "--threshold-from": args.threshold_from,
                         "--filter-model": args.filter_model},
                  folders={"--data": root_folder})
    method = build_method(args.method, args.model)
    threshold = args.threshold
    threshold_source = "--threshold" if threshold is not None else None
    rule = args.threshold_rule
    if args.threshold_from is not None:
        threshold, rule, threshold_source = threshold_from_file(args.threshold_from, method.name)
        if rule not in RULES:
            rule = args.threshold_rule
    needs_val = args.threshold_from is None and args.threshold is None and not args.paper_protocol
    pairs = evaluation_pairs(args.data, split=args.split, settings=ProtocolSettings(seed=args.seed),
                             pair_file=args.pairs, n_pairs=args.n_pairs, with_val=needs_val,
                             val_reason=f"the {args.threshold_rule!r} threshold")
    root, test_pairs, val_pairs, source = pairs.root, pairs.test, pairs.val, pairs.source
    filter_info: Dict[str, Any] = {}
    if args.filter_model is not None:
        test_pairs, val_pairs, filter_info = _apply_filter(
            args.filter_model, test_pairs, val_pairs, progress=not args.quiet
        )
    result, _ = evaluate_method(
        method,
        test_pairs,
        val_pairs=val_pairs,
        threshold_rule=rule,
        threshold=threshold,
        threshold_source=threshold_source,
        protocol="paper" if args.paper_protocol else "val",
        ci_unit=args.ci_unit,
        target_far=DEFAULT_TARGET_FAR if args.target_far is None else args.target_far,
        per_pair=args.per_pair,
        cache_dir=args.cache_dir,
        n_jobs=args.jobs,
        progress=not args.quiet,
        n_boot=args.n_boot,
        seed=args.seed,
    )
    result.update(
        # The folder's name and identity, not its absolute path: results are recorded and compared across
        # machines (issue 20: recorded files carry no absolute path).
        dataset=Path(root).resolve().name,
        dataset_id=dataset_identity(root),
        split=args.split if args.pairs is None else None,
        pairs_source=source,
        seed=args.seed,
        **_pairs_record(args, root, test_pairs if not filter_info else pairs.test, test_pairs),
        **filter_info,
    )
    if filter_info:
        result["filter_model"] = Path(filter_info["filter_model"]).name
        total = result["timing"]["total_seconds"] + filter_info["classify_seconds"]
        result["pairs_per_second_with_filter"] = len(test_pairs) / total if total > 0 else None
    from drugsim.io import is_stdout

    if args.json is not None and is_stdout(args.json):
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the JSON alone
            _print_summary(result)
        write_json(args.json, result)
        return 0
    _print_summary(result)
    if args.json is not None:
        write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0


# --------------------------------------------------------------------------------------------- methods


def cmd_methods(args: argparse.Namespace) -> int:
    from drugsim.methods import _REGISTRY, create_method

    rows = []
    for name, spec in _REGISTRY.items():
        direction, section = "?", "?"
        fixed = dict(spec.fixed)
        if spec.target.startswith("drugsim.deep."):
            # Read from the registry entry: building a network method would import torch (seconds).
            if "variant" in fixed:
                direction = "higher" if fixed["variant"] == "improved" else "lower"
            else:
                direction = "higher" if fixed.get("metric") == "cosine" else "lower"
            section = "2.6" if spec.in_paper else "beyond"
        else:
            try:
                method = create_method(name)
                direction, section = method.direction, method.paper_section
            except (DrugsimError, ImportError) as exc:
                section = f"unavailable: {exc}"
        rows.append(
            {
                "name": name,
                "direction": direction,
                "paper_section": section,
                "in_paper": spec.in_paper,
                "group": spec.group,
                "needs_model": spec.group == "deep",
            }
        )
    if args.json:
        print_json(rows)
        return 0
    print(f"{'method':<20} {'more similar':<13} {'section':<8} {'in paper':<9} group")
    for row in rows:
        note = " (needs --model)" if row["needs_model"] else ""
        print(
            f"{row['name']:<20} {row['direction'] + ' score':<13} {row['paper_section']:<8} "
            f"{'yes' if row['in_paper'] else 'no':<9} {row['group']}{note}"
        )
    return 0


# -------------------------------------------------------------------------------------------- register


def register(subparsers) -> None:
    """Add ``compare``, ``evaluate``, ``search`` and ``methods`` to the ``drugsim`` parser."""
    compare = options.add_command(subparsers, "compare", epilog=_compare_epilog(),
        help="score two images with one method and decide similar/different",
        description="Score two images with one similarity method.")
    compare.add_argument("image_a", type=Path, metavar="IMG_A", help="first image")
    compare.add_argument("image_b", type=Path, metavar="IMG_B", help="second image")
    options.add_method_options(compare)
    compare.add_argument("--threshold", type=options.finite_float,
                         help="decision threshold on the method's scale")
    compare.add_argument("--threshold-from", type=Path, metavar="RESULT.json",
                         help="use the threshold of an earlier `drugsim evaluate --json` result")
    compare.add_argument(
        "--paper-protocol",
        action="store_true",
        help="default to the paper's Table 8 threshold (SIFT, ORB), fitted on the paper's test pairs",
    )
    options.add_json_flag(compare)
    compare.set_defaults(func=cmd_compare)

    evaluate = options.add_command(subparsers, "evaluate", epilog=EVALUATE_EPILOG,
        help="score a pair list: Tables 7-10 numbers, thresholds, intervals, speed",
        description="Evaluate a method on Algorithm 2 pairs of a dataset (or a pair list file).")
    options.add_data_option(evaluate)
    options.add_method_options(evaluate)
    evaluate.add_argument("--pairs", type=Path, metavar="FILE",
                          help="pair list file instead of Algorithm 2 pairs")
    evaluate.add_argument("--split", default="test", choices=("test", "val", "all"),
                          help="drugs to pair (default: test; all = every class, e.g. new photos)")
    evaluate.add_argument("--n-pairs", type=options.int_range(1, options.MAX_PAIRS), metavar="N",
                          help="at most N pairs (default: all Algorithm 2 pairs)")
    evaluate.add_argument(
        "--threshold-rule",
        default="midpoint",
        choices=RULES,
        help="how to choose the threshold on validation pairs (default: midpoint, the paper's rule)",
    )
    evaluate.add_argument(
        "--paper-protocol",
        action="store_true",
        help="the paper's protocol: fit the midpoint on the evaluated (test) pairs themselves (labelled)",
    )
    evaluate.add_argument(
        "--ci-unit",
        default="class",
        choices=("class", "pair"),
        help="interval unit: classes (default; delete-one-class jackknife) or single pairs (bootstrap)",
    )
    evaluate.add_argument("--threshold-from", type=Path, metavar="EARLIER.json",
                          help="reuse the threshold of an earlier result (fitted elsewhere)")
    evaluate.add_argument("--threshold", type=options.finite_float,
                          help="use this threshold (method's scale)")
    evaluate.add_argument("--target-far", type=options.open_unit_float, default=None,
                          help=f"false-accept rate for --threshold-rule far (default: {DEFAULT_TARGET_FAR})")
    evaluate.add_argument("--per-pair", action="store_true",
                          help="the paper's way: describe both images for every pair (slow baseline)")
    options.add_engine_options(evaluate)
    evaluate.add_argument("--filter-model", type=Path, metavar="CLASSIFIER_CKPT",
                          help="skip pairs the feature-face classifier calls feature-poor (Table 10)")
    evaluate.add_argument("--n-boot", type=options.int_range(1, options.MAX_BOOT), default=1000,
                          help="bootstrap resamples of a pair-level interval (default: 1000)")
    options.add_seed_option(evaluate, "seed of split, pairs and bootstrap (default: 0)")
    options.add_json_file(
        evaluate, "write the full result here (atomically; - = standard output)", metavar="OUT"
    )
    options.add_quiet_option(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)

    search.register(subparsers)

    methods = options.add_command(subparsers, "methods", epilog=METHODS_EPILOG,
        help="list every method with its direction and paper section",
        description="List the similarity methods.")
    options.add_json_flag(methods, "print JSON instead of a table")
    methods.set_defaults(func=cmd_methods)


if __name__ == "__main__":  # pragma: no cover
    from drugsim.cli import main

    sys.exit(main())
