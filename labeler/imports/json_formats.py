"""The labels of the JSON formats: a Label Studio export, a COCO file, and our own JSON
and JSON Lines exports.

Each reader takes the parsed document (``labeler.imports.loader.json_parse``) and checks
every field it uses for its type; a wrong one raises LabelSourceError naming the record
(``Task 3``, ``Annotation 7``, ``Image 2``, ``line 5``) and the field.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from labeler.imports.loader import (
    LabelSourceError,
    id_field,
    list_field,
    names_field,
    object_field,
    text_field,
)
from labeler.imports.matching import labels_merge, normalised


def label_studio_labels_of(data: Any) -> dict[str, list[str]]:
    """``{file name: [labels]}`` of a Label Studio export (a list of tasks).

    Each task's image is ``data.image`` (an upload path, a URL or a local-files link);
    its labels are the ``choices`` of its latest annotation that was not cancelled. The
    key is the image's file name as Label Studio knows it, upload prefix included
    (``1a2b3c4d-cat.jpg``), or the ``data.file_name`` our own export writes beside it.
    Tasks without choices are left out; a file named by several tasks gets all their labels.
    """
    if not isinstance(data, list):
        raise LabelSourceError("A Label Studio export is a JSON list of tasks.")
    result: dict[str, list[str]] = {}
    for number, task in enumerate(data, start=1):
        name, labels = _task_labels(task, f"Task {number}")
        if name and labels:
            labels_merge(result, name, labels)
    return result


def _task_labels(task: Any, where: str) -> tuple[str, list[str]]:
    task = object_field(task, where)
    data = object_field(task.get("data"), f"{where}: data")
    image = text_field(data.get("image"), f"{where}: data.image")
    annotations = list_field(task.get("annotations") or [], f"{where}: annotations")
    kept = []
    for number, annotation in enumerate(annotations, start=1):
        annotation = object_field(annotation, f"{where}: annotation {number}")
        if not annotation.get("was_cancelled"):
            kept.append((number, annotation))
    if not kept:
        return "", []
    number, latest = max(kept, key=lambda pair: (_when(pair[1], f"{where}: annotation"), pair[0]))
    # Our own Label Studio export keeps the original name beside a URL of the stored file.
    own_name = data.get("file_name")
    if own_name is not None:
        own_name = text_field(own_name, f"{where}: data.file_name", blank=True).strip()
    labels = _choices(latest.get("result"), f"{where}: annotation {number}")
    return own_name or _image_name(image, where), labels


def _when(annotation: dict[str, Any], where: str) -> str:
    when = annotation.get("updated_at") or annotation.get("created_at") or ""
    return text_field(when, f"{where} updated_at", blank=True)


def _choices(result: Any, where: str) -> list[str]:
    """The names its ``choices`` results give; a single choice may come as one text."""
    labels: list[str] = []
    for number, item in enumerate(list_field(result or [], f"{where}: result"), start=1):
        item = object_field(item, f"{where}: result {number}")
        if item.get("type") != "choices":
            continue
        value = object_field(item.get("value"), f"{where}: result {number} value")
        labels.extend(names_field(value.get("choices"), f"{where}: result {number} choices"))
    return labels


def _image_name(reference: str, where: str) -> str:
    """The file name in a Label Studio image reference (``/data/upload/3/ab12cd34-x.jpg``,
    ``s3://bucket/x.jpg``, ``/data/local-files/?d=photos/x.jpg``)."""
    try:
        parts = urlsplit(reference.strip())
    except ValueError as exc:
        raise LabelSourceError(
            f"{where}: data.image {reference[:200]!r} is not a valid URL or path ({exc})."
        ) from None
    local = parse_qs(parts.query).get("d")
    path = local[0] if local else unquote(parts.path)
    name = posixpath.basename(path.replace("\\", "/"))
    return text_field(name, f"{where}: the file name in data.image")


def coco_labels_of(data: Any) -> dict[str, list[str]]:
    """``{file name: [category names]}`` of a COCO document.

    Each annotation gives its image the name of its category, boxes or not (image-level
    labels). Annotations marked ``attributes.method == "annotation"`` (one annotator's
    labels, as our own COCO export adds them) are left out: the image's final labels are
    imported. Images without annotations are left out.
    """
    if not isinstance(data, dict):
        raise LabelSourceError("A COCO file is a JSON object with images and annotations.")
    files = _coco_index(data, "images", "Image", "file_name")
    names = _coco_index(data, "categories", "Category", "name")
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


def json_labels_of(data: Any) -> dict[str, list[str]]:
    """``{file name: [labels]}`` of our own JSON export: ``{"images": [...]}`` (or the
    list itself), each image an object with ``file_name`` and ``final_labels``."""
    images = data.get("images") if isinstance(data, dict) else data
    if not isinstance(images, list):
        raise LabelSourceError("A JSON labels file is an object with a list 'images'.")
    return _images_labels((f"Image {n}", image) for n, image in enumerate(images, start=1))


def jsonl_labels_of(records: Iterable[tuple[int, Any]]) -> dict[str, list[str]]:
    """``json_labels_of`` for JSON Lines: one image object a line (with its number)."""
    return _images_labels((f"line {number}", image) for number, image in records)


def _images_labels(images: Iterable[tuple[str, Any]]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for where, image in images:
        image = object_field(image, where)
        name = text_field(image.get("file_name"), f"{where}: file_name")
        key = "final_labels" if "final_labels" in image else "labels"
        labels = names_field(image.get(key), f"{where}: {key}")
        if labels:  # an image without labels is left out, as in the other formats
            labels_merge(result, normalised(name), labels)
    return result
