"""Time one whole command (e.g. `make test` in a fresh clone) and write the result as JSON (a benchmark, not a test).

    python benchmarks/time_command.py --what "make test (fresh clone)" --out benchmarks/results/make-test.json -- make test

Records the wall time, the CPU seconds of the command and its children, the load average before and after and
the machine, in the same shape as benchmarks/time_reproduce.py, so `drugsim report readme --timings FILE` renders
both in the README's timings block. The command's own output passes through; its exit status is this script's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from drugsim.io import write_text_atomic
from drugsim.studies.summary import hardware_sentence


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--what", required=True, help="what the row is called in the README")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --")
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    status = subprocess.call(command)
    total = time.perf_counter() - started
    load_after = os.getloadavg()[0]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "what": args.what,
        "command": " ".join(command),
        "exit_status": status,
        "machine": hardware_sentence(),
        "total_s": round(total, 1),
        "cpu_s": round(children.ru_utime + children.ru_stime, 1),
        "load_average_before_after": [round(load_before, 1), round(load_after, 1)],
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if status == 0:
        write_text_atomic(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2), file=sys.stderr)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
