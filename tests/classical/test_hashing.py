"""Global hashes (paper section 2.3): imagehash agreement, hand-worked patterns, robustness, edge cases."""

from __future__ import annotations

import pickle

import imagehash
import numpy as np
import pytest
from classical_images import box_face, brighten, rotate
from PIL import Image

from drugsim.classical.hashing import KINDS, HashMethod, equal_bits, pack_hash
from drugsim.errors import ConfigError
from drugsim.methods import create_method

IMAGEHASH_FUNCTIONS = {
    "ahash": imagehash.average_hash,
    "phash": imagehash.phash,
    "dhash": imagehash.dhash,
    "whash": imagehash.whash,
}


@pytest.mark.parametrize("kind", list(IMAGEHASH_FUNCTIONS))
def test_scores_equal_imagehash_hamming(kind, face_a, face_b):
    # Known answers from the library itself: equal bits = 64 - (hash_a - hash_b), imagehash's Hamming
    # distance.
    method = HashMethod(kind)
    reference_a = IMAGEHASH_FUNCTIONS[kind](Image.fromarray(face_a))
    reference_b = IMAGEHASH_FUNCTIONS[kind](Image.fromarray(face_b))
    assert method.score(method.describe(face_a), method.describe(face_b)) == 64 - (reference_a - reference_b)
    np.testing.assert_array_equal(
        np.unpackbits(method.describe(face_a)).astype(bool), reference_a.hash.ravel()
    )


def test_colorhash_equals_imagehash(face_a, face_b):
    method = create_method("colorhash")
    reference_a = imagehash.colorhash(Image.fromarray(face_a), binbits=3)
    reference_b = imagehash.colorhash(Image.fromarray(face_b), binbits=3)
    assert method.n_bits == 42 == reference_a.hash.size
    assert method.score(method.describe(face_a), method.describe(face_b)) == 42 - (reference_a - reference_b)
    assert method.paper_section == "beyond" and create_method("ahash").paper_section == "2.3"


def test_ahash_of_half_black_half_white_by_hand():
    # 8x8 image, left 4 columns black, right 4 white: mean 127.5, bit = pixel > mean -> each row 00001111,
    # i.e. bytes 0x0f, imagehash hex "0f0f0f0f0f0f0f0f".
    image = np.zeros((8, 8), np.uint8)
    image[:, 4:] = 255
    method = HashMethod("ahash")
    np.testing.assert_array_equal(method.describe(image), np.full(8, 0x0F, np.uint8))
    assert str(method.image_hash(image)) == "0f0f0f0f0f0f0f0f"
    assert method.score(method.describe(image), method.describe(255 - image)) == 0.0  # every bit flips


def test_dhash_of_gradient_is_complement_of_paper_convention():
    # Grey increasing left to right: imagehash's dHash bit (right > left) is 1 everywhere; the paper's eq. 8
    # (left >= right) would give 0 everywhere. Equal-bit counts are the same under either convention.
    gradient = np.tile(np.linspace(0, 255, 90).astype(np.uint8), (80, 1))
    method = HashMethod("dhash")
    assert str(method.image_hash(gradient)) == "f" * 16
    flipped = method.describe(gradient[:, ::-1].copy())
    assert method.score(method.describe(gradient), flipped) == 0.0


def test_equal_bits_by_hand_and_vectorised():
    a, b = pack_hash([1, 0, 1, 1, 0]), pack_hash([1, 1, 1, 0, 0])
    assert int(equal_bits(a, b, 5)) == 3
    rng = np.random.default_rng(0)
    bits_a, bits_b = rng.integers(0, 2, (50, 64)).astype(bool), rng.integers(0, 2, (50, 64)).astype(bool)
    packed_a, packed_b = np.stack([pack_hash(x) for x in bits_a]), np.stack([pack_hash(x) for x in bits_b])
    np.testing.assert_array_equal(equal_bits(packed_a, packed_b, 64), (bits_a == bits_b).sum(axis=1))


@pytest.mark.parametrize("kind", ["ahash", "phash", "dhash", "whash"])
def test_robust_to_small_changes_sensitive_to_other_images(kind, face_a):
    method = HashMethod(kind)
    reference = method.describe(face_a)
    assert method.score(reference, method.describe(rotate(face_a, 1.0))) >= 58
    assert method.score(reference, method.describe(brighten(face_a, 20))) >= 58
    others = [method.score(reference, method.describe(box_face(seed))) for seed in (2, 3, 4, 5)]
    assert max(others) <= 50


def test_colorhash_robust_to_small_changes(face_a):
    method = HashMethod("colorhash")
    reference = method.describe(face_a)
    assert method.score(reference, method.describe(rotate(face_a, 1.0))) >= 39
    assert method.score(reference, method.describe(brighten(face_a, 20))) >= 38


@pytest.mark.parametrize("kind", KINDS)
def test_blank_tiny_grey_and_batch(kind, face_a):
    method = HashMethod(kind)
    tiny = method.describe(np.zeros((1, 1, 3), np.uint8))
    blank = method.describe(np.full((64, 48, 3), 255, np.uint8))
    grey = method.describe(face_a.mean(axis=2).astype(np.uint8))
    colour = method.describe(face_a)
    assert 0 <= method.score(tiny, blank) <= method.n_bits and method.score(blank, blank) == method.n_bits
    assert grey.dtype == np.uint8 and grey.shape == colour.shape
    features_a, features_b = [tiny, blank, colour], [colour, colour, grey]
    np.testing.assert_array_equal(
        method.score_pairs(features_a, features_b),
        [method.score(a, b) for a, b in zip(features_a, features_b)],
    )
    assert pickle.loads(pickle.dumps(colour)).tobytes() == colour.tobytes()


def test_hash_size_changes_bit_count(face_a):
    method = HashMethod("phash", hash_size=16)
    feature = method.describe(face_a)
    assert method.n_bits == 256 and feature.shape == (32,) and method.score(feature, feature) == 256


def test_bad_options_raise_config_error():
    with pytest.raises(ConfigError, match=r"hash kind 'mhash' is not supported. Try one of \['ahash'"):
        HashMethod("mhash")
    with pytest.raises(ConfigError, match=r"hash_size must be an integer in \[2, 64\], got 1"):
        HashMethod("ahash", hash_size=1)
    with pytest.raises(ConfigError, match=r"whash needs a power-of-2 hash_size .* got 12"):
        HashMethod("whash", hash_size=12)
    with pytest.raises(ConfigError, match=r"expected a non-empty uint8 image"):
        HashMethod("ahash").describe(np.zeros((0, 5, 3), np.uint8))
