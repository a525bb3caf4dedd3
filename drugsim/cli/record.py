"""``drugsim record NAME``: keep a run's results in the repository with its commit, machine, command and timings."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import time
from pathlib import Path

from drugsim.cli import options
from drugsim.errors import DrugsimError

EPILOG = """examples:
  drugsim record gpu-paper-2026-12-05 --results runs/paper-synthetic/results \\
      --run "drugsim reproduce --profile paper --no-book"
  drugsim record lite0-grocery --results evals/          # results written earlier, recorded as they are

With --run, the command runs first (its wall time is recorded) and must succeed. The record
goes to results/recorded/NAME/: the JSON results, and run.json with the commit, the machine
(drugsim.hardware.hardware_info), the command and the timings. Add a README.md saying what the run was.
"""


def run(args: argparse.Namespace) -> int:
    from drugsim.hardware import hardware_info
    from drugsim.recorded import RECORDED_DIR, check_name, git_commit, record_run

    check_name(args.name)  # before a long command runs, not after
    if args.run and (args.command or args.seconds is not None):
        raise DrugsimError("--run measures the command itself; --command and --seconds describe a command run "
                           "before, so give one or the other")
    try:
        command = shlex.split(args.run) if args.run else []
    except ValueError as exc:  # an unclosed quote
        raise DrugsimError(f"--run {args.run!r}: not a command line ({exc}); quote it as a shell would") from None
    if args.run is not None and not command:
        raise DrugsimError("--run '': no command in it")
    from drugsim.io import check_outputs_against_inputs

    check_outputs_against_inputs({"the record": Path(args.dest or RECORDED_DIR) / args.name},
                                 folders={"--results": Path(args.results)})
    seconds = args.seconds
    if command:
        started = time.perf_counter()
        try:
            code = subprocess.run(command, check=False).returncode
        except OSError as exc:
            raise DrugsimError(f"cannot run {shlex.join(command)!r}: {exc.strerror or exc}; nothing recorded") from exc
        seconds = time.perf_counter() - started
        if code != 0:
            raise DrugsimError(f"{shlex.join(command)!r} failed with exit status {code}; nothing recorded")
    dest = record_run(args.name, Path(args.results), dest_root=Path(args.dest or RECORDED_DIR),
                      command=command or args.command or "not given (results recorded as found)",
                      hardware=hardware_info(),
                      commit=git_commit(Path.cwd()), command_seconds=seconds, force=args.force)
    print(f"recorded {args.results} as {dest}")
    return 0


def register(subparsers) -> None:
    parser = options.add_command(
        subparsers, "record", help="keep a run's results with its commit, machine, command and timings",
        description="Copy a run's JSON results to results/recorded/NAME/ with a run.json manifest; optionally "
        "run the command that produces them first.",
        epilog=EPILOG)
    parser.add_argument("name", help="the record's folder name (letters, digits, '.', '_', '-')")
    parser.add_argument("--results", required=True, help="folder of the run's JSON results")
    parser.add_argument("--dest", help="where records live (default: results/recorded of this checkout)")
    parser.add_argument("--force", action="store_true", help="replace an existing record of that name")
    parser.add_argument("--run", metavar="COMMAND", help="a command line (quoted) to run and time first; "
                        "it must succeed")
    parser.add_argument("--command", metavar="TEXT", help="the command that produced the results (when it ran "
                        "before, without --run)")
    parser.add_argument("--seconds", type=options.positive_float, metavar="S",
                        help="its wall time in seconds (with --command)")
    parser.set_defaults(func=run)
