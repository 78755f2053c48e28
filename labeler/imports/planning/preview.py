"""What an import would do, read without writing anything: the counts in, whose account
each person of the labels file would take, and every record that would not apply.

The dry runs answer it (``plan.plan_preview``: ``manage.py import_images --dry-run`` and
the API's, of an archive's plan or a batch of files'), and the import page shows it
before the lead confirms who is who.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labeler.errors import ValidationFailed
from labeler.imports.planning.labels_in import LabelsIn, NotApplied, PersonOut
from labeler.imports.planning.people import people_match
from labeler.imports.reading.matching import LabelMatcher
from labeler.imports.reading.records import Person
from labeler.projects.models import Project

UNMATCHED = "No imported file matches this entry of the labels file."


@dataclass
class Preview:
    """An import's counts in, its people and what would not apply; ``problem`` says why
    the people as matched would be refused (two on one account, a member that could be
    one of several): the lead must choose for them."""

    counts_in: dict[str, int] = field(default_factory=dict)
    people: list[PersonOut] = field(default_factory=list)
    not_applied: list[NotApplied] = field(default_factory=list)
    problem: str = ""


def people_out(
    *, project: Project, people: Sequence[Person], chosen: Mapping[str, str] | None = None
) -> list[PersonOut]:
    """Whose account takes each person's labels (``people_match``); raises ValidationFailed
    (field ``annotators``) as it does."""
    if not people and not chosen:
        return []
    matches = people_match(project=project, people=people, chosen=chosen)
    return [PersonOut(m.person.key, m.person.shown(), m.account, m.how) for m in matches]


def people_preview(*, project: Project, people: Sequence[Person]) -> tuple[list[PersonOut], str]:
    """Each person's match and, where the whole would be refused, why: then each person
    is matched alone, and one who matches no way at all has no account (``""``)."""
    try:
        return people_out(project=project, people=people), ""
    except ValidationFailed as exc:
        problem = exc.message
    rows = []
    for person in people:
        try:
            rows.extend(people_out(project=project, people=[person]))
        except ValidationFailed:
            rows.append(PersonOut(person.key, person.shown(), "", ""))
    return rows, problem


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
