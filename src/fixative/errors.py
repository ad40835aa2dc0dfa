"""The one exception tree.

Every layer raises these; the API maps them to status codes in one place.
"""

from __future__ import annotations


class FixativeError(Exception):
    """Base of every error Fixative raises on purpose."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(FixativeError):
    """The caller sent something malformed: bad types, unknown columns, bad ids."""

    status_code = 400


class Unprocessable(InvalidInput):
    """Well-formed input that cannot be acted on (e.g. a point outside the volume)."""

    status_code = 422


class NotFound(FixativeError):
    """A named thing (table, annotation id, version) does not exist."""

    status_code = 404


class Conflict(FixativeError):
    """The request clashes with current state (existing table, duplicate id, held lock)."""

    status_code = 409


class PayloadTooLarge(InvalidInput):
    status_code = 413


class UnsupportedMediaType(InvalidInput):
    status_code = 415


class Unauthorized(FixativeError):
    status_code = 401


class Forbidden(FixativeError):
    status_code = 403


class Transient(FixativeError):
    """A dependency failed in a way that may succeed on retry (timeouts, 5xx)."""

    status_code = 503


class SettingsError(FixativeError):
    """A setting is missing or malformed; raised at start, naming the key."""
