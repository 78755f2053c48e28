"""Erasing images at a person's request: the one route that removes an image and every
copy of it the product keeps, and writes the report.

``images_erase`` resolves the selection (ids, or the Images page's filters through the
data browser's one filter owner: an unknown key is a 400, never "every image"), then in
one transaction deletes the images (``images.deletion.images_delete``: rows, and once
committed every stored file and kept model input), the exports whose file holds one
(``exports.services.exports_holding``), what serving logged or kept of them, counts them
on the model versions that learnt from them, and writes the ``Erasure`` report. Nothing
is deleted from storage before that commits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from labeler import flows
from labeler.audit.models import Action as AuditAction
from labeler.audit.services import IDS_KEPT, audit_record
from labeler.bulk.selection import selection_resolve
from labeler.erasure.models import Erasure
from labeler.errors import ValidationFailed
from labeler.exports.services import exports_delete, exports_holding
from labeler.images.deletion import images_delete, images_files
from labeler.images.models import Image
from labeler.predictions.erased import versions_mark_erased, versions_trained_on
from labeler.predictions.models import ModelVersion
from labeler.projects.models import Project
from labeler.serving.models import PredictionJob, ServedPrediction
from labeler.serving.services import served_of_contents_delete
from labeler.text_in import text_refuse_unsafe

# One erasure runs in one request and one transaction; more images than this are asked
# for in several (a person's photos are rarely more).
MAX_IMAGES = 10_000
MAX_REASON = 2000
KEYS = ("image_ids", "filter")


@dataclass(frozen=True)
class ErasurePlan:
    """What an erasure removes (a dry run's answer, and the report's figures)."""

    image_ids: list[int]
    files: dict[str, int]
    exports: list[int]
    served: int
    prediction_jobs: int
    versions: dict[int, int] = field(default_factory=dict)  # version number: images


def erasure_selection(query: Any) -> dict[str, Any]:
    """The bulk selection a request's ``{"image_ids": [...]}`` or ``{"filter": {...}}``
    names (a filter as an object of filter names to a value or a list of them, or as the
    Images page's query string). Raises ValidationFailed for anything else."""
    if not isinstance(query, Mapping) or len([key for key in KEYS if key in query]) != 1:
        raise ValidationFailed(
            'Name the images: {"image_ids": [...]} or {"filter": {...}} (one of them).',
            field="image_ids",
        )
    if "image_ids" in query:
        return {"ids": query["image_ids"]}
    raw = query["filter"]
    if isinstance(raw, str):
        return {"filter": _narrowing(raw, parse_qsl(raw.lstrip("?"), keep_blank_values=True))}
    if not isinstance(raw, Mapping):
        raise ValidationFailed(
            'filter is an object of image filters, e.g. {"tag": "person-17"}.', field="filter"
        )
    pairs = []
    for key, value in raw.items():
        values = value if isinstance(value, list) else [value]
        if not values or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in values
        ):
            raise ValidationFailed(
                f"filter {key!r}: give a text or a list of texts.", field="filter"
            )
        pairs += [(str(key), str(v)) for v in values]
    return {"filter": _narrowing(urlencode(pairs), pairs)}


def _narrowing(query: str, pairs: list[tuple[str, str]]) -> str:
    """The query, if it holds a filter: one with none (nothing, or only a sort) would
    match every image, which an erasure never takes for a request about some."""
    if not any(key != "sort" for key, _ in pairs):
        raise ValidationFailed(
            "filter names no image filter: an empty filter would match every image.",
            field="filter",
        )
    return query


def images_erase(
    *,
    project: Project,
    query: Any,
    actor: User,
    reason: Any,
    dry_run: bool = False,
    expected_count: Any = None,
) -> ErasurePlan | Erasure:
    """Erase the images the query names (see the module's docstring); with ``dry_run``,
    only say what would go (its ``image_ids`` are the count the erasure then carries).

    An erasure is a destructive selection: ``expected_count``, the number of images the
    lead saw, is required, and a selection that matches another number now is a Conflict
    (409) with both. Raises ValidationFailed (a 400) for a bad query or reason, ids of
    another project, no count, or a selection that matches nothing; nothing is changed
    then."""
    selection = erasure_selection(query)
    if not dry_run:
        _reason_check(reason)
    ids = selection_resolve(
        project,
        selection,
        user=actor,
        destroys=not dry_run,
        expected_count=None if dry_run else expected_count,
        action="erasure",
    ).tolist()
    if len(ids) > MAX_IMAGES:
        raise ValidationFailed(
            f"At most {MAX_IMAGES:,} images an erasure, not {len(ids):,}: narrow the filter.",
            field="image_ids",
        )
    if dry_run:
        return _plan(project, ids)
    with transaction.atomic():
        return _erase(project, ids, actor=actor, reason=reason.strip(), query=query)


def _reason_check(reason: Any) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed(
            "Say why (the request to be forgotten): reason is required.", field="reason"
        )
    if len(reason) > MAX_REASON:
        raise ValidationFailed(f"reason: at most {MAX_REASON} characters.", field="reason")
    text_refuse_unsafe(reason, field="reason")


def _plan(project: Project, ids: list[int]) -> ErasurePlan:
    contents = _contents(project, ids)
    jobs = [
        job
        for job in PredictionJob.objects.filter(project=project).only("inputs", "results")
        if {item.get("sha256") for item in [*job.inputs, *job.results]} & contents
    ]
    return ErasurePlan(
        image_ids=ids,
        files=dict(images_files(project=project, image_ids=ids)),
        exports=[export.pk for export in exports_holding(project=project, image_ids=ids)],
        served=ServedPrediction.objects.filter(project=project, image_sha256__in=contents).count(),
        prediction_jobs=len(jobs),
        versions=_by_number(versions_trained_on(project=project, image_ids=ids)),
    )


def _erase(project: Project, ids: list[int], *, actor: User, reason: str, query: Any) -> Erasure:
    now = timezone.now()
    contents = _contents(project, ids)
    counts = versions_trained_on(project=project, image_ids=ids)
    exports = exports_holding(project=project, image_ids=ids)
    export_files = exports_delete(exports=exports)
    served = served_of_contents_delete(project=project, sha256s=contents)
    deleted = images_delete(project=project, image_ids=ids)
    versions_mark_erased(counts=counts, now=now)
    files: Counter[str] = Counter(deleted.files)
    files.update({"export": len(export_files), "served upload": len(served.uploads)})
    transaction.on_commit(lambda: flows.labels_changed(project_id=project.pk))
    erasure = Erasure.objects.create(
        project=project,
        requested_by=actor,
        reason=reason,
        query=_query_kept(query),
        image_count=deleted.images,
        image_ids=ids,
        files={kind: count for kind, count in sorted(files.items()) if count},
        exports_deleted=[export.pk for export in exports],
        served_deleted=served.predictions,
        prediction_jobs_deleted=served.jobs,
        versions_marked=_by_number(counts),
    )
    # The trail names the report and the ids; the reason stays in the report, which a
    # later erasure of the requester's data can reach (the trail cannot be rewritten).
    audit_record(
        action=AuditAction.IMAGES_ERASED,
        actor=actor,
        project=project,
        target=("erasure", erasure.pk, f"{deleted.images} images"),
        details={
            "images": deleted.images,
            "image_ids": ids[:IDS_KEPT],
            "exports_deleted": erasure.exports_deleted,
            "versions_marked": {str(k): v for k, v in erasure.versions_marked.items()},
        },
    )
    return erasure


def _contents(project: Project, ids: list[int]) -> set[str]:
    return set(Image.objects.filter(project=project, pk__in=ids).values_list("sha256", flat=True))


def _by_number(counts: dict[int, int]) -> dict[int, int]:
    numbers = dict(ModelVersion.objects.filter(pk__in=counts).values_list("pk", "version"))
    return {numbers[pk]: count for pk, count in sorted(counts.items())}


def _query_kept(query: Mapping[str, Any]) -> dict[str, Any]:
    """How the images were chosen, as sent (ids or a filter: neither holds file names)."""
    return {key: query[key] for key in KEYS if key in query}
