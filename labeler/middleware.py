"""Middleware of the whole site (the pages, the admin and the API)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from rest_framework.views import APIView

from labeler.errors import ValidationFailed
from labeler.text_in import (
    pairs_refuse_unsafe,
    query_refuse_unsafe,
    text_refuse_unsafe,
    uploads_refuse_unsafe,
)


class UnsafeTextRefused:
    """Text holding NUL or a lone surrogate is a 400 naming where it was, on every page.

    PostgreSQL stores no NUL in text and no lone surrogate can be encoded, so a filter, a
    search or a form field given one would fail in the database (a 500) instead of being
    refused. Checked here: the path and the query string (names and values) of every
    request, and the form fields and file names of the pages' and the admin's bodies. The
    API's bodies are its parsers' to check (``api.parsers``): reading them here would
    parse them before the view chose its parsers. The API answers in its error shape.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            # A path's bytes that are not UTF-8 Django keeps percent-encoded: safe text.
            text_refuse_unsafe(request.path_info, field="the path")
            query_refuse_unsafe(_wsgi_bytes(request.META.get("QUERY_STRING", "")))
        except ValidationFailed as refusal:
            return _refusal(request, refusal)
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        """Refuse a page's form holding unsafe text before its view reads it."""
        view_class = getattr(view, "cls", None)
        if request.method in ("GET", "HEAD", "OPTIONS") or (
            isinstance(view_class, type) and issubclass(view_class, APIView)
        ):
            return None
        try:
            if request.content_type == "application/x-www-form-urlencoded":
                query_refuse_unsafe(request.body)  # strictly UTF-8, as query strings
            pairs_refuse_unsafe(request.POST.lists())
            uploads_refuse_unsafe(request.FILES.lists())
        except ValidationFailed as refusal:
            return _refusal(request, refusal)
        return None


def _wsgi_bytes(text: str) -> bytes:
    """The bytes of the path or the query string: WSGI hands them over as latin-1 (PEP 3333)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:  # not from a WSGI server (a test's request): text as it is
        return text.encode("utf-8", errors="surrogatepass")


def _refusal(request: HttpRequest, refusal: ValidationFailed) -> HttpResponse:
    if request.path.startswith("/api/"):
        body = {
            "detail": refusal.message,
            "code": refusal.code,
            "errors": {refusal.field: [refusal.message]},
        }
        return JsonResponse(body, status=400)
    return HttpResponseBadRequest(refusal.message, content_type="text/plain; charset=utf-8")
