"""Exports of a project's labels, for leads and admins."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from django.utils.text import slugify
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request

from api.permissions import ProjectScopedView
from labeler.exports.formats import EXPORTERS, exporter_get


class ExportView(ProjectScopedView):
    """Download every image with its annotations and final label, streamed."""

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(EXPORTERS), default="json")],
        responses={200: OpenApiResponse(description="The export file.")},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        self.require_manager()
        writer, content_type, extension = exporter_get(request.query_params.get("format", "json"))
        response = StreamingHttpResponse(writer(self.project), content_type=content_type)
        filename = f"{slugify(self.project.name) or 'project'}-{self.project.pk}.{extension}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
