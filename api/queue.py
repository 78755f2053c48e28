"""The annotation queue: the next image, or a grid page of images, for the calling annotator."""

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
from labeler.annotations.queue import (
    MAX_EXCLUDED,
    MAX_PAGE_SIZE,
    queue_next_image,
    queue_next_page,
    queue_suggestion_record,
)
from labeler.errors import ValidationFailed
from labeler.predictions.selectors import (
    Suggestion,
    suggestion_held_back_notes,
    suggestion_withheld,
    suggestions_for,
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
                description=(
                    "Comma-separated image ids not to hand out (e.g. already prefetched); "
                    f"at most {MAX_EXCLUDED}."
                ),
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
        return Response(_handed_out(self.project, [assignment], self.get_serializer_context())[0])


class NextPageSerializer(serializers.Serializer):
    images = NextImageSerializer(many=True)


class NextPageView(ProjectScopedView):
    """Lease a grid page: up to ``size`` images, each as next/ hands one out (its
    suggestion held back or not on its own); 204 when none is left.

    Fewer than ``size`` when the queue has fewer or the lease cap for pages (twice the
    project's ``grid_size``, or ``LABELER_MAX_LEASES`` where higher) stops it. 409 with
    next/'s codes when not one image could be leased (``lease_limit``, the qualification
    test's), and ``grid_off`` when the project labels one image at a time only.
    """

    serializer_class = NextPageSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "size",
                int,
                description=(
                    f"How many images the page holds, 1 to {MAX_PAGE_SIZE}; the project's "
                    "grid_size when left out."
                ),
            ),
            OpenApiParameter(
                "exclude",
                str,
                description=(
                    "Comma-separated image ids not to hand out (e.g. the page on screen); "
                    f"at most {MAX_EXCLUDED}."
                ),
            ),
        ],
        responses={
            200: NextPageSerializer,
            204: OpenApiResponse(description="Nothing left."),
            400: OpenApiResponse(
                description=(
                    f"A size outside 1 to {MAX_PAGE_SIZE}, or a malformed or too long exclude."
                )
            ),
            409: OpenApiResponse(
                description="Grid labelling is off, or no image could be leased (as next/)."
            ),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_member()
        page = queue_next_page(
            project=self.project,
            annotator=self.user,
            size=_parse_size(request),
            exclude=_parse_ids(request),
        )
        if not page:
            return Response(status=status.HTTP_204_NO_CONTENT)
        context = self.get_serializer_context()
        return Response({"images": _handed_out(self.project, page, context)})


def _handed_out(
    project: Project, page: list[Assignment], context: dict[str, Any]
) -> list[dict[str, Any]]:
    """Leased images as next/ answers each, their suggestions recorded on the leases.

    Built directly rather than by NextImageSerializer (which documents it): this is the
    hottest answer of the API, and the serializer's fields cost milliseconds.
    """
    handed = _suggestions_handed_out(project, page)
    answers = []
    for assignment in page:
        suggestion, note = handed[assignment.pk]
        answers.append(
            {
                "image": QueueImageSerializer(assignment.image, context=context).data,
                "lease_expires_at": DATETIME.to_representation(assignment.expires_at),
                "suggestion": asdict(suggestion) if suggestion else None,
                "suggestion_note": note,
            }
        )
    return answers


def _suggestions_handed_out(
    project: Project, page: list[Assignment]
) -> dict[int, tuple[Suggestion | None, str]]:
    """Per lease: the current model's suggestion for its image, unless held back, and the
    note saying why where it is; what was shown (or held back) is kept on the lease for
    the submit. The page's suggestions and notes are read together (a few queries)."""
    image_ids = [assignment.image_id for assignment in page]
    suggestions = suggestions_for(project=project, image_ids=image_ids)
    withheld = {
        assignment.image_id
        for assignment in page
        if assignment.image_id in suggestions
        and suggestion_withheld(
            project=project, image_id=assignment.image_id, annotator_id=assignment.annotator_id
        )
    }
    notes = suggestion_held_back_notes(
        project=project, image_ids=image_ids, suggestions=suggestions, withheld=withheld
    )
    handed: dict[int, tuple[Suggestion | None, str]] = {}
    for assignment in page:
        suggestion = suggestions.get(assignment.image_id)
        note = notes[assignment.image_id]
        if suggestion is not None:
            held_back = assignment.image_id in withheld
            queue_suggestion_record(
                assignment=assignment,
                model_version=suggestion.model_version,
                label_ids=suggestion.label_ids,
                withheld=held_back,
            )
            suggestion = None if held_back else suggestion
        handed[assignment.pk] = (suggestion, note)
    return handed


def _parse_ids(request: Request) -> list[int]:
    parts = [part.strip() for part in request.query_params.get("exclude", "").split(",")]
    ids = [part for part in parts if part]
    if not all(_is_id(part) for part in ids):
        raise ValidationFailed("'exclude' must be comma-separated image ids.", field="exclude")
    return [int(part) for part in ids]


def _parse_size(request: Request) -> int | None:
    text = request.query_params.get("size", "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 3):
        raise ValidationFailed(
            f"'size' must be a whole number of images from 1 to {MAX_PAGE_SIZE}.", field="size"
        )
    return int(text)


def _is_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 19 and int(text) <= MAX_ID
