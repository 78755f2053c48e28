"""Exports of a project's labels, for leads and admins: direct downloads and background ones.

Annotators get 403 and non-members 404, whether the path names the project or the export.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.pagination import NewestFirst
from api.parsers import JSONParser
from api.permissions import ProjectObjectView, ProjectScopedView
from labeler.errors import Conflict, ValidationFailed
from labeler.exports import services
from labeler.exports.formats import EXPORTERS, ExportSource, exporter_get
from labeler.exports.lanes import export_waits_behind
from labeler.exports.models import Export, ExportStatus
from labeler.exports.options import (
    ANNOTATORS,
    FORMATS,
    IMAGE_URLS,
    LINK_DAYS_DEFAULT,
    LINK_DAYS_MAX,
    export_options_parse,
)
from labeler.site_address import site_url

OPTION_PARAMETERS = [
    OpenApiParameter("format", str, enum=FORMATS, default="json"),
    OpenApiParameter(
        "annotations",
        str,
        enum=["all", "final"],
        description="all: every annotation and the final label (default for json, jsonl, csv, "
        "label-studio, label-studio-zip); final: final labels only (default for coco, the "
        "only choice for imagefolder and hf-imagefolder).",
    ),
    OpenApiParameter("min_confidence", float, description="0..1, on the final label."),
    OpenApiParameter("min_agreement", float, description="0..1: share agreeing with the final."),
    OpenApiParameter("reviewed_only", bool, description="Adjudicated, gold, machine-confirmed."),
    OpenApiParameter(
        "split",
        str,
        description="2 or 3 shares summing to 1 (0.8,0.1,0.1): train, val[, test], seeded; "
        "or project: the project's own train, validation (val) and test images, as its "
        "training and its held-out test set use them.",
    ),
    OpenApiParameter("seed", int, description="Seed of a split by shares (default 0)."),
    OpenApiParameter("annotator", str, description="Username: only their annotations."),
    OpenApiParameter("label", str, description="Only images with this label."),
    OpenApiParameter("since", str, description="ISO date or datetime of the last update."),
    OpenApiParameter("until", str, description="ISO date or datetime of the last update."),
    OpenApiParameter(
        "predictions", bool, description="json, jsonl, label-studio, label-studio-zip only."
    ),
    OpenApiParameter(
        "convert_images",
        bool,
        description="imagefolder, hf-imagefolder: true (default): HEIC and AVIF images are "
        "written as JPEG and GIF as PNG (its first frame), which torchvision's ImageFolder and "
        "datasets read; false: every image in its own format.",
    ),
    OpenApiParameter(
        "annotators",
        str,
        enum=list(ANNOTATORS),
        description="Label Studio formats: email (default): each annotation's completed_by "
        "is {email} (a placeholder <username>@labeler.invalid for a user without one); "
        "none: left out (Label Studio credits the importing user).",
    ),
    OpenApiParameter(
        "image_urls",
        str,
        enum=list(IMAGE_URLS),
        description="label-studio: signed (default): absolute addresses that serve the image "
        "without logging in until they expire; api: the REST file route (a token needed).",
    ),
    OpenApiParameter(
        "link_expiry_days",
        int,
        description=f"Signed links: days they work, 1..{LINK_DAYS_MAX} "
        f"(default {LINK_DAYS_DEFAULT}).",
    ),
    OpenApiParameter(
        "label_studio_origin",
        str,
        description="Signed links: the http(s) origin of the Label Studio server whose pages "
        "may read them (CORS), e.g. https://labelstudio.example.org.",
    ),
]


class ExportSplitSideSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="train, val or test.")
    images = serializers.IntegerField(help_text="The images written to it.")


class ExportSplitSerializer(serializers.Serializer):
    sides = ExportSplitSideSerializer(many=True, help_text="Each side, in order.")
    warnings = serializers.ListField(child=serializers.CharField())


class ExportSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True
    )
    options = serializers.DictField(read_only=True, help_text="The checked options.")
    progress = serializers.FloatField(read_only=True, help_text="Share of images read, 0..1.")
    queued_behind = serializers.SerializerMethodField(
        help_text="Queued: how many exports started before it are still queued or running "
        "in its lane (small exports have a lane of their own); null once it runs."
    )
    reused = serializers.SerializerMethodField(
        help_text="In the answer to a POST: true when an identical export (same options, "
        "nothing in the project changed since) is handed back instead of a new one."
    )
    download_url = serializers.SerializerMethodField()
    split = ExportSplitSerializer(
        read_only=True,
        allow_null=True,
        help_text="Once done, with a split: each side's images as written (sides) and the "
        "warnings a side asked for that came out empty or far from its share earns. "
        "Null without a split, or before the export is done.",
    )

    class Meta:
        model = Export
        fields = [
            "id", "project", "format", "options", "status", "done", "total", "progress",
            "queued_behind", "size_bytes", "error", "download_url", "created_by", "created_at",
            "started_at", "finished_at", "reused", "split",
        ]  # fmt: skip
        read_only_fields = fields

    def get_queued_behind(self, export: Export) -> int | None:
        return self.context.get("behind", {}).get(export.pk)

    def get_reused(self, export: Export) -> bool:
        return bool(self.context.get("reused", False))

    def get_download_url(self, export: Export) -> str | None:
        if export.status != ExportStatus.DONE:
            return None
        path = reverse("api:export-download", kwargs={"pk": export.pk})
        return site_url(path)


class ExportRequestSerializer(serializers.Serializer):
    """The body of POST .../exports/ (documentation: the options parser checks it).

    Every option may be null, which means "not set", as an export's stored options show
    it: a client can send an earlier export's options back as they came.
    """

    format = serializers.ChoiceField(choices=FORMATS, default="json", allow_null=True)
    annotations = serializers.ChoiceField(choices=["all", "final"], required=False, allow_null=True)
    min_confidence = serializers.FloatField(
        required=False, min_value=0, max_value=1, allow_null=True
    )
    min_agreement = serializers.FloatField(
        required=False, min_value=0, max_value=1, allow_null=True
    )
    reviewed_only = serializers.BooleanField(required=False, allow_null=True)
    split = serializers.CharField(
        required=False,
        allow_null=True,
        help_text='"0.8,0.1,0.1" or [0.8, 0.1, 0.1]; or "project": the project\'s own train, '
        "validation (val) and test images.",
    )
    seed = serializers.IntegerField(required=False, allow_null=True)
    annotator = serializers.CharField(required=False, allow_null=True)
    label = serializers.CharField(required=False, allow_null=True)  # type: ignore[assignment]  # the JSON key
    since = serializers.CharField(
        required=False, allow_null=True, help_text="ISO date or datetime."
    )
    until = serializers.CharField(
        required=False, allow_null=True, help_text="ISO date or datetime."
    )
    predictions = serializers.BooleanField(required=False, allow_null=True)
    convert_images = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="imagefolder, hf-imagefolder: true (default): HEIC and AVIF as JPEG, GIF as "
        "PNG; false: every image in its own format.",
    )
    annotators = serializers.ChoiceField(choices=ANNOTATORS, required=False, allow_null=True)
    image_urls = serializers.ChoiceField(choices=IMAGE_URLS, required=False, allow_null=True)
    link_expiry_days = serializers.IntegerField(
        required=False, min_value=1, max_value=LINK_DAYS_MAX, allow_null=True
    )
    label_studio_origin = serializers.CharField(
        required=False, allow_null=True, help_text="https://labelstudio.example.org"
    )
    reuse = serializers.BooleanField(
        default=True,
        help_text="true (default): an identical export not yet deleted (same options, "
        "nothing in the project changed since) is answered with 200 and reused: true "
        "instead of building a copy; false: always build a new one.",
    )


# An export file, documented by its media type.
EXPORT_FILE = {
    (200, "application/json"): OpenApiResponse(
        OpenApiTypes.ANY, description="json, coco, label-studio: the export document."
    ),
    (200, "application/x-ndjson"): OpenApiResponse(
        OpenApiTypes.STR, description="jsonl: one JSON object a line."
    ),
    (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="csv."),
    (200, "application/zip"): OpenApiResponse(
        OpenApiTypes.BINARY,
        description="imagefolder, hf-imagefolder, label-studio-zip: a zip archive.",
    ),
}


class ExportView(ProjectScopedView):
    """Download the selected images with their labels, streamed as they are read."""

    @extend_schema(
        parameters=OPTION_PARAMETERS,
        responses={
            **EXPORT_FILE,
            400: OpenApiResponse(description="A bad option, or too many images: export later."),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        self.require_manager()
        options = export_options_parse(request.query_params)
        services.export_direct_check(project=self.project, options=options)
        source = ExportSource(self.project, options, base_url=site_url(), user_id=self.user.pk)
        kind = exporter_get(options.format)
        response = StreamingHttpResponse(kind.write(source), content_type=kind.content_type)
        filename = services.export_file_name(self.project, options, None)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class ExportListView(ProjectScopedView):
    """The project's background exports: start one, or list them newest first."""

    pagination_class = NewestFirst
    # Options are JSON (a form could not carry a split as a list, nor tell null from "").
    parser_classes = [JSONParser]
    queryset: QuerySet[Any] = Export.objects.none()

    @extend_schema(responses={200: ExportSerializer(many=True)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        exports = Export.objects.filter(project=self.project).select_related("created_by")
        page = self.paginate_queryset(exports)
        context = {"request": request, "behind": export_waits_behind(page or [])}
        body = ExportSerializer(page, many=True, context=context).data
        return self.get_paginated_response(body)

    @extend_schema(
        request=ExportRequestSerializer,
        responses={
            202: ExportSerializer,
            200: OpenApiResponse(ExportSerializer, description="An identical export, reused."),
            400: OpenApiResponse(description="A bad option."),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Queue an export: `{"format": "imagefolder", "split": "0.8,0.2", ...}`."""
        self.require_manager()
        data, reuse = _reuse_taken(request.data)
        started = services.export_request(
            project=self.project,
            user=self.user,
            options=export_options_parse(data),
            base_url=site_url(),
            reuse=reuse,
        )
        export = started.export
        export.refresh_from_db()
        context = {
            "request": request,
            "behind": export_waits_behind([export]),
            "reused": started.reused,
        }
        body = ExportSerializer(export, context=context).data
        code = status.HTTP_200_OK if started.reused else status.HTTP_202_ACCEPTED
        return Response(body, status=code)


def _reuse_taken(data: Any) -> tuple[Any, bool]:
    """The body without its ``reuse`` choice, and that choice (true unless false is sent)."""
    if not isinstance(data, Mapping) or "reuse" not in data:
        return data, True
    reuse = data["reuse"]
    if not isinstance(reuse, bool):
        raise ValidationFailed("reuse must be true or false.", field="reuse")
    return {name: value for name, value in data.items() if name != "reuse"}, reuse


class ObjectExportView(ProjectObjectView):
    """Base of /exports/{pk}/...: the project is the export's."""

    queryset: QuerySet[Any] = Export.objects.none()
    model = Export
    noun = "Export"

    @property
    def export(self) -> Export:
        return self.object


class ExportDetailView(ObjectExportView):
    """One export: its status and progress, and where to download it once done."""

    @extend_schema(responses={200: ExportSerializer})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        context = {"request": request, "behind": export_waits_behind([self.export])}
        return Response(ExportSerializer(self.export, context=context).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete the export and its file."""
        self.require_manager()
        services.export_delete(export=self.export)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExportDownloadView(ObjectExportView):
    """The export's file, once done (409 before, or when it failed)."""

    @extend_schema(
        responses={
            **EXPORT_FILE,
            409: OpenApiResponse(description="Not written yet, or failed."),
        }
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> FileResponse:
        self.require_manager()
        export = self.export
        if export.status != ExportStatus.DONE:
            reason = f": {export.error}" if export.status == ExportStatus.FAILED else ""
            raise Conflict(
                f"Export {export.pk} is {export.status}{reason}; "
                "its file can be downloaded once it is done.",
                status=export.status,
            )
        options = export_options_parse(export.options)
        return FileResponse(
            services.export_file_open(export=export),
            as_attachment=True,
            filename=services.export_file_name(self.project, options, export.pk),
            content_type=EXPORTERS[export.format].content_type,
        )
