"""``drugsim report readme``: write the README's results block from the committed results of a run."""

from __future__ import annotations

import argparse
from pathlib import Path

from drugsim.cli import options
from drugsim.errors import ConfigError

REPORT_EPILOG = """examples:
  drugsim report readme --results results/recorded/cpu-class-level-quick-eval --results results/recorded/gpu-paper-settings-8464a8d
  drugsim report readme --bench benchmarks/results/bench_quick_idle.json
  drugsim report readme --run results/recorded/cpu-quick-reproduce-COMMIT   # chapter 05 of a recorded run
  drugsim report readme --timings benchmarks/results/reproduce-quick.json --timings benchmarks/results/reproduce-tiny.json
  drugsim report readme --results results/recorded/gpu-paper-settings-8464a8d --check

Rewrites only the generated blocks of README.md (between <!-- NAME:start --> and <!-- NAME:end -->): results
from every `drugsim evaluate --json` result in a folder, speed from a `drugsim bench --json` result, timings
from benchmarks/time_reproduce.py results. --check writes nothing and exits 1 when the README differs.
"""


def _read_json(path: Path, what: str) -> dict:
    import json

    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} {path}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{what} {path}: not a JSON file ({exc})") from None
    if not isinstance(payload, dict):
        raise ConfigError(f"{what} {path}: expected a JSON object")
    return payload


def render_readme(current: str, *, results: list[Path] | None = None, bench: Path | None = None,
                  timings: list[Path] | None = None, run: Path | None = None) -> str:
    """``current`` README text with each generated block that has a source rewritten from that source."""
    from drugsim import readme

    updated = current
    if run is not None:
        block = readme.readme_run_block(readme.run_results(run), source=str(run))
        updated = readme.replace_readme_block(updated, block, block="run")
    if results:
        table = readme.readme_results_table({str(folder): readme.evaluation_results(folder) for folder in results})
        updated = readme.replace_readme_block(updated, table, block="results")
    if bench is not None:
        payload = _read_json(bench, "--bench")
        if not isinstance(payload.get("methods"), dict):
            raise ConfigError(f"--bench {bench}: not a `drugsim bench --json` result (no 'methods')")
        updated = readme.replace_readme_block(updated, readme.readme_speed_block(payload, source=str(bench)),
                                               block="speed")
    if timings:
        payloads = [_read_json(path, "--timings") for path in timings]
        for path, payload in zip(timings, payloads):
            if "total_s" not in payload or not ("profile" in payload or "what" in payload):
                raise ConfigError(f"--timings {path}: not a benchmarks/time_reproduce.py or time_command.py result "
                                  "(no 'profile'/'what' or 'total_s')")
        block = readme.readme_timings_block(payloads, sources=[str(path) for path in timings])
        updated = readme.replace_readme_block(updated, block, block="timings")
    return updated


def cmd_report_readme(args: argparse.Namespace) -> int:
    from drugsim.io import write_text_atomic

    readme_path = Path(args.readme)
    if not readme_path.is_file():
        raise ConfigError(f"--readme {readme_path}: no such file")
    if not args.results and args.bench is None and not args.timings and args.run is None:
        raise ConfigError("give at least one of --results DIR, --run DIR, --bench FILE, --timings FILE")
    try:
        current = readme_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"--readme {readme_path}: byte {exc.start} is not UTF-8 (expected a UTF-8 README)") from None
    try:
        updated = render_readme(current, results=args.results, bench=args.bench, timings=args.timings,
                                run=args.run)
    except (TypeError, KeyError, ValueError, AttributeError, IndexError) as exc:
        # A result file of the right shape but with a value of another type (a string for a number...).
        sources = [str(p) for p in (args.results or []) + ([args.run] if args.run else []) +
                   ([args.bench] if args.bench else []) + (args.timings or [])]
        raise ConfigError(f"a result in {', '.join(sources)} holds a value of an unexpected type "
                          f"({type(exc).__name__}: {exc}); expected unedited drugsim results") from None
    if args.check:
        if updated != current:
            print(f"{readme_path}: a generated block differs from what its source renders; "
                  "run the same command without --check")
            return 1
        print(f"{readme_path}: the generated blocks match their sources")
        return 0
    write_text_atomic(readme_path, updated)
    print(f"wrote the generated blocks of {readme_path}")
    return 0


def register(subparsers) -> None:
    report = subparsers.add_parser(
        "report",
        help="write generated parts of the documentation (the README's results table)",
        description="Write generated parts of the documentation from committed results.",
    )
    kinds = report.add_subparsers(dest="report_kind", metavar="KIND")
    readme = options.add_command(kinds, "readme", epilog=REPORT_EPILOG,
        help="the README's results block, from a folder of `drugsim evaluate --json` results",
        description="Render the README's results block from a recorded run's evaluation results.")
    readme.add_argument("--results", type=Path, metavar="DIR", action="append",
                        help="folder of `drugsim evaluate --json` results (e.g. results/recorded/<run>; repeat for "
                        "several runs): the results block")
    readme.add_argument("--run", type=Path, metavar="DIR",
                        help="a recorded `drugsim reproduce` run's results: chapter 05's networks and the paper's "
                             "ordering (the run block)")
    readme.add_argument("--bench", type=Path, metavar="FILE",
                        help="a `drugsim bench --json` result (e.g. benchmarks/results/bench_quick_idle.json): the "
                        "speed block")
    readme.add_argument("--timings", type=Path, metavar="FILE", action="append",
                        help="a benchmarks/time_reproduce.py result (repeat for several profiles): the timings block")
    readme.add_argument("--readme", type=Path, default=Path("README.md"), help="README to update (default: README.md)")
    readme.add_argument("--check", action="store_true", help="write nothing; exit 1 if the README is out of date")
    readme.set_defaults(func=cmd_report_readme)
