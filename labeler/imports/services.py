"""Importing images that come with their labels: each file stored as an upload is, then
its labels recorded with their origin (see ``labeler.imports.labels``). A new image's
``source`` is "import" and its ``source_key`` the file's path in the imported folder (the
file's name as the client sent it, through the API).

Callers go through ``labeler.flows.images_import``, which prepares and pre-labels the new
images and refreshes the final labels once the import is done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from labeler.agreement.final_writes import final_labels_lock
from labeler.errors import ValidationFailed
from labeler.images.files import RejectedFile, image_check, is_archive
from labeler.images.models import Image
from labeler.images.services import image_store
from labeler.imports.labels import (
    ANNOTATION,
    DEFAULT_ANNOTATOR,
    GOLD,
    LABELS_AS,
    LabelsRefused,
    ProjectLabels,
    final_check,
    importer_account,
    labels_record,
    labels_recorded_since,
)
from labeler.projects.models import Project
from labeler.projects.services import project_import_mark

APPLIED, REFUSED, NONE = "applied", "refused", "none"


class ImportItem(NamedTuple):
    """One file to import: its name (a relative path), its bytes (or why it was refused
    before reading) and its label names (None: none known). ``refusal`` says why labels
    that exist for it could not be attributed (an ambiguous file name)."""

    name: str
    data: bytes | RejectedFile
    labels: Sequence[str] | None
    refusal: str = ""


@dataclass
class ImportResult:
    """What became of one file and of its labels."""

    name: str
    status: str  # "created", "duplicate" or "rejected"
    image_id: int | None = None
    reason: str = ""
    labels: str = NONE  # "applied", "refused" or "none"
    labels_reason: str = ""
    label_names: list[str] = field(default_factory=list)


@dataclass
class ImportSummary:
    """Counts over an import, each file's result (unless reported one by one) and the
    labels it created."""

    created: int = 0
    duplicates: int = 0
    rejected: int = 0
    labels_applied: int = 0
    labels_refused: int = 0
    labels_none: int = 0
    labels_created: list[str] = field(default_factory=list)
    results: list[ImportResult] = field(default_factory=list)
    changed: int = 0  # files whose labels were written (not already recorded as given)

    def add(self, result: ImportResult) -> None:
        """Count one file's result."""
        status = {"created": "created", "duplicate": "duplicates", "rejected": "rejected"}
        setattr(self, status[result.status], getattr(self, status[result.status]) + 1)
        name = f"labels_{result.labels}"
        setattr(self, name, getattr(self, name) + 1)


@dataclass
class _Import:
    """What every file of one import shares."""

    project: Project
    labels_as: str
    labels: ProjectLabels
    user: User | None
    annotator: User | None
    new_files: list[str]  # stored by this import: removed again if it is undone
    started: datetime = field(default_factory=timezone.now)


def images_import(
    *,
    project: Project,
    items: Iterable[ImportItem],
    labels_as: str,
    annotator_name: str | None = None,
    create_labels: bool = False,
    user: User | None,
    report: Callable[[ImportResult], object] | None = None,
) -> ImportSummary:
    """Store each file as an upload is stored and record its labels as ``labels_as`` says.

    ``final``: an imported final label (the image is done); ``gold``: a gold label, as
    a lead decides it; ``annotation``: an annotation by the account ``annotator_name``
    (default ``imported``), which cannot log in. Duplicates get their labels too, so a
    second run updates and never adds. A bad file or label is reported and never stops
    the others; anything else that goes wrong (a lost connection, a deadlock) undoes the
    whole import, its stored files included: it is one transaction, all or nothing.
    Items are read one at a time; with ``report`` each result goes there as it comes and
    the summary keeps counts only. Raises ValidationFailed, before any file, for a bad
    ``labels_as``, annotator or user.
    """
    project_import_mark(project_id=project.pk)
    new_files: list[str] = []
    try:
        with transaction.atomic():
            summary = _import_all(
                project=project,
                items=items,
                labels_as=labels_as,
                annotator_name=annotator_name,
                create_labels=create_labels,
                user=user,
                report=report,
                new_files=new_files,
            )
    except BaseException:
        for name in new_files:
            default_storage.delete(name)
        raise
    # Retraining waits until the import settles, counted from its commit.
    project_import_mark(project_id=project.pk)
    return summary


def _import_all(
    *,
    project: Project,
    items: Iterable[ImportItem],
    labels_as: str,
    annotator_name: str | None,
    create_labels: bool,
    user: User | None,
    report: Callable[[ImportResult], object] | None,
    new_files: list[str],
) -> ImportSummary:
    """The import's transaction: the project's final-label lock first, as every writer of
    final labels takes it (docs/architecture.md, Locks), then the files one by one."""
    if labels_as != ANNOTATION:
        final_labels_lock(project.pk)
    shared = _Import(
        project=project,
        labels_as=labels_as,
        labels=ProjectLabels(project, create=create_labels),
        user=user,
        annotator=_annotator(project, labels_as, annotator_name, user),
        new_files=new_files,
    )
    summary = ImportSummary()
    for item in items:
        result = _import_one(shared, ImportItem(*item))
        summary.add(result)
        summary.changed += result.labels == APPLIED and result.labels_reason == ""
        if report is None:
            summary.results.append(result)
        else:
            report(result)
    summary.labels_created = shared.labels.created
    return summary


def _annotator(
    project: Project, labels_as: str, annotator_name: str | None, user: User | None
) -> User | None:
    if labels_as not in LABELS_AS:
        raise ValidationFailed(
            f"labels_as must be one of {', '.join(LABELS_AS)}, not {labels_as!r}.",
            field="labels_as",
        )
    if labels_as == GOLD and user is None:
        raise ValidationFailed("Gold labels are a lead's decision: name the user.", field="user")
    if labels_as != ANNOTATION:
        if annotator_name:
            raise ValidationFailed(
                "An annotator is named only with labels_as=annotation.", field="annotator"
            )
        return None
    return importer_account(project=project, name=annotator_name or DEFAULT_ANNOTATOR)


def _import_one(shared: _Import, item: ImportItem) -> ImportResult:
    try:
        if isinstance(item.data, RejectedFile):
            raise item.data
        if is_archive(item.name):
            raise RejectedFile("Archives are not unpacked by an import; unpack it first.")
        checked = image_check(item.data)
    except RejectedFile as exc:
        return _rejected(item, str(exc))
    new_file = None
    try:
        with transaction.atomic():
            image, created = image_store(
                project=shared.project,
                name=item.name,
                checked=checked,
                source="import",
                source_key=item.name,
            )
            new_file = image.file.name if created else None
            if new_file:
                shared.new_files.append(new_file)
            result = ImportResult(item.name, "created" if created else "duplicate", image.pk)
            _labels_apply(shared, image, item, result)
    except RejectedFile as exc:  # stored by someone else and removed at the same moment
        return _rejected(item, str(exc))
    except BaseException:
        if new_file:
            shared.new_files.remove(new_file)
            default_storage.delete(new_file)
        raise
    return result


def _rejected(item: ImportItem, reason: str) -> ImportResult:
    result = ImportResult(item.name, "rejected", reason=reason)
    if item.labels or item.refusal:
        result.labels, result.labels_reason = REFUSED, "The file was not stored."
    return result


def _labels_apply(shared: _Import, image: Image, item: ImportItem, result: ImportResult) -> None:
    """Record the item's labels on the stored image, or say in the result why not."""
    if item.refusal:
        result.labels, result.labels_reason = REFUSED, item.refusal
        return
    try:
        names = shared.labels.check(item.labels or [])
        if not names:
            return
        if shared.project.multi_label and result.status == "duplicate":
            earlier = labels_recorded_since(
                image=image,
                labels_as=shared.labels_as,
                annotator=shared.annotator,
                since=shared.started,
            )
            names = shared.labels.check([*earlier, *names])
        result.label_names = names
        # A savepoint: refused labels leave the image stored, with nothing of theirs.
        with transaction.atomic():
            final_check(image=image, labels_as=shared.labels_as)
            changed = labels_record(
                project=shared.project,
                image=image,
                labels=shared.labels.resolve(names),
                labels_as=shared.labels_as,
                user=shared.user,
                annotator=shared.annotator,
            )
    except LabelsRefused as exc:
        result.labels, result.labels_reason = REFUSED, str(exc)
        return
    result.labels = APPLIED
    result.labels_reason = "" if changed else "Already recorded."
