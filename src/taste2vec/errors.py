"""Exceptions raised by taste2vec.

Every error the package raises on purpose derives from one root, so callers can
catch ``Taste2VecError`` and know they caught ours::

    Taste2VecError
    ├── SchemaError          bad input: a field is missing, malformed or out of range
    ├── DataError            a dataset file is missing, unreadable or has the wrong columns
    ├── LexiconError         the flavour lexicon is inconsistent
    ├── ModelError           a model cannot be built, trained, loaded or saved
    │   └── ArtifactError    a model directory is missing files or does not match the code
    ├── StoreError           the operational store cannot do what was asked
    │   ├── ConflictError    an id was reused with different content, or a stale version was saved
    │   └── NotFoundError    something a write refers to (a coffee id) is not stored; names it
    └── MissingExtraError    an optional dependency is not installed (names the pip line)

Messages say what was wrong and what to do about it. The API layer alone
translates them into HTTP status codes.
"""

from __future__ import annotations


class Taste2VecError(Exception):
    """Root of every error raised on purpose by taste2vec."""


class SchemaError(Taste2VecError, ValueError):
    """Input failed validation. ``errors`` lists ``(field path, message)`` pairs."""

    def __init__(self, message: str, errors: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors: list[tuple[str, str]] = errors or []


class DataError(Taste2VecError):
    """A dataset is missing, unreadable, or not in the expected format."""


class LexiconError(Taste2VecError):
    """The flavour lexicon data is inconsistent."""


class ModelError(Taste2VecError):
    """A model cannot be built, trained or used as asked."""


class ArtifactError(ModelError):
    """A saved model directory is incomplete, corrupt, or from an incompatible version."""


class StoreError(Taste2VecError):
    """The operational store (database) cannot do what was asked."""


class ConflictError(StoreError):
    """A write conflicts with what is stored: a reused id with a different payload, or a
    profile saved against a version that is no longer current. Re-read and retry."""


class NotFoundError(StoreError, LookupError):
    """Something a write refers to (a coffee id, for example) is not in the store."""


class MissingExtraError(Taste2VecError, ImportError):
    """An optional dependency is missing; the message names the install command."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed. Install it with: pip install 'taste2vec[{extra}]'"
        )
        self.package = package
        self.extra = extra
