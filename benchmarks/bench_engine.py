"""Engine vs the paper's per-pair way vs the limit, per method, on one pair list (issue 7).

A thin wrapper of ``drugsim bench``; every option of that command works here. From a fresh clone:

    make install
    .venv/bin/drugsim data synth --preset quick --out data/synthetic-quick
    .venv/bin/python benchmarks/bench_engine.py --data data/synthetic-quick --pairs 2000 \
        --json benchmarks/results/bench.json
"""

import sys

from drugsim.cli import main

if __name__ == "__main__":
    argv = sys.argv[1:] or ["--data", "data/synthetic-quick", "--json", "benchmarks/results/bench.json"]
    sys.exit(main(["bench", *argv]))
