"""Final labels: consensus written for agreed images, people's decisions kept, gold images."""

from __future__ import annotations

import pytest

from labeler import flows
from labeler.agreement.services import final_labels_refresh, image_decide, image_gold_clear
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.annotations.queue import queue_next_image
from labeler.errors import ValidationFailed
from labeler.projects.models import Project
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit
from tests.rows import row_counts

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


def names(final: FinalLabel) -> list[str]:
    return sorted(final.labels.values_list("name", flat=True))


def label(project, user, image, name):
    annotation_submit(project=project, annotator=user, image_id=image.pk, labels=[name])


def test_agreed_images_get_a_consensus_final_label(project, annotator, annotator2, make_images):
    """Overlap 2: agreement gives a final label with confidence 1; a tie goes to review."""
    agreed, split, half = make_images(project, 3)
    for user in (annotator, annotator2):
        label(project, user, agreed, "dog")
    label(project, annotator, split, "cat")
    label(project, annotator2, split, "bird")
    label(project, annotator, half, "cat")  # one of two annotators so far
    assert final_labels_refresh(project=project) == 1
    final = FinalLabel.objects.get()
    assert (final.image_id, names(final), final.method) == (agreed.pk, ["dog"], "consensus")
    assert final.confidence == pytest.approx(1.0)


def test_refresh_keeps_decisions_made_by_people(project, lead, annotator, annotator2, make_images):
    """An adjudicated label survives a refresh even where consensus would say otherwise."""
    (image,) = make_images(project, 1)
    for user in (annotator, annotator2):
        label(project, user, image, "dog")
    image_decide(
        project=project, image_id=image.pk, labels=["cat"], decided_by=lead, method="adjudicated"
    )
    final_labels_refresh(project=project)
    final = FinalLabel.objects.get()
    assert (names(final), final.method, final.decided_by) == (["cat"], "adjudicated", lead)


def test_a_consensus_that_turned_into_a_tie_is_withdrawn(
    project, annotator, annotator2, make_images
):
    """When an annotator changes their label to disagree, the consensus label goes."""
    (image,) = make_images(project, 1)
    for user in (annotator, annotator2):
        label(project, user, image, "dog")
    final_labels_refresh(project=project)
    label(project, annotator2, image, "cat")
    assert final_labels_refresh(project=project) == 0
    assert not FinalLabel.objects.exists()


def test_bad_decisions_are_refused_and_change_nothing(project, lead, make_images, other_image):
    """Unknown labels, another project's image or an unknown method: 4xx errors, no writes."""
    (image,) = make_images(project, 1)
    before = row_counts()
    bad = [
        {"image_id": image.pk, "labels": ["horse"], "method": "gold"},
        {"image_id": other_image.pk, "labels": ["cat"], "method": "gold"},
        {"image_id": "1", "labels": ["cat"], "method": "gold"},
        {"image_id": image.pk, "labels": ["cat"], "method": "consensus"},
    ]
    for kwargs in bad:
        with pytest.raises(ValidationFailed):
            image_decide(project=project, decided_by=lead, **kwargs)
    assert row_counts() == before


@pytest.fixture
def other_image(make_images):
    return make_images(ProjectFactory(), 1)[0]


def test_gold_images_reach_every_annotator_whatever_the_overlap(project, lead, make_images):
    """With gold rate 1, each annotator gets the gold image first, even once it is complete."""
    project.gold_rate = 1.0
    project.overlap = 1
    project.save()
    gold, plain = make_images(project, 2)
    image_decide(project=project, image_id=gold.pk, labels=["cat"], decided_by=lead, method="gold")
    for _ in range(3):
        user = UserFactory()
        add_member(project, user)
        assert queue_next_image(project=project, annotator=user).image_id == gold.pk
        label(project, user, gold, "cat")
    image_gold_clear(project=project, image_id=gold.pk, cleared_by=lead)
    newcomer = UserFactory()
    add_member(project, newcomer)
    assert queue_next_image(project=project, annotator=newcomer).image_id == plain.pk
    assert not FinalLabel.objects.filter(method=FinalLabelMethod.GOLD).exists()


def test_no_gold_with_rate_zero(project, lead, annotator, make_images):
    """A gold rate of 0 never mixes gold images in."""
    project.gold_rate = 0.0
    project.save()
    plain, gold = make_images(project, 2)
    image_decide(project=project, image_id=gold.pk, labels=["dog"], decided_by=lead, method="gold")
    assert queue_next_image(project=project, annotator=annotator).image_id == plain.pk


@pytest.mark.parametrize("multi_label", [False, True])
def test_a_project_nobody_labelled_yet_has_no_final_labels(multi_label, make_images):
    """Refreshing before the first label writes nothing and raises nothing."""
    project = ProjectFactory(multi_label=multi_label)
    make_images(project, 3)
    assert final_labels_refresh(project=project) == 0
    assert not FinalLabel.objects.filter(image__project=project).exists()


def test_an_overdue_refresh_that_fails_leaves_its_project_due_and_runs_the_others(
    project, annotator, annotator2, make_images, monkeypatch
):
    """Beat's run over projects whose refresh could not be scheduled: a project whose
    refresh raises goes back on the list; the projects after it are refreshed."""
    later = ProjectFactory(name="Later", overlap=2)
    [image] = make_images(later, 1)
    for user in (annotator, annotator2):
        add_member(later, user)
        annotation_submit(project=later, annotator=user, image_id=image.pk, labels=["cat"])
    FinalLabel.objects.all().delete()
    Project.objects.filter(pk__in=[project.pk, later.pk]).update(agreement_refresh_due=True)
    refresh, tried = flows.agreement_refresh, []

    def refresh_or_fail(*, project: Project) -> None:
        tried.append(project.pk)
        if len(tried) == 1:
            raise RuntimeError("disk full")
        refresh(project=project)

    monkeypatch.setattr(flows, "agreement_refresh", refresh_or_fail)
    assert flows.agreement_refresh_overdue() == 1
    assert tried == [project.pk, later.pk]
    assert FinalLabel.objects.get().image_id == image.pk
    due = dict(Project.objects.values_list("pk", "agreement_refresh_due"))
    assert due == {project.pk: True, later.pk: False}
