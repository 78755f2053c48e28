"""Cursor pagination, stable and fast however long a list grows."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Pages in id order; clients follow `next` links."""

    ordering = "id"
    page_size_query_param = "page_size"
    max_page_size = 1000
