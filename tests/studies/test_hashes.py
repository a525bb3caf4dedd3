"""The hash chapter's backend (drugsim.studies.hashes): Table 4 with bit counts and the hashes."""

from __future__ import annotations

from classical_images import box_face

from drugsim import paper
from drugsim.methods import create_method
from drugsim.studies import hashes as study


def test_table4_rows_add_bits_and_hashes():
    image = box_face(1)
    rows = study.table4_rows(image, image)
    assert [row["method"] for row in rows] == list(study.METHODS)
    for row in rows:
        method = create_method(row["method"])
        # The same image twice: every bit is equal.
        assert row["n_bits"] == method.n_bits and row["ours"] == method.n_bits
        assert row["hash_a"] == row["hash_b"] == str(method.image_hash(image))
    assert rows[0]["paper"] == paper.TABLE4_FIG1_HASHES["ahash"]
