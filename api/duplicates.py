"""A project's near-duplicate groups (reviewers, leads and admins)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.agreement import QualityView
from api.images import stored_file_url
from labeler.agreement.duplicate_labels import duplicate_groups_page
from labeler.errors import ValidationFailed
from labeler.images.duplicates.groups import project_max_distance

MAX_PAGE_SIZE = 200


class DuplicateImageSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Id of the image.")
    original_name = serializers.CharField()
    thumbnail_url = serializers.CharField(allow_null=True)
    final_labels = serializers.ListField(
        child=serializers.CharField(),
        allow_null=True,
        help_text="Names of its final labels; null until decided.",
    )


class DuplicateGroupSerializer(serializers.Serializer):
    group = serializers.IntegerField(help_text="The group's id: its smallest image id.")
    size = serializers.IntegerField()
    labels_differ = serializers.BooleanField(
        help_text="Whether two of its images carry different final labels (sent to review then)."
    )
    images = DuplicateImageSerializer(many=True)


class DuplicatePageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Groups in the project.")
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    max_distance = serializers.IntegerField(
        help_text="Most bits two near-duplicates' perceptual hashes differ in: the "
        "project's `duplicate_distance`, or the server's where it is null; -1: grouping off."
    )
    results = DuplicateGroupSerializer(many=True)


def _positive(request: Request, name: str, default: int, most: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= most):
        raise ValidationFailed(f"{name} must be a whole number from 1 to {most}.", field=name)
    return int(raw)


class DuplicateListView(QualityView):
    """Near-duplicate groups (resized, re-encoded, cropped or recoloured copies), largest first."""

    @extend_schema(
        parameters=[
            OpenApiParameter("page", int, description="Page number, from 1."),
            OpenApiParameter("page_size", int, description=f"Groups a page, 1 to {MAX_PAGE_SIZE}."),
        ],
        responses={200: DuplicatePageSerializer},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        page = _positive(request, "page", 1, 1_000_000)
        size = _positive(request, "page_size", 50, MAX_PAGE_SIZE)
        total, groups = duplicate_groups_page(self.project, offset=(page - 1) * size, limit=size)
        context = {"request": request}
        results = [
            {
                "group": group.group,
                "size": group.size,
                "labels_differ": group.labels_differ,
                "images": [
                    {
                        "id": member.id,
                        "original_name": member.original_name,
                        "thumbnail_url": stored_file_url(context, member.thumbnail)
                        if member.thumbnail
                        else None,
                        "final_labels": member.final_labels,
                    }
                    for member in group.images
                ],
            }
            for group in groups
        ]
        body = {
            "count": total,
            "page": page,
            "page_size": size,
            "max_distance": project_max_distance(self.project),
            "results": results,
        }
        return Response(DuplicatePageSerializer(body).data)
