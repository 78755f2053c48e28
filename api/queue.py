"""The annotation queue: the next image for the calling annotator."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.images import DATETIME, QueueImageSerializer
from api.permissions import ProjectScopedView
from labeler.annotations.models import Assignment
from labeler.annotations.queue import queue_next_image, queue_suggestion_record
from labeler.errors import ValidationFailed
from labeler.predictions.selectors import (
    Suggestion,
    suggestion_for,
    suggestion_held_back_note,
    suggestion_withheld,
)
from labeler.projects.models import Project

MAX_ID = 2**63 - 1  # the largest id a row can have


class SuggestionSerializer(serializers.Serializer):
    model_version = serializers.IntegerField(help_text="Id of the model version.")
    version = serializers.IntegerField(help_text="The model's version number in the project.")
    label_ids = serializers.ListField(child=serializers.IntegerField())
    confidence = serializers.FloatField()
    probabilities = serializers.DictField(child=serializers.FloatField())


class NextImageSerializer(serializers.Serializer):
    image = QueueImageSerializer()
    lease_expires_at = serializers.DateTimeField(source="expires_at")
    suggestion = SuggestionSerializer(
        allow_null=True,
        help_text=(
            "The current model's labels for the image; null when it has none, when the "
            "image is labelled blind, or when the project holds suggestions back from it."
        ),
    )
    suggestion_note = serializers.CharField(
        allow_blank=True,
        help_text=(
            "Why no suggestion is shown where one is held back on purpose (the image is "
            "labelled blind), for the labelling page to say; empty otherwise."
        ),
    )


class NextImageView(ProjectScopedView):
    """Lease the next image that still needs the caller's label; 204 when none is left.

    409 (``lease_limit``) when the caller holds ``LABELER_MAX_LEASES`` images, all of them
    excluded: label or skip those first.
    """

    serializer_class = NextImageSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "exclude",
                str,
                description="Comma-separated image ids not to hand out (e.g. already prefetched).",
            )
        ],
        responses={
            200: NextImageSerializer,
            204: OpenApiResponse(description="Nothing left."),
            409: OpenApiResponse(description="The caller holds as many images as one may."),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_member()
        assignment = queue_next_image(
            project=self.project, annotator=self.user, exclude=_parse_ids(request)
        )
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        suggestion, note = _suggestion_handed_out(self.project, assignment)
        # Built directly rather than by NextImageSerializer (which documents it): this is
        # the hottest answer of the API, and the serializer's fields cost milliseconds.
        context = self.get_serializer_context()
        return Response(
            {
                "image": QueueImageSerializer(assignment.image, context=context).data,
                "lease_expires_at": DATETIME.to_representation(assignment.expires_at),
                "suggestion": asdict(suggestion) if suggestion else None,
                "suggestion_note": note,
            }
        )


def _suggestion_handed_out(
    project: Project, assignment: Assignment
) -> tuple[Suggestion | None, str]:
    """The current model's suggestion for the leased image, unless held back, and the
    note saying why where it is; what was shown (or held back) is kept on the lease for
    the submit."""
    suggestion = suggestion_for(project=project, image=assignment.image)
    withheld = suggestion is not None and suggestion_withheld(
        project=project, image_id=assignment.image_id, annotator_id=assignment.annotator_id
    )
    note = suggestion_held_back_note(
        project=project, image_id=assignment.image_id, suggestion=suggestion, withheld=withheld
    )
    if suggestion is None:
        return None, note
    queue_suggestion_record(
        assignment=assignment,
        model_version=suggestion.model_version,
        label_ids=suggestion.label_ids,
        withheld=withheld,
    )
    return (None if withheld else suggestion), note


def _parse_ids(request: Request) -> list[int]:
    parts = [part.strip() for part in request.query_params.get("exclude", "").split(",")]
    ids = [part for part in parts if part]
    if not all(_is_id(part) for part in ids):
        raise ValidationFailed("'exclude' must be comma-separated image ids.", field="exclude")
    return [int(part) for part in ids]


def _is_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 19 and int(text) <= MAX_ID
