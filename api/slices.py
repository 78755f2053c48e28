"""The slice report of a project, as JSON and as a file (reviewers, leads and admins)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from django.http import HttpResponse, QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.inputs import StrictInput
from api.permissions import ProjectScopedView
from labeler.annotations.models import Annotation
from labeler.errors import PermissionDenied, ValidationFailed
from labeler.exports.formats.text import spreadsheet_safe
from labeler.predictions.selectors import model_versions_of
from labeler.slices.report import slice_report
from labeler.slices.table import report_header, report_rows

# The corrections for testing many slices, by the names the API takes.
CORRECTIONS = {"bh": "fdr_bh", "holm": "holm"}
FILE_KINDS = ("json", "csv")


class SliceQuerySerializer(StrictInput, serializers.Serializer):
    correction = serializers.ChoiceField(choices=list(CORRECTIONS), default="holm")
    version = serializers.IntegerField(required=False, min_value=1)


class SliceDownloadQuerySerializer(SliceQuerySerializer):
    # Not "format": DRF reads that one to pick a renderer.
    file = serializers.ChoiceField(choices=FILE_KINDS, default="csv")


VERSION_PARAMETER = OpenApiParameter(
    "version",
    int,
    description="The model version (its id) whose figures on the test images are shown; "
    "by default the current one.",
)
CORRECTION_PARAMETER = OpenApiParameter(
    "correction",
    str,
    enum=list(CORRECTIONS),
    description="How p-values are adjusted for testing many slices: holm (the default: the "
    "chance of any clean slice being flagged stays below 5%) or bh (Benjamini-Hochberg: "
    "finds more where many slices differ, with some false flags among them).",
)


class SliceView(ProjectScopedView):
    """Base: the report names annotators and their agreement, so annotators may not read it."""

    queryset = Annotation.objects.none()  # names the path's id type for the schema

    def report(self, query: type[SliceQuerySerializer]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The report asked for, and the query as read."""
        if not self.sees_all_annotations:
            raise PermissionDenied(
                "Only the project's reviewers, leads and admins see the slice report."
            )
        params = self.request.query_params
        _params_check(params, known=[*query().fields, "format"])
        asked = query(data=params)
        asked.is_valid(raise_exception=True)
        options = asked.validated_data
        version = None
        if "version" in options:
            version = model_versions_of(self.project).filter(pk=options["version"]).first()
            if version is None:
                raise ValidationFailed(
                    f"No model version {options['version']} in this project.", field="version"
                )
        correction = CORRECTIONS[options["correction"]]
        return slice_report(self.project, version=version, correction=correction), options


class SliceReportView(SliceView):
    """Label counts and imbalance, then per slice (camera, source, licence, tag, capture
    month, annotator) its label mix, agreement and the model's figures on its test images,
    each against the rest, with flags."""

    @extend_schema(
        parameters=[VERSION_PARAMETER, CORRECTION_PARAMETER],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The slice report.")},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        report, _ = self.report(SliceQuerySerializer)
        return Response(report)


class SliceDownloadView(SliceView):
    """The slice report as a file to keep: the JSON document, or a CSV table (a row for the
    whole project, then one per slice)."""

    @extend_schema(
        parameters=[
            VERSION_PARAMETER,
            CORRECTION_PARAMETER,
            OpenApiParameter(
                "file", str, enum=list(FILE_KINDS), description="csv (default) or json."
            ),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The table."),
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="The report, as GET .../slices/ answers it."
            ),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        report, options = self.report(SliceDownloadQuerySerializer)
        kind = options["file"]
        if kind == "json":
            body, content_type = json.dumps(report, indent=1), "application/json"
        else:
            body, content_type = _csv(report), "text/csv; charset=utf-8"
        response = HttpResponse(body, content_type=content_type)
        name = f"slices-project-{self.project.pk}.{kind}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


def _params_check(params: QueryDict, *, known: list[str]) -> None:
    """Refuse (400 naming it) a parameter the report does not take, or one given twice:
    the report is of the whole project, so a filter left in its address (``?tag=night``)
    is not quietly answered with every image's figures."""
    for name in params:
        if name not in known:
            raise ValidationFailed(
                f"Unknown parameter {name!r}: the report takes {', '.join(known[:-1])} "
                "(it covers the whole project; the Images page filters images).",
                field=name,
            )
        count = len(params.getlist(name))
        if count > 1:
            raise ValidationFailed(f"{name} is given once, not {count} times.", field=name)


def _csv(report: dict[str, Any]) -> str:
    """The report's table, every cell a spreadsheet would run as a formula quoted."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([spreadsheet_safe(name) for name in report_header(report)])
    for row in report_rows(report):
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    return buffer.getvalue()
