"""On-disk feature cache: one small pickle per (method settings, image content).

Layout::

    CACHE_DIR/<method.cache_key()>/method.json          # the method's settings, for people
    CACHE_DIR/<method.cache_key()>/<h[:2]>/<h>.pkl       # h = sha256 of the image file's bytes

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

The cache holds pickles written by this program; only point ``cache_dir`` at folders you created.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Tuple

from drugsim.io import PathLike

_MISSING = object()


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
        >>> cache.put("ab" * 32, [1, 2, 3])
        >>> cache.get("ab" * 32)
        [1, 2, 3]
        >>> cache.get("cd" * 32) is None
        True
    """

    def __init__(self, root: PathLike, cache_key: str, *, method_config: Optional[Dict[str, Any]] = None):
        self.root = Path(root)
        self.cache_key = cache_key
        self.folder = self.root / cache_key
        self.folder.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0
        self.recovered = 0  # corrupt entries found (and recomputed by the caller)
        if method_config is not None:
            info = self.folder / "method.json"
            if not info.exists():
                self._write_atomic(
                    info, json.dumps(method_config, indent=2, sort_keys=True, default=str).encode()
                )

    def path_for(self, content_hash: str) -> Path:
        """Where the feature of an image with this content hash lives."""
        return self.folder / content_hash[:2] / f"{content_hash}.pkl"

    def get(self, content_hash: str, default: Any = None) -> Any:
        """The cached feature, or ``default`` when absent or unreadable (a corrupt file is deleted)."""
        path = self.path_for(content_hash)
        try:
            with open(path, "rb") as handle:
                value = pickle.load(handle)
        except FileNotFoundError:
            self.misses += 1
            return default
        except Exception:  # corrupt, truncated, or from an incompatible version: recompute
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
        """Store ``feature`` atomically (a reader never sees a half-written file)."""
        path = self.path_for(content_hash)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_atomic(path, pickle.dumps(feature, protocol=pickle.HIGHEST_PROTOCOL))

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
        return sum(1 for _ in self.folder.glob("??/*.pkl"))

    def size_bytes(self) -> int:
        """Bytes used on disk by this method's cached features."""
        return sum(p.stat().st_size for p in self.folder.glob("??/*.pkl"))
