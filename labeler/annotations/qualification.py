"""Who may take the real queue: a qualification test on gold images, and a pause when an
annotator's rolling gold accuracy falls below the project's mark.

A project that asks for a test (``qualification_gold_count`` > 0) serves a new annotator
only gold images they have not seen until they have answered that many; then the share
they labelled right is held against ``qualification_pass_mark``. On a pass the real queue
opens; on a fail the queue refuses them (403, ``qualification_failed``) until a lead lets
them retake the test or lets them in. An annotator who had labelled in the project before
the test was asked for is not tested.

Once labelling, an annotator whose latest ``gold_pause_window`` gold answers were right
less often than ``gold_pause_below`` is paused (403, ``annotator_paused``) until a lead lets
them go on; their window then starts afresh. Leads are told by the dashboard and by e-mail.

Every state lives in ``AnnotatorStanding`` and is moved here, at the queue's entry
(``queue_gate``), so that every client is held to it. A project with neither rule spends
no query on it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, QuerySet
from django.utils import timezone

from labeler.annotations.errors import (
    AnnotatorPaused,
    QualificationFailed,
    QualificationUnavailable,
)
from labeler.annotations.models import (
    Annotation,
    AnnotatorStanding,
    FinalLabel,
    FinalLabelMethod,
    ImageReservation,
    Skip,
    StandingStatus,
)
from labeler.errors import Conflict, NotFound
from labeler.images.models import Image
from labeler.projects.models import Membership, Project, Role

RESUME = "resume"
RETAKE = "retake"
ACTIONS = (RESUME, RETAKE)


def qualification_outcome(correct: Sequence[bool], *, size: int, pass_mark: float) -> bool | None:
    """Whether a test of ``size`` answers is passed: True or False once its first ``size``
    answers are in, None while it goes on. A test is never decided on fewer answers.

    Answers beyond ``size`` are not counted.
    """
    taken = list(correct[:size])
    if size < 1 or len(taken) < size:
        return None
    return sum(taken) / len(taken) >= pass_mark


def rolling_accuracy(correct: Sequence[bool], *, window: int) -> float | None:
    """The share right among the latest ``window`` answers (oldest first in ``correct``);
    None until there are that many."""
    if window < 1 or len(correct) < window:
        return None
    latest = correct[-window:]
    return sum(latest) / window


def gold_answers(
    *,
    project: Project,
    annotator_id: int,
    after: int,
    first: int | None = None,
    last: int | None = None,
) -> list[tuple[int, bool]]:
    """The annotator's answers on gold images after annotation id ``after``, oldest first,
    as (annotation id, labelled as the gold label); ``first`` or ``last`` keep that many."""
    rows = Annotation.objects.filter(
        project=project,
        annotator_id=annotator_id,
        pk__gt=after,
        image__final_label__method=FinalLabelMethod.GOLD,
    ).values_list("pk", "image_id")
    if first is not None:
        picked = list(rows.order_by("pk")[:first])
    elif last is not None:
        picked = list(rows.order_by("-pk")[:last])[::-1]
    else:
        picked = list(rows.order_by("pk"))
    if not picked:
        return []
    given = _label_sets(
        Annotation.labels.through.objects.filter(annotation_id__in=[pk for pk, _ in picked]),
        "annotation_id",
    )
    gold = _label_sets(
        FinalLabel.labels.through.objects.filter(
            finallabel__image_id__in=[image for _, image in picked]
        ),
        "finallabel__image_id",
    )
    return [
        (pk, given.get(pk, frozenset()) == gold.get(image, frozenset())) for pk, image in picked
    ]


def _label_sets(rows: QuerySet[Any], key: str) -> dict[int, frozenset[int]]:
    sets: dict[int, set[int]] = defaultdict(set)
    for owner, label in rows.values_list(key, "label_id"):
        sets[owner].add(label)
    return {owner: frozenset(labels) for owner, labels in sets.items()}


def queue_gate(*, project: Project, annotator: User) -> bool:
    """Whether the annotator is taking the test (their queue serves only gold images).

    Decides a test whose answers are all in and checks the rolling gold accuracy first.
    Raises ``QualificationFailed`` or ``AnnotatorPaused`` when the queue is closed to them,
    ``QualificationUnavailable`` when a test is due and no gold image is left to ask.
    """
    if project.qualification_gold_count == 0 and project.gold_pause_below <= 0:
        return False
    with transaction.atomic():
        standing = _standing_locked(project, annotator)
        if standing is None:
            return False
        _advance(project, standing)
    if standing.status == StandingStatus.FAILED:
        raise QualificationFailed(
            f"You did not pass this project's qualification test: {standing.test_correct} of "
            f"{standing.test_answered} gold images right, and "
            f"{_percent(project.qualification_pass_mark)} were needed. The project's leads "
            "have been told; you can label again once one of them lets you retake the test.",
            **_details(project, standing),
        )
    if standing.status == StandingStatus.PAUSED:
        raise AnnotatorPaused(
            f"Your labelling in this project is paused: of your latest "
            f"{standing.rolling_answered} gold images you labelled {standing.rolling_correct} "
            f"right, below the project's mark of {_percent(project.gold_pause_below)}. The "
            "project's leads have been told; you can go on once one of them lets you.",
            **_details(project, standing),
        )
    return standing.status == StandingStatus.QUALIFYING


def _standing_locked(project: Project, annotator: User) -> AnnotatorStanding | None:
    """The annotator's standing, row-locked, made on first need; None for a lead or reviewer.

    A standing holds its annotator only while they are one: a failed or paused annotator
    made a reviewer or lead is not held by it (and leads act on annotators' standings
    only), and is held again if made an annotator again.
    """
    current_annotator = Membership.objects.filter(
        project=project, user_id=OuterRef("annotator_id"), role=Role.ANNOTATOR
    )
    standing = (
        AnnotatorStanding.objects.select_for_update(of=("self",))
        .filter(Exists(current_annotator), project=project, annotator=annotator)
        .first()
    )
    if standing is not None:
        return standing
    role = Membership.objects.filter(project=project, user=annotator).values_list("role", flat=True)
    if list(role) != [Role.ANNOTATOR]:
        return None
    labelled = Annotation.objects.filter(project=project, annotator=annotator).exists()
    tested = project.qualification_gold_count > 0 and not labelled
    standing, _ = AnnotatorStanding.objects.get_or_create(
        project=project,
        annotator=annotator,
        defaults={
            "status": StandingStatus.QUALIFYING if tested else StandingStatus.QUALIFIED,
            "changed_at": timezone.now(),
        },
    )
    return standing


def _advance(project: Project, standing: AnnotatorStanding) -> None:
    """Move the standing on by what the annotator has answered since it was last seen."""
    status = standing.status
    if status in (StandingStatus.QUALIFYING, StandingStatus.FAILED) and (
        project.qualification_gold_count == 0
    ):
        _move(standing, StandingStatus.QUALIFIED)  # the lead dropped the test
    elif status == StandingStatus.PAUSED and project.gold_pause_below <= 0:
        _move(standing, StandingStatus.QUALIFIED)  # the lead dropped the pause
    if standing.status == StandingStatus.QUALIFYING:
        _check_test(project, standing)
    if standing.status == StandingStatus.QUALIFIED and project.gold_pause_below > 0:
        _check_rolling(project, standing)
    if standing.status != status:
        _tell_leads(project, standing)


def _check_test(project: Project, standing: AnnotatorStanding) -> None:
    """Decide the test once its full number of answers is in; never on fewer.

    Test images cannot be skipped (``skip_create``), so a test runs short only when the
    project has too few gold images open to the annotator: it then waits, refused as
    ``QualificationUnavailable``, until a lead marks more images as gold.
    """
    size = project.qualification_gold_count
    answers = gold_answers(
        project=project, annotator_id=standing.annotator_id, after=standing.test_after, first=size
    )
    correct = [right for _, right in answers]
    standing.test_answered, standing.test_correct = len(correct), sum(correct)
    passed = qualification_outcome(correct, size=size, pass_mark=project.qualification_pass_mark)
    if passed is None:
        if not gold_open_to(project=project, annotator_id=standing.annotator_id).exists():
            raise QualificationUnavailable(
                f"This project asks new annotators to pass a test of {size} gold images "
                f"first; you have answered {len(correct)}, with no gold image left that you have "
                "not seen: ask a lead to mark more images as gold.",
                status=standing.status,
                test_answered=len(correct),
                test_size=size,
            )
        standing.save(update_fields=["test_answered", "test_correct"])
        return
    # The rolling window starts after the test's answers.
    standing.window_after = standing.checked_through = answers[-1][0] if passed else 0
    _move(standing, StandingStatus.QUALIFIED if passed else StandingStatus.FAILED)


def _check_rolling(project: Project, standing: AnnotatorStanding) -> None:
    window = project.gold_pause_window
    latest = (
        Annotation.objects.filter(
            project=project,
            annotator_id=standing.annotator_id,
            pk__gt=max(standing.window_after, standing.checked_through),
            image__final_label__method=FinalLabelMethod.GOLD,
        )
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    if latest is None:
        return  # no gold answer since the last check: one query on the usual path
    answers = gold_answers(
        project=project,
        annotator_id=standing.annotator_id,
        after=standing.window_after,
        last=window,
    )
    if not answers or answers[-1][0] <= standing.checked_through:
        return  # no gold answer since the last check
    correct = [right for _, right in answers]
    standing.checked_through = answers[-1][0]
    standing.rolling_answered, standing.rolling_correct = len(correct), sum(correct)
    accuracy = rolling_accuracy(correct, window=window)
    if accuracy is not None and accuracy < project.gold_pause_below:
        _move(standing, StandingStatus.PAUSED)
    else:
        standing.save(update_fields=["checked_through", "rolling_answered", "rolling_correct"])


def gold_open_to(*, project: Project, annotator_id: int) -> QuerySet[Image]:
    """The gold images the queue may lease to the annotator: not labelled nor skipped by
    them, not flagged as a problem, not kept for other annotators."""
    seen = Annotation.objects.filter(image=OuterRef("pk"), annotator_id=annotator_id)
    skipped = Skip.objects.filter(image=OuterRef("pk"), annotator_id=annotator_id)
    kept = ImageReservation.objects.filter(image=OuterRef("pk"))
    kept_for_me = kept.filter(annotator_id=annotator_id)
    return (
        Image.objects.filter(project=project, final_label__method=FinalLabelMethod.GOLD, problem="")
        .exclude(Exists(seen))
        .exclude(Exists(skipped))
        .exclude(Exists(kept) & ~Exists(kept_for_me))
    )


def _move(standing: AnnotatorStanding, status: str, *, by: User | None = None) -> None:
    standing.status = status
    standing.changed_at = timezone.now()
    standing.changed_by = by
    standing.save()


def _tell_leads(project: Project, standing: AnnotatorStanding) -> None:
    """E-mail the project's leads (those with an address) when the queue closed to someone."""
    if standing.status not in (StandingStatus.FAILED, StandingStatus.PAUSED):
        return
    leads = Membership.objects.filter(project=project, role=Role.LEAD).exclude(user__email="")
    recipients = list(leads.values_list("user__email", flat=True))
    if not recipients:
        return
    name = standing.annotator.get_username()
    if standing.status == StandingStatus.FAILED:
        subject = f"{name} did not pass the qualification test of {project.name}"
        body = (
            f"{name} labelled {standing.test_correct} of {standing.test_answered} test gold "
            f"images right (the pass mark is {_percent(project.qualification_pass_mark)}). "
            "They wait until you let them retake the test or let them in, on the project's "
            "agreement dashboard."
        )
    else:
        subject = f"{name} is paused in {project.name}"
        body = (
            f"{name} labelled {standing.rolling_correct} of their latest "
            f"{standing.rolling_answered} gold images right, below the mark of "
            f"{_percent(project.gold_pause_below)}. They wait until you let them go on, on "
            "the project's agreement dashboard."
        )
    transaction.on_commit(lambda: send_mail(subject, body, None, recipients, fail_silently=True))


def standing_act(
    *, project: Project, annotator_id: int, action: str, by: User
) -> AnnotatorStanding:
    """A lead lets a failed or paused annotator go on (``resume``) or take the test again
    (``retake``, on gold images they have not seen). Atomic."""
    if action not in ACTIONS:
        raise Conflict(f"Unknown action {action!r}: use one of {', '.join(ACTIONS)}.")
    with transaction.atomic():
        standing = (
            AnnotatorStanding.objects.select_for_update()
            # annotator__pk: an id beyond the column's range finds nothing, never an error.
            .filter(project=project, annotator__pk=annotator_id)
            .first()
        )
        if standing is None:
            raise NotFound("That annotator has no standing in this project yet.")
        _check_still_annotator(project, standing)
        if standing.status not in (StandingStatus.FAILED, StandingStatus.PAUSED):
            raise Conflict(
                f"That annotator is {standing.get_status_display().lower()}: only a failed "
                "or paused annotator can be let go on or retake the test."
            )
        latest = _latest_annotation(project, annotator_id)
        standing.window_after = standing.checked_through = latest
        standing.rolling_answered = standing.rolling_correct = 0
        if action == RETAKE:
            standing.test_after = latest
            standing.test_answered = standing.test_correct = 0
            standing.attempts += 1
            _move(standing, StandingStatus.QUALIFYING, by=by)
        else:
            _move(standing, StandingStatus.QUALIFIED, by=by)
    return standing


def _check_still_annotator(project: Project, standing: AnnotatorStanding) -> None:
    """Refuse to act on the standing of someone who is no longer an annotator here: the
    queue tests and pauses annotators only, so their standing has nothing to hold."""
    role = (
        Membership.objects.filter(project=project, user_id=standing.annotator_id)
        .values_list("role", flat=True)
        .first()
    )
    if role != Role.ANNOTATOR:
        name = standing.annotator.get_username()
        now = f"a {Role(role).label.lower()}" if role else "no longer a member"
        raise Conflict(
            f"{name} is {now} of this project, not an annotator: only an annotator's "
            "standing can be changed."
        )


def standing_row(*, project: Project, standing: AnnotatorStanding) -> StandingRow:
    """One annotator's standing as the dashboard and the API show it."""
    return _row(project, standing.annotator, standing)


def _latest_annotation(project: Project, annotator_id: int) -> int:
    found = Annotation.objects.filter(project=project, annotator_id=annotator_id).aggregate(
        latest=Max("pk")
    )["latest"]
    return int(found or 0)


@dataclass(frozen=True)
class StandingRow:
    """One annotator's standing as the dashboard and the API show it."""

    annotator_id: int
    username: str
    status: str
    status_label: str
    test_answered: int
    test_correct: int
    test_size: int
    rolling_answered: int
    rolling_correct: int
    rolling_accuracy: float | None
    attempts: int
    changed_at: datetime | None
    needs_lead: bool


def project_standings(project: Project) -> list[StandingRow]:
    """Every annotator of the project with their standing (as stored at their last queue
    request; one who has not asked yet shows as they would start), by username."""
    stored = {s.annotator_id: s for s in AnnotatorStanding.objects.filter(project=project)}
    members = Membership.objects.filter(project=project, role=Role.ANNOTATOR).select_related("user")
    rows = []
    for member in sorted(members, key=lambda m: m.user.get_username()):
        standing = stored.get(member.user_id)
        rows.append(_row(project, member.user, standing))
    return rows


def _row(project: Project, user: User, standing: AnnotatorStanding | None) -> StandingRow:
    tested = project.qualification_gold_count > 0
    status = (
        standing.status
        if standing
        else (StandingStatus.QUALIFYING if tested else StandingStatus.QUALIFIED)
    )
    answered = standing.rolling_answered if standing else 0
    correct = standing.rolling_correct if standing else 0
    return StandingRow(
        annotator_id=user.pk,
        username=user.get_username(),
        status=status,
        status_label=StandingStatus(status).label,
        test_answered=standing.test_answered if standing else 0,
        test_correct=standing.test_correct if standing else 0,
        test_size=project.qualification_gold_count,
        rolling_answered=answered,
        rolling_correct=correct,
        rolling_accuracy=correct / answered if answered else None,
        attempts=standing.attempts if standing else 0,
        changed_at=standing.changed_at if standing else None,
        needs_lead=status in (StandingStatus.FAILED, StandingStatus.PAUSED),
    )


def _details(project: Project, standing: AnnotatorStanding) -> dict[str, Any]:
    return {
        "status": standing.status,
        "test_answered": standing.test_answered,
        "test_correct": standing.test_correct,
        "test_size": project.qualification_gold_count,
        "pass_mark": project.qualification_pass_mark,
        "rolling_answered": standing.rolling_answered,
        "rolling_correct": standing.rolling_correct,
        "pause_below": project.gold_pause_below,
    }


def _percent(share: float) -> str:
    return f"{share:.0%}"
