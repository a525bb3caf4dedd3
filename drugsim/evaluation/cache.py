"""On-disk feature cache: one small data-only ``.npz`` file per (method settings, image content).

Layout::

    CACHE_DIR/<method.cache_key()>/method.json          # the method's settings, for people
    CACHE_DIR/<method.cache_key()>/<h[:2]>/<h>.npz       # h = sha256 of the image file's bytes

Why one file per image rather than one shard per image set: notebooks and CLI runs that share a work
folder may describe overlapping image sets at the same time. With one file per image every write is an
independent atomic rename, so concurrent runs never lose each other's entries and need no lock; a
corrupt or truncated file (a crash, a full disk) costs one recomputation, not a shard; and a new image
set reuses every image it shares with earlier ones. The price is one small file per image and method
(tens of thousands of files for the paper's 45k images, spread over 256 sub-folders), which file systems
handle well; features are small (a 64-bit hash, a 256-bin histogram, at most a few thousand keypoints).

Keys are content hashes, not paths: renaming or moving a dataset keeps its cache, and an edited image
never gets a stale feature. The method part of the key is :meth:`SimilarityMethod.cache_key`, which
changes with every option that changes features.

Why not pickle: a cache folder may be shared or planted, and unpickling runs code. Entries are numpy
``.npz`` archives read with ``allow_pickle=False`` (numbers only: no object arrays, no code), carrying
a format version, the feature's kind and the image content hash they belong to
(:func:`encode_feature`); old ``.pkl`` entries are never opened. Anything else found under an entry's
name (a planted pickle, a FIFO or device,
a wrong kind, a content key of another image, an archive that would inflate past
:data:`MAX_ENTRY_BYTES`) is a cache miss: it is removed and the feature recomputed. Features of a type
this module cannot encode are simply not cached.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Tuple

import numpy as np

from drugsim.io import PathLike

_MISSING = object()

#: Written into every entry; bump when the encoding changes (older entries then read as misses).
FORMAT = "drugsim-feature-v1"
ENTRY_SUFFIX = ".npz"
#: Largest decompressed entry we read (features are kilobytes; a bigger archive is not ours).
MAX_ENTRY_BYTES = 64 * 1024 * 1024
#: Fields of :class:`~drugsim.classical.keypoints.KeypointFeatures`, in order.
_KEYPOINT_FIELDS = ("points", "sizes", "angles", "descriptors", "image_shape", "scale")


class CacheEntryError(ValueError):
    """An entry on disk is not a feature this program wrote for this image (treated as a miss)."""


def _plain_array(value: Any) -> np.ndarray | None:
    """``value`` as a numeric numpy array, or None when it is not plain numbers."""
    array = np.asarray(value) if isinstance(value, np.ndarray) else None
    if array is None or array.dtype.kind not in "biufc" or array.dtype.hasobject:
        return None
    return array


def encode_feature(feature: Any, content_hash: str) -> dict[str, np.ndarray] | None:
    """Arrays that store ``feature`` without pickle, or None when its type is not supported.

    Supported: numeric ``numpy`` arrays (hashes, histograms, pixels, embeddings), Python ``float`` /
    ``int`` / ``bool`` scalars and :class:`~drugsim.classical.keypoints.KeypointFeatures` (keypoints and
    descriptors as separate arrays).

    Example:
        >>> arrays = encode_feature(np.arange(3, dtype=np.uint8), "ab" * 32)
        >>> decode_feature(arrays, "ab" * 32)
        array([0, 1, 2], dtype=uint8)
    """
    header = {"format": np.array(FORMAT), "content": np.array(content_hash)}
    if isinstance(feature, np.ndarray):
        array = _plain_array(feature)
        return None if array is None else {**header, "kind": np.array("ndarray"), "value": array}
    if isinstance(feature, (bool, int, float)) and not isinstance(feature, np.generic):
        kind = type(feature).__name__
        return {**header, "kind": np.array(kind), "value": np.array(feature)}
    from drugsim.classical.keypoints import KeypointFeatures

    if isinstance(feature, KeypointFeatures):
        fields = {name: np.asarray(getattr(feature, name)) for name in _KEYPOINT_FIELDS}
        if any(_plain_array(array) is None for array in fields.values()):
            return None
        return {**header, "kind": np.array("keypoints"), **fields}
    return None


def _text(arrays: dict[str, np.ndarray], key: str) -> str:
    value = arrays.get(key)
    if value is None or value.dtype.kind != "U" or value.shape != ():
        raise CacheEntryError(f"field {key!r} missing or not a string")
    return str(value)


def decode_feature(arrays: dict[str, np.ndarray], content_hash: str) -> Any:
    """Inverse of :func:`encode_feature`; raises :class:`CacheEntryError` for anything it did not write."""
    if _text(arrays, "format") != FORMAT:
        raise CacheEntryError(f"format {_text(arrays, 'format')!r}, expected {FORMAT!r}")
    if _text(arrays, "content") != content_hash:
        raise CacheEntryError("entry belongs to another image (content key differs)")
    kind = _text(arrays, "kind")
    if kind in ("ndarray", "bool", "int", "float"):
        value = arrays.get("value")
        if value is None or _plain_array(value) is None:
            raise CacheEntryError("value missing or not numeric")
        if kind == "ndarray":
            return value
        if value.shape != ():
            raise CacheEntryError(f"a {kind} entry holds shape {value.shape}")
        return {"bool": bool, "int": int, "float": float}[kind](value.item())
    if kind == "keypoints":
        from drugsim.classical.keypoints import KeypointFeatures

        fields = {}
        for name in _KEYPOINT_FIELDS:
            if name not in arrays or _plain_array(arrays[name]) is None:
                raise CacheEntryError(f"keypoint field {name!r} missing or not numeric")
            fields[name] = arrays[name]
        n_points = fields["points"].shape[0] if fields["points"].ndim == 2 else -1
        if fields["points"].shape != (n_points, 2) or any(
            fields[name].shape[:1] != (n_points,) for name in ("sizes", "angles", "descriptors")
        ):
            raise CacheEntryError("keypoint arrays disagree on the number of keypoints")
        if fields["image_shape"].shape != (2,) or fields["scale"].shape != ():
            raise CacheEntryError("keypoint image_shape or scale malformed")
        fields["image_shape"] = tuple(int(v) for v in fields["image_shape"])
        fields["scale"] = float(fields["scale"])
        return KeypointFeatures(**fields)
    raise CacheEntryError(f"unknown feature kind {kind!r}")


def encoded_bytes(feature: Any) -> int:
    """Size in bytes of ``feature``'s cache entry (0 when it is not cacheable)."""
    arrays = encode_feature(feature, "0" * 64)
    if arrays is None:
        return 0
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getbuffer().nbytes


def _read_entry(path: Path) -> dict[str, np.ndarray]:
    """The arrays of one ``.npz`` entry, refusing pickles, object arrays and oversized archives."""
    info = os.stat(path)  # follows a symlink: its target must be a small regular file too
    if not stat.S_ISREG(info.st_mode):
        raise CacheEntryError("not a regular file")  # a FIFO would block open() forever
    if info.st_size > MAX_ENTRY_BYTES:
        raise CacheEntryError(f"larger than {MAX_ENTRY_BYTES} bytes")
    with open(path, "rb") as handle:
        try:
            with zipfile.ZipFile(handle) as archive:
                if sum(info.file_size for info in archive.infolist()) > MAX_ENTRY_BYTES:
                    raise CacheEntryError(f"archive inflates past {MAX_ENTRY_BYTES} bytes")
        except zipfile.BadZipFile as exc:
            raise CacheEntryError(f"not an npz archive ({exc})") from None
        handle.seek(0)
        with np.load(handle, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}


def file_sha256(path: PathLike, *, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes (the image's content key)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(chunk_size)
            if not chunk:
                break
            digest.update(chunk)
    return digest.hexdigest()


class FeatureCache:
    """Features of one method, stored per image content hash under ``root/<cache_key>/``.

    Example:
        >>> import tempfile
        >>> cache = FeatureCache(tempfile.mkdtemp(), "ahash-0123")
        >>> cache.put("ab" * 32, np.array([1, 2, 3]))
        >>> cache.get("ab" * 32)
        array([1, 2, 3])
        >>> cache.get("cd" * 32) is None
        True
    """

    def __init__(self, root: PathLike, cache_key: str, *, method_config: Optional[Dict[str, Any]] = None):
        self.root = Path(root)
        self.cache_key = cache_key
        self.folder = self.root / cache_key
        self.hits = 0
        self.misses = 0
        self.recovered = 0  # corrupt or foreign entries found (and recomputed by the caller)
        self.uncacheable = 0  # features of a type encode_feature does not support (not stored)
        #: Set when the cache folder cannot be written (full disk, permissions): the run goes on without it.
        self.disabled = False
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if method_config is not None:
                info = self.folder / "method.json"
                if not info.exists():
                    self._write_atomic(
                        info, json.dumps(method_config, indent=2, sort_keys=True, default=str).encode()
                    )
        except OSError as exc:
            self._disable(exc)

    def _disable(self, exc: OSError) -> None:
        """A cache that cannot be written is no reason to stop an evaluation: warn once, go on without it."""
        if not self.disabled:
            import warnings

            where = getattr(exc, "filename", None) or self.folder
            warnings.warn(f"feature cache {where}: cannot be written ({exc.strerror or exc}); continuing "
                          "without the cache", RuntimeWarning, stacklevel=3)
        self.disabled = True

    def path_for(self, content_hash: str) -> Path:
        """Where the feature of an image with this content hash lives."""
        return self.folder / content_hash[:2] / f"{content_hash}{ENTRY_SUFFIX}"

    def get(self, content_hash: str, default: Any = None) -> Any:
        """The cached feature, or ``default`` when absent or unreadable (a corrupt file is deleted)."""
        path = self.path_for(content_hash)
        if self.disabled:
            self.misses += 1
            return default
        try:
            value = decode_feature(_read_entry(path), content_hash)
        except FileNotFoundError:
            self.misses += 1
            return default
        # Truncated, planted, pickled, from another format version or another image: recompute. Nothing
        # read here can run code (allow_pickle=False), so a broad catch only decides hit or miss.
        except Exception:  # noqa: BLE001
            self.recovered += 1
            self.misses += 1
            try:
                path.unlink()
            except OSError:
                pass
            return default
        self.hits += 1
        return value

    def get_many(self, content_hashes: Iterable[str]) -> Tuple[Dict[str, Any], list]:
        """(found: hash -> feature, missing hashes in order)."""
        found: Dict[str, Any] = {}
        missing = []
        for content_hash in content_hashes:
            value = self.get(content_hash, _MISSING)
            if value is _MISSING:
                missing.append(content_hash)
            else:
                found[content_hash] = value
        return found, missing

    def put(self, content_hash: str, feature: Any) -> None:
        """Store ``feature`` atomically (a reader never sees a half-written file); skip uncacheable types."""
        arrays = encode_feature(feature, content_hash)
        if arrays is None:
            self.uncacheable += 1
            return
        if self.disabled:
            return
        path = self.path_for(content_hash)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._write_atomic(path, buffer.getvalue())
        except OSError as exc:
            self._disable(exc)

    @staticmethod
    def _write_atomic(path: Path, payload: bytes) -> None:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            os.replace(tmp_name, path)
        except BaseException:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
            raise

    def __len__(self) -> int:
        if not self.folder.is_dir():
            return 0
        return sum(1 for _ in self.folder.glob(f"??/*{ENTRY_SUFFIX}"))

    def size_bytes(self) -> int:
        """Bytes used on disk by this method's cached features."""
        return sum(p.stat().st_size for p in self.folder.glob(f"??/*{ENTRY_SUFFIX}"))
