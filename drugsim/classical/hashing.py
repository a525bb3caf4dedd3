"""Global hashes (paper section 2.3): aHash, pHash, dHash with the ``imagehash`` library; score = equal bits.

The hash of an image is computed by ``imagehash`` itself (so our hashes equal the library's, tested), then
stored as packed bits (``np.packbits``, uint8) so that many pairs are scored at once with a vectorised
Hamming distance (``np.bitwise_count`` of the XOR). The score is the number of equal bits: of 64 for
the paper's three hashes at ``hash_size=8`` (Table 4); higher = more similar.

imagehash's definitions against the paper's:

* aHash: 8 x 8 grey (PIL ``convert("L")``, Lanczos resize), bit = pixel > mean (eq. 6; same).
* pHash: 32 x 32 grey, 2-D DCT, top-left 8 x 8 coefficients, bit = coefficient > **median** (imagehash),
  where the paper (eq. 7) says mean. We keep imagehash's median (the library the issue names, and the
  usual pHash); the DC coefficient dominates the mean, so a mean threshold would make most bits 0.
* dHash: 9 x 8 grey, bit = right pixel > left pixel (imagehash), the complement of the paper's eq. 8
  (left >= right) except at ties. Complementing every bit of both hashes leaves the number of equal bits
  unchanged, so scores agree with the paper's definition up to ties.

Beyond the paper: ``whash`` (Haar wavelet hash, 64 bits) and ``colorhash`` (HSV colour-fraction hash,
14 x ``binbits`` bits).

Example:
    >>> import numpy as np
    >>> method = HashMethod(kind="ahash")
    >>> image = np.zeros((32, 32, 3), np.uint8)
    >>> method.score(method.describe(image), method.describe(image))
    64.0

References:
    Paper section 2.3, eqs. (6)-(8), Table 4; imagehash (https://github.com/JohannesBuchner/imagehash).
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np
from PIL import Image

from drugsim.errors import ConfigError
from drugsim.methods import SimilarityMethod, check_image

KINDS = ("ahash", "phash", "dhash", "whash", "colorhash")
#: Hash kinds the paper uses (section 2.3); the others are beyond the paper.
PAPER_KINDS = ("ahash", "phash", "dhash")


def _hash_function(kind: str) -> Callable[..., Any]:
    import imagehash

    return {
        "ahash": imagehash.average_hash,
        "phash": imagehash.phash,
        "dhash": imagehash.dhash,
        "whash": imagehash.whash,
        "colorhash": imagehash.colorhash,
    }[kind]


def image_hash(image: np.ndarray, *, kind: str = "ahash", hash_size: Optional[int] = None) -> Any:
    """The ``imagehash.ImageHash`` of an RGB or grey uint8 array (colorhash: ``hash_size`` is ``binbits``).

    ``image`` is taken as checked (:func:`drugsim.methods.check_image`).
    """
    if kind not in KINDS:
        raise ConfigError(f"hash kind {kind!r} is not supported. Try one of {list(KINDS)}")
    pil = Image.fromarray(np.ascontiguousarray(image[:, :, :3] if image.ndim == 3 else image))
    size = hash_size if hash_size is not None else (3 if kind == "colorhash" else 8)
    if kind == "colorhash":
        return _hash_function(kind)(pil, binbits=size)
    return _hash_function(kind)(pil, hash_size=size)


def pack_hash(bits: np.ndarray) -> np.ndarray:
    """Boolean hash bits (any shape) -> packed uint8 array (row-major bit order, zero padded)."""
    return np.packbits(np.asarray(bits, dtype=bool).ravel())


def equal_bits(packed_a: np.ndarray, packed_b: np.ndarray, n_bits: int) -> np.ndarray:
    """Number of equal bits between packed hashes, row-wise over (N, n_bytes) arrays (or one pair).

    Padding bits are zero in both hashes, so they never count as different.

    Example:
        >>> a = pack_hash([1, 0, 1, 1]); b = pack_hash([1, 1, 1, 0])
        >>> int(equal_bits(a, b, 4))
        2
    """
    xor = np.bitwise_xor(np.asarray(packed_a, dtype=np.uint8), np.asarray(packed_b, dtype=np.uint8))
    return n_bits - np.bitwise_count(xor).sum(axis=-1, dtype=np.int64)


class HashMethod(SimilarityMethod):
    """Global hash similarity: the number of equal bits of two ``imagehash`` hashes (paper section 2.3).

    Args:
        kind: ``"ahash"``, ``"phash"``, ``"dhash"`` (paper) or ``"whash"``, ``"colorhash"`` (beyond).
        hash_size: grid side for the grid hashes (default 8: 64 bits as in the paper; a power of 2 for
            whash); for colorhash, imagehash's ``binbits`` (default 3: 42 bits).

    Feature: packed bits, uint8 of shape (ceil(n_bits / 8),). Higher score = more similar, at most
    :attr:`n_bits`.
    """

    direction = "higher"
    config_fields = ("kind", "hash_size")

    def __init__(self, kind: str = "ahash", hash_size: Optional[int] = None) -> None:
        if kind not in KINDS:
            raise ConfigError(f"hash kind {kind!r} is not supported. Try one of {list(KINDS)}")
        default = 3 if kind == "colorhash" else 8
        size = default if hash_size is None else hash_size
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 2 <= size <= 64:
            raise ConfigError(f"hash_size must be an integer in [2, 64], got {hash_size!r}")
        if kind == "whash" and size & (size - 1):
            raise ConfigError(f"whash needs a power-of-2 hash_size (e.g. 8 or 16), got {size}")
        self.kind = kind
        self.hash_size = int(size)
        self.name = kind  # type: ignore[misc]
        self.paper_section = "2.3" if kind in PAPER_KINDS else "beyond"  # type: ignore[misc]
        #: Bits per hash: hash_size^2, or 14 * binbits for colorhash.
        self.n_bits = 14 * self.hash_size if kind == "colorhash" else self.hash_size**2

    def image_hash(self, image: np.ndarray) -> Any:
        """imagehash's own ``ImageHash`` of ``image`` (for display and for tests)."""
        return image_hash(check_image(image), kind=self.kind, hash_size=self.hash_size)

    def _describe(self, image: np.ndarray) -> np.ndarray:
        return pack_hash(image_hash(image, kind=self.kind, hash_size=self.hash_size).hash)

    def score(self, feature_a: np.ndarray, feature_b: np.ndarray) -> float:
        return float(equal_bits(feature_a, feature_b, self.n_bits))

    def _score_pairs(self, features_a: Sequence[Any], features_b: Sequence[Any]) -> np.ndarray:
        return equal_bits(np.stack(features_a), np.stack(features_b), self.n_bits).astype(np.float64)

