"""The project's exception hierarchy: every failure a user can cause is a ``CompactError``."""

from __future__ import annotations


class CompactError(Exception):
    """Root of every error COMPACT raises on purpose."""


class FormatError(CompactError):
    """A compressed stream is not a valid COMPACT container."""


class TruncatedStreamError(FormatError):
    """The stream ends before the container says it should."""


class ChecksumError(FormatError):
    """The stream's CRC32 does not match its content."""


class ModelMismatchError(CompactError):
    """A stream was made by a different model than the one asked to decode it."""


class ImageError(CompactError):
    """An input image cannot be read or is unusable."""


class ModelError(CompactError):
    """Model files are missing, corrupt or inconsistent with their manifest."""


class BackendUnavailableError(CompactError):
    """A runtime backend cannot run on this machine (missing package or platform)."""


class MissingExtraError(CompactError):
    """A command needs an optional dependency group that is not installed."""


class DataError(CompactError):
    """Training or evaluation data cannot be used."""


class OutputExistsError(CompactError):
    """Refusing to overwrite an existing output file."""


class ConfigError(CompactError, ValueError):
    """Model or training settings that cannot work (a ValueError too, for callers that catch those)."""


class QualityError(ConfigError):
    """A quality level the model does not offer."""
