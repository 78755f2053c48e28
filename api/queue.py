"""The annotation queue: the next image for the calling annotator."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.images import DATETIME, ImageSerializer
from api.permissions import ProjectScopedView
from labeler.annotations.queue import queue_next_image
from labeler.errors import ValidationFailed
from labeler.predictions.selectors import suggestion_for

MAX_ID = 2**63 - 1  # the largest id a row can have


class SuggestionSerializer(serializers.Serializer):
    model_version = serializers.IntegerField(help_text="Id of the model version.")
    version = serializers.IntegerField(help_text="The model's version number in the project.")
    label_ids = serializers.ListField(child=serializers.IntegerField())
    confidence = serializers.FloatField()
    probabilities = serializers.DictField(child=serializers.FloatField())


class NextImageSerializer(serializers.Serializer):
    image = ImageSerializer()
    lease_expires_at = serializers.DateTimeField(source="expires_at")
    suggestion = SuggestionSerializer(
        allow_null=True, help_text="The current model's labels for the image, if it has any."
    )


class NextImageView(ProjectScopedView):
    """Lease the next image that still needs the caller's label; 204 when none is left."""

    serializer_class = NextImageSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "exclude",
                str,
                description="Comma-separated image ids not to hand out (e.g. already prefetched).",
            )
        ],
        responses={200: NextImageSerializer, 204: OpenApiResponse(description="Nothing left.")},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_member()
        assignment = queue_next_image(
            project=self.project, annotator=self.user, exclude=_parse_ids(request)
        )
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        suggestion = suggestion_for(project=self.project, image=assignment.image)
        # Built directly rather than by NextImageSerializer (which documents it): this is
        # the hottest answer of the API, and the serializer's fields cost milliseconds.
        context = self.get_serializer_context()
        return Response(
            {
                "image": ImageSerializer(assignment.image, context=context).data,
                "lease_expires_at": DATETIME.to_representation(assignment.expires_at),
                "suggestion": asdict(suggestion) if suggestion else None,
            }
        )


def _parse_ids(request: Request) -> list[int]:
    parts = [part.strip() for part in request.query_params.get("exclude", "").split(",")]
    ids = [part for part in parts if part]
    if not all(_is_id(part) for part in ids):
        raise ValidationFailed("'exclude' must be comma-separated image ids.", field="exclude")
    return [int(part) for part in ids]


def _is_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 19 and int(text) <= MAX_ID
