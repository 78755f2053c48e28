"""Middleware of the whole site (the pages, the admin and the API)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse


class NulInQueryStringRefused:
    """A query string holding the NUL character (%00) is a 400, on every page.

    PostgreSQL stores no NUL in text, so a filter or a search given one would fail in the
    database (a 500) instead of being refused; no parameter here can hold it. The API
    answers in its error shape, with the parameter named.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return _refusal(request, name)
        return self.get_response(request)


def _refusal(request: HttpRequest, name: str) -> HttpResponse:
    message = (
        f"The query parameter {name!r} holds the NUL character (%00), "
        "which no parameter here can contain."
    )
    if request.path.startswith("/api/"):
        body = {"detail": message, "code": "invalid", "errors": {name: [message]}}
        return JsonResponse(body, status=400)
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
