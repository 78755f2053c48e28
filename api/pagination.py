"""Pagination: cursor pages, stable and fast however long a list grows; a bad size is a 400."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request

from labeler.errors import ValidationFailed


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


class Cursor(StrictPageSize, CursorPagination):
    """Cursor pages in ``ordering``; clients follow `next` links."""


class PageNumbers(StrictPageSize, PageNumberPagination):
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
