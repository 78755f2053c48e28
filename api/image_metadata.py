"""Images' metadata in the API: the bodies that change it.

The image's own representation (``ImageMetadataSerializer``) and its routes are in
``api.images``; the filters on metadata in ``labeler.browse.metadata_filters`` (the one
filter set of the list, the Images page and bulk actions); the rules on every value
in ``labeler.images.catalogue.descriptions`` (licences and tags:
``labeler.images.catalogue.services``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.inputs import StrictInput
from labeler.errors import ValidationFailed
from labeler.images.catalogue import services as catalogue
from labeler.images.catalogue.descriptions import Description, description_read
from labeler.images.catalogue.metadata_values import CAMERA_LENGTH, ORIGIN_LENGTH
from labeler.images.models import MetadataField


@extend_schema_field({"type": "array", "items": {"type": "string", "maxLength": 64}})
class TagListField(serializers.JSONField):
    """Tags as a JSON list of text; checked by ``labeler.images.catalogue.services``."""


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "properties": {
            "latitude": {"type": "number", "minimum": -90, "maximum": 90},
            "longitude": {"type": "number", "minimum": -180, "maximum": 180},
        },
        "required": ["latitude", "longitude"],
    }
)
class PositionField(serializers.JSONField):
    """Where a photo was taken, or null for nowhere; checked by
    ``labeler.images.catalogue.descriptions``."""


@extend_schema_field({"type": "string", "format": "date-time", "nullable": True})
class MomentField(serializers.JSONField):
    """An ISO 8601 time (a date: its midnight; no offset: UTC), or null for none."""


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {
            "oneOf": [{"type": "string"}, {"type": "number"}],
            "nullable": True,
        },
    }
)
class FieldValuesField(serializers.JSONField):
    """A project's fields by name, each a value of its kind or null to clear it."""


_CAPTURED = (
    "When the photo was taken: ISO 8601 (no offset: UTC; a date: its midnight); null: unknown."
)
_GPS = 'Where it was taken, {"latitude": .., "longitude": ..} in decimal degrees; null: nowhere.'
_ORIGIN = 'Where the image comes from: a dataset, site, provider or URL; "" or null for none.'
_CAMERA = 'Make and model; "" or null for none.'
_FIELDS = (
    "The project's own fields by name (GET /projects/{id}/fields/), each a value of its kind "
    "(text, a number, a date 2024-05-01, one of a choice field's choices) or null to clear it."
)


class DescriptionSerializer(serializers.Serializer):
    """The metadata a lead may set, one field or several; each left out stays as it is."""

    # Null clears a value, as "" does for text: what the image page's form sends for an
    # input left empty.
    captured_at = MomentField(required=False, allow_null=True, help_text=_CAPTURED)
    gps = PositionField(required=False, allow_null=True, help_text=_GPS)
    origin = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=ORIGIN_LENGTH,
        help_text=_ORIGIN,
    )
    camera = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=CAMERA_LENGTH,
        help_text=_CAMERA,
    )
    # The body's key; DRF's metaclass takes declared fields off the class (see api.images).
    fields = FieldValuesField(required=False, help_text=_FIELDS)  # type: ignore[assignment]


class ImageDescriptionSerializer(StrictInput, DescriptionSerializer):
    """What a lead may change of one image; each field left out stays as it is."""

    licence = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=catalogue.LICENCE_LENGTH,
        help_text='Free text such as "CC-BY-4.0", "proprietary" or a URL; "" or null for none.',
    )
    tags = TagListField(
        required=False,
        help_text=f"The image's tags, replacing those it has: at most "
        f"{catalogue.TAGS_PER_IMAGE}, each up to {catalogue.TAG_LENGTH} "
        f"{catalogue.TAG_RULE}.",
    )


class ImageChangeSerializer(ImageDescriptionSerializer):
    """One image's change among many: its id, then what to set of it."""

    image = serializers.IntegerField(help_text="The image's id.")


@extend_schema_field(ImageChangeSerializer(many=True))
class ImageChangesField(serializers.JSONField):
    """A list of changes, each an image's id and what to set of it; read item by item by
    ``changes_of``, which names the item of each refusal."""


class ImagesDescriptionSerializer(StrictInput, DescriptionSerializer):
    """A change to many images at once: the same change to every image of ``images``, or
    a change of its own to each image of ``items``. All or nothing."""

    images = serializers.JSONField(
        required=False,
        help_text=f"Ids of the project's images, at most {catalogue.IMAGES_PER_CHANGE}: each "
        "gets the change the other fields give.",
    )
    items = ImageChangesField(
        required=False,
        help_text=f"Instead of images: up to {catalogue.IMAGES_PER_CHANGE} changes, each "
        "naming its image and what to set of it (as PATCH on one image).",
    )
    licence = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=catalogue.LICENCE_LENGTH,
        help_text='The licence of every image; "" or null for none; left out: unchanged.',
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


# The body's keys that say what to set of an image (not which images, nor tags added).
DESCRIBED = ("captured_at", "gps", "origin", "camera", "licence", "tags", "fields")


def description_of(
    body: Mapping[str, Any], *, fields: Mapping[str, MetadataField], at: str = ""
) -> Description:
    """The change a body's describing keys ask for, every value checked by the images
    layer (``labeler.images.catalogue.descriptions``): the body as sent, not DRF's reading of it,
    so that a null or a number reaches the rule that says what is wrong with it."""
    return description_read(
        {key: body[key] for key in DESCRIBED if key in body}, fields=fields, at=at
    )


def changes_of(items: Any, *, fields: Mapping[str, MetadataField]) -> list[tuple[int, Description]]:
    """Each item of a bulk body's ``items`` as (image id, its change), every value checked;
    a refusal names the item (``items[3].captured_at``) and its image."""
    if not isinstance(items, list) or not items:
        raise ValidationFailed("items must be a non-empty list of changes.", field="items")
    if len(items) > catalogue.IMAGES_PER_CHANGE:
        raise ValidationFailed(
            f"At most {catalogue.IMAGES_PER_CHANGE} items per request, not {len(items)}.",
            field="items",
        )
    changes = []
    for number, item in enumerate(items):
        at = f"items[{number}]"
        if not isinstance(item, Mapping):
            raise ValidationFailed(f"{at} must be an object with image and what to set.", field=at)
        image_id = item.get("image")
        if isinstance(image_id, bool) or not isinstance(image_id, int) or image_id < 1:
            raise ValidationFailed(f"{at}.image must be an image's id.", field=f"{at}.image")
        rest = {key: value for key, value in item.items() if key != "image"}
        if not rest:
            raise ValidationFailed(f"{at}: nothing to set of image {image_id}.", field=at)
        try:
            changes.append((image_id, description_read(rest, fields=fields, at=f"{at}.")))
        except ValidationFailed as exc:
            raise ValidationFailed(f"Image {image_id}: {exc.message}", field=exc.field) from exc
    return changes
