"""Images of a project: upload (files or zip archives), list, read, describe, and the files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, cast

from django.db.models import Prefetch, QuerySet
from django.http import FileResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import BaseParser, FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from api.image_browse import BrowsePagination, FilterThrottle, browse_parameters
from api.image_metadata import (
    ImageDescriptionSerializer,
    ImagesDescribedSerializer,
    ImagesDescriptionSerializer,
    body_read,
    changes_of,
    description_of,
    tags_read,
)
from api.parsers import JSONParser
from api.permissions import ProjectScopedView
from labeler import flows
from labeler.annotations import blind
from labeler.annotations.blind import ImageView
from labeler.browse.filters import images_filtered
from labeler.errors import NotFound, ValidationFailed
from labeler.images.catalogue import services as catalogue
from labeler.images.catalogue.metadata_values import field_value_json
from labeler.images.catalogue.selectors import project_fields
from labeler.images.delivery.links import file_link
from labeler.images.delivery.responses import stored_file_response
from labeler.images.delivery.served import faces_shown_check
from labeler.images.models import FieldValue, Image, ImageTag
from labeler.site_address import site_url


def stored_file_url(context: Mapping[str, Any], name: str | None) -> str:
    """A stored file's address for the caller (see labeler.images.delivery.links).

    Without a request there is no caller: the address is made for no one and never serves.
    ``context["originals"]``: the caller is served originals (a lead or an admin), so a
    bucket's image may be fetched from the bucket itself.
    """
    request = context.get("request")
    if request is None:
        return file_link(name or "", user_id=0)
    link = file_link(
        name or "", user_id=request.user.pk or 0, originals=bool(context.get("originals"))
    )
    return _absolute(link)


def _absolute(link: str) -> str:
    """A link of this site's on its address (``site_url``); a bucket's presigned address
    as it is."""
    return site_url(link) if link.startswith("/") else link


# Where a serializer's context says nothing of the caller: names and metadata hidden.
HIDDEN = ImageView(name=False, paths=False, metadata=False)


def context_view(context: Mapping[str, Any]) -> ImageView:
    """What the caller may see of images (``labeler.annotations.blind``), from the context
    every project-scoped view gives (``ProjectScopedView.get_serializer_context``)."""
    return context.get("image_view") or HIDDEN


def image_urls(context: Mapping[str, Any], image: Image) -> dict[str, str | None]:
    """The addresses of an image's files for the caller (``blind.image_addresses``):
    ``file_url``, ``display_url`` and ``thumbnail_url``."""
    return files_urls(
        context,
        project_id=image.project_id,
        image_id=image.pk,
        file=image.file.name or "",
        display=image.display.name or "",
        thumbnail=image.thumbnail.name or "",
    )


def files_urls(
    context: Mapping[str, Any],
    *,
    project_id: int,
    image_id: int,
    file: str,
    display: str,
    thumbnail: str = "",
) -> dict[str, str | None]:
    """``image_urls`` from the stored names of the image's files (blank for none)."""
    request = context.get("request")
    addresses = blind.image_addresses(
        project_id=project_id,
        image_id=image_id,
        file=file,
        display=display,
        thumbnail=thumbnail,
        user_id=(request.user.pk or 0) if request is not None else 0,
        view=context_view(context),
        originals=bool(context.get("originals")),
    )
    absolute = _absolute if request is not None else str
    return {
        "file_url": absolute(addresses.file),
        "display_url": absolute(addresses.display),
        "thumbnail_url": absolute(addresses.thumbnail) if addresses.thumbnail else None,
    }


# What the list reads beside the filters: its order, its pages and DRF's format override.
LIST_PARAMETERS = ("sort", "cursor", "page_size", "format")
DATETIME = serializers.DateTimeField()  # formats datetimes as every serializer here does


class ImageSerializer(serializers.ModelSerializer):
    original_name = serializers.SerializerMethodField(
        help_text="The file's name; blank for annotators unless the project's "
        "annotators_see_file_names is on (labeler.annotations.blind)."
    )
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

    def get_original_name(self, image: Image) -> str:
        return blind.image_name_shown(image.original_name, context_view(self.context))

    def get_file_url(self, image: Image) -> str:
        return image_urls(self.context, image)["file_url"] or ""

    def get_display_url(self, image: Image) -> str:
        return image_urls(self.context, image)["display_url"] or ""

    def get_thumbnail_url(self, image: Image) -> str | None:
        return image_urls(self.context, image)["thumbnail_url"]

    def to_representation(self, instance: Image) -> dict[str, Any]:
        """The fields above, read directly: every next/ answer carries one image, and
        building the serializer's field objects cost more than the query behind it.
        The name and addresses as the caller may see them (``context_view``)."""
        return {
            "id": instance.pk,
            "original_name": self.get_original_name(instance),
            "sha256": instance.sha256,
            "width": instance.width,
            "height": instance.height,
            "format": instance.format,
            "size_bytes": instance.size_bytes,
            "priority": instance.priority,
            "annotation_count": instance.annotation_count,
            "is_complete": instance.is_complete,
            **image_urls(self.context, instance),
            "created_at": DATETIME.to_representation(instance.created_at),
        }


class QueueImageSerializer(ImageSerializer):
    """An image as an annotator sees it: what labelling it needs, nothing that tells a gold
    image or a spot check from the rest (counts, completeness, priority, dates), and nothing
    that may tell its class (``labeler.annotations.blind``): the addresses name the image by
    id, and ``original_name`` is blank unless the project shows annotators file names."""

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
            "original_name": self.get_original_name(instance),
            "width": instance.width,
            "height": instance.height,
            "format": instance.format,
            **image_urls(self.context, instance),
        }


class PositionSerializer(serializers.Serializer):
    latitude = serializers.FloatField(help_text="Decimal degrees, north positive.")
    longitude = serializers.FloatField(help_text="Decimal degrees, east positive.")


class ImageMetadataSerializer(ImageSerializer):
    """An image with what its file says about it and what its leads said: for leads,
    reviewers and admins. Its GPS position goes to leads and admins only."""

    gps = PositionSerializer(
        allow_null=True,
        help_text="Where the photo was taken, from its EXIF: for the project's leads and "
        "admins; null for others, and where the file holds no position.",
    )
    tags = serializers.ListField(child=serializers.CharField(), help_text="In name order.")
    # Named as the body's key; DRF's metaclass takes declared fields off the class, so the
    # serializer's own ``fields`` stays what DRF makes it.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.JSONField(),
        help_text="The project's own fields that have a value on the image, by name: text, "
        "a number, or a date (2024-05-01).",
    )

    class Meta:
        model = Image
        fields = [
            *ImageSerializer.Meta.fields, "source", "source_key", "origin", "captured_at",
            "camera", "gps", "licence", "tags", "fields", "problem",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "source_key": {"help_text": "An import's path in its folder; else blank."},
            "origin": {
                "help_text": "Where the image comes from (a dataset, site, provider or URL), "
                "as an import or a lead set it; blank if unknown."
            },
            "captured_at": {
                "help_text": "When the photo was taken (its EXIF, an import or a lead); null "
                "if unknown."
            },
            "camera": {
                "help_text": "Make and model (EXIF, an import or a lead); blank if unknown."
            },
            "licence": {"help_text": "Set by an import or a lead; blank for none."},
            "problem": {
                "help_text": "Why the worker could not decode the file (the upload checks "
                "a photo's header only); blank for none. Such an image is never handed out "
                "to label."
            },
        }

    def to_representation(self, instance: Image) -> dict[str, Any]:
        data = super().to_representation(instance)
        located = instance.gps_latitude is not None and instance.gps_longitude is not None
        data.update(
            source=instance.source,
            source_key=instance.source_key,
            origin=instance.origin,
            captured_at=DATETIME.to_representation(instance.captured_at)
            if instance.captured_at
            else None,
            camera=instance.camera,
            gps={"latitude": instance.gps_latitude, "longitude": instance.gps_longitude}
            if located and self.context.get("positions")
            else None,
            licence=instance.licence,
            # From the prefetch, in name order (ImageViewSet.get_queryset).
            tags=[tag.name for tag in instance.tags.all()],
            # From the prefetch too, in field name order.
            fields={
                value.field.name: field_value_json(value.value)
                for value in instance.field_values.all()
                if value.value is not None
            },
            problem=instance.problem,
        )
        return data


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


@extend_schema_view(list=extend_schema(parameters=browse_parameters()))
class ImageViewSet(
    ProjectScopedView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Members read images; leads and admins upload them and set their metadata.

    Annotators, who label blind, read images as the queue hands them out
    (``QueueImageSerializer``) and cannot filter by completeness nor metadata. Leads,
    reviewers and admins read each image's metadata (``ImageMetadataSerializer``); where a
    photo was taken goes to leads and admins only. The list takes the data browser's
    filters and sorts too (``labeler.browse``), for leads, reviewers and admins.
    """

    lookup_value_regex = r"\d+"
    serializer_class = ImageMetadataSerializer
    filter_backends: list[Any] = []  # images_filtered reads every filter (get_queryset)
    pagination_class = BrowsePagination
    parser_classes = [MultiPartParser, FormParser]

    def get_throttles(self) -> list[BaseThrottle]:
        if self.action == "list":  # a filtered listing: heavy, so counted per user
            return [*super().get_throttles(), FilterThrottle()]
        return super().get_throttles()

    def get_parsers(self) -> list[BaseParser]:
        if getattr(getattr(self, "request", None), "method", "") == "PATCH":
            return [JSONParser()]  # tags are a list: no form carries them
        return super().get_parsers()

    def get_queryset(self) -> QuerySet[Image]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Image.objects.none()
        if self.action == "list":  # the data browser's filters: every key checked there
            images = images_filtered(
                self.project, self.request.query_params, user=self.user, reads=LIST_PARAMETERS
            )
            images = blind.images_listed(images, user=self.user, role=self.role)
        else:
            images = Image.objects.filter(project=self.project)
        if self.image_view.metadata:
            images = images.prefetch_related(
                Prefetch("tags", queryset=ImageTag.objects.order_by("name")),
                Prefetch(
                    "field_values",
                    queryset=FieldValue.objects.select_related("field").order_by("field__name"),
                ),
            )
        return images

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if getattr(self, "swagger_fake_view", False) or self.image_view.metadata:
            return ImageMetadataSerializer
        return QueueImageSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if not getattr(self, "swagger_fake_view", False):
            context["positions"] = context["originals"] = self.can_manage
        return context

    def get_object(self) -> Image:
        image = self.get_queryset().filter(pk=int(self.kwargs["pk"])).first()
        if image is None:
            raise NotFound(f"Image {self.kwargs['pk']} is not an image of this project.")
        return image

    @extend_schema(request=ImageDescriptionSerializer, responses={200: ImageMetadataSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Set the image's metadata: capture time, position, origin, camera, licence, tags
        (replacing its own) and the project's fields (leads and admins). Every value is
        checked first: a 400 names the first one that is wrong, and nothing changes."""
        self.require_manager()
        image = self.get_object()  # a 404 before any complaint about the body
        body_read(ImageDescriptionSerializer, request.data)  # an object of known keys
        body = cast(Mapping[str, Any], request.data)
        description = description_of(body, fields=project_fields(self.project))
        catalogue.image_describe(image=image, description=description)
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=ImagesDescriptionSerializer, responses={200: ImagesDescribedSerializer})
    @action(detail=False, methods=["post"], url_path="metadata", parser_classes=[JSONParser])
    def metadata(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change the metadata of many images, all or none (leads and admins): the same
        change to each of ``images`` (with tags added and removed), or a change of its own
        to each image of ``items``."""
        self.require_manager()
        data = body_read(ImagesDescriptionSerializer, request.data)
        body = cast(Mapping[str, Any], request.data)
        fields = project_fields(self.project)
        if "items" in data:
            if set(data) != {"items"}:
                raise ValidationFailed(
                    "Send items alone: each item says what to set of its image.", field="items"
                )
            changes = changes_of(body["items"], fields=fields)
            updated = catalogue.images_describe_each(project=self.project, changes=changes)
            return Response({"updated": updated})
        if "images" not in data:
            raise ValidationFailed(
                "Send images (their ids) with what to set of them, or items.", field="images"
            )
        description = description_of(body, fields=fields)
        if not description and not {"add_tags", "remove_tags"} & set(data):
            raise ValidationFailed(
                "Nothing to change: send captured_at, gps, origin, camera, licence, tags, "
                "fields, add_tags or remove_tags."
            )
        updated = catalogue.images_describe(
            project=self.project,
            image_ids=data["images"],
            add_tags=tags_read(data, "add_tags"),
            remove_tags=tags_read(data, "remove_tags"),
            description=description,
        )
        return Response({"updated": updated})

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
        """The image itself: the original for leads and admins, for others a copy without
        metadata (``labeler.images.delivery.served``); cached for long, names being content
        addressed."""
        image = self.get_object()
        return self._serve(image, "file", image.file.name or "")

    @extend_schema(responses={(200, "image/jpeg"): OpenApiResponse(description="A thumbnail.")})
    @action(detail=True, methods=["get"])
    def thumbnail(self, request: Request, *args: Any, **kwargs: Any) -> FileResponse:
        """A small JPEG of the image, once the background task has made it: where the
        project blurs faces, a 409 saying so to those shown blurred copies while the
        image's faces are not found (its thumbnail is made blurred once they are)."""
        image = self.get_object()
        if not image.thumbnail:
            if self.project.blur_faces and not self.can_manage:
                faces_shown_check(image)
            raise NotFound("The thumbnail is not ready yet.")
        return self._serve(image, "thumbnail", image.thumbnail.name or "")

    def _serve(self, image: Image, kind: str, name: str) -> FileResponse:
        """The file as the caller may have it, under a name they may see."""
        download_name = blind.image_download_name(
            image_id=image.pk, kind=kind, stored=name, view=self.image_view
        )
        response = stored_file_response(
            name, originals=self.can_manage, download_name=download_name
        )
        if response is None:
            raise NotFound("The stored file is missing.")
        return response
