"""``drugsim report readme``: write the README's results block from the committed results of a run."""

from __future__ import annotations

import argparse
from pathlib import Path

from drugsim.errors import ConfigError

REPORT_EPILOG = """examples:
  drugsim report readme --results results/recorded/gpu-paper-settings-8464a8d
  drugsim report readme --results results/recorded/gpu-paper-settings-8464a8d --check

Rewrites only the lines between <!-- results:start --> and <!-- results:end --> of README.md, from every
`drugsim evaluate --json` result in the folder. --check writes nothing and exits 1 when the README differs.
"""


def cmd_report_readme(args: argparse.Namespace) -> int:
    from drugsim import summary
    from drugsim.io import write_text_atomic

    readme_path = Path(args.readme)
    if not readme_path.is_file():
        raise ConfigError(f"--readme {readme_path}: no such file")
    table = summary.readme_results_table(summary.evaluation_results(args.results), source=str(args.results))
    current = readme_path.read_text(encoding="utf-8")
    updated = summary.replace_readme_block(current, table)
    if args.check:
        if updated != current:
            print(f"{readme_path}: the results block differs from what {args.results} renders; "
                  f"run `drugsim report readme --results {args.results}`")
            return 1
        print(f"{readme_path}: the results block matches {args.results}")
        return 0
    write_text_atomic(readme_path, updated)
    print(f"wrote the results block of {readme_path} from {args.results}")
    return 0


def register(subparsers) -> None:
    report = subparsers.add_parser(
        "report",
        help="write generated parts of the documentation (the README's results table)",
        description="Write generated parts of the documentation from committed results.",
    )
    kinds = report.add_subparsers(dest="report_kind", metavar="KIND")
    readme = kinds.add_parser(
        "readme",
        help="the README's results block, from a folder of `drugsim evaluate --json` results",
        description="Render the README's results block from a recorded run's evaluation results.",
        epilog=REPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    readme.add_argument("--results", required=True, type=Path, metavar="DIR",
                        help="folder of `drugsim evaluate --json` results (e.g. results/recorded/<run>)")
    readme.add_argument("--readme", type=Path, default=Path("README.md"), help="README to update (default: README.md)")
    readme.add_argument("--check", action="store_true", help="write nothing; exit 1 if the README is out of date")
    readme.set_defaults(func=cmd_report_readme)
