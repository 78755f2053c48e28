"""OPTIONS answers: what a view renders and parses; its fields are in the OpenAPI schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.metadata import SimpleMetadata
from rest_framework.request import Request

if TYPE_CHECKING:  # rest_framework.views imports this module while it loads
    from rest_framework.views import APIView


class Metadata(SimpleMetadata):
    """DRF's answer without ``actions``: several views build no serializer for OPTIONS."""

    def determine_metadata(self, request: Request, view: APIView) -> dict[str, Any]:
        metadata = super().determine_metadata(request, view)
        metadata.pop("actions", None)
        return metadata

    def determine_actions(self, request: Request, view: APIView) -> dict[str, Any]:
        return {}
