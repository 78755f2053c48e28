"""Progress of a project and of the caller, and the caller's own labelling history."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.images import context_view, files_urls
from api.permissions import ProjectScopedView
from labeler.annotations import blind, selectors
from labeler.annotations.models import Annotation
from labeler.errors import ValidationFailed
from labeler.images.counts import image_counts


class ProjectProgressSerializer(serializers.Serializer):
    images = serializers.IntegerField()
    complete = serializers.IntegerField(help_text="Images labelled by `overlap` annotators.")
    in_progress = serializers.IntegerField(help_text="Open images with labels or a live lease.")
    not_started = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="Open images someone skipped.")
    annotations = serializers.IntegerField()


class AnnotatorProgressSerializer(serializers.Serializer):
    labelled = serializers.IntegerField()
    skipped = serializers.IntegerField()
    remaining = serializers.IntegerField(help_text="Open images you have not labelled or skipped.")


class ProgressSerializer(serializers.Serializer):
    project = ProjectProgressSerializer()
    mine = AnnotatorProgressSerializer()


class HistoryItemSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["annotation", "skip"])
    id = serializers.IntegerField(help_text="The annotation's or the skip's id.")
    image_id = serializers.IntegerField()
    image_name = serializers.CharField(
        help_text="The image's original file name; blank for annotators unless the "
        "project's annotators_see_file_names is on."
    )
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    label_ids = serializers.ListField(child=serializers.IntegerField())
    reason = serializers.CharField(allow_blank=True)
    at = serializers.DateTimeField()
    file_url = serializers.SerializerMethodField()
    display_url = serializers.SerializerMethodField(help_text="What to show (see images).")

    def to_representation(self, instance: dict[str, Any]) -> dict[str, Any]:
        """The item as the caller may see it (``labeler.annotations.blind``): its name
        blank and its addresses by id where names are hidden."""
        data = dict(super().to_representation(instance))
        data["image_name"] = blind.image_name_shown(
            instance["image_name"], context_view(self.context)
        )
        return data

    def get_file_url(self, item: dict[str, Any]) -> str:
        return self._urls(item)["file_url"] or ""

    def get_display_url(self, item: dict[str, Any]) -> str:
        return self._urls(item)["display_url"] or ""

    def _urls(self, item: dict[str, Any]) -> dict[str, str | None]:
        return files_urls(
            self.context,
            project_id=self.context["project_id"],
            image_id=item["image_id"],
            file=item["file_name"],
            display=item["display_name"],
        )


class ProgressView(ProjectScopedView):
    """Counts for the project and for the caller, for progress bars."""

    serializer_class = ProgressSerializer

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_member()
        counts = image_counts(self.project.pk)
        mine = selectors.annotator_progress(
            project=self.project, annotator=self.user, counts=counts
        )
        body = {
            "project": asdict(selectors.project_progress(self.project, counts)),
            "mine": asdict(mine),
        }
        return Response(self.get_serializer(body).data)


class HistoryView(ProjectScopedView):
    """The caller's own labelled and skipped images, most recent first (to go back to)."""

    serializer_class = HistoryItemSerializer
    pagination_class = None
    queryset = Annotation.objects.none()  # names the path's id type for the schema

    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description="At most this many (1-200).")],
        responses={200: HistoryItemSerializer(many=True)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_member()
        raw = request.query_params.get("limit", str(selectors.HISTORY_LIMIT))
        # The length check comes first: int() refuses strings of over 4300 digits.
        if not (
            raw.isascii()
            and raw.isdigit()
            and len(raw) <= len(str(selectors.HISTORY_LIMIT))
            and 1 <= int(raw) <= selectors.HISTORY_LIMIT
        ):
            raise ValidationFailed(
                f"'limit' must be a whole number from 1 to {selectors.HISTORY_LIMIT}.",
                field="limit",
            )
        items = selectors.annotator_history(
            project=self.project, annotator=self.user, limit=int(raw)
        )
        body = [asdict(item) for item in items]
        context = {**self.get_serializer_context(), "project_id": self.project.pk}
        return Response(HistoryItemSerializer(body, many=True, context=context).data)
