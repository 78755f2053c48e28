"""Domain errors: raised by services, mapped to 4xx responses by the API's one handler.

Also what every entry point answers while the database cannot be reached (a 503 with
Retry-After, from the API's handler and from the pages' 500 handler alike). Free of
Django, so that pure modules (the training config, worker/ml's readers of it) may raise
these too.
"""

from __future__ import annotations

from typing import Any

RETRY_AFTER_SECONDS = 5
UNAVAILABLE_MESSAGE = "The database is unavailable; try again in a few seconds."


class DomainError(Exception):
    """A request the domain refuses, with a message the user can act on."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class ValidationFailed(DomainError):
    """The input is malformed or breaks a domain rule."""


class NotFound(DomainError):
    """The object does not exist or is not visible to the caller."""

    status_code = 404
    code = "not_found"


class PermissionDenied(DomainError):
    """The caller is known but lacks the role for this action."""

    status_code = 403
    code = "permission_denied"


class Conflict(DomainError):
    """The request conflicts with data already stored."""

    status_code = 409
    code = "conflict"


class Unavailable(DomainError):
    """A service the request needs cannot answer now (the caller may try again)."""

    status_code = 503
    code = "unavailable"
