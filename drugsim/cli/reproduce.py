"""``drugsim reproduce``: rerun the study (dataset, notebooks) and build the book."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from drugsim.cli import options

EPILOG = """examples:
  drugsim reproduce                                  # profile quick on synthetic boxes, then the book
  drugsim reproduce --profile tiny                   # a few minutes: proves every code path
  drugsim reproduce --profile quick --only 04_keypoints   # one notebook (and what it needs)
  drugsim reproduce --dataset grocery                # the Grocery Store photos ($DRUGSIM_GROCERY_ROOT)
  drugsim reproduce --dataset ~/my_boxes --no-book   # your own photos in the paper's layout
  drugsim reproduce --force                          # rerun every notebook, cached or not
  drugsim reproduce --jobs 2                         # two notebooks at once where their inputs allow
  drugsim reproduce --profile tiny --only 04_keypoints -p match_filter crosscheck
                                                     # one chapter with one parameter changed, in its own
                                                     # run folder and book (runs/tiny-synthetic-<hash>/)

A notebook whose code, parameters, drugsim source and input data are unchanged since its last successful
run is not run again. Runs live in runs/<profile>-<dataset>/; the book is written to _build/html/. A run
with -p overrides lives in runs/<profile>-<dataset>-<hash of the overrides>/ with its book in its _build/html/.
"""


def _find_root(start: Path) -> Path:
    for folder in [start, *start.parents]:
        if (folder / "profiles.yml").exists():
            return folder
    from drugsim.errors import ConfigError

    raise ConfigError(f"no profiles.yml in {start} or any folder above it; run from the drugsim project "
                      "(or pass --root)")


def _split_only(values: Optional[List[str]]) -> Optional[List[str]]:
    if not values:
        return None
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def run(args: argparse.Namespace) -> int:
    from drugsim.runner import reproduce
    from drugsim.runner.overrides import collect

    root = Path(args.root).resolve() if args.root else _find_root(Path.cwd().resolve())
    if args.dataset not in ("synthetic", "grocery"):
        from drugsim.data import resolve_data_root

        resolve_data_root(args.dataset)  # a missing folder is one line before a run folder or lock is made
    report = reproduce(
        root=root,
        profile=args.profile,
        dataset=args.dataset,
        only=_split_only(args.only),
        force=args.force,
        build_book=not args.no_book,
        grocery=args.grocery,
        strict=args.strict,
        progress=not args.no_progress and sys.stderr.isatty(),
        jobs=args.jobs,
        overrides=collect(args.parameters),
    )
    where = f"; book: {report.book_index}" if report.book_index else ""
    print(f"done in {report.wall_s:.0f} s{where}")
    return 0


def register(subparsers) -> None:
    parser = options.add_command(subparsers, "reproduce", epilog=EPILOG,
        help="rerun the study's notebooks and build the book",
        description="Prepare the dataset, run every notebook of the chosen profile with papermill (cached by "
                    "content hash), and build the Jupyter Book with the results.")
    parser.add_argument("--profile", default="quick", help="run profile from profiles.yml: tiny, quick or paper "
                        "(default: quick)")
    parser.add_argument("--dataset", default="synthetic", help="synthetic (generated), grocery (the Grocery Store "
                        "photos) or a folder of images (default: synthetic)")
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this notebook (and any it "
                        "needs that is out of date); repeat or comma-separate for several")
    parser.add_argument("--force", action="store_true", help="rerun notebooks even when cached")
    parser.add_argument("--no-book", action="store_true", help="run the notebooks but do not build the book")
    parser.add_argument("--grocery", choices=("auto", "yes", "no"), default="auto",
                        help="with synthetic data, also run the real-photo chapters on the Grocery Store photos: "
                        "auto (when found, the default), yes (fail when missing), no")
    parser.add_argument("--strict", action="store_true", help="fail when profiles.yml lists a notebook that "
                        "does not exist yet (default: warn and leave its chapter out)")
    parser.add_argument("--jobs", type=options.int_range(1, options.MAX_JOBS), default=1, metavar="N",
                        help="run up to N notebooks "
                        "at once, each once the notebooks it reads have finished; each kernel gets 1/N of the "
                        "cores' threads (default: 1, one after another)")
    parser.add_argument("-p", "--parameters", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        help="set a notebook parameter for this run, as papermill's -p does (True, False, None, "
                        "numbers, else text); repeatable; checked against the parameters cell of every notebook "
                        "that runs. The run gets its own folder and book; the default run is left as it is")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--root", help="the project folder holding profiles.yml (default: found from the "
                        "current folder upwards)")
    parser.set_defaults(func=run)
