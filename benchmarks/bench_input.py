"""Training input: images/s of decoding every batch from files vs the decoded uint8 cache augmented on the device.

The `paper` profile at scale (3.1 M pairs x 5 epochs, 224 px) must be bounded by the GPU, not by JPEG
decoding (issue 13, item 4). This times, on the same random batches of training images, the three paths of
:func:`drugsim.deep.device_input.input_throughput` and writes their images/s and ratios as JSON with the
machine (:func:`drugsim.hardware.hardware_info`). From a fresh clone:

    .venv/bin/python benchmarks/bench_input.py --data grocery --device cpu --images 200 --size 224 \
        --batch-size 64 --batches 4 --json benchmarks/results/input_cpu.json
    .venv/bin/python benchmarks/bench_input.py --data grocery --device cuda --batches 50 \
        --json benchmarks/results/input_cuda.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="grocery", help="dataset folder, or grocery ($DRUGSIM_GROCERY_ROOT)")
    parser.add_argument("--images", type=int, default=200, help="distinct training images to cache (default 200)")
    parser.add_argument("--size", type=int, default=224, help="input size in pixels (the paper's: 224)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per batch (the paper's: 64)")
    parser.add_argument("--batches", type=int, default=4, help="timed batches per path (default 4)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--json", type=Path, help="write the result here (default: print it)")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from drugsim.data import load_dataset, resolve_data_root
    from drugsim.deep.device_input import input_throughput
    from drugsim.hardware import hardware_info

    # Any images of the dataset will do: this times decoding and augmentation, it scores no pairs.
    records = load_dataset(resolve_data_root(str(args.data)))
    chosen = np.random.default_rng(0).permutation(len(records))[:args.images]
    paths = [records[i].path for i in sorted(chosen)]
    result = input_throughput(paths, size=args.size, batch_size=args.batch_size, n_batches=args.batches,
                              device=torch.device(args.device))
    import os

    payload = {"benchmark": "training input path", "data": str(args.data), **result, "hardware": hardware_info(),
               # Other work on the machine slows every path; the ratios are what to read from a shared one.
               "load_average_1min_after": os.getloadavg()[0]}
    text = json.dumps(payload, indent=2, sort_keys=True) + "\n"
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text, encoding="utf-8")
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
