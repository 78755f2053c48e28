"""Images' metadata in the API: the bodies that change it.

The image's own representation (``ImageMetadataSerializer``) and its routes are in
``api.images``; the filters on metadata in ``labeler.browse.metadata_filters`` (the one
filter set of the list, the Images page and bulk actions); the rules on licences and
tags in ``labeler.images.catalogue``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.inputs import StrictInput
from labeler.errors import ValidationFailed
from labeler.images import catalogue


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
