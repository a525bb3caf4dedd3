"""Argument types and options shared by the sub-commands: numbers and output paths are checked while parsing.

A bad value (``--seed -1``, ``--lr nan``, ``--json /etc``) stops the command before any work with one
line naming the option, the value and what was expected, and exit status 2 (argparse's convention). Each
helper returns a callable for ``add_argument(type=...)``; argparse adds the option name to the message.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> _ = parser.add_argument("--lr", type=positive_float)
    >>> parser.parse_args(["--lr", "0.01"]).lr
    0.01
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from drugsim.errors import OutputError

#: Largest seed accepted: numpy, torch and Python's ``random`` all take it.
MAX_SEED = 2**32 - 1
#: Most worker processes accepted (more only thrash; negative values count back from all cores).
MAX_JOBS = 256
# Upper bounds of sizes and counts, checked while parsing: a value of 10**30 would otherwise run until
# memory runs out or overflow deep inside numpy. Each is far above any real use.
#: Pairs (evaluated, drawn, timed, trained on) and images.
MAX_PAIRS = 10_000_000
#: Epochs of training.
MAX_EPOCHS = 10_000
#: Batch size of training.
MAX_BATCH = 65_536
#: Learning rate: above this every optimizer here diverges at once.
MAX_LR = 10.0
#: Bootstrap resamples.
MAX_BOOT = 1_000_000
#: Timed repeats of a benchmark.
MAX_REPEATS = 1_000
#: Cached views per training image.
MAX_VIEWS = 64
#: Gallery sizes, queries and neighbours of the search benchmark.
MAX_GALLERY = 10_000_000
MAX_QUERIES = 1_000_000
#: Embedding length and hash length (bits) of the search benchmark; IVF/HNSW search parameters.
MAX_DIM = 65_536
MAX_HASH_BITS = 65_536
MAX_SEARCH_PARAM = 65_536
#: Results a search shows.
MAX_TOP_K = 1_000_000


def _parse_int(text: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _parse_float(text: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def int_range(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An integer type in ``[low, high]`` (either bound optional)."""

    def parse(text: str) -> int:
        value = _parse_int(text)
        if (low is not None and value < low) or (high is not None and value > high):
            if high is None:
                expected = f"a whole number >= {low}"
            elif low is None:
                expected = f"a whole number <= {high}"
            else:
                expected = f"a whole number from {low} to {high}"
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def float_range(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> Callable[[str], float]:
    """A finite float type in the interval from ``low`` to ``high`` (open ends where asked)."""

    def parse(text: str) -> float:
        value = _parse_float(text)
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            left = "-inf" if low is None else f"{low:g}"
            right = "inf" if high is None else f"{high:g}"
            opening = "(" if low_open or low is None else "["
            closing = ")" if high_open or high is None else "]"
            interval = f"{opening}{left}, {right}{closing}"
            raise argparse.ArgumentTypeError(f"expected a number in {interval}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


#: Any finite number (thresholds: their scale depends on the method).
finite_float = float_range()
#: A finite number > 0 (learning rates).
positive_float = float_range(0.0, low_open=True)
#: A rate strictly between 0 and 1 (a target false-accept rate).
open_unit_float = float_range(0.0, 1.0, low_open=True, high_open=True)
#: A whole number >= 1 (counts: pairs, epochs, batch size, repeats).
positive_int = int_range(1)
#: A whole number >= 0 (worker processes of a DataLoader).
non_negative_int = int_range(0)
#: A seed of numpy, torch and ``random``.
seed_int = int_range(0, MAX_SEED)
#: Worker processes: 0 = all cores, -1 = all, -2 = all but one (joblib style).
jobs_int = int_range(-MAX_JOBS, MAX_JOBS)


def positive_int_list(text: str, *, high: int = MAX_GALLERY) -> list[int]:
    """Comma-separated whole numbers from 1 to ``high`` (e.g. gallery sizes ``1000,10000``)."""
    parts = [part for part in str(text).split(",") if part.strip()]
    expected = f"expected comma-separated whole numbers from 1 to {high}, got {text!r}"
    if not parts:
        raise argparse.ArgumentTypeError(expected)
    values = []
    for part in parts:
        try:
            values.append(int_range(1, high)(part))
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(expected) from None
    return values


def multiple_of(step: int, *, low: int, high: int) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high`` divisible by ``step`` (hash lengths in bits: whole bytes)."""

    def parse(text: str) -> int:
        value = _parse_int(text)
        if value < low or value > high or value % step:
            raise argparse.ArgumentTypeError(
                f"expected a multiple of {step} from {low} to {high}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def _checked_output(text: str, **checks: bool) -> Path:
    """:func:`drugsim.io.check_output_path` of ``text``, its refusal as argparse's error."""
    from drugsim.io import check_output_path

    try:
        return check_output_path(text, what="", **checks)
    except OutputError as exc:
        raise argparse.ArgumentTypeError(str(exc).strip()) from None


def output_file(*, stdout: bool = False) -> Callable[[str], Path]:
    """A file to write, checked now (see :func:`drugsim.io.check_output_path`); ``-`` = stdout if allowed."""

    def parse(text: str) -> Path:
        return _checked_output(text, allow_stdout=stdout)

    parse.__name__ = "output file"
    return parse


def output_folder(text: str) -> Path:
    """A folder to create or write into, checked now (an existing file is refused)."""
    return _checked_output(text, folder=True)


output_folder.__name__ = "output folder"


def index_file(text: str) -> Path:
    """A search index: an existing file is read as it is; a new one is checked as an output (with its
    ``.json`` sidecar)."""
    path = Path(text)
    if path.is_file():
        return path
    output_file()(text)
    return output_file()(text + ".json") and path


index_file.__name__ = "index file"


def check_distinct_outputs(**paths: Path | None) -> None:
    """Refuse two options naming the same output file (one would silently overwrite the other)."""
    from drugsim.errors import ConfigError
    from drugsim.io import is_stdout

    seen = {}
    for option, path in paths.items():
        if path is None or is_stdout(path):
            continue
        key = Path(path).resolve()
        if key in seen:
            raise ConfigError(f"{seen[key]} and {option} both name {path}; give two different files")
        seen[key] = option


# ------------------------------------------------------------------ options shared by several sub-commands
# Declared once here, so that the same option reads the same (type, default, help) in every command.

#: Keeps the hand-wrapped examples of an epilog as written.
FORMATTER = argparse.RawDescriptionHelpFormatter
#: Help of a dataset option that takes a folder or the Grocery copy.
DATA_HELP = "dataset folder, or 'grocery' ($DRUGSIM_GROCERY_ROOT)"


def add_command(
    subparsers, name: str, *, help: str, description: str, epilog: str | None = None
) -> argparse.ArgumentParser:
    """A sub-command whose epilog (examples) keeps its line breaks."""
    return subparsers.add_parser(
        name, help=help, description=description, epilog=epilog, formatter_class=FORMATTER
    )


def add_data_option(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """``--data DIR``: the dataset folder, or ``grocery``."""
    parser.add_argument("--data", required=required, help=DATA_HELP)


def add_method_options(parser: argparse.ArgumentParser) -> None:
    """``--method NAME`` and ``--model CKPT`` (the checkpoint of a trained Siamese method)."""
    parser.add_argument("--method", required=True, help="method name (see `drugsim methods`)")
    parser.add_argument("--model", type=Path, metavar="CKPT", help="checkpoint of a siamese-* method")


def add_jobs_option(
    parser: argparse.ArgumentParser,
    help: str = "worker processes (default: all cores)",
    *,
    type: Callable[[str], int] = jobs_int,
    metavar: str | None = "N",
) -> None:
    """``--jobs N``: worker processes (default None: the command's own choice)."""
    parser.add_argument("--jobs", type=type, default=None, metavar=metavar, help=help)


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """``--cache-dir DIR`` and ``--jobs N`` of the describe-once engine."""
    parser.add_argument("--cache-dir", type=output_folder, metavar="DIR", help="on-disk feature cache folder")
    add_jobs_option(parser)


def add_seed_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--seed S`` (default 0) of numpy, torch and ``random``."""
    parser.add_argument("--seed", type=seed_int, default=0, help=help)


def add_json_flag(parser: argparse.ArgumentParser, help: str = "print JSON instead of text") -> None:
    """``--json``: print JSON on standard output instead of text."""
    parser.add_argument("--json", action="store_true", help=help)


def add_json_file(
    parser: argparse.ArgumentParser, help: str, *, dest: str = "json", metavar: str | None = None
) -> None:
    """``--json FILE``: write the result as JSON there (``-`` = standard output)."""
    parser.add_argument("--json", dest=dest, type=output_file(stdout=True), metavar=metavar, help=help)


def add_quiet_option(parser: argparse.ArgumentParser, help: str = "no progress bars") -> None:
    """``--quiet``: no progress bars."""
    parser.add_argument("--quiet", action="store_true", help=help)
