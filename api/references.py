"""Images read in place: register a bucket prefix or a folder, follow its scan (leads, admins)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.inputs import StrictInput
from api.pagination import NewestFirst
from api.parsers import JSONParser
from api.permissions import ProjectScopedView
from labeler.errors import NotFound
from labeler.projects.selectors import MAX_ID
from labeler.references import services
from labeler.references.models import Reference, ReferenceKind


class ReferenceRequestSerializer(StrictInput, serializers.Serializer):
    """The body of POST .../references/."""

    kind = serializers.ChoiceField(choices=ReferenceKind.choices)
    bucket = serializers.CharField(
        required=False, allow_blank=True, max_length=63, help_text="kind s3: the bucket."
    )
    prefix = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=1024,
        help_text="kind s3: only keys that start with it (e.g. 'photos/2024/').",
    )
    path = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=900,
        help_text="kind folder: an absolute path inside LABELER_REFERENCE_ROOTS.",
    )


class ProblemSerializer(serializers.Serializer):
    key = serializers.CharField()
    reason = serializers.CharField()


class ReferenceSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True
    )
    location = serializers.CharField(read_only=True, help_text="s3://bucket/prefix or the folder.")
    problems = ProblemSerializer(many=True, read_only=True)

    class Meta:
        model = Reference
        fields = [
            "id", "project", "kind", "location", "bucket", "prefix", "path", "status", "found",
            "created", "duplicates", "known", "rejected", "ignored", "problems", "error",
            "created_by", "created_at", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields


class ReferenceListView(ProjectScopedView):
    """The project's registered buckets and folders: register one, or list them newest first."""

    pagination_class = NewestFirst
    parser_classes = [JSONParser]
    queryset: QuerySet[Any] = Reference.objects.none()

    @extend_schema(responses={200: ReferenceSerializer(many=True)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        found = Reference.objects.filter(project=self.project).select_related("created_by")
        page = self.paginate_queryset(found)
        return self.get_paginated_response(ReferenceSerializer(page, many=True).data)

    @extend_schema(
        request=ReferenceRequestSerializer,
        responses={
            202: ReferenceSerializer,
            400: OpenApiResponse(description="A bucket or folder this server may not read."),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Register images where they lie, `{"kind": "s3", "bucket": "b", "prefix": "p/"}` or
        `{"kind": "folder", "path": "/mnt/photos/set-1"}`: answered at once, the scan
        queued; follow it at the reference's address. Registering again adds what is new."""
        self.require_manager()
        body = ReferenceRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reference = services.reference_register(
            project=self.project, user=self.user, **body.validated_data
        )
        reference.refresh_from_db()
        return Response(ReferenceSerializer(reference).data, status=status.HTTP_202_ACCEPTED)


class ReferenceDetailView(ProjectScopedView):
    """One registration: its scan's status and counts, and the first files it refused."""

    queryset: QuerySet[Any] = Reference.objects.none()

    @extend_schema(responses={200: ReferenceSerializer})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        pk = int(self.kwargs["pk"])
        reference = (
            Reference.objects.filter(project=self.project, pk=pk)
            .select_related("created_by")
            .first()
            if 0 < pk <= MAX_ID
            else None
        )
        if reference is None:
            raise NotFound(f"Reference {self.kwargs['pk']} is not one of this project.")
        return Response(ReferenceSerializer(reference).data)
