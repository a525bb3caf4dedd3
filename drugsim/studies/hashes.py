"""The perceptual-hash chapter (notebook 03): the hashes it compares and Table 4 on the example pair, with
each hash's bit count and the two hashes themselves.

The shared classical steps (example pair, Table 7 rows, agreement sentence) are in
:mod:`drugsim.studies.classical_common`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from drugsim import paper
from drugsim.methods import create_method
from drugsim.studies.classical_common import example_scores

#: The chapter's hashes: the paper's aHash, pHash and dHash, with wHash and the colour hash beside.
METHODS = ("ahash", "phash", "dhash", "whash", "colorhash")


def table4_rows(
    image_a: np.ndarray, image_b: np.ndarray, names: Sequence[str] = METHODS
) -> list[dict[str, Any]]:
    """Table 4 on one pair: :func:`~drugsim.studies.classical_common.example_scores` (equal bits, the paper's
    value beside) plus ``n_bits`` and the two hashes as text (``hash_a``, ``hash_b``)."""
    rows = example_scores(names, image_a, image_b, paper_values=paper.TABLE4_FIG1_HASHES)
    for row in rows:
        method = create_method(row["method"])
        row.update(
            n_bits=method.n_bits,
            hash_a=str(method.image_hash(image_a)),
            hash_b=str(method.image_hash(image_b)),
        )
    return rows
