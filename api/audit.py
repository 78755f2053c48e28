"""The audit trail: the whole server's for admins, a project's for its leads; pages of
entries newest first, or every matching entry streamed as CSV or JSON Lines."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.pagination import Cursor
from api.permissions import ProjectScopedView
from labeler.audit.models import AuditEntry
from labeler.audit.selectors import (
    ROW_FIELDS,
    audit_entries,
    audit_filter_parse,
    audit_rows,
    entry_csv_cells,
    entry_row,
)
from labeler.errors import ValidationFailed
from labeler.exports.formats.text import spreadsheet_safe

FILTERS = [
    OpenApiParameter("action", str, description="One action (see docs/api.md)."),
    OpenApiParameter("actor", str, description="The actor's username (exact, any case)."),
    OpenApiParameter("since", str, description="From this date or ISO date-time."),
    OpenApiParameter("until", str, description="Until this date (its end) or date-time."),
    OpenApiParameter("export", str, enum=["csv", "jsonl"], description="Every match, streamed."),
]


def _responses() -> dict[Any, Any]:
    """A page of entries, or with ``export`` the whole match as CSV or JSON Lines."""
    return {
        (200, "application/json"): AuditEntrySerializer(many=True),
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="export=csv"),
        (200, "application/x-ndjson"): OpenApiResponse(
            OpenApiTypes.STR, description="export=jsonl: one entry a line"
        ),
    }


class AuditEntrySerializer(serializers.ModelSerializer):
    """One entry as stored, its hash included."""

    class Meta:
        model = AuditEntry
        fields = list(ROW_FIELDS)


class NewestSequenceFirst(Cursor):
    """Newest entry first."""

    ordering = "-sequence"
    page_size = 100


class _Echo:
    """A file-like object whose write hands the line back (csv.writer into a stream)."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(entries: Any) -> Iterator[str]:
    """The header, then one row an entry. A cell a spreadsheet would run as a formula (a
    failed login's username "=HYPERLINK(...)", a project named "+cmd") gets a quote before
    it, by the exports' one rule; the JSON Lines keep every value as written."""
    writer = csv.writer(_Echo())
    yield writer.writerow(ROW_FIELDS)
    for entry in audit_rows(entries):
        yield writer.writerow([spreadsheet_safe(cell) for cell in entry_csv_cells(entry)])


def _jsonl_lines(entries: Any) -> Iterator[str]:
    for entry in audit_rows(entries):
        yield json.dumps(entry_row(entry), ensure_ascii=False, sort_keys=True) + "\n"


def audit_answer(view: GenericAPIView, request: Request, *, project_id: int | None) -> Any:
    """A page of entries, or with ``export`` every match as a streamed file."""
    pages = view.paginator
    # The keys the API reads besides the filters: the file asked for and the pages' own.
    also = ("export", getattr(pages, "cursor_query_param", "cursor"), "page_size")
    criteria = audit_filter_parse(
        request.query_params,
        project_id=project_id,
        may_pick_project=project_id is None,
        also=also,
    )
    entries = audit_entries(criteria)
    kind = request.query_params.get("export")
    if kind is not None:
        if kind not in ("csv", "jsonl"):
            raise ValidationFailed(
                f"export must be csv or jsonl, not {kind[:20]!r}.", field="export"
            )
        lines = _csv_lines(entries) if kind == "csv" else _jsonl_lines(entries)
        content_type = "text/csv" if kind == "csv" else "application/x-ndjson"
        response = StreamingHttpResponse(lines, content_type=f"{content_type}; charset=utf-8")
        name = f"audit-{project_id}" if project_id else "audit"
        response["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
        return response
    page = view.paginate_queryset(entries)
    return view.get_paginated_response(AuditEntrySerializer(page, many=True).data)


class AuditView(GenericAPIView):
    """The whole server's audit trail (admins); ``project`` narrows it to one project."""

    permission_classes = [permissions.IsAdminUser]
    pagination_class = NewestSequenceFirst
    serializer_class = AuditEntrySerializer
    queryset = AuditEntry.objects.none()

    @extend_schema(
        parameters=[*FILTERS, OpenApiParameter("project", int, description="One project.")],
        responses=_responses(),
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return audit_answer(self, request, project_id=None)


class ProjectAuditView(ProjectScopedView):
    """The project's audit trail, for its leads and admins."""

    pagination_class = NewestSequenceFirst
    serializer_class = AuditEntrySerializer
    queryset = AuditEntry.objects.none()

    @extend_schema(
        parameters=[
            *FILTERS,
            OpenApiParameter("project", int, description="This project's id only, or a 400."),
        ],
        responses=_responses(),
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        return audit_answer(self, request, project_id=self.project.pk)
