"""Label Studio's task JSON, so a team can take its labels there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

from django.urls import reverse

from labeler.exports.formats.source import ExportSource
from labeler.exports.selectors import ImageRow
from labeler.images.references import reference_uri

# The names a labelling config uses: <Image name="image" value="$image"/> and
# <Choices name="label" toName="image" choice="single|multiple">.
FROM_NAME = "label"
TO_NAME = "image"


def export_label_studio(source: ExportSource) -> Iterator[bytes]:
    """A JSON list of tasks: the image's URL, each annotation, the prediction if asked."""
    yield b"["
    for index, row in enumerate(source.rows()):
        task = _task(row, source)
        yield (("," if index else "") + json.dumps(task)).encode()
    yield b"]\n"


def _task(row: ImageRow, source: ExportSource) -> dict[str, Any]:
    url = (reference_uri(row.file) or _file_url(row, source)) if row.file else row.file_name
    task: dict[str, Any] = {
        "id": row.id,
        "data": {"image": url, "file_name": row.file_name},
        "meta": {
            "sha256": row.sha256,
            "final_method": row.final_method,
            **row.metadata(positions=source.project.export_keep_metadata),
        },
        "annotations": _annotations(row, final_only=source.options.final_only),
    }
    if source.options.split:
        task["meta"]["split"] = row.split
    if source.options.predictions:
        task["predictions"] = _predictions(row, multi_label=source.project.multi_label)
    return task


def _file_url(row: ImageRow, source: ExportSource) -> str:
    """The image's file in the REST API, which serves it to whoever may see the project
    (a Label Studio user fetching it with their token); stored files are not served at
    MEDIA_URL."""
    path = reverse("api:image-file", kwargs={"project_pk": source.project.pk, "pk": row.id})
    return urljoin(source.base_url, path)


def _result(choices: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "from_name": FROM_NAME,
            "to_name": TO_NAME,
            "type": "choices",
            "value": {"choices": choices},
        }
    ]


def _annotations(row: ImageRow, *, final_only: bool) -> list[dict[str, Any]]:
    if final_only:
        if row.final_labels is None:
            return []
        return [{"result": _result(row.final_labels), "ground_truth": True}]
    return [
        {
            "result": _result(annotation.labels),
            "completed_by": annotation.annotator_id,
            "created_at": annotation.created_at,
            "updated_at": annotation.updated_at,
            "lead_time": None
            if annotation.time_spent_ms is None
            else annotation.time_spent_ms / 1000,
        }
        for annotation in row.annotations
    ]


def _predictions(row: ImageRow, *, multi_label: bool) -> list[dict[str, Any]]:
    """The current model's top label (every label at 0.5 or more when multi-label)."""
    if row.prediction is None or not row.prediction["probabilities"]:
        return []
    probabilities: dict[str, float] = row.prediction["probabilities"]
    if multi_label:
        choices = sorted(name for name, p in probabilities.items() if p >= 0.5)
    else:
        choices = [max(probabilities, key=lambda name: probabilities[name])]
    return [
        {
            "model_version": str(row.prediction["version"]),
            "score": max(probabilities.values()),
            "result": _result(choices),
        }
    ]
