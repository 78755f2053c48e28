"""Applying an import plan: each file stored as an upload is stored, then its labels
recorded with their origin (``labeler.imports.applying.labels``). A new image's ``source``
is "import" and its ``source_key`` the file's path in the imported folder (the file's name
as the client sent it, through the API).

Callers go through ``labeler.flows.images_import``, which prepares and pre-labels the new
images and refreshes the final labels once the import is done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.db import transaction

from labeler.agreement.final_writes import final_labels_lock
from labeler.annotations.imported import AnnotationsBefore, ImportCredits
from labeler.errors import ValidationFailed
from labeler.images.archives import is_archive
from labeler.images.catalogue.services import image_describe
from labeler.images.counts import counts_held
from labeler.images.models import Image
from labeler.images.pixels.files import CheckedImage, RejectedFile, image_check
from labeler.images.services import image_lookup_statistics_refresh, images_store
from labeler.imports.applying.accounts import people_resolve
from labeler.imports.applying.labels import (
    Decision,
    DecisionsBatch,
    LabelsRefused,
    ProjectLabels,
    annotation_labels_record,
    importer_account,
    labels_recorded_since,
)
from labeler.imports.applying.per_person import records_apply
from labeler.imports.applying.summary import (
    APPLIED,
    REFUSED,
    ImportResult,
    ImportRun,
    ImportSummary,
)
from labeler.imports.planning.labels_in import (
    ANNOTATION,
    DEFAULT_ANNOTATOR,
    GOLD,
    LABELS_AS,
    ImportItem,
    PersonOut,
)
from labeler.imports.planning.people import (
    PersonMatch,
    contradictions_confirmed_check,
    people_contradictions,
    people_match,
)
from labeler.imports.planning.plan import ImportPlan, metadata_checked, per_person_check
from labeler.imports.reading.records import ImageRecords
from labeler.projects.models import Project
from labeler.projects.services import project_import_mark

# A file stored (its image, whether this import made it) or why it was refused.
Stored = tuple[Image, bool] | RejectedFile


def plan_apply(
    *,
    plan: ImportPlan,
    actor: User | None,
    report: Callable[[ImportResult], object] | None = None,
) -> ImportSummary:
    """Store each file of the plan as an upload is stored and record its labels as the
    plan's ``labels_as`` says, ``actor`` importing.

    Items whose labels are a per-person file's records (``ImageRecords``) keep each
    annotation as its person's: the people of the plan's ``labels_in`` are matched to the
    project's members (``labeler.imports.planning.people``; the options' ``annotators``
    are the lead's choice, person key to member username or "new"), the others get
    inactive accounts, all before the first file. ``labels_in`` also gives the counts in
    and the records the reader could not use; the summary counts what went out and lists
    every record not applied.

    ``final``: an imported final label (the image is done); ``gold``: a gold label, as
    a lead decides it; ``annotation``: an annotation by the account ``annotator``
    (default ``imported``), which cannot log in. Duplicates get their labels too, so a
    second run updates and never adds. A bad file or label is reported and never stops
    the others; anything else that goes wrong (a lost connection, a deadlock) undoes the
    whole import, its stored files included: it is one transaction, all or nothing.
    Items are read one at a time; with ``report`` each result goes there as it comes and
    the summary keeps counts only. Raises ValidationFailed, before any file, for a bad
    ``labels_as``, annotator or user.
    """
    project = plan.project
    matches = _people_checked(plan)
    project_import_mark(project_id=project.pk)
    new_files: list[str] = []
    try:
        # Held: thousands of writes would each update the project's counter rows again.
        with transaction.atomic(), counts_held():
            shared = _started(plan, actor, new_files, matches)
            _files_apply(shared, plan, report)
    except BaseException:
        for name in new_files:
            default_storage.delete(name)
        raise
    # Retraining waits until the import settles, counted from its commit.
    project_import_mark(project_id=project.pk)
    return shared.summary


def _people_checked(plan: ImportPlan) -> list[PersonMatch] | None:
    """The people of a per-person file matched, before anything is written; refused
    (ValidationFailed naming each) while a match that contradicts what the file says of
    its person is not confirmed by the lead."""
    labels_in, options = plan.labels_in, plan.options
    if not (labels_in.people or options.annotators):
        return None
    matches = people_match(project=plan.project, people=labels_in.people, chosen=options.annotators)
    contradictions_confirmed_check(
        people_contradictions(project=plan.project, matches=matches), options.people_confirmed
    )
    return matches


def _started(
    plan: ImportPlan,
    actor: User | None,
    new_files: list[str],
    matches: list[PersonMatch] | None,
) -> ImportRun:
    """The import's transaction begun: the options checked, the project's final-label
    lock taken, as every writer of final labels takes it (docs/architecture.md, Locks),
    then the people of a per-person file matched and their accounts made."""
    project, options, labels_in = plan.project, plan.options, plan.labels_in
    per_person_check(labels_in, labels_as=options.labels_as, annotator=options.annotator)
    if options.labels_as != ANNOTATION or labels_in.people:
        final_labels_lock(project.pk)
    summary = ImportSummary(
        records_in=labels_in.records,
        annotations_in=labels_in.annotations,
        decisions_in=labels_in.decisions,
        labels_in=labels_in.labels,
    )
    shared = ImportRun(
        project=project,
        labels_as=options.labels_as,
        labels=ProjectLabels(project, create=options.create_labels),
        user=actor,
        annotator=_annotator(project, options.labels_as, options.annotator, actor),
        new_files=new_files,
        summary=summary,
        credits=ImportCredits(by=actor),
        describe=metadata_checked(project, labels_in.metadata),
        people_confirmed=tuple(options.people_confirmed or ()),
    )
    if options.labels_as != ANNOTATION:
        shared.decisions = DecisionsBatch(
            project=project, labels=shared.labels, labels_as=options.labels_as, user=actor
        )
    if matches is not None:
        shared.people = people_resolve(project=project, matches=matches)
        summary.people = [
            PersonOut(m.person.key, m.person.shown(), m.account, m.how) for m in matches
        ]
    return shared


# New images stored before the planner is shown them (image_lookup_statistics_refresh).
LOOKUP_STATISTICS_AFTER = 500
# Files stored together (``images_store``): at most this many, or this many bytes of them.
STORE_FILES, STORE_BYTES = 100, 64 << 20


def _files_apply(
    shared: ImportRun, plan: ImportPlan, report: Callable[[ImportResult], object] | None
) -> None:
    """The files in their order, between the records the reader could not use and the
    entries of the labels file that no file took. Files are checked and stored a batch at a
    time (``_batch_store``), then each one's metadata and labels recorded. A file's final
    or gold labels wait for their own batch (``DecisionsBatch``), and its result is
    counted and reported once they are written, in the files' order."""
    summary, labels_in = shared.summary, plan.labels_in
    for skipped in labels_in.skipped:
        summary.lost(skipped.record, skipped.reason)
    held: list[ImportResult] = []  # results of files whose labels wait for their batch
    created = 0
    for batch in _batches(plan.items):
        outcomes = _batch_store(shared, batch)
        if shared.labels_as == ANNOTATION or any(isinstance(i.labels, ImageRecords) for i in batch):
            shared.before = AnnotationsBefore(
                [o[0].pk for o in outcomes if not isinstance(o, RejectedFile)],
                project=shared.project,
            )
        for item, stored in zip(batch, outcomes, strict=True):
            result = _import_one(shared, item, stored)
            created += result.status == "created"
            if result.status == "created" and created == LOOKUP_STATISTICS_AFTER:
                image_lookup_statistics_refresh()
            held.append(result)
            if not shared.waiting or (shared.decisions is not None and shared.decisions.full):
                _decisions_write(shared)
                for done in held:
                    _result_count(shared, done, report)
                held = []
        if shared.before is not None:
            shared.before.written()
        shared.credits.made()
    _decisions_write(shared)
    for done in held:
        _result_count(shared, done, report)
    for key in labels_in.unmatched() if labels_in.unmatched is not None else ():
        summary.lost(key, "No imported file matched this entry of the labels file.")
    summary.labels_created = shared.labels.created


def _batches(items: Iterable[ImportItem]) -> Iterator[list[ImportItem]]:
    """The items, ``STORE_FILES`` at a time or fewer where they hold ``STORE_BYTES``: the
    reader gives them one at a time, so an import holds one batch of files in memory."""
    batch: list[ImportItem] = []
    held = 0
    for entry in items:
        item = ImportItem(*entry)
        batch.append(item)
        held += len(item.data) if isinstance(item.data, bytes) else 0
        if len(batch) >= STORE_FILES or held >= STORE_BYTES:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch


def _batch_store(shared: ImportRun, batch: list[ImportItem]) -> list[Stored]:
    """Each file of the batch checked, and those that pass stored together as an upload's
    are (``images_store``): the image and whether it is new, or why the file is refused."""
    checked = [_checked(item) for item in batch]
    files = [
        (item.name, found, item.name)
        for item, found in zip(batch, checked, strict=True)
        if isinstance(found, CheckedImage)
    ]
    stored = iter(images_store(project=shared.project, files=files, source="import"))
    outcomes = [next(stored) if isinstance(found, CheckedImage) else found for found in checked]
    for outcome in outcomes:
        if not isinstance(outcome, RejectedFile) and outcome[1]:
            shared.new_files.append(str(outcome[0].file.name))
    return outcomes


def _checked(item: ImportItem) -> CheckedImage | RejectedFile:
    if isinstance(item.data, RejectedFile):
        return item.data
    if is_archive(item.name):
        return RejectedFile("Archives are not unpacked by an import; unpack it first.")
    try:
        return image_check(item.data)
    except RejectedFile as exc:
        return exc


def _result_count(
    shared: ImportRun, result: ImportResult, report: Callable[[ImportResult], object] | None
) -> None:
    summary = shared.summary
    summary.add(result)
    summary.changed += result.labels == APPLIED and result.labels_reason == ""
    if report is None:
        summary.results.append(result)
    else:
        report(result)


def _decisions_write(shared: ImportRun) -> None:
    """The waiting final or gold labels written, each file's result saying what they came to."""
    if shared.decisions is None or not shared.waiting:
        return
    waiting, shared.waiting = shared.waiting, []
    decisions = shared.decisions.write()
    for decision, (result, name) in zip(decisions, waiting, strict=True):
        _decision_counted(shared, decision, result, name)


def _decision_counted(
    shared: ImportRun, decision: Decision, result: ImportResult, name: str
) -> None:
    summary = shared.summary
    result.label_names = decision.label_names
    if decision.refusal:
        result.labels, result.labels_reason = REFUSED, decision.refusal
        summary.lost(name, decision.refusal)
        return
    result.labels = APPLIED
    result.labels_reason = "" if decision.changed else "Already recorded."
    summary.labels_out += len(decision.label_names)
    summary.decisions_written += decision.changed
    summary.decisions_unchanged += not decision.changed


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


def _import_one(shared: ImportRun, item: ImportItem, stored: Stored) -> ImportResult:
    """A stored file's metadata and labels recorded (a refused file's result)."""
    if isinstance(stored, RejectedFile):
        return _rejected(shared, item, str(stored))
    image, created = stored
    result = ImportResult(item.name, "created" if created else "duplicate", image.pk)
    if item.metadata and shared.describe is not None:
        image_describe(image=image, description=shared.describe(item.metadata))
        result.metadata = True
        shared.summary.metadata_out += 1
    _labels_apply(shared, image, item, result)
    return result


def _rejected(shared: ImportRun, item: ImportItem, reason: str) -> ImportResult:
    result = ImportResult(item.name, "rejected", reason=reason)
    if item.labels or item.refusal:
        result.labels, result.labels_reason = REFUSED, "The file was not stored."
        shared.summary.lost(item.name, f"The file was not stored: {reason}")
    return result


def _labels_apply(shared: ImportRun, image: Image, item: ImportItem, result: ImportResult) -> None:
    """Record the item's labels on the stored image, or say in the result why not."""
    if item.refusal:
        result.labels, result.labels_reason = REFUSED, item.refusal
        shared.summary.lost(item.name, item.refusal)
        return
    if item.labels is None:
        result.labels_reason = item.no_labels
        return
    if isinstance(item.labels, ImageRecords):
        # A per-person file's decisions read the final labels as stored: any waiting for
        # their batch are written first.
        _decisions_write(shared)
        records_apply(shared, image, item.labels, result)
        return
    _names_apply(shared, image, item.name, item.labels, result)


def _names_apply(
    shared: ImportRun, image: Image, name: str, labels: Sequence[str], result: ImportResult
) -> None:
    """Record label names on the stored image as the import's ``labels_as`` says (with
    those this import recorded on it from an earlier file of the same content, where
    the project takes several labels an image), or list why not. Final and gold labels
    wait for their batch (``_decisions_write``)."""
    try:
        names = shared.labels.check(labels or [])
        if not names:
            return
        merge = shared.project.multi_label and result.status == "duplicate"
        if shared.decisions is not None:
            decision = shared.decisions.add(image_id=image.pk, names=names, merge=merge)
            shared.waiting.append((result, name))
            result.label_names = decision.names
            return
        if merge:
            if shared.before is not None:
                shared.before.written()  # what this import recorded on the image is read
            earlier = labels_recorded_since(
                image=image,
                labels_as=shared.labels_as,
                annotator=shared.annotator,
                since=shared.started,
            )
            names = shared.labels.check([*earlier, *names])
        result.label_names = names
        # Made before the savepoint: a label created for refused labels is kept by name for
        # the files after this one, so it must outlive the refusal.
        resolved = shared.labels.resolve(names)
        assert shared.annotator is not None
        # A savepoint: refused labels leave the image stored, with nothing of theirs.
        with transaction.atomic():
            changed = annotation_labels_record(
                project=shared.project,
                image=image,
                labels=resolved,
                annotator=shared.annotator,
                by=shared.user,
                before=shared.before,
            )
    except LabelsRefused as exc:
        result.labels, result.labels_reason = REFUSED, str(exc)
        shared.summary.lost(name, str(exc))
        return
    result.labels = APPLIED
    result.labels_reason = "" if changed else "Already recorded."
    summary = shared.summary
    summary.labels_out += len(names)
    summary.annotations_written += changed
    summary.annotations_unchanged += not changed
