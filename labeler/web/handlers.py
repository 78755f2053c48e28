"""The site's 404 and 500 handlers: JSON for API clients, a page for people."""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from labeler.errors import RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE

# What a lost or refused database connection raises (a restart, a failover, a full pool).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: JSON for API clients, a page for people."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": f"No such endpoint or object: {request.path}", "code": "not_found"},
            status=404,
        )
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: JSON for API clients, a page for people (details go to the log only).

    A database that cannot be reached is no bug: 503 with Retry-After instead. Django
    calls this handler inside its ``except`` block, so the exception is at hand there
    (this also covers failures in middleware, which no view-level handler sees).
    """
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        return database_unavailable(request)
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "Internal error; it has been logged.", "code": "server_error"}, status=500
        )
    return HttpResponse("<h1>Internal error</h1><p>It has been logged.</p>", status=500)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: JSON for API clients, a page for people."""
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"detail": UNAVAILABLE_MESSAGE, "code": "database_unavailable"}, status=503
        )
    else:
        response = HttpResponse(
            f"<h1>Service unavailable</h1><p>{UNAVAILABLE_MESSAGE}</p>", status=503
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
