"""Middleware of the whole site (the pages, the admin and the API)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from rest_framework.views import APIView

from labeler.audit.context import audit_request_bound
from labeler.audit.refusals import audit_refusal_record
from labeler.errors import ValidationFailed
from labeler.http.login_throttle import request_address
from labeler.text_in import (
    data_refuse_unsafe,
    fields_encoding,
    pairs_refuse_unsafe,
    query_refuse_unsafe,
    text_refuse_unsafe,
    uploads_refuse_unsafe,
)

logger = logging.getLogger(__name__)


class UnsafeTextRefused:
    """Text holding NUL or a lone surrogate is a 400 naming where it was, on every page.

    PostgreSQL stores no NUL in text and no lone surrogate can be encoded, so a filter, a
    search or a form field given one would fail in the database (a 500) instead of being
    refused. Checked here, before the view: the path and the query string (names and
    values, strictly UTF-8) of every request, and the form fields, file names and JSON of
    the pages' and the admin's bodies. The API's bodies are its parsers' to check
    (``api.parsers``): reading them here would parse them before the view chose its
    parsers. The API answers in its error shape.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.content_type == "multipart/form-data":
            # Before anything reads its parts (the CSRF check reads a page's form): bytes
            # that are not UTF-8 are then refused, not made U+FFFD (text_in.FIELDS_ENCODING).
            request.encoding = fields_encoding(request.encoding)
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        """Refuse unsafe text before the view reads it (a 400), unless it takes no such
        request: then its own 405 says what is wrong (the text would not be read)."""
        if not _handles(view, request.method or ""):
            return None
        try:
            # A path's bytes that are not UTF-8 Django keeps percent-encoded: safe text.
            text_refuse_unsafe(request.path_info, field="the path")
            query_refuse_unsafe(_wsgi_bytes(request.META.get("QUERY_STRING", "")))
            if request.method not in ("GET", "HEAD", "OPTIONS") and _api_view(view) is None:
                _page_body_check(request)
        except ValidationFailed as refusal:
            return _refusal(request, refusal)
        return None


def _page_body_check(request: HttpRequest) -> None:
    """Refuse unsafe text in a page's form or file names, or in a JSON body sent to it."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body)
        except (ValueError, RecursionError):  # not JSON, or too deep: the view's to refuse
            return
        data_refuse_unsafe(data)
        return
    pairs_refuse_unsafe(request.POST.lists())  # Django's limits on fields first
    if request.content_type == "application/x-www-form-urlencoded":
        query_refuse_unsafe(request.body)  # strictly UTF-8, as query strings
    uploads_refuse_unsafe(request.FILES.lists())


def _api_view(view: Callable[..., Any]) -> type[APIView] | None:
    view_class = getattr(view, "cls", None)
    return view_class if isinstance(view_class, type) and issubclass(view_class, APIView) else None


def _handles(view: Callable[..., Any], method: str) -> bool:
    """Whether an API view has a handler for ``method`` (a page's view is taken to)."""
    view_class, name = _api_view(view), method.lower()
    if view_class is None or name == "options":
        return True
    name = "get" if name == "head" else name
    actions = getattr(view, "actions", None)  # a viewset's: method -> action
    if actions is not None:
        return name in actions
    return name in view_class.http_method_names and hasattr(view_class, name)


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


class AuditRequest:
    """Binds the request and its client's address for the audit trail while it is served.

    The address is DRF's client identification (``NUM_PROXIES``, as the login throttle
    reads it), kept whole (the throttle counts an IPv6 address's /64; an audit entry keeps
    the address itself). Services then record who and from where without being handed
    the request (``labeler.audit.context``). A 403 answered to someone the trail can name
    is recorded here, whichever route refused it (``labeler.audit.refusals``).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with audit_request_bound(request, request_address(request)):
            response = self.get_response(request)
            if response.status_code == 403:
                try:
                    audit_refusal_record(request=request, status=response.status_code)
                except DatabaseError:  # the refusal is still answered as it was
                    logger.warning("A refusal was not recorded", exc_info=True)
            return response
