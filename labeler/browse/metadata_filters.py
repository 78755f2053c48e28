"""Filters on what an image's file and its leads say about it: capture time, camera, source,
licence, tags, position, decoding problems, completeness, content hash and upload time.

They sit in the data browser's one registry, so the images list, the Images page, the
bulk count and every bulk action read them alike (a filter the bulk selection did not know
was once dropped, and the action then took every image). Where a photo was taken is for
leads and admins; the content hash and the upload time are for every member.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Exists, OuterRef, QuerySet

from labeler.browse.image_filter import ImageFilter
from labeler.browse.values import boolean_value, moment_value, text_value
from labeler.errors import ValidationFailed
from labeler.images import catalogue
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
    ImageFilter("licence", "Licence", "text", _licence, many=False,
                help="This licence (any case)."),
    ImageFilter("tag", "Tag", "text", _tag,
                help="Carrying this tag; repeated (?tag=a&tag=b): every one of them."),
    ImageFilter("has_gps", "Has a position", "choice", _has_gps, many=False,
                audience="managers", choices=(("true", "Yes"), ("false", "No")),
                help="With a GPS position or without (leads and admins)."),
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
