"""COCO: categories, images and image-level labels as annotations without boxes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.utils import timezone

from labeler.exports.formats.source import ExportSource
from labeler.exports.selectors import ImageRow


def export_coco(source: ExportSource) -> Iterator[bytes]:
    """One COCO document; images and annotations each stream from their own pass.

    Each final label is an annotation with ``attributes: {method, confidence}``; with
    every annotation asked for, each annotator's labels follow with ``method:
    "annotation"`` and the annotator's username.
    """
    project, options = source.project, source.options
    labels = list(project.labels.order_by("position").values_list("pk", "name"))
    now = timezone.now()
    header = {
        "info": {
            "description": f"{project.name}: image-level labels",
            "version": "1.0",
            "year": now.year,
            "date_created": now.isoformat(),
            "contributor": "labeler",
        },
        "licenses": [],
        "categories": [{"id": pk, "name": name, "supercategory": "label"} for pk, name in labels],
    }
    yield (json.dumps(header)[:-1] + ', "images": [').encode()
    for index, row in enumerate(source.rows(counted=False)):
        image: dict[str, Any] = {
            "id": row.id,
            "file_name": row.file_name,
            "width": row.width,
            "height": row.height,
        }
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
