"""An imported account's labels given to the member it stood for: each annotation moved as
it is (dates, time spent, revisions), its history crediting the member, images both
labelled left and reported, the account out of the project once nothing of it is left,
its decisions credited too, and the refresh that follows scheduled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeler.agreement.final_writes import final_labels_written
from labeler.annotations.accounts import MoveConflict, annotations_move
from labeler.annotations.models import (
    Annotation,
    AnnotationRevision,
    FinalLabel,
    FinalLabelMethod,
    LabelChange,
)
from labeler.annotations.submit import annotation_record
from labeler.errors import NotFound, ValidationFailed
from labeler.imports.applying.accounts import imported_account_link, people_resolve
from labeler.imports.planning.people import people_match
from labeler.imports.reading.records import Person
from labeler.projects.models import Membership, Role
from tests.factories import UserFactory, add_member, annotation_submit
from tests.rows import row_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def vendor(project):
    """An account an import made: inactive, no usable password, an annotator."""
    matches = people_match(project=project, people=[Person("ls:7", email="v@example.org")])
    return people_resolve(project=project, matches=matches)["ls:7"]


def record(project, user, image, labels, ms=None):
    return annotation_record(
        project=project, annotator=user, image_id=image.pk, labels=labels, time_spent_ms=ms
    ).annotation


def history(image) -> list[tuple]:
    return [
        (c.kind, c.annotator and c.annotator.username, c.changed_by and c.changed_by.username)
        for c in LabelChange.objects.filter(image=image).order_by("id")
    ]


def test_annotations_move_as_they_are(project, vendor, annotator, lead, make_images):
    """Labels, dates, time spent and revisions stay; the history names the member."""
    a, b = make_images(project, 2)
    first = record(project, vendor, a, ["cat"], ms=1500)
    record(project, vendor, a, ["dog"], ms=900)  # a second revision
    record(project, vendor, b, ["bird"])
    old = timezone.now() - timedelta(days=30)
    Annotation.objects.filter(pk=first.pk).update(created_at=old, updated_at=old)

    report = annotations_move(project=project, source=vendor, target=annotator, by=lead)

    assert (report.moved, report.conflicts, report.membership_removed) == (2, [], True)
    moved = Annotation.objects.get(pk=first.pk)
    assert moved.annotator == annotator
    assert (moved.created_at, moved.updated_at, moved.time_spent_ms) == (old, old, 2400)
    assert list(moved.labels.values_list("name", flat=True)) == ["dog"]
    assert AnnotationRevision.objects.filter(annotation=moved).count() == 2
    assert history(a) == [
        ("annotation_created", "ann1", "ann1"),
        ("annotation_changed", "ann1", "ann1"),
    ]
    assert not Annotation.objects.filter(annotator=vendor).exists()
    assert not LabelChange.objects.filter(annotator=vendor).exists()
    assert not Membership.objects.filter(project=project, user=vendor).exists()
    assert a.annotations.count() == 1  # a move adds no annotation


def test_images_both_labelled_stay_and_are_reported(project, vendor, annotator, lead, make_images):
    """Where the member labelled the image too, the imported annotation and its history
    stay with the account, which stays in the project; the rest move."""
    a, b, c = make_images(project, 3)
    record(project, vendor, a, ["cat"])
    record(project, vendor, b, ["dog"])
    record(project, vendor, c, ["cat"])
    annotation_submit(project=project, annotator=annotator, image_id=b.pk, labels=["bird"])

    report = annotations_move(project=project, source=vendor, target=annotator, by=lead)

    assert report.moved == 2
    assert report.conflicts == [MoveConflict(b.pk, ["dog"], ["bird"])]
    assert not report.membership_removed
    assert Membership.objects.get(project=project, user=vendor).role == Role.ANNOTATOR
    assert history(b) == [
        ("annotation_created", vendor.username, vendor.username),
        ("annotation_created", "ann1", "ann1"),
    ]
    assert history(c) == [("annotation_created", "ann1", "ann1")]
    assert b.annotations.count() == 2

    # The lead settles it (the member's label stands), then links again: it leaves.
    Annotation.objects.filter(annotator=vendor).delete()
    again = annotations_move(project=project, source=vendor, target=annotator, by=lead)
    assert (again.moved, again.conflicts, again.membership_removed) == (0, [], True)


def test_the_refresh_is_scheduled(
    project, vendor, annotator, lead, make_images, django_capture_on_commit_callbacks
):
    """The final labels and quality figures are refreshed after the move commits."""
    [image] = make_images(project, 1)
    record(project, vendor, image, ["cat"])
    with django_capture_on_commit_callbacks() as sent:
        annotations_move(project=project, source=vendor, target=annotator, by=lead)
    scheduled = [getattr(c, "func", c).__name__ for c in sent]
    assert "_refresh_schedule" in scheduled
    assert [c.args for c in sent if getattr(c, "func", None) is not None] == [(project.pk,)]


def test_decisions_are_credited_to_the_member(project, vendor, annotator, lead, make_images):
    """Final labels the account decided keep labels, method and dates but name the member;
    the history of them too. Other final labels are left alone."""
    a, b = make_images(project, 2)
    cat = project.labels.get(name="cat")
    with final_labels_written(project=project, image_ids=[a.pk, b.pk], changed_by=vendor) as w:
        w.set_one(a.pk, [cat], method=FinalLabelMethod.GOLD, confidence=None, decided_by=vendor)
        w.set_one(b.pk, [cat], method=FinalLabelMethod.IMPORTED, confidence=None, decided_by=lead)
    before = FinalLabel.objects.get(image=a)

    report = imported_account_link(project=project, source=vendor, to="ANN1", by=lead)

    assert (report.moved, report.decisions_moved, report.target) == (0, 1, "ann1")
    after = FinalLabel.objects.get(image=a)
    assert (after.decided_by, after.method, after.updated_at) == (
        annotator,
        FinalLabelMethod.GOLD,
        before.updated_at,
    )
    assert list(after.labels.all()) == [cat]
    assert FinalLabel.objects.get(image=b).decided_by == lead
    assert history(a) == [("final_set", None, "ann1")]
    assert history(b) == [("final_set", None, "ann1")]  # the same write named the account


@pytest.mark.parametrize(
    ("source", "target", "error", "says"),
    [
        ("vendor", "vendor", ValidationFailed, "itself"),
        ("ann2", "ann1", ValidationFailed, "not an imported account"),
        ("vendor", "gone", ValidationFailed, "not an active member"),
        ("vendor", "outsider", ValidationFailed, "not an active member"),
        ("stranger", "ann1", NotFound, "not a member"),
    ],
)
def test_a_wrong_move_is_refused_and_changes_nothing(
    project, vendor, lead, outsider, make_images, source, target, error, says
):
    """From an account that can log in, to itself, to someone no (active) member, or from
    an account outside the project: refused naming what is wrong, nothing written."""
    gone = UserFactory(username="gone", is_active=False)
    add_member(project, gone)
    stranger = UserFactory(username="stranger", is_active=False)
    stranger.set_unusable_password()
    stranger.save()
    [image] = make_images(project, 1)
    record(project, vendor, image, ["cat"])
    users = {m.user.username: m.user for m in project.memberships.select_related("user")}
    users.update(outsider=outsider, stranger=stranger, vendor=vendor)
    before = row_counts()
    with pytest.raises(error, match=says):
        annotations_move(
            project=project,
            source=users[source],
            target=users[target],
            by=lead,
        )
    assert row_counts() == before
    assert Annotation.objects.get(image=image).annotator == vendor


def test_link_names_the_member_it_goes_to(project, vendor, lead):
    """The member is named by username (case aside); a name no member has is refused."""
    for to, says in ((3, "Name the member"), ("  ", "Name the member"), ("nobody", "'nobody'")):
        with pytest.raises(ValidationFailed, match=says) as refused:
            imported_account_link(project=project, source=vendor, to=to, by=lead)
        assert refused.value.field == "to"
