"""The import plan: what an import will do, decided before anything is written.

A plan is a value (``ImportPlan``): the project, the lead's options, what the labels file
held (``LabelsIn``: counts, people, metadata, the records its reader could not use), the
files, each with its entry (read one at a time when the plan is applied), and what is
known already not to apply. ``plan_preview`` is the dry run: it checks the plan as the
import would (a per-person file's options, the metadata against the project's fields,
the people against its members) and answers the counts in, the people and the records
that would not apply. ``labeler.flows.images_import`` applies a plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labeler.errors import ValidationFailed
from labeler.images.catalogue.descriptions import Description, description_of_record
from labeler.images.catalogue.selectors import project_fields
from labeler.imports.planning.labels_in import FINAL, ImportItem, LabelsIn, NotApplied
from labeler.imports.planning.people import people_match
from labeler.imports.planning.preview import Preview, members_kept, people_out
from labeler.imports.reading.metadata_in import MetadataIn
from labeler.projects.models import Project


@dataclass(frozen=True)
class ImportOptions:
    """How the lead asks for the labels to be recorded: ``labels_as`` (final, gold or
    annotation), the ``annotator`` account of imported annotations, whether label names
    the project lacks are added (``create_labels``), and the lead's choice of account for
    the people of a per-person file (``annotators``: person key to username or "new"),
    and the people whose match contradicts the file that the lead confirmed
    (``people_confirmed``: their keys or e-mails)."""

    labels_as: str = FINAL
    annotator: str | None = None
    create_labels: bool = False
    annotators: Mapping[str, str] | None = None
    people_confirmed: Sequence[str] | None = None


@dataclass(frozen=True)
class ImportPlan:
    """One import, planned: everything applying it needs. ``items`` are read one at a
    time as the plan is applied (they are left out of its printed form); ``files`` is
    how many were offered, ``not_applied`` what is known not to apply before any is
    stored (ambiguous entries, an archive's entries that are no image), ``labels_file``
    the counts of a batch's whole labels file (None otherwise)."""

    project: Project
    options: ImportOptions
    labels_in: LabelsIn = field(default_factory=LabelsIn)
    items: Iterable[ImportItem] = field(default=(), repr=False, compare=False)
    files: int = 0
    not_applied: tuple[NotApplied, ...] = ()
    labels_file: Mapping[str, Any] | None = None


def import_plan(
    *,
    project: Project,
    items: Iterable[ImportItem] = (),
    labels_in: LabelsIn | None = None,
    files: int = 0,
    not_applied: Iterable[NotApplied] = (),
    labels_file: Mapping[str, Any] | None = None,
    **options: Any,
) -> ImportPlan:
    """A plan of ``items`` with the labels file's ``labels_in``; ``options`` are those of
    ``ImportOptions`` (labels_as, annotator, create_labels, annotators)."""
    return ImportPlan(
        project=project,
        options=ImportOptions(**options),
        labels_in=labels_in or LabelsIn(),
        items=items,
        files=files,
        not_applied=tuple(not_applied),
        labels_file=labels_file,
    )


def plan_preview(plan: ImportPlan) -> Preview:
    """The dry run: the plan checked as its import would check it (a per-person file's
    options, then the metadata, then the people, raising ValidationFailed as the import
    would), and what it would do, writing nothing: the counts in, whose account each
    person would take and every record known not to apply."""
    options = plan.options
    per_person_check(plan.labels_in, labels_as=options.labels_as, annotator=options.annotator)
    metadata_checked(plan.project, plan.labels_in.metadata)
    people, contradictions = people_out(
        project=plan.project,
        people=plan.labels_in.people,
        chosen=options.annotators or None,
        confirmed=options.people_confirmed,
    )
    kept: list[NotApplied] = []
    if plan.labels_in.entries and (plan.labels_in.people or options.annotators):
        matches = people_match(
            project=plan.project, people=plan.labels_in.people, chosen=options.annotators
        )
        kept = members_kept(project=plan.project, matches=matches, entries=plan.labels_in.entries)
    return Preview(
        plan.labels_in.counts(plan.files),
        people,
        [*plan.not_applied, *kept],
        contradictions=contradictions,
    )


def metadata_checked(
    project: Project, metadata: Mapping[str, MetadataIn]
) -> Callable[[MetadataIn], Description]:
    """What each entry's metadata sets of its image (``labeler.images.catalogue.descriptions``),
    every entry checked now, before any file is stored: a value that does not fit (a
    date that is none, a field the project lacks, a choice it does not offer) is a
    ValidationFailed naming the record, its file and the field, and nothing is imported.
    A project that keeps no position of what comes in (``strip_metadata_on_ingest``)
    takes none from a labels file either."""
    fields = project_fields(project)
    positions = not project.strip_metadata_on_ingest

    def describe(found: MetadataIn, key: str = "") -> Description:
        where = f"{found.where} ({key})" if key and found.where else found.where or key
        try:
            return description_of_record(
                found.values,
                found.named,
                found.extra,
                fields=fields,
                where=where,
                positions=positions,
            )
        except ValidationFailed as exc:
            raise ValidationFailed(
                f"The labels file's metadata: {exc.message}", field="labels_file"
            ) from exc

    for key, found in metadata.items():
        describe(found, key)
    return describe


def per_person_check(labels_in: LabelsIn | None, *, labels_as: str, annotator: str | None) -> None:
    """Refuse ``labels_as`` other than final, or an ``annotator``, for a file that names
    each annotation's person: each label goes to its person. The import and every dry
    run ask here."""
    if labels_in is not None and labels_in.per_person and (labels_as != FINAL or annotator):
        raise ValidationFailed(
            "labels_as and annotator apply to files that give labels without saying who "
            "made them; this file names each annotation's person, and each goes to them "
            "(choose their accounts with annotators).",
            field="labels_as",
        )
