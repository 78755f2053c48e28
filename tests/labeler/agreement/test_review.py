"""The review queue: which images a person should decide, why, in what order, and its cache."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from labeler.agreement.review import REASONS, review_candidates, review_queue
from labeler.agreement.services import final_labels_refresh, image_decide
from labeler.annotations.submit import annotation_record
from labeler.errors import NotFound, ValidationFailed
from labeler.predictions.review import review_item, review_items
from labeler.predictions.selectors import suggestion_for
from labeler.projects.models import Label, Role
from tests.factories import (
    ModelVersionFactory,
    ProjectFactory,
    UserFactory,
    add_member,
    predict,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def crowd(lead, make_images):
    """Overlap 3, threshold 0.7, four annotators, and images labelled to cover every case."""
    project = ProjectFactory(overlap=3, review_threshold=0.7)
    add_member(project, lead, Role.LEAD)
    users = [UserFactory(username=f"rater{i}") for i in range(4)]
    for user in users:
        add_member(project, user)
    names = ["agreed", "low", "tie", "split", "short", "unrated"]
    images = dict(zip(names, make_images(project, len(names)), strict=True))
    votes = {
        "agreed": ["cat", "cat", "cat"],
        "low": ["cat", "cat", "dog"],  # 2 of 3: 0.67 < 0.7
        "tie": ["cat", "dog", "bird"],  # three-way tie
        "split": ["cat", "cat", "cat", "dog"],  # 0.75, yet not unanimous
        "short": ["cat", "dog"],  # only 2 of 3 ratings: waits for the third
    }
    for name, labels in votes.items():
        for user, label in zip(users, labels, strict=False):
            vote(project, user, images[name], label)
    return project, users, images


def vote(project, user, image, *labels):
    """Record a label as given (more raters than the overlap, as an import may bring)."""
    annotation_record(project=project, annotator=user, image_id=image.pk, labels=list(labels))


def queue_of(project, **kwargs) -> list[tuple[int, str]]:
    return [(entry.image_id, entry.reason) for entry in review_queue(project, **kwargs)]


def test_reasons_and_order_most_uncertain_first(crowd):
    """Tie, low confidence and disagreement are in; agreed and short images are not."""
    project, _, images = crowd
    assert queue_of(project) == [
        (images["tie"].pk, "tie"),
        (images["low"].pk, "low_confidence"),
        (images["split"].pk, "disagreement"),
    ]
    queue = review_queue(project)
    assert queue.counts == {"requested": 0, "tie": 1, "low_confidence": 1, "disagreement": 1}
    low = queue[1]
    cat = Label.objects.get(project=project, name="cat")
    assert low.consensus.label_ids == [cat.pk]
    assert low.consensus.confidence == pytest.approx(2 / 3)
    assert low.consensus.method == "majority"
    assert queue[0].consensus.label_ids == []  # a tie decides nothing


def test_a_reason_filter_keeps_the_counts_of_the_whole_queue(crowd):
    """?reason narrows the list, not the per-reason counts; an unknown reason is refused."""
    project, _, images = crowd
    queue = review_queue(project, reason="disagreement")
    assert [entry.image_id for entry in queue] == [images["split"].pk]
    assert len(queue) == 1 and sum(queue.counts.values()) == 3
    with pytest.raises(ValidationFailed):
        review_queue(project, reason="boring")


def test_equal_confidence_keeps_id_order(lead, annotator, annotator2, project, make_images):
    """Images equally uncertain come in id order, so pages are stable."""
    images = make_images(project, 4)
    for image in reversed(images):
        vote(project, annotator, image, "cat")
        vote(project, annotator2, image, "dog")
    assert [image_id for image_id, _ in queue_of(project)] == [image.pk for image in images]


def test_decided_images_leave_the_queue_without_a_recount(crowd, lead, django_assert_num_queries):
    """Adjudicated and gold images are out; the cached candidates survive the decision."""
    project, _, images = crowd
    review_queue(project)
    image_decide(
        project=project,
        image_id=images["low"].pk,
        labels=["dog"],
        decided_by=lead,
        method="adjudicated",
    )
    image_decide(
        project=project, image_id=images["tie"].pk, labels=["bird"], decided_by=lead, method="gold"
    )
    # Final labels checked current, the watermark, the requested and decided ids; no ratings.
    with django_assert_num_queries(4):
        assert queue_of(project) == [(images["split"].pk, "disagreement")]
    item = review_item(project, images["low"].pk)
    assert (item.reason, item.final_label.method) == ("low_confidence", "adjudicated")


def test_the_cache_follows_new_and_changed_annotations(crowd, django_assert_num_queries):
    """Cached while nothing changes; a changed label or a new rating shows at once."""
    project, users, images = crowd
    review_candidates(project)
    with django_assert_num_queries(1):  # the watermark only
        review_candidates(project)
    vote(project, users[2], images["low"], "cat")  # now unanimous
    assert images["low"].pk not in [image_id for image_id, _ in queue_of(project)]
    vote(project, users[2], images["short"], "bird")  # third rating: a three-way tie
    assert (images["short"].pk, "tie") in queue_of(project)


def test_settings_are_part_of_the_cache_key(crowd):
    """Lowering the threshold turns a low-confidence image into a plain disagreement."""
    project, _, images = crowd
    assert (images["low"].pk, "low_confidence") in queue_of(project)
    project.review_threshold = 0.6
    project.save()
    assert (images["low"].pk, "disagreement") in queue_of(project)
    project.consensus_method = "dawid_skene"
    project.save()
    assert review_queue(project)[0].consensus.method == "dawid_skene"
    assert review_queue(project).counts["tie"] == 0  # Dawid-Skene never ties


def test_multi_label_sets_that_differ_need_review(lead, annotator, annotator2, make_images):
    """Multi-label: a label half the annotators gave is a tie; equal sets are agreed."""
    project = ProjectFactory(multi_label=True, overlap=2)
    for user, role in ((lead, Role.LEAD), (annotator, Role.ANNOTATOR), (annotator2, "annotator")):
        add_member(project, user, role)
    same, differ = make_images(project, 2)
    for user in (annotator, annotator2):
        vote(project, user, same, "cat", "dog")
    vote(project, annotator, differ, "cat", "dog")
    vote(project, annotator2, differ, "cat")
    assert queue_of(project) == [(differ.pk, "tie")]


def test_items_carry_annotations_suggestion_and_final_label(crowd, django_assert_max_num_queries):
    """A page's details: who gave what, the model's suggestion (as the queue shows it)."""
    project, _, images = crowd
    model = ModelVersionFactory(project=project)
    ids = dict(Label.objects.filter(project=project).values_list("name", "pk"))
    for image in images.values():
        predict(model, image, {str(ids["cat"]): 0.2, str(ids["dog"]): 0.7, str(ids["bird"]): 0.1})
    queue = review_queue(project)
    with django_assert_max_num_queries(8):  # + the open review requests
        items = review_items(project, queue[0:3])
    assert [item.image.pk for item in items] == [entry.image_id for entry in queue]
    low = items[1]
    assert [(a.username, a.label_ids) for a in low.annotations] == [
        ("rater0", [ids["cat"]]),
        ("rater1", [ids["cat"]]),
        ("rater2", [ids["dog"]]),
    ]
    expected = suggestion_for(project=project, image=images["low"])
    assert low.suggestion is not None and asdict(low.suggestion) == asdict(expected)
    assert low.final_label is None


def test_an_agreed_image_shows_its_consensus_final_label(crowd):
    """Outside the queue an image's consensus is its consensus final label, if any."""
    project, _, images = crowd
    final_labels_refresh(project=project)
    item = review_item(project, images["agreed"].pk)
    assert item.reason is None
    assert item.consensus is not None and item.consensus.confidence == pytest.approx(1.0)
    assert review_item(project, images["unrated"].pk).consensus is None
    with pytest.raises(NotFound):
        review_item(ProjectFactory(), images["agreed"].pk)


def test_reasons_are_the_documented_ones():
    assert REASONS == ("tie", "low_confidence", "disagreement")
