"""Reading images and writing files: the only module that touches image files on disk.

Images are returned as ``numpy.ndarray`` of shape (H, W, 3), dtype uint8, RGB order, with EXIF rotation
applied. Grey, palette, RGBA, CMYK and 16-bit inputs are converted, not refused.

Outputs: :func:`check_output_path` vets a path before any work starts (the CLI calls it while parsing).
Writes to regular files are atomic (a temporary file beside the target, renamed over it), so a file
appears complete or not at all and Ctrl-C never leaves half a dataset or pair list behind. A symlink is
written through (its target is replaced; the link stays). A character device or FIFO (``/dev/null``,
``/dev/stdout``, a named pipe) is written through in place, never replaced by a regular file; sockets and
block devices are refused. ``-`` means standard output for text outputs.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Iterator, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from drugsim.errors import ImageReadError, OutputError

PathLike = Union[str, os.PathLike]

#: Largest image we decode, in pixels (about 90 megapixels, roughly PIL's own default). Larger files are
#: refused as possible decompression bombs instead of exhausting memory.
MAX_IMAGE_PIXELS = 89_478_485

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def is_image_file(path: PathLike) -> bool:
    """True when ``path`` has an image file suffix (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _to_rgb8(img: Image.Image, path: Path) -> np.ndarray:
    # 16-bit and 32-bit greyscale modes: scale to 8 bits instead of clipping, which would turn most
    # 16-bit photos white.
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        grey = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() if arr.max() > 1.0 else 1.0
        grey = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        # Composite on white: transparent areas of a scanned box are background, not black.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    arr = np.asarray(img.convert("RGB"))
    if arr.dtype != np.uint8:  # pragma: no cover - PIL returns uint8 for RGB
        raise ImageReadError(f"{path}: decoded to dtype {arr.dtype}, expected uint8 RGB")
    return np.ascontiguousarray(arr)


def read_image(path: PathLike) -> np.ndarray:
    """Read an image file as an RGB uint8 array, applying its EXIF orientation.

    Args:
        path: an image file (JPEG, PNG, BMP, TIFF, WebP).

    Returns:
        Array of shape (H, W, 3), dtype uint8, RGB.

    Raises:
        ImageReadError: when the file is missing, empty, not an image, truncated or corrupt, or larger
            than :data:`MAX_IMAGE_PIXELS` (a possible decompression bomb). The message names the file.
    """
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"{path}: no such file (expected an image file)")
    if path.is_dir():
        raise ImageReadError(f"{path}: is a folder, expected an image file")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: file is empty (0 bytes), expected an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise ImageReadError(
                        f"{path}: {width}x{height} pixels is larger than the {MAX_IMAGE_PIXELS} pixel limit "
                        "(possible decompression bomb); resize it first"
                    )
                img.load()
                img = ImageOps.exif_transpose(img)
                return _to_rgb8(img, path)
    except ImageReadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(f"{path}: refused as a possible decompression bomb ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"{path}: not a readable image (expected JPEG, PNG, BMP, TIFF or WebP)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{path}: image is truncated or corrupt ({exc})") from exc


def to_grey(image: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) or grey (H, W) uint8 -> grey (H, W) uint8 with ITU-R BT.601 weights (as OpenCV)."""
    if image.ndim == 2:
        return image
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an image of shape (H, W), (H, W, 3) or (H, W, 4), got {image.shape}")
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2GRAY)


#: Spelling of "standard output" for text outputs (``--json -``).
STDOUT = "-"


def is_stdout(path: PathLike) -> bool:
    """True for ``-``, the conventional name of standard output."""
    return str(path) == STDOUT


def _writes_through(path: Path) -> bool:
    """True when ``path`` is a character device or FIFO: written in place, never replaced."""
    try:
        mode = os.stat(path).st_mode  # follows symlinks
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def _first_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_output_path(path: PathLike, *, what: str = "output", folder: bool = False,
                      allow_stdout: bool = False) -> Path:
    """Check that ``path`` can be written, before any work is spent on what goes there.

    Args:
        path: the file (or, with ``folder``, the folder) to be written.
        what: how the message names it (e.g. ``"--json"``).
        folder: the output is a folder (a dataset, a cache) rather than a file.
        allow_stdout: ``-`` is accepted (standard output).

    Returns:
        ``path`` as a :class:`~pathlib.Path` (``Path("-")`` for standard output).

    Raises:
        OutputError: ``path`` is a folder where a file is expected (or the reverse), a socket or block
            device, a file that is read-only, or under a folder that is missing and cannot be made or is
            not writable. The message names the path and what was expected.
    """
    text = str(path)
    if text == STDOUT:
        if allow_stdout:
            return Path(STDOUT)
        raise OutputError(f"{what} {text}: this output cannot go to standard output; give a file name")
    if not text or "\0" in text:
        raise OutputError(f"{what} {text!r}: expected a file name")
    path = Path(text)
    target = Path(os.path.realpath(path))  # a symlink is written through: check where it points
    if target.exists():
        mode = os.stat(target).st_mode
        if folder:
            if not stat.S_ISDIR(mode):
                raise OutputError(f"{what} {path}: exists and is not a folder (expected a folder to write)")
            if not os.access(target, os.W_OK | os.X_OK):
                raise OutputError(f"{what} {path}: folder is not writable")
            return path
        if stat.S_ISDIR(mode):
            raise OutputError(f"{what} {path}: is a folder, expected a file name")
        if stat.S_ISSOCK(mode) or stat.S_ISBLK(mode):
            raise OutputError(f"{what} {path}: is a socket or block device, expected a file")
        if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
            if not os.access(target, os.W_OK):
                raise OutputError(f"{what} {path}: device or pipe is not writable")
            return path
        if not os.access(target, os.W_OK):
            raise OutputError(f"{what} {path}: file is read-only (not replaced)")
    ancestor = _first_existing(target.parent)
    if not ancestor.is_dir():
        raise OutputError(f"{what} {path}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        missing = "" if ancestor == target.parent else f" (to make {target.parent})"
        raise OutputError(f"{what} {path}: folder {ancestor} is not writable{missing}")
    return path


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: PathLike, *, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; put it at ``path`` only if the block succeeds.

    Works for files and folders: a dataset is generated into a hidden temporary folder and renamed in one
    step, so an interrupted run leaves no partial output under the final name. A symlink at ``path`` is
    written through; a character device or FIFO receives the bytes in place (never replaced).

    Raises:
        OutputError: the write failed (full disk, permissions); no partial file is left.
    """
    link = Path(path)
    path = Path(os.path.realpath(link))
    through = _writes_through(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if through:
            fd, tmp_name = tempfile.mkstemp(prefix=".drugsim-out.", suffix=suffix + ".partial")
        else:
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{path.name}.", suffix=suffix + ".partial", dir=path.parent
            )
    except OSError as exc:
        raise OutputError(f"{link}: cannot write here ({exc.strerror or exc})") from None
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        yield tmp
        try:
            if through:
                _copy_into(tmp, path)
            elif tmp.is_dir() and path.is_dir():
                import shutil

                old = path.with_name(f".{path.name}.old-{os.getpid()}")
                os.replace(path, old)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                if tmp.is_file():
                    existing = path.stat().st_mode & 0o777 if path.is_file() else _new_file_mode()
                    os.chmod(tmp, existing)  # mkstemp makes 0600; keep the mode a plain write would give
                os.replace(tmp, path)
        except OSError as exc:
            raise OutputError(f"{link}: could not be written ({exc.strerror or exc})") from None
    finally:
        if tmp.exists():
            import shutil

            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink()


def _copy_into(source: Path, device: Path) -> None:
    with open(source, "rb") as reader, open(device, "wb", buffering=0) as writer:
        while True:
            block = reader.read(1 << 20)
            if not block:
                break
            writer.write(block)


def write_text_atomic(path: PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8); ``-`` writes to standard output.

    Raises:
        OutputError: the write failed (full disk, permissions, a folder in the way); no partial file is
            left and an existing file is untouched.
    """
    if is_stdout(path):
        sys.stdout.write(text)
        sys.stdout.flush()
        return Path(STDOUT)
    if Path(path).is_dir():
        raise OutputError(f"{path}: is a folder, expected a file name")
    with atomic_path(path) as tmp:
        try:
            tmp.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"{path}: could not be written ({exc.strerror or exc})") from None
    return Path(path)


def write_image(path: PathLike, image: np.ndarray, *, quality: int = 95) -> Path:
    """Write an RGB uint8 array to ``path`` (format from the suffix), atomically."""
    path = Path(path)
    with atomic_path(path, suffix=path.suffix) as tmp:
        pil = Image.fromarray(image)
        fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}.get(path.suffix.lower())
        kwargs = {"quality": int(quality), "optimize": False} if fmt == "JPEG" else {}
        pil.save(tmp, format=fmt, **kwargs)
    return path
