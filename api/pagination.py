"""Pagination: cursor pages, stable and fast however long a list grows; a bad size is a 400."""

from __future__ import annotations

import binascii
from base64 import b64decode
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request

from labeler.errors import ValidationFailed
from labeler.site_address import site_link
from labeler.text_in import query_refuse_unsafe


class StrictPageSize:
    """The asked page size (at most ``max_page_size``); one that is not a count is a 400."""

    page_size_query_param: str | None = "page_size"
    max_page_size: int | None = 1000

    def get_page_size(self, request: Request) -> int | None:
        raw = request.query_params.get(self.page_size_query_param or "page_size")
        if raw is not None and not (raw.isascii() and raw.isdigit() and int(raw) > 0):
            raise ValidationFailed(
                f"page_size must be a whole number from 1 to {self.max_page_size}, not {raw!r}.",
                field=self.page_size_query_param,
            )
        size: Any = super().get_page_size(request)  # type: ignore[misc]
        return size


class SiteLinks:
    """Next and previous links on the site's address (``site_link``): DRF builds them
    from the request, its Host header included."""

    def get_next_link(self) -> str | None:
        return site_link(super().get_next_link())  # type: ignore[misc]

    def get_previous_link(self) -> str | None:
        return site_link(super().get_previous_link())  # type: ignore[misc]


class Cursor(SiteLinks, StrictPageSize, CursorPagination):
    """Cursor pages in ``ordering``; clients follow `next` links.

    A cursor is a query string (base64) whose position ``p`` is compared with the first
    ordering field: its text is checked as any query string's (``query_refuse_unsafe``:
    NUL, a lone surrogate or bytes that are not UTF-8 are a 400), and a position that is
    no value of that field (``p=abc`` for an id) is DRF's 404 for an invalid cursor, not
    a 500 from the database's lookup.
    """

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Any:
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None:
            return cursor
        try:
            sent = b64decode(request.query_params[self.cursor_query_param].encode("ascii"))
        except (ValueError, binascii.Error):  # decoded by DRF just now: not reached
            raise NotFound(self.invalid_cursor_message) from None
        query_refuse_unsafe(sent, within=self.cursor_query_param)
        name = self.ordering[0].lstrip("-")
        try:
            self._model._meta.get_field(name).to_python(cursor.position)
        except FieldDoesNotExist:  # an annotation: compared as the database takes it
            pass
        except (DjangoValidationError, TypeError, ValueError):
            raise NotFound(self.invalid_cursor_message) from None
        return cursor


class PageNumbers(SiteLinks, StrictPageSize, PageNumberPagination):
    """Numbered pages, for lists in an order computed per request."""

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and int(raw) > 0):
            raise ValidationFailed(
                f"page must be a page number from 1, not {raw!r}.", field=self.page_query_param
            )
        return super().paginate_queryset(queryset, request, view)


class IdCursorPagination(Cursor):
    """Pages in id order."""

    ordering = "id"


class NewestFirst(Cursor):
    """Newest first: exports, decisions, label changes."""

    ordering = "-id"
