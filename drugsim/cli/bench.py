"""``drugsim bench``: the paper's per-pair way vs the describe-once engine vs the limit; ``bench search``."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any, Dict

from drugsim.cli import options
from drugsim.errors import ConfigError

EPILOG = """examples:
  drugsim bench --data data/synthetic-quick --json benchmarks/results/bench.json
  drugsim bench --data grocery --pairs 500 --methods orb,ahash --repeats 5
  drugsim bench --data data/synthetic-quick --methods siamese-improved --model siamese-improved=runs/m.pt
  drugsim bench --data data/synthetic-quick --pair-list runs/quick/test_pairs.txt --per-pair-pairs 200
  drugsim bench search --sizes 1000,10000,100000 --json benchmarks/results/search.json --figure search.png

Engine and limit run on the whole pair list; the paper's per-pair way on its first --per-pair-pairs pairs
(rates are per pair, so they compare). Every time is a median over --repeats runs after a warm-up.
Siamese methods need a trained checkpoint: --model NAME=PATH, or --models-dir DIR holding NAME.pt
(or any *improved*.pt, *classic*.pt, *triplet*.pt there).
"""

SEARCH_EPILOG = """examples:
  drugsim bench search --json benchmarks/results/search.json --figure benchmarks/results/search.png
  drugsim bench search --sizes 1000,10000 --dim 64 --kinds hnsw --ef-search 32
"""


def register(subparsers) -> None:
    parser = options.add_command(subparsers, "bench", epilog=EPILOG,
        help="speed benchmark: per-pair vs engine vs limit (and 1:N search)",
        description="Time every method the paper's way (describe both images for every pair), with the "
                    "describe-once engine, and at the limit (describe each image once + score all pairs, "
                    "each alone).")
    options.add_data_option(parser, required=False)
    parser.add_argument(
        "--pair-list", help="use this pair list (drugsim pairs output) instead of drawing pairs"
    )
    parser.add_argument(
        "--pairs",
        type=options.int_range(0, options.MAX_PAIRS),
        default=0,
        help="pairs of the test split's Algorithm 2 list to keep (a seeded sample; default 0 = all)",
    )
    parser.add_argument(
        "--split",
        default="test",
        choices=("train", "val", "test", "all"),
        help="split the pairs come from (default test)",
    )
    parser.add_argument(
        "--methods",
        default=None,
        help="comma-separated method names (default: the paper's classical methods, plus "
        "Siamese variants whose checkpoint is given)",
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="checkpoint of a Siamese method (repeatable)",
    )
    parser.add_argument(
        "--models-dir", help="folder with trained checkpoints (<method>.pt, or *<variant>*.pt)"
    )
    parser.add_argument(
        "--repeats",
        type=options.int_range(1, options.MAX_REPEATS),
        default=3,
        help="timed runs per measurement (median; default 3)",
    )
    parser.add_argument(
        "--per-pair-pairs",
        type=options.int_range(1, options.MAX_PAIRS),
        default=100,
        help="pairs timed the paper's way (default 100; it is slow)",
    )
    options.add_jobs_option(parser, "engine worker processes (default: all cores)", metavar=None)
    options.add_seed_option(parser, "seed of the split and the pair draw")
    options.add_json_file(parser, "write the results JSON here", dest="json_out")
    parser.set_defaults(func=run_bench)

    sub = parser.add_subparsers(dest="bench_command", metavar="search")
    search = sub.add_parser(
        "search",
        help="queries/s and recall@k of approximate indexes vs exact search as the gallery grows",
        epilog=SEARCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    search.add_argument(
        "--sizes",
        type=options.positive_int_list,
        default=[1_000, 10_000, 100_000],
        help="gallery sizes (default 1000,10000,100000)",
    )
    search.add_argument(
        "--dim", type=options.int_range(1, options.MAX_DIM),
        default=128, help="embedding length (default 128)"
    )
    search.add_argument(
        "--hash-bits", type=options.multiple_of(8, low=8, high=options.MAX_HASH_BITS),
        default=64, help="hash length in bits (default 64)"
    )
    search.add_argument(
        "--queries", type=options.int_range(1, options.MAX_QUERIES),
        default=500, help="queries per size (default 500)"
    )
    search.add_argument(
        "--k", type=options.int_range(1, options.MAX_TOP_K),
        default=10, help="neighbours per query (default 10)"
    )
    search.add_argument("--kinds", default="ivf,hnsw", help="approximate index kinds (default ivf,hnsw)")
    search.add_argument(
        "--nprobe", type=options.int_range(1, options.MAX_SEARCH_PARAM),
        default=8, help="IVF cells visited per query (default 8)"
    )
    search.add_argument(
        "--ef-search", type=options.int_range(1, options.MAX_SEARCH_PARAM),
        default=64, help="HNSW search list (default 64)"
    )
    search.add_argument(
        "--repeats", type=options.int_range(1, options.MAX_REPEATS), default=3,
        help="timed runs (median; default 3)"
    )
    options.add_seed_option(search, "seed of the synthetic vectors")
    options.add_json_file(search, "write the results JSON here", dest="json_out")
    search.add_argument(
        "--figure",
        type=options.output_file(),
        help="write the queries/s and recall figure here (PNG/SVG/PDF)",
    )
    search.set_defaults(func=run_search)


def _write_result(path: Path, result: dict[str, Any], stdout) -> None:
    from drugsim.io import is_stdout, write_text_atomic
    from drugsim.report import json_text

    if is_stdout(path):
        stdout.write(json_text(result) + "\n")  # the stdout from before reports were sent to stderr
        stdout.flush()
        return
    write_text_atomic(path, json_text(result) + "\n")
    print(f"wrote {path}")


def _reports_to_stderr(json_out: Any):
    """With ``--json -`` standard output carries the JSON alone; progress lines go to stderr."""
    from drugsim.io import is_stdout

    if json_out is not None and is_stdout(json_out):
        return contextlib.redirect_stdout(sys.stderr)
    return contextlib.nullcontext()


def _checkpoints(args) -> Dict[str, str]:
    models: Dict[str, str] = {}
    if args.models_dir:
        folder = Path(args.models_dir)
        if not folder.is_dir():
            raise ConfigError(f"--models-dir {folder}: no such folder")
        from drugsim.studies.models import find_checkpoints

        models.update({name: str(path) for name, path in find_checkpoints(folder).items()})
    for item in args.model:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--model expects NAME=PATH (e.g. siamese-improved=runs/m.pt), got {item!r}")
        if not Path(path).is_file():
            raise ConfigError(f"--model {name}: checkpoint {path} does not exist")
        models[name] = path
    return models


def run_bench(args) -> int:
    stdout = sys.stdout
    with _reports_to_stderr(args.json_out):
        return _run_bench(args, stdout)


def _run_bench(args, stdout) -> int:
    from drugsim.cli.common import dataset_folder, guard_outputs
    from drugsim.data.protocol import ProtocolSettings, evaluation_pairs
    from drugsim.evaluation.timing import BenchConfig, bench_methods, targets_summary
    from drugsim.studies.models import build_methods

    if args.methods is not None and not [name for name in args.methods.split(",") if name.strip()]:
        raise ConfigError(f"--methods {args.methods!r}: no method name in it (expected e.g. orb,ahash)")
    checkpoints = _checkpoints(args)
    guard_outputs({"--json": args.json_out},
                  files={"--pair-list": args.pair_list,
                         **{f"--model {name}": path for name, path in checkpoints.items()}},
                  folders={"--data": dataset_folder(args.data), "--models-dir": args.models_dir})
    methods = build_methods(args.methods, models=checkpoints)
    pairs = evaluation_pairs(args.data or None, split=args.split, settings=ProtocolSettings(seed=args.seed),
                             pair_file=args.pair_list or None, n_pairs=args.pairs or None).test
    config = BenchConfig(repeats=args.repeats, per_pair_pairs=args.per_pair_pairs, n_jobs=args.jobs)
    print(
        f"{len(pairs)} pairs; {len(methods)} methods; per-pair way on the first "
        f"{min(len(pairs), args.per_pair_pairs)} pairs; {args.repeats} repeats",
        flush=True,
    )
    result = bench_methods(methods, pairs, config, progress=True, dataset=args.data or args.pair_list)
    for row in targets_summary(result):
        target = (
            ""
            if row["speedup_target"] is None
            else f" (target {row['speedup_target']:.0f}x: " + ("ok" if row["speedup_ok"] else "MISSED") + ")"
        )
        print(
            f"{row['method']:>20}: speedup {row['speedup']:.1f}x{target}; engine/limit "
            f"{row['engine_over_limit']:.2f} ({'ok' if row['engine_over_limit_ok'] else 'MISSED'})"
        )
    if args.json_out:
        _write_result(args.json_out, result, stdout)
    return 0


def run_search(args) -> int:
    stdout = sys.stdout
    with _reports_to_stderr(args.json_out):
        return _run_search(args, stdout)


def _run_search(args, stdout) -> int:
    from drugsim.evaluation.search_speed import bench_search
    from drugsim.studies.search import plot_search_benchmark

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if not kinds:
        raise ConfigError(f"--kinds {args.kinds!r}: no index kind in it (expected e.g. ivf,hnsw)")
    options.check_distinct_outputs(**{"--json": args.json_out, "--figure": args.figure})
    result = bench_search(
        args.sizes,
        dim=args.dim,
        hash_bits=args.hash_bits,
        n_queries=args.queries,
        k=args.k,
        kinds=kinds,
        repeats=args.repeats,
        seed=args.seed,
        index_options={"nprobe": args.nprobe, "ef_search": args.ef_search},
        progress=True,
    )
    if args.json_out:
        _write_result(args.json_out, result, stdout)
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        from drugsim.io import atomic_path

        axes = plot_search_benchmark(result)
        figure = axes[0].figure
        figure.tight_layout()
        suffix = Path(args.figure).suffix
        with atomic_path(args.figure, suffix=suffix) as tmp:
            figure.savefig(tmp, dpi=120, format=suffix.lstrip(".") or "png")
        print(f"wrote {args.figure}")
    return 0
