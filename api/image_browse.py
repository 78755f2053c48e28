"""The data browser's filters, sorts and keyset pages on ``GET /projects/{id}/images/``.

The filters themselves live in ``labeler.browse`` (the Images page reads the same query
parameters); here they become OpenAPI parameters, and the list's pages follow the
chosen order with opaque cursors.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.utils.urls import replace_query_param

from labeler.browse.filters import FILTERS, param_values
from labeler.browse.sorts import MAX_PAGE_SIZE, SORT_CHOICES, Page, images_page
from labeler.errors import ValidationFailed
from labeler.site_address import site_url

DEFAULT_PAGE_SIZE = 100


class FilterThrottle(UserRateThrottle):
    """Filtered image listings (the images list, the bulk count) a user may ask for a
    while: ``LABELER_FILTER_THROTTLE_RATE``; past it a 429 says when to come back."""

    scope = "image_filter"

    def get_rate(self) -> str:
        return str(settings.LABELER_FILTER_THROTTLE_RATE)


_TYPES = {"integer": OpenApiTypes.INT, "number": OpenApiTypes.NUMBER, "date": OpenApiTypes.STR}


def browse_parameters() -> list[OpenApiParameter]:
    """Every registered filter, and the sort, as query parameters of the images list."""
    parameters = [
        OpenApiParameter(
            "sort",
            OpenApiTypes.STR,
            enum=[value for value, _ in SORT_CHOICES],
            description="The order (id by default); a leading - reverses it. Leads, "
            "reviewers and admins only.",
        )
    ]
    for image_filter in FILTERS.values():
        described = f"{image_filter.help} Leads, reviewers and admins only."
        if image_filter.many:
            described += " Repeat it to match any of several values."
        parameters.append(
            OpenApiParameter(
                image_filter.name,
                _TYPES.get(image_filter.kind, OpenApiTypes.STR),
                enum=[value for value, _ in image_filter.choices] or None,
                many=image_filter.many,
                explode=True,
                description=described,
            )
        )
    return parameters


class BrowsePagination(BasePagination):
    """Keyset pages in the order ``sort`` names; clients follow the next and previous links."""

    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        self.request = request
        sort = (param_values(request.query_params, "sort") or ["id"])[-1]
        self.page: Page = images_page(
            queryset,
            sort=sort,
            cursor=request.query_params.get(self.cursor_query_param),
            size=self._page_size(request),
        )
        return self.page.images

    def _page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return DEFAULT_PAGE_SIZE
        if not (raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_PAGE_SIZE):
            raise ValidationFailed(
                f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE}, not {raw!r}.",
                field=self.page_size_query_param,
            )
        return int(raw)

    def _link(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        url = site_url(self.request.get_full_path())
        return replace_query_param(url, self.cursor_query_param, cursor)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "next": self._link(self.page.next_cursor),
                "previous": self._link(self.page.previous_cursor),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: from a next or previous link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Images a page, 1 to {MAX_PAGE_SIZE} ({DEFAULT_PAGE_SIZE} "
                "by default).",
                "schema": {"type": "integer"},
            },
        ]
