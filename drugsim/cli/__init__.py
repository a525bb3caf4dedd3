"""The ``drugsim`` command line. Each sub-command group lives in its own module with a ``register``.

Errors from bad input (:class:`drugsim.errors.DrugsimError`) are printed as one line, without a traceback,
and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

from drugsim import __version__
from drugsim.errors import DrugsimError

#: Modules that add sub-commands, in the order ``drugsim --help`` lists them.
_COMMAND_MODULES = (
    "drugsim.cli.data",  # data synth|info|check|fetch, pairs
    "drugsim.cli.methods",  # compare, evaluate, search, methods
    "drugsim.cli.train",  # train siamese|classifier
    "drugsim.cli.bench",  # bench
    "drugsim.cli.reproduce",  # reproduce
    "drugsim.cli.report",  # report readme
)

EPILOG = """examples:
  drugsim data synth --out data/synthetic-quick --preset quick --seed 0
  drugsim pairs --data data/synthetic-quick --algorithm 2 --split test --out test_pairs.txt
  drugsim compare a.jpg b.jpg --method orb
  drugsim evaluate --data data/synthetic-quick --method orb --json orb.json
  drugsim reproduce --profile quick
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drugsim",
        description="Compare image-similarity methods on drug-box photos (reproduction of CSA 2024).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"drugsim {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except DrugsimError as exc:
        print(f"drugsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("drugsim: interrupted; no partial output was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
