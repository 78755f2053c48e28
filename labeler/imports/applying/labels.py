"""Recording imported labels with their origin: a final label, a gold label, or an annotation.

Imported labels are never passed off as fresh work by a project member: final labels carry
the method ``imported``, gold labels are recorded as a lead's gold decision, and
annotations belong to an account of their own that cannot log in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction

from labeler.agreement.final_writes import FinalLabelsWrite, final_labels_written
from labeler.annotations.history import Final
from labeler.annotations.imported import (
    AnnotationsBefore,
    ImportCredits,
    RecordKept,
    Written,
    annotation_import_write,
)
from labeler.annotations.models import Annotation, FinalLabel, FinalLabelMethod
from labeler.errors import DomainError, ValidationFailed
from labeler.images import queue_state
from labeler.images.models import Image
from labeler.imports.planning.labels_in import ANNOTATION, FINAL, GOLD
from labeler.projects.models import Label, Membership, Project, Role
from labeler.projects.services import IMPORT, membership_set, project_update
from labeler.words import noun

_METHODS = {FINAL: FinalLabelMethod.IMPORTED, GOLD: FinalLabelMethod.GOLD}


class LabelsRefused(Exception):
    """One file's labels cannot be recorded; the message says why, for the import report."""


@transaction.atomic
def importer_account(*, project: Project, name: str) -> User:
    """The account imported annotations are recorded under, created if need be.

    It cannot log in (no usable password, inactive) and is an annotator of the project,
    so its annotations count like any annotator's. A person's account is refused.
    """
    name = name.strip()
    try:
        UnicodeUsernameValidator()(name)
    except ValidationError:
        raise ValidationFailed(
            f"{name!r} is not a valid account name (letters, digits and @.+-_ only).",
            field="annotator",
        ) from None
    if not 0 < len(name) <= 150:
        raise ValidationFailed("The annotator name needs 1 to 150 characters.", field="annotator")
    user = User.objects.filter(username=name).first()
    if user is None:
        user = User.objects.create_user(username=name, is_active=False)
    elif user.is_active or user.has_usable_password():
        raise ValidationFailed(
            f"{name!r} is the account of someone who can log in; imported annotations go "
            "under an account of their own: choose another annotator name.",
            field="annotator",
        )
    if not Membership.objects.filter(project=project, user=user).exists():
        membership_set(project=project, user=user, role=Role.ANNOTATOR, via=IMPORT)
    return user


class ProjectLabels:
    """The project's labels by name, creating missing ones (through the project service)."""

    def __init__(self, project: Project, *, create: bool) -> None:
        self.project = project
        self.create = create
        self.created: list[str] = []
        self._load()

    def _load(self) -> None:
        labels = list(Label.objects.filter(project=self.project).order_by("position"))
        self._all = labels
        self._by_name = {label.name: label for label in labels}
        self._by_folded = {label.name.casefold(): label for label in labels}

    def _find(self, name: str) -> Label | None:
        return self._by_name.get(name) or self._by_folded.get(name.casefold())

    def check(self, names: Sequence[str]) -> list[str]:
        """The names to record, cleaned; raises LabelsRefused when they cannot be."""
        cleaned: list[str] = []
        for name in (n.strip() for n in names):
            if name and name.casefold() not in {c.casefold() for c in cleaned}:
                cleaned.append(name)
        if len(cleaned) > 1 and not self.project.multi_label:
            raise LabelsRefused(
                f"This is a single-label project; {len(cleaned)} labels were given "
                f"({', '.join(cleaned)})."
            )
        unknown = [name for name in cleaned if self._find(name) is None]
        if unknown and not self.create:
            known = ", ".join(label.name for label in self._all[:20])
            raise LabelsRefused(
                f"Unknown {noun(len(unknown), 'label')} "
                f"{', '.join(repr(n) for n in unknown)}; this project's "
                f"labels are {known}. Import with create_labels to add them."
            )
        return cleaned

    def resolve(self, names: Sequence[str]) -> list[Label]:
        """The labels of checked names, the missing ones created first."""
        unknown = [name for name in names if self._find(name) is None]
        if unknown:
            self._create(unknown)
        return [label for name in names if (label := self._find(name)) is not None]

    def names_of(self, label_ids: Sequence[int]) -> list[str]:
        """The names of these labels of the project, in the project's order."""
        wanted = set(label_ids)
        found = [label for label in self._all if label.pk in wanted]
        return [label.name for label in sorted(found, key=lambda label: (label.position, label.pk))]

    def _create(self, names: list[str]) -> None:
        current: list[object] = [{"id": label.pk, "name": label.name} for label in self._all]
        try:
            project_update(project=self.project, labels=[*current, *names])
        except DomainError as exc:
            raise LabelsRefused(f"The labels cannot be created: {exc.message}") from exc
        finally:
            self._load()
        self.created.extend(names)


def decision_check(*, image: Image, method: str) -> None:
    """Refuse a carried decision (``method``) where the image's final label was settled
    another way: only a consensus final label, or one of the same method, gives way."""
    current = FinalLabel.objects.filter(image=image).values_list("method", flat=True).first()
    _replaceable_check(current, method)


def _replaceable_check(current: str | None, method: str) -> None:
    if current not in (None, FinalLabelMethod.CONSENSUS, method):
        shown = FinalLabelMethod(current).label.lower()
        raise LabelsRefused(
            f"The image already has a final label ({shown}); an import does not replace it."
        )


@dataclass
class Decision:
    """One file's final or gold labels, waiting for its batch (``DecisionsBatch``): what
    it came to is set when the batch is written."""

    image_id: int
    names: list[str]  # checked, their labels made
    merge: bool  # a file seen again: its labels add to those this import recorded
    changed: bool = False
    refusal: str = ""
    label_names: list[str] = field(default_factory=list)


class DecisionsBatch:
    """An import's final or gold labels, written many images at a time.

    Each file's labels wait here (``add``) until the batch is full or the files end
    (``write``): one final-labels block then reads the batch's final labels once and
    writes those that change together, where a block for each image read and wrote them
    one by one. What each file's labels come to (written, already recorded, or refused
    where a person or another kind of import settled the image) is decided in the
    files' order, from what the block read and what the files before them decided, as
    writing them one by one decided it.
    """

    SIZE = 500

    def __init__(
        self, *, project: Project, labels: ProjectLabels, labels_as: str, user: User | None
    ) -> None:
        self.project = project
        self.labels = labels
        self.method = _METHODS[labels_as]
        self.user = user
        self.waiting: list[Decision] = []
        self._written: set[int] = set()  # images whose final label this import wrote

    @property
    def full(self) -> bool:
        return len(self.waiting) >= self.SIZE

    def add(self, *, image_id: int, names: list[str], merge: bool) -> Decision:
        """Take a file's checked label names for the next ``write``; the missing labels
        are made now (LabelsRefused when they cannot be), so the files after it find them."""
        self.labels.resolve(names)
        decision = Decision(image_id, names, merge)
        self.waiting.append(decision)
        return decision

    def write(self) -> list[Decision]:
        """Write the waiting decisions, in one final-labels block; returns them, each
        saying what it came to."""
        batch, self.waiting = self.waiting, []
        if not batch:
            return batch
        ids = sorted({decision.image_id for decision in batch})
        with final_labels_written(
            project=self.project, image_ids=ids, changed_by=self.user
        ) as write:
            finals = dict(write.before)
            wanted: dict[int, tuple[int, ...]] = {}
            for decision in batch:
                self._decide(decision, finals, wanted)
            # Nobody here measured how sure the source was; a gold label is certain.
            confidence = 1.0 if self.method == FinalLabelMethod.GOLD else None
            write.set_each(wanted, method=self.method, confidence=confidence, decided_by=self.user)
        if wanted and self.method == FinalLabelMethod.IMPORTED:
            queue_state.images_complete_mark(image_ids=sorted(wanted))
        return batch

    def _decide(
        self, decision: Decision, finals: dict[int, Final], wanted: dict[int, tuple[int, ...]]
    ) -> None:
        image_id, names = decision.image_id, decision.names
        current = finals.get(image_id)
        try:
            if decision.merge and image_id in self._written and current is not None:
                names = self.labels.check([*self.labels.names_of(current.label_ids), *names])
            decision.label_names = names
            labels = tuple(sorted(label.pk for label in self.labels.resolve(names)))
            _replaceable_check(current.method if current else None, self.method)
        except LabelsRefused as exc:
            decision.refusal = str(exc)
            return
        if current is not None and current == Final(self.method, labels):
            return
        finals[image_id] = Final(self.method, labels)
        wanted[image_id] = labels
        self._written.add(image_id)
        decision.changed = True


def decision_record(
    *, project: Project, image: Image, labels: list[Label], method: str, decided_by: User | None
) -> bool:
    """Record a decision a labels file carries (gold, adjudicated or imported) as the
    image's final label; returns whether anything changed."""
    with final_labels_written(
        project=project, image_ids=[image.pk], changed_by=decided_by
    ) as write:
        return _final_record(write, image, labels, method, decided_by)


def annotation_imported(
    *,
    project: Project,
    image: Image,
    labels: list[Label],
    annotator: User,
    by: User | None,
    created_at: datetime | None,
    updated_at: datetime | None,
    time_spent_ms: int | None,
    credits: ImportCredits | None = None,
    before: AnnotationsBefore | None = None,
) -> Written:
    """Record one person's imported annotation with its dates and time spent, ``by``
    importing, through the one rule of what an import may replace
    (``labeler.annotations.imported``): where the person's annotation here is kept,
    LabelsRefused says why, with both dates."""
    try:
        return annotation_import_write(
            project=project,
            image=image,
            labels=labels,
            annotator=annotator,
            by=by,
            created_at=created_at,
            updated_at=updated_at,
            time_spent_ms=time_spent_ms,
            credits=credits,
            before=before,
        )
    except RecordKept as exc:
        raise LabelsRefused(str(exc)) from exc


def labels_recorded_since(
    *, image: Image, labels_as: str, annotator: User | None, since: datetime
) -> list[str]:
    """The label names this kind of import recorded on the image at or after ``since``.

    A multi-label image that an ImageFolder tree holds once per label folder comes to
    an import several times; each visit adds its folder's label to what the earlier
    visits of the same import recorded, rather than replacing it.
    """
    record: Annotation | FinalLabel | None
    if labels_as == ANNOTATION:
        record = Annotation.objects.filter(
            image=image, annotator=annotator, updated_at__gte=since
        ).first()
    else:
        record = FinalLabel.objects.filter(
            image=image, method=_METHODS[labels_as], updated_at__gte=since
        ).first()
    if record is None:
        return []
    return list(record.labels.order_by("position", "pk").values_list("name", flat=True))


def annotation_labels_record(
    *,
    project: Project,
    image: Image,
    labels: list[Label],
    annotator: User,
    by: User | None,
    before: AnnotationsBefore | None = None,
) -> bool:
    """Record the labels as ``annotator``'s annotation, ``by`` importing, with no dates of
    their own (``annotation_imported``); returns whether anything changed."""
    written = annotation_imported(
        project=project,
        image=image,
        labels=labels,
        annotator=annotator,
        by=by,
        created_at=None,
        updated_at=None,
        time_spent_ms=None,
        before=before,
    )
    return written.changed


def _final_record(
    write: FinalLabelsWrite, image: Image, labels: list[Label], method: str, user: User | None
) -> bool:
    final = FinalLabel.objects.select_for_update().filter(image=image).first()
    wanted = sorted(label.pk for label in labels)
    if (
        final is not None
        and final.method == method
        and sorted(final.labels.values_list("pk", flat=True)) == wanted
    ):
        return False
    # Nobody here measured how sure the source was; a gold label is certain.
    confidence = 1.0 if method == FinalLabelMethod.GOLD else None
    write.set_one(image.pk, labels, method=method, confidence=confidence, decided_by=user)
    if method == FinalLabelMethod.IMPORTED:
        queue_state.images_complete_mark(image_ids=[image.pk])
    return True
