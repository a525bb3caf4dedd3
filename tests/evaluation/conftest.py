"""Fixtures of the evaluation tests: small generated images and pair lists (no dependence on drugsim.data)."""

import pytest
from evaluation_helpers import make_image_set, make_pairs_from


@pytest.fixture(scope="session")
def image_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluation-images")
    paths, labels = make_image_set(folder, n_classes=6, per_class=4, seed=0)
    return folder, paths, labels


@pytest.fixture(scope="session")
def pair_list(image_set):
    _, paths, labels = image_set
    return make_pairs_from(paths, labels, seed=0)
