"""Machine labels: send confident predictions for review, list them, confirm or correct them.

Reviewers, leads and admins use these; annotators get 403.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.fields import IdField
from api.images import stored_file_url
from api.inputs import StrictInput
from api.pagination import Cursor
from api.parsers import JSONParser
from api.predictions import id_param
from api.training import ModelView
from labeler.errors import ValidationFailed
from labeler.predictions import machine_labels
from labeler.predictions.models import MachineLabel, MachineLabelStatus
from labeler.predictions.selectors import machine_label_stats
from labeler.projects.selectors import MAX_ID


class MachineLabelSerializer(serializers.ModelSerializer):
    file_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    version = serializers.IntegerField(source="model_version.version", read_only=True)
    label_ids = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    reviewed_by = serializers.CharField(
        source="reviewed_by.username", read_only=True, allow_null=True
    )

    class Meta:
        model = MachineLabel
        fields = [
            "image", "file_url", "thumbnail_url", "model_version", "version", "label_ids",
            "confidence", "status", "spot_check", "reviewed_by", "reviewed_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_file_url(self, machine_label: MachineLabel) -> str:
        return stored_file_url(self.context, machine_label.image.file.name)

    def get_thumbnail_url(self, machine_label: MachineLabel) -> str | None:
        thumbnail = machine_label.image.thumbnail
        return stored_file_url(self.context, thumbnail.name) if thumbnail else None


class SendSerializer(StrictInput, serializers.Serializer):
    min_confidence = serializers.FloatField(min_value=0.0, max_value=1.0)
    label = IdField(  # type: ignore[assignment]  # the JSON key
        required=False, help_text="Only predictions of this label."
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)


class SentSerializer(serializers.Serializer):
    sent = serializers.IntegerField()


class CorrectionSerializer(serializers.Serializer):
    image = IdField()
    labels = serializers.ListField(child=IdField(), allow_empty=False)


class ReviewRequestSerializer(StrictInput, serializers.Serializer):
    confirm = serializers.ListField(child=IdField(), required=False, default=list)
    correct = CorrectionSerializer(many=True, required=False, default=list)


class ReviewResultSerializer(serializers.Serializer):
    confirmed = serializers.IntegerField()
    corrected = serializers.IntegerField()
    spot_checked = serializers.IntegerField()


class SpotChecksSerializer(serializers.Serializer):
    checked = serializers.IntegerField(help_text="Spot checks annotators labelled.")
    agreed = serializers.IntegerField(help_text="Of those, where every annotator agreed.")


class StatsSerializer(serializers.Serializer):
    pending = serializers.IntegerField()
    confirmed = serializers.IntegerField()
    corrected = serializers.IntegerField()
    spot_checks = SpotChecksSerializer()


class MachineLabelPagination(Cursor):
    """Machine labels, most confident first."""

    ordering = ("-confidence", "id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class MachineLabelSendView(ModelView):
    """Send the current model's confident predictions of unlabelled images for review."""

    @extend_schema(request=SendSerializer, responses={200: SentSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        data = SendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sent = machine_labels.machine_labels_send(project=self.project, **data.validated_data)
        return Response({"sent": sent})


class MachineLabelListView(ModelView):
    """The project's machine labels, most confident first."""

    pagination_class = MachineLabelPagination

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=MachineLabelStatus.values),
            OpenApiParameter("label", int, description="Only those suggesting this label."),
        ],
        responses={200: MachineLabelSerializer(many=True)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        found = MachineLabel.objects.filter(project=self.project).select_related(
            "model_version", "reviewed_by", "image"
        )
        status = request.query_params.get("status")
        if status is not None:
            if status not in MachineLabelStatus.values:
                known = ", ".join(MachineLabelStatus.values)
                raise ValidationFailed(
                    f"Unknown status {status!r}; use one of {known}.", field="status"
                )
            found = found.filter(status=status)
        label_id = id_param(request, "label")
        if label_id is not None:
            found = found.filter(pk__in=_with_label(found, label_id))
        page = self.paginate_queryset(found)
        return self.get_paginated_response(
            MachineLabelSerializer(page, many=True, context={"request": request}).data
        )


def _with_label(found: Any, label_id: int) -> list[int]:
    # JSON containment differs between PostgreSQL and SQLite; the ids are small lists.
    return [pk for pk, ids in found.values_list("pk", "label_ids") if label_id in ids]


class MachineLabelReviewView(ModelView):
    """Confirm and correct pending machine labels in one batch."""

    parser_classes = [JSONParser]  # corrections are a list of objects: no form can carry them

    @extend_schema(request=ReviewRequestSerializer, responses={200: ReviewResultSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """`{"confirm": [image ids], "correct": [{"image": id, "labels": [ids]}]}`."""
        self.require_overseer()
        data = ReviewRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = machine_labels.machine_labels_review(
            project=self.project,
            reviewer=self.user,
            confirm=data.validated_data["confirm"],
            correct=[dict(item) for item in data.validated_data["correct"]],
        )
        return Response(result)


class MachineLabelStatsView(ModelView):
    """How many machine labels wait, were confirmed or corrected; spot-check agreement."""

    @extend_schema(responses={200: StatsSerializer})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        return Response(machine_label_stats(project=self.project))
