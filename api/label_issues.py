"""Likely-wrong final labels: what the label check after a training flagged.

Reviewers, leads and admins read these; annotators get 403.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.images import stored_file_url
from api.pagination import Cursor
from api.training import ModelView
from labeler.predictions.label_check import annotators_labels, label_issues
from labeler.predictions.models import LabelCheck


class AnnotatorLabelsSerializer(serializers.Serializer):
    annotator = serializers.CharField()
    labels = serializers.ListField(child=serializers.IntegerField())


class LabelIssueSerializer(serializers.ModelSerializer):
    file_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    probabilities = serializers.DictField(
        child=serializers.FloatField(),
        help_text="{label id: probability} from a model that never trained on the image.",
    )
    given_labels = serializers.ListField(
        source="given_label_ids",
        child=serializers.IntegerField(),
        help_text="The final label set checked (label ids; one in a single-label project).",
    )
    predicted_labels = serializers.ListField(
        source="predicted_label_ids",
        child=serializers.IntegerField(),
        help_text="The labels the out-of-sample model gives: its top label, or in a "
        "multi-label project those at 0.5 or more.",
    )
    annotators = serializers.SerializerMethodField(
        help_text="Each annotator's labels for the image (none for imported final labels)."
    )

    class Meta:
        model = LabelCheck
        fields = [
            "image", "file_url", "thumbnail_url", "quality", "given_label", "predicted_label",
            "given_labels", "predicted_labels", "probabilities", "annotators", "run",
            "created_at",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "quality": {"help_text": "cleanlab's label quality score (0-1; low: likely wrong)."},
            "given_label": {
                "help_text": "The final label checked (a label id); null in a multi-label project."
            },
            "predicted_label": {
                "help_text": "The out-of-sample model's top label; null in a multi-label project."
            },
            "run": {"help_text": "The training run whose folds made the check."},
        }

    def get_file_url(self, check: LabelCheck) -> str:
        return stored_file_url(self.context, check.image.file.name)

    def get_thumbnail_url(self, check: LabelCheck) -> str | None:
        thumbnail = check.image.thumbnail
        return stored_file_url(self.context, thumbnail.name) if thumbnail else None

    @extend_schema_field(AnnotatorLabelsSerializer(many=True))
    def get_annotators(self, check: LabelCheck) -> list[dict[str, Any]]:
        return list(self.context.get("annotators", {}).get(check.image_id, []))


class LabelIssuePagination(Cursor):
    """Likely-wrong labels, the least likely right first."""

    ordering = ("quality", "id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class LabelIssueListView(ModelView):
    """The project's likely-wrong final labels, from the latest label check."""

    pagination_class = LabelIssuePagination

    @extend_schema(responses={200: LabelIssueSerializer(many=True)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        found = label_issues(self.project).select_related("image")
        page = self.paginate_queryset(found)
        context = {
            "request": request,
            "annotators": annotators_labels([check.image_id for check in page or []]),
        }
        return self.get_paginated_response(
            LabelIssueSerializer(page, many=True, context=context).data
        )
