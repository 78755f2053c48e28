"""Filters on what an image's file and its leads say about it: capture time, camera, source,
origin, licence, tags, position (whether it has one, and a box on the map), decoding
problems, completeness, content hash and upload time. A project's own fields have their
filters in ``field_filters``.

They sit in the data browser's one registry, so the images list, the Images page, the
bulk count and every bulk action read them alike (a filter the bulk selection did not know
was once dropped, and the action then took every image). Where a photo was taken is for
leads and admins; the content hash and the upload time are for every member.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Upper

from labeler.browse.image_filter import ImageFilter
from labeler.browse.values import boolean_value, moment_value, text_value
from labeler.errors import ValidationFailed
from labeler.images.catalogue import services as catalogue
from labeler.images.catalogue.metadata_values import ORIGIN_LENGTH, text_form
from labeler.images.models import SOURCES, Image, ImageTag
from labeler.projects.models import Project

Apply = Callable[[QuerySet[Image], list[str], Project], QuerySet[Image]]
CAMERA_LENGTH = 128
SHA256_LENGTH = 64


def _moment(name: str, lookup: str) -> Apply:
    def apply(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
        return images.filter(**{lookup: moment_value(name, values)})

    return apply


def _camera(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    return images.filter(camera__icontains=text_value("camera", values[-1], most=CAMERA_LENGTH))


def _licence(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    licence = text_value("licence", values[-1], most=catalogue.LICENCE_LENGTH)
    return images.filter(licence__iexact=licence)


def _source(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    known = [name for name, _ in SOURCES]
    for value in values:
        if value not in known:
            raise ValidationFailed(
                f"Unknown source {value!r}; choose one of {', '.join(known)}.", field="source"
            )
    return images.filter(source__in=values)


def _tag(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    for value in values:  # every tag given
        name = catalogue.tag_clean(value, field="tag")
        images = images.filter(Exists(ImageTag.objects.filter(image=OuterRef("pk"), name=name)))
    return images


def _origin(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    # Compared as the (project, UPPER(origin)) index is written, several values in one IN,
    # each upper-cased by the database as the index is: Python's upper() differs from it
    # ("ß" is "SS" in Python only).
    wanted = [
        Upper(Value(text_form(text_value("origin", value, most=ORIGIN_LENGTH)))) for value in values
    ]
    return images.alias(origin_upper=Upper("origin")).filter(origin_upper__in=wanted)


BOX_HELP = "south,west,north,east in decimal degrees, such as 48.8,2.2,48.9,2.5"


def box_value(value: str) -> tuple[float, float, float, float]:
    """A box on the map, ``south,west,north,east``; west past east crosses the 180th
    meridian. A 400 naming ``bbox`` for anything else."""
    parts = value.split(",")
    try:
        south, west, north, east = (float(part) for part in parts)
    except ValueError:
        raise ValidationFailed(f"bbox: {value[:60]!r} is not {BOX_HELP}.", field="bbox") from None
    bounds = (("south", south, 90), ("north", north, 90), ("west", west, 180), ("east", east, 180))
    for name, degrees, limit in bounds:
        if not -limit <= degrees <= limit:  # also refuses nan
            raise ValidationFailed(
                f"bbox: {name} {degrees:g} is not between -{limit} and {limit} degrees.",
                field="bbox",
            )
    if south > north:
        raise ValidationFailed(f"bbox: south {south:g} is north of north {north:g}.", field="bbox")
    return south, west, north, east


def _bbox(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    south, west, north, east = box_value(values[-1])
    inside = Q(gps_latitude__gte=south, gps_latitude__lte=north)
    if west <= east:
        inside &= Q(gps_longitude__gte=west, gps_longitude__lte=east)
    else:  # across the 180th meridian
        inside &= Q(gps_longitude__gte=west) | Q(gps_longitude__lte=east)
    return images.filter(inside)


def _has_gps(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    return images.filter(gps_latitude__isnull=not boolean_value("has_gps", values))


def _has_problem(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    if boolean_value("has_problem", values):
        return images.exclude(problem="")
    return images.filter(problem="")


def _is_complete(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    return images.filter(is_complete=boolean_value("is_complete", values))


def _sha256(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    wanted = [text_value("sha256", value, most=SHA256_LENGTH).lower() for value in values]
    return images.filter(sha256__in=wanted)


IMAGE_FILTERS = (
    ImageFilter("captured_after", "Taken from", "date",
                _moment("captured_after", "captured_at__gte"), many=False,
                help="Taken at or after this moment (ISO 8601; a date or a time without an "
                     "offset is in the server's TIME_ZONE)."),
    ImageFilter("captured_before", "Taken before", "date",
                _moment("captured_before", "captured_at__lt"), many=False,
                help="Taken before this moment (ISO 8601, as captured_after)."),
    ImageFilter("camera", "Camera", "text", _camera, many=False,
                help="Camera name containing this text (any case)."),
    ImageFilter("source", "Source", "choice", _source, choices=tuple(SOURCES),
                help="How the image came in."),
    ImageFilter("origin", "Origin", "text", _origin,
                help="Where it comes from (a dataset, site, provider or URL), in any case; "
                     "repeated: any of them."),
    ImageFilter("licence", "Licence", "text", _licence, many=False,
                help="This licence (any case)."),
    ImageFilter("tag", "Tag", "text", _tag,
                help="Carrying this tag; repeated (?tag=a&tag=b): every one of them."),
    ImageFilter("has_gps", "Has a position", "choice", _has_gps, many=False,
                audience="managers", choices=(("true", "Yes"), ("false", "No")),
                help="With a GPS position or without (leads and admins)."),
    ImageFilter("bbox", "Within a box on the map", "text", _bbox, many=False,
                audience="managers",
                help=f"Taken within a box: {BOX_HELP}; west past east crosses the 180th "
                     "meridian (leads and admins)."),
    ImageFilter("has_problem", "Cannot be decoded", "choice", _has_problem, many=False,
                choices=(("true", "Yes"), ("false", "No")),
                help="Whose file the worker could not decode (problem says why), or not."),
    ImageFilter("is_complete", "Complete", "choice", _is_complete, many=False,
                group="status", choices=(("true", "Yes"), ("false", "No")),
                help="Labelled by as many annotators as it needs, or not."),
    ImageFilter("sha256", "SHA-256", "text", _sha256, audience="members", group="",
                help="The file's SHA-256 (hexadecimal)."),
    ImageFilter("created_at__gte", "Uploaded at or after", "date",
                _moment("created_at__gte", "created_at__gte"), many=False, group="",
                audience="members",
                help="Uploaded at or after this moment (ISO 8601)."),
    ImageFilter("created_at__lte", "Uploaded at or before", "date",
                _moment("created_at__lte", "created_at__lte"), many=False, group="",
                audience="members",
                help="Uploaded at or before this moment (ISO 8601)."),
)  # fmt: skip
