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
import errno
import hashlib
import os
import stat
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Iterable, Iterator, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from drugsim.errors import ImageReadError, OutputError

PathLike = Union[str, os.PathLike]

#: Largest image we decode, in pixels (about 90 megapixels, roughly PIL's own default). Larger files are
#: refused as possible decompression bombs instead of exhausting memory.
MAX_IMAGE_PIXELS = 89_478_485

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def is_image_file(path: PathLike) -> bool:
    """True when ``path`` has an image file suffix (case-insensitive) and is not a macOS resource file.

    ``._name.jpg`` files are AppleDouble metadata that macOS leaves beside every photo copied to a foreign
    file system; they are never images, and one of them must not abort a whole evaluation.
    """
    path = Path(path)
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("._")


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
    try:
        os.stat(path)
    except OSError as exc:  # a dangling link or a link loop says so, not just "no such file"
        if exc.errno == errno.ELOOP:
            raise ImageReadError(f"{path}: symbolic link loop (expected an image file)") from None
        if os.path.islink(path):
            raise ImageReadError(f"{path}: symbolic link to a missing file ({os.readlink(path)})") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise ImageReadError(f"{path}: permission denied (cannot read this image)") from None
        raise ImageReadError(f"{path}: no such file (expected an image file)") from None
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
    except PermissionError as exc:
        raise ImageReadError(f"{path}: permission denied (cannot read this image)") from exc
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


# ----------------------------------------------------------------------------- outputs against inputs


def _resolved(path: PathLike) -> Path:
    return Path(os.path.realpath(os.path.expanduser(str(path))))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a == b


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_outputs_against_inputs(
    outputs: dict[str, PathLike | None],
    *,
    files: dict[str, PathLike | None] | None = None,
    folders: dict[str, PathLike | None] | None = None,
) -> None:
    """Refuse an output that would overwrite an input, before any work starts.

    Every command calls this with its outputs and its inputs, named by option: ``files`` (a checkpoint,
    a pair list, an earlier result) and ``folders`` (a dataset, a gallery, a results folder). An output
    is refused when it is the same file as an input file after resolving links, when it lies inside an
    input folder (a dataset would change under the run, or a photo be replaced), or when an output folder
    holds an input.

    Args:
        outputs: option -> path written (``None`` and ``-`` skipped).
        files: option -> input file read.
        folders: option -> input folder read.

    Raises:
        OutputError: one line naming both options and the path.

    Example:
        >>> check_outputs_against_inputs({"--json": "-"}, files={"--pairs": "p.txt"})
    """
    inputs = [(option, _resolved(path), False) for option, path in (files or {}).items()
              if path is not None and not is_stdout(path)]
    inputs += [(option, _resolved(path), True) for option, path in (folders or {}).items()
               if path is not None and not is_stdout(path)]
    for out_option, out_path in outputs.items():
        if out_path is None or is_stdout(out_path):
            continue
        if _writes_through(Path(out_path)):
            continue  # /dev/null or a pipe: written in place, never replacing what it points at
        target = _resolved(out_path)
        for in_option, in_path, is_folder in inputs:
            if _same_file(target, in_path):
                raise OutputError(f"{out_option} {out_path} is also the input {in_option} {in_path}; "
                                  "writing it would destroy that input: give another output path")
            if is_folder and _inside(target, in_path):
                raise OutputError(f"{out_option} {out_path} lies inside the input folder {in_option} {in_path}; "
                                  "write outputs outside it")
            if _inside(in_path, target) and target != in_path:
                raise OutputError(f"{out_option} {out_path} holds the input {in_option} {in_path}; "
                                  "replacing it would destroy that input")


# ----------------------------------------------------------------------------- folders the project made

#: The file that marks a folder as made by drugsim (a synthetic dataset, a recorded run): only such a
#: folder, or an empty one, is ever replaced by ``--overwrite`` / ``--force``.
MARKER_NAME = ".drugsim-made"


def write_marker(folder: PathLike, kind: str) -> Path:
    """Write the project's marker into ``folder`` (``kind`` says what made it, e.g. ``synthetic-dataset``)."""
    path = Path(folder) / MARKER_NAME
    path.write_text(f"{kind}\nmade by drugsim; `--overwrite`/`--force` may replace this folder\n", encoding="utf-8")
    return path


def check_replaceable(folder: PathLike, *, what: str, also_made_if: tuple[str, ...] = ()) -> None:
    """Refuse to replace ``folder`` unless it is missing, empty, or carries the project's marker.

    Args:
        folder: the folder an ``--overwrite`` would replace.
        what: how the message names it (``--out``).
        also_made_if: file names that mark a folder made by an older drugsim without the marker (a
            recorded run's ``run.json``).

    Raises:
        OutputError: a folder of the user's (a home folder, a project, ``.``) would be deleted.
    """
    path = Path(folder)
    if not path.exists():
        return
    if not path.is_dir():
        raise OutputError(f"{what} {path}: exists and is not a folder; not replaced")
    resolved = _resolved(path)
    if resolved == _resolved(Path.cwd()) or _inside(_resolved(Path.cwd()), resolved):
        raise OutputError(f"{what} {path}: is the current folder or holds it; not replaced")
    if (path / MARKER_NAME).is_file() or any((path / name).is_file() for name in also_made_if):
        return
    try:
        empty = next(os.scandir(path), None) is None
    except OSError as exc:
        raise OutputError(f"{what} {path}: cannot be read ({exc.strerror or exc})") from None
    if not empty:
        raise OutputError(f"{what} {path}: not a folder drugsim made (no {MARKER_NAME} in it) and not empty; "
                          "refusing to replace it: choose a new folder")


# ----------------------------------------------------------------------------- text files and content


def read_text_lines(path: PathLike) -> list[str]:
    """Lines of a UTF-8 text file (a leading byte-order mark dropped); a bad byte names file and line.

    Raises:
        DatasetError: the file cannot be read, or a line is not UTF-8 (the message names file and line).
    """
    from drugsim.errors import DatasetError

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return decode_lines(raw, path)


def decode_lines(raw: bytes, path: PathLike) -> list[str]:
    """``raw`` split into UTF-8 lines; a line that is not UTF-8 is one error naming ``path`` and the line."""
    from drugsim.errors import DatasetError

    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    lines = []
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{path}:{number}: byte {line[exc.start]:#04x} at column {exc.start + 1} is not "
                               "UTF-8 (expected a UTF-8 text file)") from None
    return lines


def read_text(path: PathLike) -> str:
    """A UTF-8 text file's contents; an undecodable byte is one error naming file and line."""
    return "\n".join(read_text_lines(path)) + "\n"


def content_sha256(entries: Iterable[tuple[str, str, PathLike]]) -> str:
    """sha256 over ``(name, label, file bytes)`` of every entry, in sorted name order.

    What a gallery, a dataset or a recorded result is identified by: the same photos under the same names
    and labels give the same hash wherever the folder lies.
    """
    digest = hashlib.sha256()
    for name, label, path in sorted(entries, key=lambda entry: (entry[0], entry[1])):
        digest.update(f"{name}\t{label}\t".encode("utf-8", "surrogateescape"))
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\n")
    return digest.hexdigest()
