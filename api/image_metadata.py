"""Images' metadata in the API: the filters on it, and the bodies that change it.

The image's own representation (``ImageMetadataSerializer``) and its routes are in
``api.images``; the rules on licences and tags in ``labeler.images.catalogue``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.filters import AllOfFilter, FilterSet, StrictBooleanFilter, StrictIsoDateTimeFilter
from api.inputs import StrictInput
from labeler.errors import ValidationFailed
from labeler.images import catalogue
from labeler.images.models import SOURCES, Image, ImageTag

# Filters on what only overseers see, and on where photos were taken (leads and admins).
METADATA_FILTERS = (
    "captured_after", "captured_before", "camera", "source", "licence", "tag", "has_problem",
)  # fmt: skip
POSITION_FILTERS = ("has_gps",)


@extend_schema_field({"type": "array", "items": {"type": "string", "maxLength": 64}})
class TagListField(serializers.JSONField):
    """Tags as a JSON list of text; checked by ``labeler.images.catalogue``."""


class ImageDescriptionSerializer(StrictInput, serializers.Serializer):
    """What a lead may change of one image; each field left out stays as it is."""

    licence = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=catalogue.LICENCE_LENGTH,
        help_text='Free text such as "CC-BY-4.0", "proprietary" or a URL; "" for none.',
    )
    tags = TagListField(
        required=False,
        help_text=f"The image's tags, replacing those it has: at most "
        f"{catalogue.TAGS_PER_IMAGE}, each up to {catalogue.TAG_LENGTH} "
        f"{catalogue.TAG_RULE}.",
    )


class ImagesDescriptionSerializer(StrictInput, serializers.Serializer):
    """A change to many images at once."""

    images = serializers.JSONField(
        help_text=f"Ids of the project's images, at most {catalogue.IMAGES_PER_CHANGE}."
    )
    licence = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=catalogue.LICENCE_LENGTH,
        help_text='The licence of every image; "" for none; left out: unchanged.',
    )
    add_tags = TagListField(required=False, help_text="Tags added to every image.")
    remove_tags = TagListField(required=False, help_text="Tags taken off every image.")


class ImagesDescribedSerializer(serializers.Serializer):
    updated = serializers.IntegerField(help_text="How many images the change was made to.")


def _tag_item(value: str) -> str:
    try:
        return catalogue.tag_clean(value, field="tag")
    except ValidationFailed as exc:
        raise ValidationError(exc.message, code="invalid") from None


def _has_tag(name: str) -> Q:
    return Q(Exists(ImageTag.objects.filter(image=OuterRef("pk"), name=name)))


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string"},
        "description": "Carrying this tag; repeated (?tag=a&tag=b): every one of them.",
    }
)
class TagFilter(AllOfFilter):
    """Images carrying every tag given."""


class ImageFilter(FilterSet):
    captured_after = StrictIsoDateTimeFilter(
        field_name="captured_at",
        lookup_expr="gte",
        help_text="Taken at or after this moment (ISO 8601; a date or a time without an "
        "offset is in the server's TIME_ZONE).",
    )
    captured_before = StrictIsoDateTimeFilter(
        field_name="captured_at",
        lookup_expr="lt",
        help_text="Taken before this moment (ISO 8601, as captured_after).",
    )
    camera = django_filters.CharFilter(
        lookup_expr="icontains", max_length=128, help_text="Camera name containing this text."
    )
    has_gps = StrictBooleanFilter(
        method="filter_has_gps", help_text="With a GPS position or without (leads and admins)."
    )
    source = django_filters.ChoiceFilter(
        choices=SOURCES,
        error_messages={
            "invalid_choice": "Unknown source %(value)r; choose one of "
            + ", ".join(name for name, _ in SOURCES)
            + "."
        },
    )
    licence = django_filters.CharFilter(
        lookup_expr="iexact", max_length=255, help_text="This licence (any case)."
    )
    has_problem = StrictBooleanFilter(
        method="filter_has_problem",
        help_text="Whose file the worker could not decode (problem says why), or not.",
    )
    tag = TagFilter(match=_has_tag, item=_tag_item, max_values=catalogue.TAGS_PER_IMAGE)

    class Meta:
        model = Image
        fields = {"is_complete": ["exact"], "sha256": ["exact"], "created_at": ["gte", "lte"]}

    def filter_has_problem(
        self, queryset: QuerySet[Image], name: str, value: bool
    ) -> QuerySet[Image]:
        return queryset.exclude(problem="") if value else queryset.filter(problem="")

    def filter_has_gps(self, queryset: QuerySet[Image], name: str, value: bool) -> QuerySet[Image]:
        return queryset.filter(gps_latitude__isnull=not value)


def body_read(serializer_class: type[serializers.Serializer], body: Any) -> dict[str, Any]:
    """The body's fields as checked; a field the serializer does not take is a 400."""
    if not isinstance(body, Mapping) or not body:
        names = ", ".join(serializer_class().fields)
        raise ValidationFailed(f"Send a JSON object with any of {names}.")
    unknown = sorted(set(body) - set(serializer_class().fields))
    if unknown:
        names = ", ".join(serializer_class().fields)
        raise ValidationFailed(
            f"{unknown[0]!r} cannot be set here; the fields are {names}.", field=unknown[0]
        )
    data = serializer_class(data=body)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


def tags_read(data: Mapping[str, Any], field: str) -> list[str]:
    return catalogue.tags_clean(data.get(field, []), field=field)
