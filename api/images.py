"""Images of a project: upload (files or zip archives), list, read, and the files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from api.filters import FilterSet
from api.permissions import ProjectScopedView
from labeler import flows
from labeler.errors import NotFound, PermissionDenied
from labeler.images.links import file_link
from labeler.images.models import Image
from labeler.images.serving import stored_file_response


def stored_file_url(context: Mapping[str, Any], name: str | None) -> str:
    """A stored file's address for the caller (see labeler.images.links).

    Without a request there is no caller: the address is made for no one and never serves.
    """
    request = context.get("request")
    if request is None:
        return file_link(name or "", user_id=0)
    return request.build_absolute_uri(file_link(name or "", user_id=request.user.pk or 0))


DATETIME = serializers.DateTimeField()  # formats datetimes as every serializer here does


class ImageSerializer(serializers.ModelSerializer):
    file_url = serializers.SerializerMethodField()
    display_url = serializers.SerializerMethodField(
        help_text="What to show: a copy at most LABELER_DISPLAY_SIZE a side, upright and "
        "without EXIF, where the original is larger, located or not a browser's format; "
        "else the original's address (file_url)."
    )
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Image
        fields = [
            "id", "original_name", "sha256", "width", "height", "format", "size_bytes",
            "priority", "annotation_count", "is_complete", "file_url", "display_url",
            "thumbnail_url", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_file_url(self, image: Image) -> str:
        return stored_file_url(self.context, image.file.name or "")

    def get_display_url(self, image: Image) -> str:
        return stored_file_url(self.context, (image.display or image.file).name or "")

    def get_thumbnail_url(self, image: Image) -> str | None:
        return stored_file_url(self.context, image.thumbnail.name) if image.thumbnail else None

    def to_representation(self, instance: Image) -> dict[str, Any]:
        """The fields above, read directly: every next/ answer carries one image, and
        building the serializer's field objects cost more than the query behind it."""
        return {
            "id": instance.pk,
            "original_name": instance.original_name,
            "sha256": instance.sha256,
            "width": instance.width,
            "height": instance.height,
            "format": instance.format,
            "size_bytes": instance.size_bytes,
            "priority": instance.priority,
            "annotation_count": instance.annotation_count,
            "is_complete": instance.is_complete,
            "file_url": self.get_file_url(instance),
            "display_url": self.get_display_url(instance),
            "thumbnail_url": self.get_thumbnail_url(instance),
            "created_at": DATETIME.to_representation(instance.created_at),
        }


class QueueImageSerializer(ImageSerializer):
    """An image as an annotator sees it: what labelling it needs, nothing that tells a gold
    image or a spot check from the rest (counts, completeness, priority, dates)."""

    class Meta:
        model = Image
        fields = [
            "id", "original_name", "width", "height", "format", "file_url", "display_url",
            "thumbnail_url",
        ]  # fmt: skip
        read_only_fields = fields

    def to_representation(self, instance: Image) -> dict[str, Any]:
        return {
            "id": instance.pk,
            "original_name": instance.original_name,
            "width": instance.width,
            "height": instance.height,
            "format": instance.format,
            "file_url": self.get_file_url(instance),
            "display_url": self.get_display_url(instance),
            "thumbnail_url": self.get_thumbnail_url(instance),
        }


class ImageFilter(FilterSet):
    class Meta:
        model = Image
        fields = {"is_complete": ["exact"], "sha256": ["exact"], "created_at": ["gte", "lte"]}


class UploadResultSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["created", "duplicate", "rejected"])
    image_id = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    archive = serializers.CharField(allow_null=True)


class UploadResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = UploadResultSerializer(many=True)


class ImageViewSet(
    ProjectScopedView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Members read images; leads and admins upload them.

    Annotators, who label blind, read images as the queue hands them out
    (``QueueImageSerializer``) and cannot filter by completeness.
    """

    lookup_value_regex = r"\d+"
    serializer_class = ImageSerializer
    filterset_class = ImageFilter
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[Image]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Image.objects.none()
        if not self.sees_all_annotations and "is_complete" in self.request.query_params:
            raise PermissionDenied(
                "Annotators label blind: only leads, reviewers and admins filter images by "
                "completeness."
            )
        return Image.objects.filter(project=self.project)

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if getattr(self, "swagger_fake_view", False) or self.sees_all_annotations:
            return ImageSerializer
        return QueueImageSerializer

    def get_object(self) -> Image:
        image = self.get_queryset().filter(pk=int(self.kwargs["pk"])).first()
        if image is None:
            raise NotFound(f"Image {self.kwargs['pk']} is not an image of this project.")
        return image

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                },
            }
        },
        responses={201: UploadResponseSerializer, 200: UploadResponseSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Upload images: many files and/or .zip archives in the multipart field `files`."""
        self.require_manager()
        files = request.FILES.getlist("files")
        results = flows.images_ingest(project=self.project, files=files)
        counts = {
            s: sum(r.status == s for r in results) for s in ("created", "duplicate", "rejected")
        }
        body: dict[str, Any] = UploadResponseSerializer(
            {
                "created": counts["created"],
                "duplicates": counts["duplicate"],
                "rejected": counts["rejected"],
                "results": [asdict(r) for r in results],
            }
        ).data
        code: int = status.HTTP_201_CREATED if counts["created"] else status.HTTP_200_OK
        if counts["rejected"] == len(results) and results:
            code = status.HTTP_400_BAD_REQUEST
            body["detail"] = "No file was accepted; see each file's reason."
            body["code"] = "invalid"
        return Response(body, status=code)

    @extend_schema(responses={(200, "image/*"): OpenApiResponse(description="The image file.")})
    @action(detail=True, methods=["get"])
    def file(self, request: Request, *args: Any, **kwargs: Any) -> FileResponse:
        """The image itself; cached for long, since names are content addressed."""
        return _serve(self.get_object().file.name or "")

    @extend_schema(responses={(200, "image/jpeg"): OpenApiResponse(description="A thumbnail.")})
    @action(detail=True, methods=["get"])
    def thumbnail(self, request: Request, *args: Any, **kwargs: Any) -> FileResponse:
        """A small JPEG of the image, once the background task has made it."""
        image = self.get_object()
        if not image.thumbnail:
            raise NotFound("The thumbnail is not ready yet.")
        return _serve(image.thumbnail.name or "")


def _serve(name: str) -> FileResponse:
    response = stored_file_response(name)
    if response is None:
        raise NotFound("The stored file is missing.")
    return response
