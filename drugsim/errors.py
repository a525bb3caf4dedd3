"""Exceptions with messages a user can act on.

Every error names the file or value at fault and what was expected; the CLI prints the message alone
(no traceback) and exits non-zero.
"""


class DrugsimError(Exception):
    """Base class: a problem with the user's input or set-up, reported without a traceback."""


class ImageReadError(DrugsimError):
    """An image file is missing, empty, truncated, not an image, or too large to decode safely."""


class DatasetError(DrugsimError):
    """A dataset folder, manifest or pair list is missing or malformed."""


class ConfigError(DrugsimError):
    """A parameter, profile or method option has a value outside what is supported."""


class OutputError(DrugsimError):
    """An output path cannot be written: a folder, a missing or read-only folder, a socket, a full disk."""
