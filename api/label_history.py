"""The history of images' labels: who changed what, when, from which labels to which.

Reviewers, leads and admins read it; annotators may not (it names other annotators).
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.agreement import QualityView
from api.filters import FilterSet, StrictIsoDateTimeFilter
from api.images import DATETIME
from api.pagination import NewestFirst
from labeler.annotations.models import LabelChange, LabelChangeKind
from labeler.errors import NotFound
from labeler.images.models import Image
from labeler.projects import selectors


class LabelChangeSerializer(serializers.ModelSerializer):
    annotator_username = serializers.CharField(
        source="annotator.username", read_only=True, allow_null=True
    )
    changed_by_username = serializers.CharField(
        source="changed_by.username",
        read_only=True,
        allow_null=True,
        help_text="Who made the change; null when the system did (consensus).",
    )
    method = serializers.CharField(
        read_only=True,
        help_text="How a final label was decided (consensus, adjudicated, gold, machine, "
        "imported); empty for annotations.",
    )
    from_labels = serializers.SerializerMethodField(help_text="Label names before.")
    to_labels = serializers.SerializerMethodField(help_text="Label names after.")

    class Meta:
        model = LabelChange
        fields = [
            "id", "image", "kind", "method", "annotation_id", "annotator", "annotator_username",
            "changed_by", "changed_by_username", "model_version", "from_label_ids",
            "to_label_ids", "from_labels", "to_labels", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    def _names(self, label_ids: list[int]) -> list[str]:
        # A label removed from the project since is shown by its id.
        names: dict[int, str] = self.context["label_names"]
        return [names.get(label_id, f"#{label_id}") for label_id in label_ids]

    def get_from_labels(self, change: LabelChange) -> list[str]:
        return self._names(change.from_label_ids)

    def get_to_labels(self, change: LabelChange) -> list[str]:
        return self._names(change.to_label_ids)

    def to_representation(self, instance: LabelChange) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["created_at"] = DATETIME.to_representation(instance.created_at)
        return data


class LabelChangeFilter(FilterSet):
    kind = django_filters.ChoiceFilter(choices=LabelChangeKind.choices)
    since = StrictIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = StrictIsoDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = LabelChange
        fields = ["image", "kind", "method", "annotator", "changed_by", "since", "until"]


class HistoryBase(QualityView):
    serializer_class = LabelChangeSerializer
    # The model its filters and schema describe (the base's is the annotations').
    queryset = LabelChange.objects.none()  # type: ignore[assignment]

    def history(self) -> QuerySet[LabelChange]:
        self.require_overseer()
        return LabelChange.objects.filter(project=self.project).select_related(
            "annotator", "changed_by"
        )

    def serialized(self, changes: Any) -> Any:
        names = {label.pk: label.name for label in selectors.project_labels(self.project)}
        return LabelChangeSerializer(changes, many=True, context={"label_names": names}).data


class LabelHistoryView(HistoryBase):
    """Every change of the project's labels, newest first, filtered by image, kind, person, time."""

    pagination_class = NewestFirst
    filterset_class = LabelChangeFilter

    @extend_schema(
        operation_id="projects_label_history_list", responses=LabelChangeSerializer(many=True)
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        changes = self.filter_queryset(self.history())
        page = self.paginate_queryset(changes)
        return self.get_paginated_response(self.serialized(page))


class ImageHistoryView(HistoryBase):
    """One image's label changes, oldest first: annotations, withdrawals and final labels."""

    pagination_class = None

    @extend_schema(responses={200: LabelChangeSerializer(many=True)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        changes = self.history()
        image_id = int(self.kwargs["image_id"])
        if not Image.objects.filter(pk=image_id, project=self.project).exists():
            raise NotFound(f"Image {image_id} is not an image of this project.")
        return Response(self.serialized(changes.filter(image_id=image_id).order_by("id")))
