"""The suggestions' sway: agreement with the final label with and without a suggestion shown."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from api.agreement import QualityView
from labeler.predictions.sway import suggestion_sway


class SuggestionSwayView(QualityView):
    """Per annotator and for the team: the share of labels equal to the final label with the
    model's suggestion shown and held back (n and a 95% Wilson interval each), their
    difference, and how often a wrong suggestion was taken as shown."""

    @extend_schema(responses={200: OpenApiResponse(description="The sway figures.")})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        return Response(suggestion_sway(self.project))
