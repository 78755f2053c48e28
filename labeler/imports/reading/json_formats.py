"""The labels of the flat JSON formats: a COCO file, and our own JSON and JSON Lines
exports (a Label Studio export is read person by person: ``labeler.imports.reading.label_studio``).

Each reader takes the parsed document (``labeler.imports.reading.loader.json_parse``) and checks
every field it uses for its type; a wrong one raises LabelSourceError naming the record
(``Annotation 7``, ``Image 2``, ``line 5``) and the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from labeler.imports.reading.loader import (
    LabelSourceError,
    id_field,
    names_field,
    object_field,
    text_field,
)
from labeler.imports.reading.matching import labels_merge, normalised
from labeler.imports.reading.metadata_in import MetadataIn, metadata_merge, metadata_of_object


def coco_labels_of(
    data: Any, metadata: dict[str, MetadataIn] | None = None
) -> dict[str, list[str]]:
    """``{file name: [category names]}`` of a COCO document.

    Each annotation gives its image the name of its category, boxes or not (image-level
    labels). Annotations marked ``attributes.method == "annotation"`` (one annotator's
    labels, as our own COCO export adds them) are left out: the image's final labels are
    imported. Images without annotations are left out. With ``metadata``, each image's
    metadata goes there (``coco_metadata``).
    """
    if not isinstance(data, dict):
        raise LabelSourceError("A COCO file is a JSON object with images and annotations.")
    files = _coco_index(data, "images", "Image", "file_name")
    names = _coco_index(data, "categories", "Category", "name")
    if metadata is not None:
        coco_metadata(data, files, metadata)
    result: dict[str, list[str]] = {}
    for number, item in enumerate(_coco_list(data, "annotations"), start=1):
        where = f"Annotation {number}"
        item = object_field(item, where)
        attributes = item.get("attributes")
        if isinstance(attributes, dict) and attributes.get("method") == "annotation":
            continue
        image_id = id_field(item.get("image_id"), f"{where}: image_id")
        category_id = id_field(item.get("category_id"), f"{where}: category_id")
        if image_id not in files:
            raise LabelSourceError(f"{where}: no image with id {image_id!r}.")
        if category_id not in names:
            raise LabelSourceError(f"{where}: no category with id {category_id!r}.")
        labels_merge(result, normalised(files[image_id]), [names[category_id]])
    return result


# An image's COCO keys that are not metadata: read by the labels, or COCO's own.
_COCO_IMAGE_KEYS = ("id", "file_name", "width", "height", "coco_url", "flickr_url", "license")


def coco_metadata(
    data: dict[str, Any], files: dict[int | str, str], found: dict[str, MetadataIn]
) -> None:
    """Each COCO image's metadata, by its file name: ``date_captured``, the name of the
    licence its ``license`` id names (its URL where it has no name), and the extra keys
    our export writes (``camera``, ``origin``, ``tags``, ``gps``, ``fields``)."""
    licences: dict[int | str, str] = {}
    for number, item in enumerate(data.get("licenses") or [], start=1):
        item = object_field(item, f"License {number}")
        identifier = id_field(item.get("id"), f"License {number}: id")
        name = item.get("name") or item.get("url") or ""
        licences[identifier] = text_field(name, f"License {number}: name", blank=True)
    for number, item in enumerate(_coco_list(data, "images"), start=1):
        where = f"Image {number}"
        image = object_field(item, where)
        no_date = _coco_no_date(image.get("date_captured"))
        skip = (*_COCO_IMAGE_KEYS, "date_captured") if no_date else _COCO_IMAGE_KEYS
        metadata = metadata_of_object(image, where=where, skip=skip)
        licence = image.get("license")
        if licence is not None:
            if isinstance(licence, bool) or not isinstance(licence, int | str):
                raise LabelSourceError(f"{where}: license must be a licence's id.")
            if licence not in licences:
                raise LabelSourceError(f"{where}: no licence with id {licence!r} in licenses.")
            if licences[licence]:
                metadata.values["licence"] = licences[licence]
        metadata_merge(found, normalised(files[image["id"]]), metadata)


# A date of zeros: "0000-00-00 00:00:00", "0".
_ZERO_DATE = re.compile(r"[0\-: T]*0[0\-: T]*")


def _coco_no_date(value: Any) -> bool:
    """Whether a COCO image's ``date_captured`` is its writer's way of saying none: CVAT
    and Datumaro write 0, other tools a date of zeros ("0000-00-00 00:00:00")."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == 0
    return isinstance(value, str) and _ZERO_DATE.fullmatch(value.strip()) is not None


def _coco_index(data: dict[str, Any], key: str, what: str, field: str) -> dict[int | str, str]:
    """``{id: field}`` of a COCO list's objects (images' file names, categories' names).

    An id given twice is refused: annotations naming it would go to whichever came last.
    """
    index: dict[int | str, str] = {}
    first: dict[int | str, int] = {}
    for number, item in enumerate(_coco_list(data, key), start=1):
        where = f"{what} {number}"
        item = object_field(item, where)
        identifier = id_field(item.get("id"), f"{where}: id")
        if identifier in first:
            raise LabelSourceError(
                f"{where}: id {identifier!r} is {what.lower()} {first[identifier]}'s too."
            )
        first[identifier] = number
        index[identifier] = text_field(item.get(field), f"{where}: {field}")
    return index


def _coco_list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise LabelSourceError(f"A COCO file needs a list '{key}'.")
    return value


def json_labels_of(
    data: Any, metadata: dict[str, MetadataIn] | None = None
) -> dict[str, list[str]]:
    """``{file name: [labels]}`` of our own JSON export: ``{"images": [...]}`` (or the
    list itself), each image an object with ``file_name`` and ``final_labels``; with
    ``metadata``, each image's other keys go there (``labeler.imports.reading.metadata_in``)."""
    images = data.get("images") if isinstance(data, dict) else data
    if not isinstance(images, list):
        raise LabelSourceError("A JSON labels file is an object with a list 'images'.")
    numbered = ((f"Image {n}", image) for n, image in enumerate(images, start=1))
    return _images_labels(numbered, metadata)


def jsonl_labels_of(
    records: Iterable[tuple[int, Any]], metadata: dict[str, MetadataIn] | None = None
) -> dict[str, list[str]]:
    """``json_labels_of`` for JSON Lines: one image object a line (with its number)."""
    return _images_labels(((f"line {number}", image) for number, image in records), metadata)


# Our JSON export's keys that are not metadata: the labels, and what the image is.
_OWN_KEYS = (
    *("id", "file_name", "sha256", "width", "height", "annotations", "final_labels"),
    *("labels", "final_method", "final_confidence", "split", "prediction"),
)


def _images_labels(
    images: Iterable[tuple[str, Any]], metadata: dict[str, MetadataIn] | None
) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for where, image in images:
        image = object_field(image, where)
        name = text_field(image.get("file_name"), f"{where}: file_name")
        key = "final_labels" if "final_labels" in image else "labels"
        labels = names_field(image.get(key), f"{where}: {key}")
        if labels:  # an image without labels is left out, as in the other formats
            labels_merge(result, normalised(name), labels)
        if metadata is not None:
            found = metadata_of_object(image, where=where, skip=_OWN_KEYS)
            metadata_merge(metadata, normalised(name), found)
    return result
