"""The rows an export is written from, read in a few streamed queries per batch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from itertools import groupby
from typing import Any

from labeler.annotations.models import Annotation, FinalLabel
from labeler.exports.options import SPLIT_NAMES, ExportOptions
from labeler.exports.selection import Selection, export_selection
from labeler.exports.split import SplitPlan
from labeler.images.catalogue.metadata_values import field_value_json
from labeler.images.models import FieldValue, ImageTag, MetadataField
from labeler.predictions.models import ModelVersion, Prediction
from labeler.predictions.selectors import project_splits
from labeler.projects.models import Project

BATCH = 2000
# The parts of the project's own split, in the order of the export's split names.
PROJECT_PARTS = ("train", "validation", "test")


@dataclass
class AnnotationRow:
    annotator: str
    labels: list[str]
    time_spent_ms: int | None
    created_at: str
    updated_at: str
    annotator_id: int = 0


@dataclass
class ImageRow:
    id: int
    file_name: str
    sha256: str
    width: int
    height: int
    annotations: list[AnnotationRow] = field(default_factory=list)
    final_labels: list[str] | None = None
    final_method: str | None = None
    final_confidence: float | None = None
    # Who decided the final label (a person's decision: adjudicated, gold, confirmed
    # machine label; imported, by whoever imported it), and when it last changed.
    final_decided_by_id: int | None = None
    final_updated_at: str | None = None  # ISO 8601
    file: str = ""
    format: str = ""
    converted: str = ""  # the stored converted copy of a HEIC, AVIF or GIF, if made
    split: str | None = None
    prediction: dict[str, Any] | None = None
    source: str = "upload"
    source_key: str = ""
    origin: str = ""
    captured_at: str | None = None  # ISO 8601, in UTC
    camera: str = ""
    licence: str = ""
    tags: list[str] = field(default_factory=list)
    # The project's own fields that have a value, by name: text, a number, or a date as
    # ISO 8601 text.
    fields: dict[str, str | float] = field(default_factory=dict)
    # Read only for a project that keeps photos' metadata in its exports.
    latitude: float | None = None
    longitude: float | None = None

    def metadata(self, *, positions: bool) -> dict[str, Any]:
        """What the file and the leads say of the image; its position with ``positions``."""
        data: dict[str, Any] = {
            "captured_at": self.captured_at,
            "origin": self.origin,
            "camera": self.camera,
            "licence": self.licence,
            "tags": self.tags,
            "fields": self.fields,
            "source": self.source,
            "source_key": self.source_key,
        }
        if positions:
            located = self.latitude is not None and self.longitude is not None
            data["gps"] = (
                {"latitude": self.latitude, "longitude": self.longitude} if located else None
            )
        return data


@dataclass(frozen=True)
class _Final:
    labels: list[str]
    method: str
    confidence: float | None
    decided_by_id: int | None
    updated_at: str


@dataclass
class _Batch:
    annotations: dict[int, list[AnnotationRow]]
    finals: dict[int, _Final]
    predictions: dict[int, dict[str, Any]]
    tags: dict[int, list[str]]
    fields: dict[int, dict[str, str | float]]


def export_rows(
    project: Project,
    options: ExportOptions | None = None,
    *,
    on_batch: Callable[[int], None] | None = None,
) -> Iterator[ImageRow]:
    """The images the options select with their annotations and final label, in id order.

    Images are read in batches, each batch's annotations, final labels and predictions
    in one query apiece, so memory stays bounded and the query count grows with batches
    only. ``on_batch`` is told how many images each finished batch held.
    """
    options = options or ExportOptions()
    selection = export_selection(project, options)
    plan = _split_plan(project, options) if options.split_shares else None
    parts = project_parts(project) if options.split_by_project else None
    for row in _rows(selection, options, on_batch):
        if plan is not None:
            row.split = plan.split_of(row.sha256, tuple(row.final_labels or ()))
        elif parts is not None:
            row.split = parts.get(row.id)
        yield row


def project_parts(project: Project) -> dict[int, str]:
    """Each image's part of the project's own split, named as the export's splits are
    ("train", "val", "test"): as its next training uses them (``project_splits``).

    Images it leaves out (no final label, or a near-duplicate of a test image kept from
    training) have no part.
    """
    names = dict(zip(PROJECT_PARTS, SPLIT_NAMES, strict=True))
    return {image_id: names[part] for image_id, part in project_splits(project).items()}


def export_licences(project: Project, options: ExportOptions) -> list[str]:
    """The licences the selected images carry, each once, in name order."""
    images = export_selection(project, options).images.exclude(licence="")
    return list(images.order_by("licence").values_list("licence", flat=True).distinct())


def current_model_version(project: Project) -> ModelVersion | None:
    """The version that pre-labels the project now, if any."""
    return ModelVersion.objects.filter(project=project, is_current=True).first()


def _split_plan(project: Project, options: ExportOptions) -> SplitPlan:
    """One pass over the same selection first: the strata and their hashes; near-duplicate
    groups are kept in one split."""
    unsplit = replace(options, split=None, predictions=False)
    selection = export_selection(project, unsplit)
    grouped = selection.images.filter(duplicate_group__isnull=False).order_by()
    groups = {
        sha256: group
        for sha256, group in grouped.values_list("sha256", "duplicate_group").iterator()
        if group is not None
    }
    items = ((row.sha256, tuple(row.final_labels or ())) for row in _rows(selection, unsplit, None))
    assert options.split_shares is not None
    return SplitPlan(
        items,
        shares=options.split_shares,
        names=options.split_names,
        seed=options.seed,
        groups=groups,
    )


_COLUMNS = ("pk", "original_name", "sha256", "width", "height", "file", "format", "converted")
_METADATA = ("source", "source_key", "captured_at", "camera", "licence", "origin")
_POSITION = ("gps_latitude", "gps_longitude")


def _rows(
    selection: Selection, options: ExportOptions, on_batch: Callable[[int], None] | None
) -> Iterator[ImageRow]:
    version = current_model_version(selection.project) if options.predictions else None
    # Positions are not even read unless the project keeps them in its exports.
    positions = _POSITION if selection.project.export_keep_metadata else ()
    columns = (*_COLUMNS, *_METADATA, *positions)
    last_id = 0
    while True:
        images = list(
            selection.images.filter(pk__gt=last_id).order_by("pk").values_list(*columns)[:BATCH]
        )
        if not images:
            return
        last_id = images[-1][0]
        batch = _batch_of([row[0] for row in images], selection, options, version)
        for values in images:
            row = _row(values, positions=bool(positions))
            row.tags = batch.tags.get(row.id, [])
            row.fields = batch.fields.get(row.id, {})
            if _fill(row, batch, selection, options):
                yield row
        if on_batch is not None:
            on_batch(len(images))


def _row(values: tuple[Any, ...], *, positions: bool) -> ImageRow:
    pk, name, sha, width, height, file, fmt, converted = values[:8]
    source, key, captured, camera, licence, origin = values[8:14]
    row = ImageRow(pk, name, sha, width, height, file=file, format=fmt, converted=converted)
    row.source, row.source_key, row.camera, row.licence = source, key, camera, licence
    row.origin = origin
    row.captured_at = captured.astimezone(dt.UTC).isoformat() if captured else None
    if positions:
        row.latitude, row.longitude = values[14:16]
    return row


def _batch_of(
    ids: list[int], selection: Selection, options: ExportOptions, version: ModelVersion | None
) -> _Batch:
    names = selection.label_names
    wants_annotations = not options.final_only or options.min_agreement is not None
    return _Batch(
        annotations=_annotations_by_image(ids, names) if wants_annotations else {},
        finals=_finals_by_image(ids, names),
        predictions=_predictions_by_image(ids, names, version) if version else {},
        tags=_tags_by_image(ids),
        fields=_fields_by_image(ids),
    )


def _fill(row: ImageRow, batch: _Batch, selection: Selection, options: ExportOptions) -> bool:
    """Put the batch's data on the row; False when min_agreement leaves it out."""
    final = batch.finals.get(row.id)
    if final is not None:
        row.final_labels, row.final_method = final.labels, final.method
        row.final_confidence, row.final_decided_by_id = final.confidence, final.decided_by_id
        row.final_updated_at = final.updated_at
    annotations = batch.annotations.get(row.id, [])
    if options.min_agreement is not None:
        if not annotations or final is None:
            return False
        agreeing = sum(annotation.labels == final.labels for annotation in annotations)
        if agreeing / len(annotations) < options.min_agreement:
            return False
    if not options.final_only:
        if selection.annotator_id is not None:
            annotations = [a for a in annotations if a.annotator_id == selection.annotator_id]
        row.annotations = annotations
    row.prediction = batch.predictions.get(row.id)
    return True


def _tags_by_image(image_ids: list[int]) -> dict[int, list[str]]:
    rows = (
        ImageTag.objects.filter(image_id__in=image_ids)
        .order_by("image_id", "name")
        .values_list("image_id", "name")
    )
    return {
        image_id: [name for _, name in group]
        for image_id, group in groupby(rows, key=lambda r: r[0])
    }


def _fields_by_image(image_ids: list[int]) -> dict[int, dict[str, str | float]]:
    """Each image's project field values by field name (dates as ISO 8601 text)."""
    rows = (
        FieldValue.objects.filter(image_id__in=image_ids)
        .order_by("image_id", "field__name")
        .values_list("image_id", "field__name", "text", "number", "date")
    )
    found: dict[int, dict[str, str | float]] = {}
    for image_id, name, text, number, date in rows:
        value = text if text is not None else number if number is not None else date
        if value is not None:
            found.setdefault(image_id, {})[name] = field_value_json(value)
    return found


def export_field_names(project: Project) -> list[str]:
    """The project's own fields' names, in name order: the columns of the formats that
    write a column per field."""
    return list(MetadataField.objects.filter(project=project).values_list("name", flat=True))


def _annotations_by_image(
    image_ids: list[int], label_names: dict[int, str]
) -> dict[int, list[AnnotationRow]]:
    rows = (
        Annotation.objects.filter(image_id__in=image_ids)
        .order_by("image_id", "id")
        .values_list(
            "image_id",
            "id",
            "annotator__username",
            "time_spent_ms",
            "created_at",
            "updated_at",
            "labels__id",
            "annotator_id",
        )
    )
    result: dict[int, list[AnnotationRow]] = {}
    for (image_id, _), group in groupby(rows, key=lambda r: (r[0], r[1])):
        items = list(group)
        first = items[0]
        result.setdefault(image_id, []).append(
            AnnotationRow(
                annotator=first[2],
                labels=sorted(label_names[r[6]] for r in items if r[6] is not None),
                time_spent_ms=first[3],
                created_at=first[4].isoformat(),
                updated_at=first[5].isoformat(),
                annotator_id=first[7],
            )
        )
    return result


def _finals_by_image(image_ids: list[int], label_names: dict[int, str]) -> dict[int, _Final]:
    rows = (
        FinalLabel.objects.filter(image_id__in=image_ids)
        .order_by("image_id")
        .values_list(
            "image_id", "method", "confidence", "labels__id", "decided_by_id", "updated_at"
        )
    )
    result: dict[int, _Final] = {}
    for image_id, group in groupby(rows, key=lambda r: r[0]):
        items = list(group)
        names = sorted(label_names[r[3]] for r in items if r[3] is not None)
        _, method, confidence, _, decided_by_id, updated_at = items[0]
        result[image_id] = _Final(names, method, confidence, decided_by_id, updated_at.isoformat())
    return result


def _predictions_by_image(
    image_ids: list[int], label_names: dict[int, str], version: ModelVersion
) -> dict[int, dict[str, Any]]:
    rows = Prediction.objects.filter(model_version=version, image_id__in=image_ids).values_list(
        "image_id", "probabilities"
    )
    return {
        image_id: {
            "model_version": version.pk,
            "version": version.version,
            "probabilities": {
                label_names[int(key)]: value
                for key, value in probabilities.items()
                if int(key) in label_names
            },
        }
        for image_id, probabilities in rows
    }
