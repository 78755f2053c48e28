"""COCO: categories, images and image-level labels as annotations without boxes.

Each image carries COCO's ``date_captured`` and ``license`` (an id in ``licenses``) where
known, and the rest of its metadata as extra keys COCO readers pass over: ``origin``,
``camera``, ``tags``, ``fields`` (the project's own, by name), ``source``, ``source_key``,
and ``gps`` where the project keeps positions in its exports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from django.utils import timezone

from labeler.exports.formats.source import ExportSource
from labeler.exports.selectors import ImageRow, export_licences

# Creative Commons licences by their SPDX ids ("CC-BY-4.0", "CC-BY-NC-SA-2.0", "CC0-1.0").
_CC = re.compile(r"CC-(BY(?:-NC)?(?:-SA|-ND)?)-(\d\.\d)", re.IGNORECASE)
_CC0 = re.compile(r"CC0(?:-1\.0)?", re.IGNORECASE)


def export_coco(source: ExportSource) -> Iterator[bytes]:
    """One COCO document; images and annotations each stream from their own pass.

    Each final label is an annotation with ``attributes: {method, confidence}``; with
    every annotation asked for, each annotator's labels follow with ``method:
    "annotation"`` and the annotator's username.
    """
    project, options = source.project, source.options
    labels = list(project.labels.order_by("position").values_list("pk", "name"))
    now = timezone.now()
    licences = {name: pk for pk, name in enumerate(export_licences(project, options), start=1)}
    positions = project.export_keep_metadata
    header = {
        "info": {
            "description": f"{project.name}: image-level labels",
            "version": "1.0",
            "year": now.year,
            "date_created": now.isoformat(),
            "contributor": "labeler",
        },
        "licenses": [
            {"id": pk, "name": name, "url": licence_url(name)} for name, pk in licences.items()
        ],
        "categories": [{"id": pk, "name": name, "supercategory": "label"} for pk, name in labels],
    }
    yield (json.dumps(header)[:-1] + ', "images": [').encode()
    for index, row in enumerate(source.rows(counted=False)):
        image = _image(row, licences, positions=positions)
        if options.split:
            image["split"] = row.split
        yield (("," if index else "") + json.dumps(image)).encode()
    yield b'], "annotations": ['
    category_ids = {name: pk for pk, name in labels}
    next_id = 1
    for row in source.rows():
        annotations = list(_annotations(row, category_ids, next_id))
        if annotations:
            separator = "," if next_id > 1 else ""
            yield (separator + ",".join(json.dumps(a) for a in annotations)).encode()
            next_id += len(annotations)
    yield b"]}\n"


def _image(row: ImageRow, licences: dict[str, int], *, positions: bool) -> dict[str, Any]:
    image: dict[str, Any] = {
        "id": row.id,
        "file_name": row.file_name,
        "width": row.width,
        "height": row.height,
    }
    if row.licence in licences:
        image["license"] = licences[row.licence]
    if row.captured_at:
        image["date_captured"] = row.captured_at
    metadata = row.metadata(positions=positions)
    extra = ("origin", "camera", "tags", "fields", "source", "source_key")
    image.update({key: metadata[key] for key in extra})
    if positions:
        image["gps"] = metadata["gps"]
    return image


def licence_url(name: str) -> str:
    """Where a licence is written: itself when a URL, Creative Commons' own page for one
    of theirs named by its SPDX id; else blank."""
    if name.startswith(("https://", "http://")):
        return name
    if _CC0.fullmatch(name):
        return "https://creativecommons.org/publicdomain/zero/1.0/"
    match = _CC.fullmatch(name)
    if match is None:
        return ""
    return f"https://creativecommons.org/licenses/{match[1].lower()}/{match[2]}/"


def _annotations(row: ImageRow, category_ids: dict[str, int], first_id: int) -> Iterator[dict]:
    decided: dict[str, Any] = {"method": row.final_method, "confidence": row.final_confidence}
    labelled = [(name, decided) for name in row.final_labels or []]
    for annotation in row.annotations:
        given: dict[str, Any] = {
            "method": "annotation",
            "confidence": None,
            "annotator": annotation.annotator,
        }
        labelled.extend((name, given) for name in annotation.labels)
    for offset, (name, attributes) in enumerate(labelled):
        yield {
            "id": first_id + offset,
            "image_id": row.id,
            "category_id": category_ids[name],
            "iscrowd": 0,
            "attributes": attributes,
        }
