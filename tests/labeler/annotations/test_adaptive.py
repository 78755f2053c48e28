"""Adaptive overlap: a third opinion (and more) only where the first ones leave doubt."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from labeler import flows
from labeler.agreement.final_labels import final_labels_refresh
from labeler.agreement.review import review_candidates
from labeler.agreement.rows import consensus_rows
from labeler.agreement.services import image_decide
from labeler.annotations.adaptive import PRIOR_ACCURACY, accuracy_estimate, adaptive_decision
from labeler.annotations.models import Annotation, Assignment, FinalLabel
from labeler.annotations.queue import queue_next_image
from labeler.annotations.reliability import annotator_accuracies
from labeler.annotations.submit import annotation_record, annotation_submit
from labeler.images.models import Image, ImageCounter
from labeler.projects.models import Project
from tests.factories import ProjectFactory, UserFactory, add_member

# SQL, triggers or task running that differ on the embedded default: run there too.
pytestmark = pytest.mark.embedded

# With three labels, every annotator at the prior accuracy 0.8 and a threshold of 0.9:
# two who agree (0.97) or three against one (0.98) settle an image; a split, or two
# against one (0.88), asks for one more.
K, THRESHOLD = 3, 0.9


def decide(labels: list[str], *, needed: int = 2, maximum: int = 4, accuracy: float = 0.8):
    votes = [(label, accuracy) for label in labels]
    return adaptive_decision(votes, k=K, threshold=THRESHOLD, needed=needed, maximum=maximum)


def test_two_who_agree_settle_the_image():
    decision = decide(["cat", "cat"])
    assert (decision.leader, decision.more) == ("cat", False)
    assert decision.confidence == pytest.approx(0.64 / 0.66)


def test_two_who_disagree_ask_for_a_third_opinion():
    decision = decide(["cat", "dog"])
    assert (decision.leader, decision.more) == (None, True)


def test_a_weak_majority_asks_for_more_and_a_clear_one_settles():
    assert decide(["cat", "cat", "dog"], needed=3).more
    assert decide(["cat", "cat", "dog"], needed=3).confidence == pytest.approx(0.064 / 0.073)
    assert not decide(["cat", "cat", "dog", "cat"], needed=4, maximum=5).more


def test_never_beyond_the_maximum_nor_before_every_needed_label():
    assert not decide(["cat", "dog", "cat", "dog"], needed=4, maximum=4).more
    assert not decide(["cat"], needed=2).more  # the second annotator is still to come


def test_a_reliable_annotator_outweighs_an_unreliable_one():
    """The same split, settled when the one who says cat is known to be nearly always right."""
    votes = [("cat", 0.99), ("dog", 0.4)]
    decision = adaptive_decision(votes, k=10, threshold=0.95, needed=2, maximum=5)
    assert decision.leader == "cat" and decision.confidence > 0.95
    # ...but a split between equals is a split whatever the threshold.
    assert adaptive_decision(
        [("cat", 0.9), ("dog", 0.9)], k=10, threshold=0, needed=2, maximum=5
    ).more


def test_no_votes_no_decision():
    decision = adaptive_decision([], k=3, threshold=0.9, needed=2, maximum=4)
    assert decision.leader is None and math.isnan(decision.confidence) and not decision.more


def test_the_prior_gives_way_to_an_annotators_record():
    assert accuracy_estimate(0, 0) == PRIOR_ACCURACY
    assert accuracy_estimate(96, 100) > 0.95
    assert accuracy_estimate(50, 100) < 0.52


def new_images(project: Project, n: int) -> list[Image]:
    """Image rows (no files: the queue and the submit read rows only)."""
    start = Image.objects.count()
    Image.objects.bulk_create(
        Image(
            project=project,
            file=f"images/{project.pk}/{i}.png",
            original_name=f"{i}.png",
            sha256=f"{i:064x}",
            width=8,
            height=8,
            format="PNG",
            size_bytes=100,
        )
        for i in range(start, start + n)
    )
    return list(Image.objects.filter(project=project).order_by("pk"))[-n:]


def adaptive_project(**settings) -> Project:
    return ProjectFactory(
        overlap=2,
        overlap_mode="adaptive",
        overlap_max=settings.pop("overlap_max", 4),
        adaptive_confidence=THRESHOLD,
        **settings,
    )


def label_through_queue(project: Project, annotators, choose) -> int:
    """Each annotator in turn asks the queue and labels what it gives (``choose(i, image_id)``),
    until the queue has nothing left for anyone; returns how many labels were given."""
    given = 0
    while True:
        progress = False
        for i, annotator in enumerate(annotators):
            lease = queue_next_image(project=project, annotator=annotator)
            if lease is None:
                continue
            annotation_submit(
                project=project,
                annotator=annotator,
                image_id=lease.image_id,
                labels=_as_list(choose(i, lease.image_id)),
            )
            given, progress = given + 1, True
        if not progress:
            return given


def _as_list(labels: str | list[str]) -> list[str]:
    return [labels] if isinstance(labels, str) else labels


def assert_each_image_asked_exactly_what_its_labels_needed(project: Project) -> None:
    """Replays every image's labels in the order they came (ids are written under the
    image's lock): each label past the overlap was asked for by the ones before it, and
    the last ones asked for no more. Annotators are all at the prior (no final labels)."""
    assert not FinalLabel.objects.filter(image__project=project).exists()
    labels: dict[int, list[int]] = {}
    rows = Annotation.objects.filter(project=project).order_by("id")
    for image_id, label_id in rows.values_list("image_id", "labels"):
        labels.setdefault(image_id, []).append(label_id)
    for image in Image.objects.filter(project=project):
        given = labels[image.pk]
        assert len(given) == image.annotation_count == project.overlap + image.extra_annotations
        assert image.is_complete and len(given) <= project.overlap_max
        for n in range(project.overlap, len(given) + 1):
            decision = adaptive_decision(
                [(label, PRIOR_ACCURACY) for label in given[:n]],
                k=K,
                threshold=THRESHOLD,
                needed=n,
                maximum=project.overlap_max,
            )
            assert decision.more == (n < len(given)), (image.pk, given[:n])


@pytest.mark.django_db
def test_agreeing_images_get_two_labels_and_contested_ones_more():
    project = adaptive_project()
    images = [image.pk for image in new_images(project, 8)]
    agreed, contested = images[:4], images[4:]
    annotators = [UserFactory() for _ in range(5)]
    for annotator in annotators:
        add_member(project, annotator)

    def choose(i: int, image_id: int) -> str:
        return "cat" if image_id in agreed or i % 2 == 0 else "dog"

    given = label_through_queue(project, annotators, choose)

    counts = Counter(Annotation.objects.values_list("image_id", flat=True))
    assert all(counts[image_id] == 2 for image_id in agreed)
    assert all(3 <= counts[image_id] <= 4 for image_id in contested)
    assert given == sum(counts.values())
    assert_each_image_asked_exactly_what_its_labels_needed(project)
    assert not Assignment.objects.exists()
    shares = ImageCounter.objects.filter(project_id=project.pk)
    assert sum(s.complete for s in shares) == 8 and sum(s.started for s in shares) == 0
    assert sum(s.annotations for s in shares) == given


@pytest.mark.django_db
def test_fixed_overlap_asks_for_no_one_more():
    project = ProjectFactory(overlap=2, overlap_max=4, adaptive_confidence=THRESHOLD)
    [image] = new_images(project, 1)
    annotators = [UserFactory() for _ in range(4)]
    for annotator in annotators:
        add_member(project, annotator)
    label_through_queue(project, annotators, lambda i, _: ["cat", "dog"][i % 2])
    image.refresh_from_db()
    assert (image.annotation_count, image.extra_annotations, image.is_complete) == (2, 0, True)


@pytest.mark.django_db
def test_a_contested_image_waits_for_its_third_opinion_before_a_final_label():
    project = adaptive_project()
    [image] = new_images(project, 1)
    annotators = [UserFactory() for _ in range(3)]
    for annotator in annotators:
        add_member(project, annotator)
    for annotator, label in zip(annotators[:2], ["cat", "dog"], strict=True):
        lease = queue_next_image(project=project, annotator=annotator)
        assert lease is not None and lease.image_id == image.pk
        annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=[label])
    image.refresh_from_db()
    assert (image.extra_annotations, image.is_complete) == (1, False)
    assert not consensus_rows(project).eligible.any()
    assert review_candidates(project).row_of(image.pk) is None  # not a disagreement yet
    final_labels_refresh(project=project)
    assert not FinalLabel.objects.exists()

    lease = queue_next_image(project=project, annotator=annotators[2])
    assert lease is not None and lease.image_id == image.pk
    annotation_submit(project=project, annotator=annotators[2], image_id=image.pk, labels=["cat"])
    image.refresh_from_db()
    # Two against one is not sure enough (0.88 < 0.9): a fourth is asked for, and the
    # three who labelled it are not asked again.
    assert (image.extra_annotations, image.is_complete) == (2, False)
    assert all(queue_next_image(project=project, annotator=a) is None for a in annotators)


@pytest.mark.django_db
def test_settings_changes_keep_the_asked_for_annotators_within_bounds():
    project = adaptive_project()
    [image] = new_images(project, 1)
    annotators = [UserFactory() for _ in range(2)]
    for annotator, label in zip(annotators, ["cat", "dog"], strict=True):
        add_member(project, annotator)
        queue_next_image(project=project, annotator=annotator)
        annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=[label])
    image.refresh_from_db()
    assert (image.extra_annotations, image.is_complete) == (1, False)

    assert review_candidates(project).row_of(image.pk) is None
    project = flows.project_update(project=project, overlap_max=2)  # no room beyond overlap
    image.refresh_from_db()
    assert (image.extra_annotations, image.is_complete) == (0, True)
    # Complete now, and still split: a person decides it (the cached queue follows).
    assert review_candidates(project).row_of(image.pk) is not None

    project = flows.project_update(project=project, overlap_max=4, overlap_mode="fixed")
    image.refresh_from_db()
    assert (image.extra_annotations, image.is_complete) == (0, True)


@pytest.mark.django_db
def test_annotators_accuracy_is_their_agreement_with_final_labels():
    project = ProjectFactory(overlap=1)
    lead, good, poor = UserFactory(), UserFactory(), UserFactory()
    for user in (good, poor):
        add_member(project, user)
    images = new_images(project, 6)
    for image in images:
        image_decide(
            project=project, image_id=image.pk, labels=["cat"], decided_by=lead, method="gold"
        )
        for user, label in ((good, "cat"), (poor, "dog")):
            annotation_record(project=project, annotator=user, image_id=image.pk, labels=[label])
    accuracies = annotator_accuracies(project.pk, [good.pk, poor.pk, lead.pk])
    assert accuracies[good.pk] == pytest.approx(accuracy_estimate(6, 6))
    assert accuracies[poor.pk] == pytest.approx(accuracy_estimate(0, 6))
    assert accuracies[lead.pk] == PRIOR_ACCURACY  # no labels of their own yet


@pytest.mark.django_db
def test_multi_label_images_compare_whole_label_sets():
    project = adaptive_project(multi_label=True)
    [split, same] = new_images(project, 2)
    annotators = [UserFactory() for _ in range(2)]
    for annotator in annotators:
        add_member(project, annotator)
    given = {
        (0, split.pk): ["cat", "dog"],
        (1, split.pk): ["cat"],
        (0, same.pk): ["cat", "dog"],
        (1, same.pk): ["dog", "cat"],
    }
    label_through_queue(project, annotators, lambda i, image_id: given[(i, image_id)])
    split.refresh_from_db()
    same.refresh_from_db()
    assert (split.extra_annotations, split.is_complete) == (1, False)
    assert (same.extra_annotations, same.is_complete) == (0, True)
