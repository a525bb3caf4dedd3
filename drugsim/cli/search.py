"""``drugsim search``: look a photographed box up in a gallery of known drugs (1:N search)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from drugsim.cli import options
from drugsim.cli.common import build_method, dataset_folder, fmt, guard_outputs, print_json
from drugsim.errors import ConfigError, DatasetError, DrugsimError

SEARCH_EPILOG = """examples:
  drugsim search photo.jpg --gallery data/synthetic-quick --method orb --top-k 5
  drugsim search photo.jpg --gallery grocery --method ahash --cache-dir cache --json
  drugsim search photo.jpg --gallery known_boxes/ --method cnn-cosine --index gallery.faiss

The gallery is any dataset folder (paper layout, Grocery, or one folder per class); each gallery image is
described once (and kept in --cache-dir). --index PATH searches a FAISS index (hashes and vector methods):
built from the gallery and saved there on first use, loaded afterwards.
"""


def gallery_records(gallery: str):
    """Records of a gallery folder: through the dataset loader when it knows the layout, else any images
    under the folder labelled by their parent folder's name."""
    from drugsim.data import load_dataset, resolve_data_root
    from drugsim.data.loaders import detect_layout
    from drugsim.data.records import ImageRecord
    from drugsim.io import is_image_file

    try:
        root = resolve_data_root(gallery)
        if detect_layout(root) != "folders":
            # A Grocery copy or a paper-layout folder: its own errors (a bad split file) are the answer, not
            # a reason to fall back to every image under the folder.
            return root, list(load_dataset(root))
        records = list(load_dataset(root))
        if records:
            return root, records
    except DrugsimError as exc:
        root = Path(gallery)
        if not root.is_dir() or (gallery != "grocery" and detect_layout(root) != "folders"):
            raise DatasetError(f"--gallery {gallery}: {exc}") from None
    root = Path(gallery)
    if not root.is_dir():
        raise DatasetError(f"--gallery {gallery}: no such folder (expected a folder of gallery images)")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and is_image_file(p))
    if not paths:
        raise DatasetError(f"--gallery {gallery}: no image files found under it")
    return root, [ImageRecord(p, p.parent.name) for p in paths]


def gallery_sha256(root: Path, records) -> str:
    """The gallery's content hash: every image's path under ``root``, label and bytes."""
    from drugsim.io import content_sha256

    def relative(path: Path) -> str:
        try:
            return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            return str(path)

    return content_sha256((relative(r.path), str(r.label), r.path) for r in records)


def cmd_search(args: argparse.Namespace) -> int:
    from drugsim.evaluation.engine import describe_image
    from drugsim.evaluation.search import describe_gallery, search
    from drugsim.io import read_image

    gallery_folder = dataset_folder(args.gallery) or (Path(args.gallery) if Path(args.gallery).is_dir() else None)
    index_is_output = args.index is not None and not Path(args.index).exists()
    guard_outputs({"--index": args.index if index_is_output else None,
                   "--index sidecar": f"{args.index}.json" if index_is_output else None,
                   "--cache-dir": args.cache_dir},
                  files={"QUERY_IMAGE": args.query, "--model": args.model},
                  folders={"--gallery": gallery_folder})
    method = build_method(args.method, args.model)
    query_image = read_image(args.query)
    root, records = gallery_records(str(args.gallery))
    labels = {Path(r.path): r.label for r in records}

    def gallery_features() -> dict[Path, Any]:
        return describe_gallery(
            method, [r.path for r in records], cache_dir=args.cache_dir, n_jobs=args.jobs,
            progress=not args.quiet,
        )

    hits: list[dict[str, Any]]
    if args.index is not None:
        from drugsim.evaluation import index as index_module

        index_path = Path(args.index)
        built_from = {"gallery_sha256": gallery_sha256(root, records), "method_key": method.cache_key()}
        if index_path.exists():
            gallery_index = index_module.load_index(index_path)
            if gallery_index.method != method.name:
                raise ConfigError(
                    f"--index {index_path} holds {gallery_index.method!r} features, not {method.name!r}"
                )
            index_module.check_built_from(gallery_index, built_from, path=index_path)
        else:
            features = gallery_features()
            paths = list(features)
            gallery_index = index_module.build_index(
                method, [features[p] for p in paths], [labels[p] for p in paths], paths=paths
            )
            gallery_index.built_from = built_from
            gallery_index.save(index_path)
        query_feature = describe_image(method, query_image, args.query)
        # One query as a list of one feature: a 2-D feature (cosine's pixel grid) is not a matrix of queries.
        indices, scores = gallery_index.search([query_feature], k=args.top_k)
        hits = [
            {
                "rank": rank + 1,
                "path": gallery_index.paths[i],
                "label": gallery_index.labels[i],
                "score": float(score),
            }
            for rank, (i, score) in enumerate(zip(indices[0], scores[0]))
        ]
    else:
        found = search(method, args.query, gallery_features(), top_k=args.top_k, labels=labels)
        hits = [{"rank": h.rank, "path": str(h.key), "label": h.label, "score": h.score} for h in found]
    payload = {
        "query": str(args.query),
        "gallery": str(root),
        "n_gallery": len(records),
        "method": method.name,
        "direction": method.direction,
        "hits": hits,
    }
    if args.json:
        print_json(payload)
        return 0
    print(f"{method.name}: top {len(hits)} of {len(records)} gallery images "
          f"({method.direction} score = more similar)")
    for hit in hits:
        print(f"  {hit['rank']:>3}. {fmt(hit['score']):>10}  {hit['label']}  {hit['path']}")
    return 0


def register(subparsers) -> None:
    """Add ``search`` to the ``drugsim`` parser."""
    parser = options.add_command(subparsers, "search", epilog=SEARCH_EPILOG,
        help="1:N search: the gallery images most similar to a query photo",
        description="Look a photographed box up in a gallery of known drugs.")
    parser.add_argument("query", type=Path, metavar="QUERY_IMAGE", help="the photo to look up")
    parser.add_argument("--gallery", required=True, help="gallery folder, or 'grocery'")
    options.add_method_options(parser)
    parser.add_argument("--top-k", type=options.int_range(1, options.MAX_TOP_K), default=5,
                        help="results to show (default: 5)")
    parser.add_argument("--index", type=options.index_file, metavar="PATH",
                        help="FAISS index file: built and saved if missing, else loaded")
    options.add_engine_options(parser)
    options.add_json_flag(parser)
    options.add_quiet_option(parser)
    parser.set_defaults(func=cmd_search)
