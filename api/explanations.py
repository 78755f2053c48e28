"""Why the model chose a label for an image: its heat map (Grad-CAM) over the image.

Leads, reviewers and admins only (annotators label blind of the model's reasons). The
first request sends the work to the worker and answers 202 with a poll hint; once the
heat map is kept, 200 with a signed address of the overlay, the label and its probability.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.permissions import ProjectScopedView
from labeler.images.delivery.links import file_link
from labeler.images.models import Image
from labeler.predictions.explanations import POLL_SECONDS, ExplanationState, explanation_request

# Ids as the database keeps them: a larger number is refused by name, not a 500.
MAX_ID = 2**63 - 1


class ExplanationQuerySerializer(serializers.Serializer):
    label = serializers.IntegerField(  # type: ignore[assignment]  # the key, not Field.label
        required=False, min_value=1, max_value=MAX_ID, help_text="Default: the top label."
    )
    version = serializers.IntegerField(
        required=False, min_value=1, max_value=2**31 - 1, help_text="Default: the current one."
    )


class ExplanationSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ready", "computing"])
    image = serializers.IntegerField()
    version = serializers.IntegerField(help_text="The model version's number.")
    label = serializers.IntegerField(  # type: ignore[assignment]  # the key, not Field.label
        allow_null=True, help_text="The label explained; null while the top one is not known."
    )
    label_name = serializers.CharField(allow_null=True)
    probability = serializers.FloatField(allow_null=True)
    overlay_url = serializers.CharField(
        allow_null=True,
        help_text="A signed, short-lived address of the heat map over the display image "
        "(PNG), for the caller only; null while it is made.",
    )
    poll_after = serializers.IntegerField(
        allow_null=True, help_text="Seconds to wait before asking again while it is made."
    )


class ImageExplanationView(ProjectScopedView):
    """The heat map of why a model version chose a label for an image."""

    queryset = Image.objects.none()  # names the path's id type for the schema

    @extend_schema(
        parameters=[
            OpenApiParameter("label", int, description="A label's id; default: the top label."),
            OpenApiParameter("version", int, description="A version's number; default: current."),
        ],
        responses={
            200: ExplanationSerializer,
            202: OpenApiResponse(ExplanationSerializer, description="Being made: ask again."),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query = ExplanationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        state = explanation_request(
            project=self.project,
            user=self.user,
            role=self.role,
            image_id=int(self.kwargs["image_id"]),
            version_number=query.validated_data.get("version"),
            label_id=query.validated_data.get("label"),
        )
        body = ExplanationSerializer(self._body(state)).data
        if state.ready:
            return Response(body)
        headers = {"Retry-After": str(POLL_SECONDS)}
        return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)

    def _body(self, state: ExplanationState) -> dict[str, Any]:
        names = dict(self.project.labels.values_list("pk", "name"))
        overlay = file_link(state.overlay, user_id=self.user.pk) if state.overlay else None
        return {
            "status": "ready" if state.ready else "computing",
            "image": state.image_id,
            "version": state.version.version,
            "label": state.label_id,
            "label_name": names.get(state.label_id) if state.label_id is not None else None,
            "probability": state.probability,
            "overlay_url": overlay,
            "poll_after": None if state.ready else POLL_SECONDS,
        }
