"""The API's one error path: every failure becomes JSON with a message a user can act on.

Shape: ``{"detail": "...", "code": "...", "errors": {field: [messages]}}`` where
``errors`` is present for validation failures.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from labeler.errors import RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE, DomainError


def _first_message(errors: Any) -> str:
    if isinstance(errors, dict):
        for key, value in errors.items():
            message = _first_message(value)
            return message if key in ("non_field_errors", "detail") else f"{key}: {message}"
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map domain errors and DRF/Django exceptions to one JSON error shape."""
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code}
        if exc.field:
            body["errors"] = {exc.field: [exc.message]}
        body.update(exc.details)
        return Response(body, status=exc.status_code)
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is down or restarting: not a bug, and the client may retry.
        set_rollback()
        return Response(
            {"detail": UNAVAILABLE_MESSAGE, "code": "database_unavailable"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, TooManyFilesSent | RequestDataTooBig):
        return Response(
            {"detail": f"Request too large: {exc}", "code": "too_large"},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, SuspiciousOperation):
        return Response({"detail": str(exc), "code": "bad_request"}, status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": _first_message(response.data),
            "code": "invalid",
            "errors": (
                response.data
                if isinstance(response.data, dict)
                else {"non_field_errors": response.data}
            ),
        }
    elif isinstance(exc, exceptions.APIException):
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        response.data = {"detail": str(detail), "code": getattr(detail, "code", exc.default_code)}
    return response
