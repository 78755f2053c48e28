"""Bulk actions on a selection of a project's images (leads and admins).

``POST /projects/{id}/images/bulk/`` with ``{"action": ..., "selection": {...}, ...params}``
answers 200 with the finished action, or 202 with the background job's URL for a large
selection; ``GET /projects/{id}/images/bulk/?filter=<query>`` counts what a filter
selection holds before acting; ``GET /bulk-actions/{id}/`` follows its progress. ``GET
/projects/{id}/bulk-actions/`` lists the project's actions, newest first (the audit).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from api.image_browse import FilterThrottle
from api.pagination import NewestFirst
from api.parsers import JSONParser
from api.permissions import ProjectObjectView, ProjectScopedView
from api.selections import SelectionView
from labeler.bulk import services
from labeler.bulk.actions import ACTIONS
from labeler.bulk.models import BulkAction, BulkStatus
from labeler.bulk.selection import selection_count
from labeler.errors import ValidationFailed
from labeler.site_address import site_url


class BulkActionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, default=None
    )
    done = serializers.SerializerMethodField(help_text="Images acted on so far.")
    progress = serializers.SerializerMethodField(help_text="done / total, 0 to 1.")
    url = serializers.SerializerMethodField(help_text="Where to follow the action.")

    class Meta:
        model = BulkAction
        fields = [
            "id",
            "action",
            "params",
            "selection",
            "status",
            "total",
            "done",
            "progress",
            "changed",
            "result",
            "error",
            "created_by",
            "created_at",
            "finished_at",
            "url",
        ]
        read_only_fields = fields

    def get_done(self, record: BulkAction) -> int:
        return services.bulk_action_progress(record)

    def get_progress(self, record: BulkAction) -> float:
        return services.bulk_action_progress(record) / record.total if record.total else 1.0

    def get_url(self, record: BulkAction) -> str:
        path = reverse("api:bulk-action-detail", kwargs={"pk": record.pk})
        return site_url(path)


DESTROYING = [name for name, spec in ACTIONS.items() if spec.destroys]


class BulkRequestSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=list(ACTIONS), help_text="What to do; its parameters sit beside it."
    )
    selection = serializers.JSONField(
        help_text='{"ids": [..]} or {"filter": "<Images page query string>", "exclude_ids": [..]}.'
        " A filter takes the images list's filters (and sort); any other key is a 400."
    )
    expected_count = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text="How many images the sender saw selected (after exclude_ids). Required by "
        f"the actions that destroy or withdraw data ({', '.join(DESTROYING)}); any action "
        "given it is refused (409, with both numbers) when the selection now matches another "
        "number of images.",
    )


EXAMPLES = [
    OpenApiExample("Send to review", {"action": "review", "selection": {"ids": [1, 2, 3]}}),
    OpenApiExample(
        "Send back for relabelling",
        {
            "action": "relabel",
            "selection": {"ids": [1, 2]},
            "annotators": ["ann1"],
            "expected_count": 2,
        },
    ),
    OpenApiExample(
        "Set priority on a filter",
        {"action": "priority", "selection": {"filter": "status=not_started"}, "priority": 5},
    ),
    OpenApiExample(
        "Mark gold",
        {"action": "gold", "selection": {"ids": [4]}, "gold": True, "expected_count": 1},
    ),
    OpenApiExample(
        "Reserve",
        {
            "action": "reserve",
            "selection": {"ids": [4]},
            "annotators": ["ann2"],
            "expected_count": 1,
        },
    ),
    OpenApiExample(
        "Delete what a filter matches",
        {"action": "delete", "selection": {"filter": "tag=junk"}, "expected_count": 2},
    ),
    OpenApiExample("Export", {"action": "export", "selection": {"ids": [1, 2]}, "format": "csv"}),
]


class BulkView(SelectionView):
    """Act on many images at once: one call, atomic, audited."""

    parser_classes = [JSONParser]

    def get_throttles(self) -> list[BaseThrottle]:
        if self.request.method == "GET":  # the count: a filtered listing, counted per user
            return [*super().get_throttles(), FilterThrottle()]
        return super().get_throttles()

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "filter",
                OpenApiTypes.STR,
                description="The Images page's query string (empty: every image).",
            )
        ],
        responses={
            200: inline_serializer("BulkSelectionCount", {"count": serializers.IntegerField()}),
            400: OpenApiResponse(description="A bad filter value."),
            403: OpenApiResponse(description="Leads and admins only."),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """How many images `{"filter": ...}` selects: what the page acts on when a lead
        picks everything the filter matches (less the images unticked)."""
        self.require_manager()
        for name in request.query_params:
            if name not in ("filter", "format"):
                raise ValidationFailed(
                    f"Unknown parameter {name!r}: put the image filters in 'filter'.",
                    field=name,
                )
        if len(request.query_params.getlist("filter")) > 1:
            raise ValidationFailed(
                "filter is given once: put every image filter in one query string.",
                field="filter",
            )
        query = request.query_params.get("filter", "")
        return Response({"count": selection_count(self.project, query, user=self.user)})

    @extend_schema(
        request=BulkRequestSerializer,
        examples=EXAMPLES,
        responses={
            200: BulkActionSerializer,
            202: BulkActionSerializer,
            400: OpenApiResponse(
                description="Unknown action, bad parameter or selection (a filter key it "
                "does not know is named), or expected_count missing for an action that "
                "destroys or withdraws data."
            ),
            403: OpenApiResponse(description="Leads and admins only."),
            409: OpenApiResponse(
                description="The selection now matches another number of images than "
                "expected_count (both in the answer: expected_count, matched_count)."
            ),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Run `action` on the selection, with the action's parameters beside it.

        Actions: review (`note`), relabel (`annotators`: usernames; all when left out),
        gold (`gold`: true/false, `labels`), priority (`priority`: a number, or text
        holding one as a form sends it; empty or not a number is a 400), reserve
        (`annotators`; [] releases), delete, export (export options such as `format`).
        A selection above the background threshold answers 202 and runs as a job.
        Relabel, gold, reserve and delete carry `expected_count`, the number of images
        the sender saw selected: a selection that now matches another number is a 409.
        """
        self.require_manager()
        body = request.data
        if not isinstance(body, dict):
            raise ValidationFailed("Send one JSON object.", field="action")
        for name in ("action", "selection"):
            if name not in body:
                raise ValidationFailed(f"'{name}' is required.", field=name)
        own = ("action", "selection", "expected_count")
        params = {k: v for k, v in body.items() if k not in own}
        if body["action"] == "export":
            # Signed image links (label-studio) start with the site's address; never the
            # sender's word, nor the Host its request named.
            params["base_url"] = site_url()
        record = services.bulk_action(
            project=self.project,
            user=self.user,
            action=body["action"],
            selection=body["selection"],
            params=params,
            expected_count=body.get("expected_count"),
        )
        data = BulkActionSerializer(record, context={"request": request}).data
        queued = record.status == BulkStatus.QUEUED
        response = Response(data, status=status.HTTP_202_ACCEPTED if queued else 200)
        if queued:
            response["Location"] = data["url"]
        return response


class BulkActionListView(ProjectScopedView):
    """The project's bulk actions, newest first: who did what to how many images."""

    pagination_class = NewestFirst
    queryset: QuerySet[Any] = BulkAction.objects.none()

    @extend_schema(responses={200: BulkActionSerializer(many=True)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        records = BulkAction.objects.filter(project=self.project).select_related("created_by")
        page = self.paginate_queryset(records.defer("image_ids"))
        body = BulkActionSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(body)


class BulkActionDetailView(ProjectObjectView):
    """One bulk action: its status and progress (poll it while it runs)."""

    queryset: QuerySet[Any] = BulkAction.objects.none()
    model = BulkAction
    noun = "Bulk action"

    @extend_schema(responses={200: BulkActionSerializer})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        return Response(BulkActionSerializer(self.object, context={"request": request}).data)
