"""Queries/s and recall@k of approximate FAISS indexes vs exact search as the gallery grows (issue 8).

A thin wrapper of ``drugsim bench search`` (synthetic clustered embeddings and 64-bit hash codes at
1k, 10k and 100k gallery images):

    .venv/bin/python benchmarks/bench_search.py \
        --json benchmarks/results/search.json --figure benchmarks/results/search.png
"""

import sys

from drugsim.cli import main

if __name__ == "__main__":
    argv = sys.argv[1:] or [
        "--json",
        "benchmarks/results/search.json",
        "--figure",
        "benchmarks/results/search.png",
    ]
    sys.exit(main(["bench", "search", *argv]))
