"""Erasures: images removed for good at a person's request, with their reports (leads and
admins).

``POST /projects/{id}/erasures/`` with ``{"image_ids": [...]}`` or ``{"filter": {...}}``,
``reason``, ``expected_count`` (the dry run's ``image_count``, which the lead confirmed)
and ``dry_run`` (true: 200 with what would go, nothing changed) erases and answers 201
with the report; ``GET /projects/{id}/erasures/`` lists the reports, newest
first, and ``GET /projects/{id}/erasures/{erasure_id}/`` shows one.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.pagination import NewestFirst
from api.parsers import JSONParser
from api.permissions import ProjectScopedView
from api.selections import SelectionView
from labeler.erasure.models import Erasure
from labeler.erasure.services import ErasurePlan, images_erase
from labeler.errors import ValidationFailed


class ErasureSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(
        source="requested_by.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Erasure
        fields = [
            "id", "project", "requested_by", "reason", "query", "image_count", "image_ids",
            "files", "exports_deleted", "served_deleted", "prediction_jobs_deleted",
            "versions_marked", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class ErasureRequestSerializer(serializers.Serializer):
    image_ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="The images, by id."
    )
    filter = serializers.JSONField(
        required=False,
        help_text='Or the Images page\'s filters, e.g. {"tag": "person-17"} (a key it does '
        "not know is a 400).",
    )
    reason = serializers.CharField(required=False, help_text="Why (required unless dry_run).")
    dry_run = serializers.BooleanField(required=False, default=False)
    expected_count = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text="How many images the lead saw would go (the dry run's image_count); "
        "required unless dry_run. A selection that matches another number now is a 409 "
        "with both.",
    )


BODY_KEYS = ("image_ids", "filter", "reason", "dry_run", "expected_count")


class ErasureListView(SelectionView):
    """Erase images, or list the project's erasure reports."""

    parser_classes = [JSONParser]
    pagination_class = NewestFirst
    queryset: QuerySet[Any] = Erasure.objects.none()

    @extend_schema(responses={200: ErasureSerializer(many=True)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        reports = Erasure.objects.filter(project=self.project).select_related("requested_by")
        page = self.paginate_queryset(reports)
        return self.get_paginated_response(ErasureSerializer(page, many=True).data)

    @extend_schema(
        request=ErasureRequestSerializer,
        examples=[
            OpenApiExample(
                "By id", {"image_ids": [12], "reason": "Request of 3 May", "expected_count": 1}
            ),
            OpenApiExample("Dry run of a filter", {"filter": {"tag": "p17"}, "dry_run": True}),
        ],
        responses={
            201: ErasureSerializer,
            200: OpenApiResponse(description="dry_run: what would go (nothing changed)."),
            400: OpenApiResponse(
                description="No or both of image_ids and filter, an unknown filter key, ids "
                "of another project, a selection that matches nothing, no reason, no "
                "expected_count, or anything in the query string."
            ),
            403: OpenApiResponse(description="Leads and admins only."),
            409: OpenApiResponse(
                description="The selection now matches another number of images than "
                "expected_count (both in the answer: expected_count, matched_count)."
            ),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Erase the images named, with every copy kept of them; or, with `dry_run`, say
        what would go."""
        self.require_manager()
        body = request.data
        if not isinstance(body, dict):
            raise ValidationFailed("Send one JSON object.", field="image_ids")
        unknown = sorted(set(body) - set(BODY_KEYS))
        if unknown:
            raise ValidationFailed(
                f"Unknown key {unknown[0]!r}; send image_ids or filter, reason, "
                "expected_count, dry_run.",
                field=str(unknown[0]),
            )
        dry_run = body.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise ValidationFailed("dry_run is true or false.", field="dry_run")
        query = {key: body[key] for key in ("image_ids", "filter") if key in body}
        outcome = images_erase(
            project=self.project,
            query=query,
            actor=self.user,
            reason=body.get("reason"),
            dry_run=dry_run,
            expected_count=body.get("expected_count"),
        )
        if isinstance(outcome, ErasurePlan):
            plan = asdict(outcome)
            return Response({"dry_run": True, "image_count": len(outcome.image_ids), **plan})
        return Response(ErasureSerializer(outcome).data, status=status.HTTP_201_CREATED)


class ErasureDetailView(ProjectScopedView):
    """One erasure's report."""

    queryset: QuerySet[Any] = Erasure.objects.none()

    @extend_schema(responses={200: ErasureSerializer})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        report = get_object_or_404(
            Erasure.objects.select_related("requested_by"),
            project=self.project,
            pk=int(self.kwargs["pk"]),
        )
        return Response(ErasureSerializer(report).data)
