"""``drugsim data synth|info|check|fetch`` and ``drugsim pairs``: datasets and pair lists from the shell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drugsim.cli import options
from drugsim.errors import DatasetError, DrugsimError

DATA_EPILOG = """examples:
  drugsim data synth --out data/synthetic-quick --preset quick --seed 0
  drugsim data info data/synthetic-quick
  drugsim data info grocery --json
  drugsim data check my_photos
  drugsim data fetch grocery --dest ~/data/grocery-store
  drugsim data fetch grocery --verify-only --dest ~/data/grocery-store
"""

SYNTH_EPILOG = """Writes DIR/<drug>/<drug>_<index>_<flag>.jpg (flag 1 = feature-rich face) and DIR/manifest.csv
(drug, family, face, flag and every capture parameter). Same preset and seed = same bytes.

presets: tiny (12 drugs, 288 photos, seconds), quick (60 drugs, ~2,900 photos, ~1-2 minutes on 2 cores),
         paper (153 drugs, the paper's Table 5 counts, ~45,000 photos)

examples:
  drugsim data synth --out data/synthetic-tiny --preset tiny
  drugsim data synth --out data/synthetic-quick --preset quick --seed 1 --jobs 2 --overwrite
"""

INFO_EPILOG = """Counts per class and per face: for each face, min / max / mean photos per class, as the
paper's Table 5 (faces known only for the synthetic boxes or a paper-layout folder with manifest.csv).

examples:
  drugsim data info data/synthetic-quick
  drugsim data info grocery --json > grocery.json
  drugsim data info my_photos --layout folders
"""

CHECK_EPILOG = """Opens and decodes every image; lists each bad file with the reason and exits with status 1
when any is bad. Classes with a single image are warned about (they give no positive pair).

examples:
  drugsim data check my_photos
  drugsim data check grocery
"""

FETCH_EPILOG = """Downloads the packaged-product files of the Grocery Store dataset (Klasson et al., WACV 2019)
from the upstream GitHub repository at the commit pinned in drugsim/data/grocery_sha256.txt, checks the
sha256 of every file, and moves the folder into place only when all are right. --verify-only checks an
existing copy instead (photos must match; filtered split files and absent files are reported).

examples:
  drugsim data fetch grocery --dest ~/data/grocery-store
  export DRUGSIM_GROCERY_ROOT=~/data/grocery-store
  drugsim data fetch grocery --verify-only --dest $DRUGSIM_GROCERY_ROOT
"""

PAIRS_EPILOG = """Pair lists as the paper's Algorithm 1 (random draws, inter-class negatives only) or
Algorithm 2 (every pair of photos of one drug and face, each with one negative: another face of the same
drug with p=0.5, else another drug). One pair a line: path A<TAB>path B<TAB>label (1 or 0), paths
relative to the dataset folder. Splits are class-disjoint and seeded (train / val / test drugs), except
for a Grocery Store copy with an official dataset/test.txt: then --protocol official (default) takes the
test split from test.txt, validation from val.txt and training from train.txt, and --protocol
unseen-products splits the products class-disjointly (test: test.txt photos of the test products).

examples:
  drugsim pairs --data data/synthetic-quick --algorithm 2 --split test --out test_pairs.txt
  drugsim pairs --data grocery --algorithm 1 --split train --n-pairs 40000 --out train_a1.txt --seed 1
  drugsim pairs --data my_photos --split all --out my_pairs.txt
"""


def register(subparsers) -> None:
    """Add ``data`` (synth, info, check, fetch) and ``pairs`` to the ``drugsim`` parser."""
    data = options.add_command(subparsers, "data", epilog=DATA_EPILOG,
        help="make, inspect, check or download datasets",
        description="Datasets: synthetic drug boxes, counts, checks, the Grocery photos.")
    data_sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data.set_defaults(func=lambda args: (data.print_help(), 1)[1])

    synth = options.add_command(data_sub, "synth", epilog=SYNTH_EPILOG,
        help="generate synthetic drug-box photos",
        description="Generate a synthetic drug-box dataset in the paper's layout.")
    synth.add_argument("--out", required=True, type=options.output_folder, help="dataset folder to create")
    synth.add_argument("--preset", default="quick", choices=("tiny", "quick", "paper"),
                       help="size (default quick)")
    options.add_seed_option(synth, "master seed (default 0)")
    options.add_jobs_option(
        synth, "worker processes (default: the preset's)", type=options.int_range(1, options.MAX_JOBS),
        metavar=None
    )
    synth.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    options.add_quiet_option(synth, "no progress bar")
    synth.set_defaults(func=cmd_synth)

    info = options.add_command(data_sub, "info", epilog=INFO_EPILOG,
        help="counts per class and face (Table 5)",
        description="Counts per class and per face of a dataset (the paper's Table 5).")
    _add_dataset_args(info, positional=True)
    options.add_json_flag(info, "print the counts as JSON")
    info.set_defaults(func=cmd_info)

    check = options.add_command(data_sub, "check", epilog=CHECK_EPILOG,
        help="decode every image, list the bad ones",
        description="Open and decode every image of a dataset; exit 1 when any is bad.")
    _add_dataset_args(check, positional=True)
    options.add_quiet_option(check, "no progress bar")
    check.set_defaults(func=cmd_check)

    fetch = options.add_command(data_sub, "fetch", epilog=FETCH_EPILOG,
        help="download (or verify) the Grocery Store photos",
        description="Download the Grocery Store dataset's packaged products, verified.")
    fetch.add_argument("name", choices=("grocery",), help="the dataset to fetch")
    fetch.add_argument("--dest", type=Path, default=Path("data/grocery-store"),
                       help="folder to create or verify (default data/grocery-store)")
    fetch.add_argument("--verify-only", action="store_true", help="check an existing copy, download nothing")
    fetch.add_argument("--complete", action="store_true",
                       help="with --verify-only: files absent from the copy are errors too")
    fetch.add_argument("--overwrite", action="store_true", help="replace an existing --dest folder")
    options.add_quiet_option(fetch, "no progress bar")
    fetch.set_defaults(func=cmd_fetch)

    pairs = options.add_command(subparsers, "pairs", epilog=PAIRS_EPILOG,
        help="write a pair list (Algorithm 1 or 2)",
        description="Write a pair list for one split of a dataset (paper Algorithms 1/2).")
    _add_dataset_args(pairs, positional=False)
    pairs.add_argument("--algorithm", type=int, choices=(1, 2), default=2, help="pair algorithm (default 2)")
    pairs.add_argument("--split", choices=("train", "val", "test", "all"), default="test",
                       help="split (default test); all = every image")
    pairs.add_argument(
        "--protocol",
        choices=("official", "unseen-products"),
        default=None,
        help="for a Grocery copy: its official split (default) or unseen products",
    )
    pairs.add_argument("--out", required=True, type=options.output_file(stdout=True),
                       help="pair list file to write (- = standard output)")
    options.add_seed_option(pairs, "seed of the split and the pairs (default 0)")
    pairs.add_argument(
        "--n-pairs",
        type=options.int_range(1, options.MAX_PAIRS),
        default=None,
        help="number of pairs (Algorithm 1: default as many as Algorithm 2 gives; "
        "Algorithm 2: a balanced subsample)",
    )
    pairs.set_defaults(func=cmd_pairs)


def _add_dataset_args(parser: argparse.ArgumentParser, *, positional: bool) -> None:
    helptext = "dataset folder, or 'grocery' (root from --data-root or $DRUGSIM_GROCERY_ROOT)"
    if positional:
        parser.add_argument("data", metavar="DIR", help=helptext)
    else:
        parser.add_argument("--data", required=True, metavar="DIR", help=helptext)
    parser.add_argument("--data-root", type=Path, default=None, help="root of the Grocery Store copy")
    parser.add_argument("--layout", default="auto", choices=("auto", "paper", "grocery", "folders"),
                        help="dataset layout (default: detected)")


def _load(args) -> tuple[Path, list]:
    from drugsim.data import load_dataset, resolve_data_root

    root = resolve_data_root(str(args.data), data_root=args.data_root)
    return root, load_dataset(root, layout=args.layout)


def cmd_synth(args) -> int:
    from drugsim.data import generate_dataset
    from drugsim.errors import ConfigError

    if args.out.exists() and not args.overwrite:
        raise ConfigError(f"--out {args.out} exists; pass --overwrite to replace a dataset drugsim made there")
    # generate_dataset refuses, before drawing anything, to replace a folder drugsim did not make.

    out = generate_dataset(
        args.out,
        preset=args.preset,
        seed=args.seed,
        progress=not args.quiet,
        n_jobs=args.jobs,
        overwrite=args.overwrite,
    )
    print(f"wrote {out} (preset {args.preset}, seed {args.seed})")
    return 0


def cmd_info(args) -> int:
    from drugsim.cli.common import print_json
    from drugsim.data.info import dataset_info, format_info

    root, records = _load(args)
    info = dataset_info(records)
    if args.json:
        print_json({"root": str(root), **info})
    else:
        print(f"{root}")
        print(format_info(info))
    return 0


def check_images(
    paths: list[Path], *, progress: bool = True, limited: list[tuple[Path, str]] | None = None
) -> list[tuple[Path, str]]:
    """Decode every image with :func:`drugsim.io.read_image`; returns ``(path, reason)`` for each bad one.

    With ``limited`` (a list), ``(path, reason)`` is appended for every decodable image that some method
    cannot use (:func:`unusable_by_methods`), e.g. a strip too thin for ORB keypoints.
    """
    from tqdm.auto import tqdm

    from drugsim.io import read_image

    bad = []
    for path in tqdm(paths, desc="check", unit="img", disable=not progress, file=sys.stderr):
        try:
            image = read_image(path)
        except DrugsimError as exc:
            reason = str(exc)
            prefix = f"{path}: "
            bad.append((path, reason.removeprefix(prefix)))
            continue
        if limited is not None:
            for reason in unusable_by_methods(image.shape):
                limited.append((path, reason))
    return bad


def unusable_by_methods(shape: tuple) -> list[str]:
    """Why some method cannot use an image of ``shape`` (H, W, 3): one reason per method that cannot.

    Only the methods that need no checkpoint are asked; the networks resize every image to their input.
    """
    from drugsim.methods import _REGISTRY, create_method

    reasons = []
    for name, spec in _REGISTRY.items():
        if spec.target.startswith("drugsim.deep."):
            continue
        reason = create_method(name).unusable_reason(shape)
        if reason:
            reasons.append(reason)
    return reasons


#: Warning lines ``data check`` prints per reason; the rest are counted (20,000 thin images are one reason).
WARNINGS_PER_REASON = 5


def summarise_warnings(limited: list[tuple[Path, str]], *, per_reason: int = WARNINGS_PER_REASON) -> list[str]:
    """Warning lines for ``(path, reason)`` pairs: the first few files of each reason, then a count."""
    by_reason: dict[str, list[Path]] = {}
    for path, reason in limited:
        by_reason.setdefault(reason, []).append(path)
    lines = []
    for reason, paths in by_reason.items():
        lines += [f"warning: {path}: {reason}" for path in paths[:per_reason]]
        if len(paths) > per_reason:
            lines.append(f"warning: ... and {len(paths) - per_reason} more image(s): {reason}")
    return lines


def cmd_check(args) -> int:
    from drugsim.data.info import dataset_info

    _, records = _load(args)
    limited: list[tuple[Path, str]] = []
    bad = check_images([r.path for r in records], progress=not args.quiet, limited=limited)
    for path, reason in bad:
        print(f"BAD  {path}: {reason}")
    for line in summarise_warnings(limited):
        print(line)
    for label in dataset_info(records)["single_image_classes"]:
        print(f"warning: class {label!r} has a single image: it cannot give a positive pair")
    print(f"{len(records) - len(bad)} of {len(records)} images decoded; {len(bad)} bad")
    return 1 if bad else 0


def cmd_fetch(args) -> int:
    from drugsim.data.fetch import fetch_grocery, read_manifest, verify_grocery_copy
    from drugsim.io import check_output_path

    if not args.verify_only:  # --dest is written: check it before downloading anything
        check_output_path(args.dest, what="--dest", folder=True)

    manifest = read_manifest()
    if args.verify_only:
        report = verify_grocery_copy(args.dest, manifest, complete=args.complete, progress=not args.quiet)
        print(
            f"{args.dest}: {report['n_checked']} of {report['n_listed']} upstream files present "
            f"(commit {report['commit'][:12]})"
        )
        if report["missing"] and not args.complete:
            print(
                f"note: {len(report['missing'])} upstream file(s) are absent (a partial copy, e.g. without "
                f"the test split), first: {report['missing'][0]}"
            )
        if report["metadata_differs"]:
            print(
                "note: "
                + ", ".join(report["metadata_differs"])
                + " differ from upstream (a copy filtered to "
                "some classes); the photos are what is verified"
            )
        for problem in report["problems"]:
            print(f"BAD  {problem}")
        print(
            "verified: every photo present matches upstream"
            if not report["problems"]
            else f"{len(report['problems'])} problem(s)"
        )
        return 1 if report["problems"] else 0
    if args.dest.exists() and not args.overwrite:
        raise DatasetError(f"{args.dest} exists; check it with --verify-only or pass --overwrite")
    dest = fetch_grocery(args.dest, manifest=manifest, overwrite=args.overwrite, progress=not args.quiet)
    print(
        f"wrote {dest}: {len(manifest.files)} files verified; now `export DRUGSIM_GROCERY_ROOT={dest.resolve()}`"
    )
    return 0


def writable_pair_path(path: Path, root: Path) -> str:
    """``path`` as a pair list writes it; a name a tab-separated UTF-8 line cannot hold is refused by name."""
    try:
        text = Path(path).relative_to(root).as_posix()
    except ValueError:
        text = str(path)
    if any(char in text for char in "\t\n\r"):
        raise DatasetError(f"{path!r}: a file name with a tab or line break cannot be written into a pair list "
                           "(one pair a line, tab-separated); rename the file")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise DatasetError(f"{text.encode('utf-8', 'surrogateescape')!r}: a file name that is not UTF-8 cannot be "
                           "written into a pair list (UTF-8 text); rename the file") from None
    return text


def cmd_pairs(args) -> int:
    from drugsim.cli.common import guard_outputs
    from drugsim.data import pair_statistics, write_pairs
    from drugsim.data.protocol import ProtocolSettings, declared_split, make_pairs, select_split

    root, records = _load(args)
    guard_outputs({"--out": args.out}, folders={"--data": root})
    if args.protocol is not None and not any(r.official_split for r in records):
        raise DatasetError(f"--protocol {args.protocol} applies to a Grocery Store copy (its split files); "
                           f"{root} is not one, so it would be ignored: drop --protocol")
    settings = ProtocolSettings(seed=args.seed, algorithm=args.algorithm,
                                grocery_protocol=args.protocol or "official")
    chosen = select_split(records, args.split, settings, declared_split(root))
    for record in chosen:
        writable_pair_path(record.path, root)
    pairs = make_pairs(chosen, algorithm=args.algorithm, seed=args.seed, n_pairs=args.n_pairs)
    from drugsim.io import is_stdout

    write_pairs(args.out, pairs, root=root)
    stats = pair_statistics(pairs, chosen)
    report = sys.stderr if is_stdout(args.out) else sys.stdout  # stdout carries the pair list alone
    print(
        f"wrote {args.out}: {stats['n_pairs']} pairs (Algorithm {args.algorithm}, {args.split} split, "
        f"{len(chosen)} images of {len({r.label for r in chosen})} classes)",
        file=report,
    )
    print(
        f"  positives {stats['positives']}, intra-class negatives {stats['intra_class_negatives']}, "
        f"inter-class negatives {stats['inter_class_negatives']}",
        file=report,
    )
    return 0
