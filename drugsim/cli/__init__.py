"""The ``drugsim`` command line. Each sub-command group lives in its own module with a ``register``.

Errors from bad input (:class:`drugsim.errors.DrugsimError`, bad option values caught by argparse, and
operating-system errors such as a permission refused) are printed as one line, without a traceback, and
exit with status 2. Library warnings are printed as one line each (``drugsim: warning: ...``), not as
Python's two-line ``UserWarning`` with a source line.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import warnings
from collections.abc import Iterator
from typing import List, Optional

from drugsim import __version__
from drugsim.errors import DrugsimError

#: Modules that add sub-commands, in the order ``drugsim --help`` lists them.
_COMMAND_MODULES = (
    "drugsim.cli.data",  # data synth|info|check|fetch, pairs
    "drugsim.cli.methods",  # compare, evaluate, search, methods
    "drugsim.cli.train",  # train siamese|classifier
    "drugsim.cli.bench",  # bench
    "drugsim.cli.record",  # record
    "drugsim.cli.reproduce",  # reproduce
    "drugsim.cli.report",  # report readme
)

#: What Ctrl-C prints (exit status 130): outputs are atomic, so nothing half-written is left.
INTERRUPTED = "drugsim: interrupted; no partial output was kept"

EPILOG = """examples:
  drugsim data synth --out data/synthetic-quick --preset quick --seed 0
  drugsim pairs --data data/synthetic-quick --algorithm 2 --split test --out test_pairs.txt
  drugsim compare a.jpg b.jpg --method orb
  drugsim evaluate --data data/synthetic-quick --method orb --json orb.json
  drugsim reproduce --profile quick
"""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``drugsim evaluate: error: argument --seed: ...``)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        one_line = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {one_line} (see {self.prog} --help)\n")


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = " ".join(str(message).split())
    print(f"drugsim: warning: {text} ({category.__name__})", file=file or sys.stderr)


@contextlib.contextmanager
def readable_warnings() -> Iterator[None]:
    """Show each warning as one line, without the source line Python adds (restored afterwards)."""
    previous = warnings.showwarning
    warnings.showwarning = _one_line_warning
    try:
        yield
    finally:
        warnings.showwarning = previous


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
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
    with readable_warnings():
        try:
            code = _run(argv)
            sys.stdout.flush()  # a closed pipe shows here when the output fit Python's buffer
        except BrokenPipeError:
            return _closed_pipe()
        except KeyboardInterrupt:  # while the parser imports the sub-commands (a second or so)
            print(INTERRUPTED, file=sys.stderr)
            return 130
        return code


def _closed_pipe() -> int:
    """The reader of standard output went away (``drugsim methods | head -1``): end quietly, as ``ls`` does.

    Standard output is pointed at /dev/null so that Python's own flush at exit does not fail again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no real file (a test's capture): nothing to redirect
        pass
    return 0


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad option (already reported in one line)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except DrugsimError as exc:
        print(f"drugsim: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise  # not a user's error: main() ends quietly
    except OSError as exc:  # a file refused by the system (permissions, full disk) after the checks
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"drugsim: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
