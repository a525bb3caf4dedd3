"""What the hostile-input tests share: the one-line exit-2 check and a small dataset of textured images."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drugsim.cli import main
from drugsim.io import write_image


def one_line_exit_2(argv, capsys, *names: str) -> str:
    """Run the CLI; assert exit status 2 with one line on stderr naming each of ``names``; return that line."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, (argv, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for name in names:
        assert name in err, err
    return err


def textured_images(root: Path, n_classes: int = 6, per_class: int = 4) -> Path:
    """A class-per-folder dataset of small textured PNGs (fast to describe with ahash)."""
    rng = np.random.default_rng(0)
    for c in range(n_classes):
        base = np.kron(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), np.ones((8, 8, 1), np.uint8))
        for shot in range(per_class):
            write_image(root / f"c{c}" / f"c{c}_{shot}.png", np.roll(base, shot, axis=1))
    return root
