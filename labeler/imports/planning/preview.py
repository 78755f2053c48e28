"""What an import would do, read without writing anything: the counts in, whose account
each person of the labels file would take, and every record that would not apply.

The dry runs answer it (``plan.plan_preview``: ``manage.py import_images --dry-run`` and
the API's, of an archive's plan or a batch of files'), and the import page shows it
before the lead confirms who is who.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from labeler.annotations.imported import dates_checked, is_members_own, record_verdict
from labeler.annotations.models import Annotation
from labeler.errors import ValidationFailed
from labeler.imports.planning.labels_in import LabelsIn, NotApplied, PersonOut
from labeler.imports.planning.people import (
    PersonMatch,
    contradictions_confirmed_check,
    people_contradictions,
    people_match,
)
from labeler.imports.reading.matching import LabelMatcher
from labeler.imports.reading.records import ImageRecords, Person
from labeler.projects.models import Project

UNMATCHED = "No imported file matches this entry of the labels file."
_EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass
class Preview:
    """An import's counts in, its people and what would not apply; ``problem`` says why
    the people as matched would be refused (two on one account, a member that could be
    one of several): the lead must choose for them."""

    counts_in: dict[str, int] = field(default_factory=dict)
    people: list[PersonOut] = field(default_factory=list)
    not_applied: list[NotApplied] = field(default_factory=list)
    problem: str = ""
    contradictions: list[ContradictionOut] = field(default_factory=list)


@dataclass(frozen=True)
class ContradictionOut:
    """A person matched to a member the file says they are not (``says`` how), and
    whether the lead confirmed it (the import needs every one confirmed)."""

    key: str
    shown: str
    account: str
    says: str
    confirmed: bool


def people_out(
    *,
    project: Project,
    people: Sequence[Person],
    chosen: Mapping[str, str] | None = None,
    confirmed: Sequence[str] | None = None,
) -> tuple[list[PersonOut], list[ContradictionOut]]:
    """Whose account takes each person's labels (``people_match``), and the matches that
    contradict what the file says of the person, each with whether ``confirmed`` holds
    it; raises ValidationFailed (field ``annotators``) as ``people_match`` does."""
    if not people and not chosen:
        return [], []
    matches = people_match(project=project, people=people, chosen=chosen)
    rows = [PersonOut(m.person.key, m.person.shown(), m.account, m.how) for m in matches]
    flagged = []
    for found in people_contradictions(project=project, matches=matches):
        try:
            contradictions_confirmed_check([found], confirmed)
            done = True
        except ValidationFailed:
            done = False
        person = found.person
        flagged.append(
            ContradictionOut(person.key, person.shown(), found.account, found.says, done)
        )
    return rows, flagged


def people_preview(*, project: Project, people: Sequence[Person]) -> tuple[list[PersonOut], str]:
    """Each person's match and, where the whole would be refused, why: then each person
    is matched alone, and one who matches no way at all has no account (``""``)."""
    try:
        return people_out(project=project, people=people)[0], ""
    except ValidationFailed as exc:
        problem = exc.message
    rows = []
    for person in people:
        try:
            rows.extend(people_out(project=project, people=[person])[0])
        except ValidationFailed:
            rows.append(PersonOut(person.key, person.shown(), "", ""))
    return rows, problem


def members_kept(
    *, project: Project, matches: Sequence[PersonMatch], entries: Mapping[str, ImageRecords]
) -> list[NotApplied]:
    """The records that would not replace their person's annotation here, as the import
    would list them (``annotations.imported``'s rule, asked the same way): for the
    project's images that a person matched to an account labelled, each found by its name
    as an imported file finds its entry."""
    accounts = {m.user_id: m.person.key for m in matches if m.user_id is not None}
    if not accounts or not entries:
        return []
    members = {u.pk: is_members_own(u) for u in User.objects.filter(pk__in=list(accounts))}
    matcher: LabelMatcher[ImageRecords] = LabelMatcher(entries)
    now = timezone.now()
    kept = []
    annotations = Annotation.objects.filter(project=project, annotator_id__in=list(accounts))
    for annotation in annotations.select_related("image").prefetch_related("labels"):
        image = annotation.image
        found = matcher.match(image.source_key or image.original_name).labels
        mine = [
            a
            for a in (found.annotations if found else [])
            if a.person.key == accounts.get(annotation.annotator_id)
        ]
        if not mine:
            continue
        record = max(mine, key=lambda a: a.updated_at or a.created_at or _EARLIEST)
        if {label.name.casefold() for label in annotation.labels.all()} == {
            name.strip().casefold() for name in record.labels
        }:
            continue
        verdict = record_verdict(
            theirs=annotation.updated_at,
            member=members.get(annotation.annotator_id, True),
            dates=dates_checked(
                created_at=record.created_at, updated_at=record.updated_at, now=now
            ),
        )
        if not verdict.applies:
            kept.append(
                NotApplied(
                    record.where or image.original_name,
                    f"{record.person.shown()}: {verdict.reason}",
                )
            )
    return kept


def labels_preview(
    *,
    matcher: LabelMatcher[Any] | None,
    names: Iterable[str],
    labels_in: LabelsIn | None,
    files: int,
    sha256_of: Callable[[str], str | None] | None = None,
) -> Preview:
    """The counts in and the records that would not apply when files of these ``names``
    are imported with the labels ``matcher`` holds: the records the reader could not use,
    the files whose entry is ambiguous, the entries no file matches. ``sha256_of`` gives a
    file's content hash, asked only where the entries carry them and no name matched."""
    labels_in = labels_in or LabelsIn()
    not_applied = [NotApplied(s.record, s.reason) for s in labels_in.skipped]
    if matcher is not None:
        for name in names:
            match = matcher.match(name)
            if match.labels is None and matcher.wants_hash and sha256_of is not None:
                match = matcher.match(name, sha256_of(name))
            if match.ambiguous:
                not_applied.append(NotApplied(name, match.reason))
        not_applied += [NotApplied(key, UNMATCHED) for key in matcher.unmatched()]
    return Preview(labels_in.counts(files), [], not_applied)
