"""Files sent through the API, planned: each upload with its label names (the field
``labels``) or with the entry the labels file of its folder gives it (a batch), read only
when its turn comes as the plan is applied."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from labeler.images.services import upload_read
from labeler.imports.planning.batch import BatchLabels, batch_labels
from labeler.imports.planning.labels_in import ImportItem, LabelsIn, NotApplied
from labeler.imports.planning.plan import ImportOptions, ImportPlan
from labeler.imports.reading.sources import LabelsSource
from labeler.projects.models import Project


def uploads_import_plan(
    *,
    project: Project,
    files: list[UploadedFile],
    names: list[str],
    labels: list[list[str] | None],
    options: ImportOptions,
) -> ImportPlan:
    """The plan of importing ``files`` (named ``names``), each with its label names
    (None: none), recorded as ``options`` say."""
    labels_in = LabelsIn.of_entries(
        [given for given in labels if given is not None], labels_as=options.labels_as
    )
    items = _items(files, names, labels)
    return ImportPlan(project, options, labels_in, items, len(files))


def batch_import_plan(
    *,
    project: Project,
    files: list[UploadedFile],
    names: list[str],
    source: LabelsSource,
    options: ImportOptions,
    dry_run: bool = False,
) -> ImportPlan:
    """The plan of importing a batch of ``files`` of a folder whose labels file was read
    into ``source``: each takes the entry its path, name or content matches. A dry run's
    plan lists the files whose entry is ambiguous; every plan carries the counts of the
    whole labels file (``labels_file``), the same for each batch."""
    batch = batch_labels(
        source.labels,
        names=names,
        labels_as=options.labels_as,
        sha256_of=lambda number: _sha256(files[number]),
        metadata=source.metadata,
    )
    matches = zip(names, batch.matches, strict=True)
    refusals = [NotApplied(name, m.reason) for name, m in matches if m.ambiguous]
    return ImportPlan(
        project,
        options,
        batch.labels_in,
        _batch_items(files, names, batch),
        len(files),
        tuple(refusals) if dry_run else (),
        _whole(batch),
    )


def _items(
    files: list[UploadedFile], names: list[str], labels: list[list[str] | None]
) -> Iterator[ImportItem]:
    """Each upload read only when its turn comes."""
    for upload, name, label_names in zip(files, names, labels, strict=True):
        yield ImportItem(name, upload_read(upload), label_names)


def _sha256(upload: UploadedFile) -> str | None:
    """An upload's content hash, to find its entry by (None: too big to be stored)."""
    if upload.size is not None and upload.size > settings.LABELER_MAX_IMAGE_BYTES:
        return None
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    return digest.hexdigest()


def _whole(batch: BatchLabels) -> dict[str, Any]:
    whole = batch.whole
    return {
        "records": whole.records,
        "annotations": whole.annotations,
        "decisions": whole.decisions,
        "labels": whole.labels,
        "skipped": [NotApplied(s.record, s.reason) for s in whole.skipped],
    }


def _batch_items(
    files: list[UploadedFile], names: list[str], batch: BatchLabels
) -> Iterator[ImportItem]:
    """Each upload, read only when its turn comes, with the labels its entry gives (or
    why the entry could not be told)."""
    for upload, name, match in zip(files, names, batch.matches, strict=True):
        data = upload_read(upload)
        if match.ambiguous:
            yield ImportItem(name, data, None, refusal=match.reason)
        else:
            why = "" if match.labels is not None else match.reason
            metadata = batch.metadata.get(match.key) if match.key is not None else None
            yield ImportItem(name, data, match.labels, no_labels=why, metadata=metadata)
