"""Time `drugsim reproduce` end to end for a profile, from an empty run folder (a benchmark, not a test).

    .venv/bin/python benchmarks/time_reproduce.py --profile tiny [--grocery no] [--out FILE]

Copies the project's sources into a fresh folder (so no cached run is reused), runs the whole study and
the book build there, and writes the wall time of each stage and notebook (papermill's durations) as JSON
to benchmarks/results/reproduce-<profile>.json, with the CPU seconds used (kernels included) and the load
average, since wall time on a shared machine says little.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from drugsim.io import write_text_atomic
from drugsim.runner import reproduce
from drugsim.hardware import hardware_sentence

ROOT = Path(__file__).resolve().parents[1]


def copy_sources(target: Path) -> None:
    for name in ("profiles.yml", "_config.yml", "_toc.yml", "references.bib"):
        shutil.copyfile(ROOT / name, target / name)
    for folder in ("notebooks", "book"):
        shutil.copytree(ROOT / folder, target / folder, ignore=shutil.ignore_patterns("generated", ".ipynb_checkpoints"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--grocery", default="auto", choices=("auto", "yes", "no"))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run at once (drugsim reproduce --jobs)")
    parser.add_argument("--keep", type=Path, help="copy each run's results/ and logs/ here (to read what it measured)")
    parser.add_argument("--progress", action="store_true", help="print the runner's progress lines")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix=f"drugsim-time-{args.profile}-") as tmp:
        root = Path(tmp)
        copy_sources(root)
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        report = reproduce(root=root, profile=args.profile, grocery=args.grocery, progress=args.progress,
                           jobs=args.jobs)
        total = time.perf_counter() - started
        load_after = os.getloadavg()[0]
        # Kernels are child processes: their CPU time is what a quiet machine would need (at most; less
        # wall time where a notebook uses both cores). Wall time on a shared machine is inflated by the load.
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = resource.getrusage(resource.RUSAGE_SELF)
        cpu = children.ru_utime + children.ru_stime + own.ru_utime + own.ru_stime
        started = time.perf_counter()
        again = reproduce(root=root, profile=args.profile, grocery=args.grocery, progress=False, jobs=args.jobs)
        cached = time.perf_counter() - started
        if args.keep:
            for run in sorted((root / "runs").iterdir()):
                for part in ("results", "logs"):
                    if (run / part).is_dir():
                        shutil.copytree(run / part, args.keep / run.name / part, dirs_exist_ok=True)
                if (run / "dataset.json").is_file():  # what `drugsim record` reads the data kind from
                    shutil.copyfile(run / "dataset.json", args.keep / run.name / "dataset.json")
    result = {
        "profile": args.profile,
        "jobs": args.jobs,
        "machine": hardware_sentence(),
        "total_s": round(total, 1),
        "cpu_s": round(cpu, 1),
        "load_average_before_after": [round(load_before, 1), round(load_after, 1)],
        "second_run_s": round(cached, 1),
        "second_run_ran": [o.name for _, outs in again.runs for o in outs if o.status == "ran"],
        "runs": {plan.dataset.name: {o.name: {"status": o.status, "seconds": o.duration_s} for o in outs}
                 for plan, outs in report.runs},
    }
    out = args.out or ROOT / "benchmarks" / "results" / f"reproduce-{args.profile}.json"
    write_text_atomic(out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
