"""Labels go only where the queue allows, leases are capped, and the queue stays blind.

Each test here was a way around the queue: a label for an image never handed out, one past
the overlap, every lease of a project held by one annotator, gold images and spot checks
told apart by what the answers carry.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeler.agreement.services import final_labels_refresh, image_decide
from labeler.annotations.models import Annotation, Assignment, FinalLabel
from labeler.annotations.services import assignments_purge_expired
from labeler.images.models import Image
from labeler.projects.models import Project
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit, skip_create
from tests.rows import row_counts

# SQL, triggers or task running that differ on the embedded default: run there too.
pytestmark = pytest.mark.embedded


def url(project: Project, path: str = "annotations/") -> str:
    return f"/api/v1/projects/{project.pk}/{path}"


def post(project: Project, user, image_id: int, label: str = "cat"):
    return client_for(user).post(
        url(project), {"image": image_id, "labels": [label]}, format="json"
    )


def take_next(project: Project, user, exclude: list[int] | None = None) -> dict:
    params = {"exclude": ",".join(map(str, exclude))} if exclude else {}
    response = client_for(user).get(url(project, "next/"), params)
    assert response.status_code == 200, response.content
    return response.json()


def crowd(project: Project, n: int) -> list:
    users = [UserFactory(username=f"crowd{i}") for i in range(n)]
    for user in users:
        add_member(project, user)
    return users


# A new label needs the queue's lease


def test_a_label_for_an_image_never_handed_out_is_409(project, annotator, make_images):
    """Nothing is written; the answer says why and what to do instead."""
    [image] = make_images(project, 1)
    before = row_counts()
    response = post(project, annotator, image.pk)
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "not_handed_out"
    assert f"Image {image.pk} was not handed to you" in body["detail"]
    assert row_counts() == before


def test_the_image_next_handed_out_is_taken(project, annotator, make_images):
    make_images(project, 2)
    image_id = take_next(project, annotator)["image"]["id"]
    assert post(project, annotator, image_id).status_code == 201


def test_changing_ones_own_label_needs_no_lease(project, annotator, make_images):
    make_images(project, 1)
    image_id = take_next(project, annotator)["image"]["id"]
    assert post(project, annotator, image_id, "cat").status_code == 201
    assert not Assignment.objects.exists()
    assert post(project, annotator, image_id, "dog").status_code == 200


def test_a_skipped_image_may_still_be_labelled(project, annotator, make_images):
    """Looking back at a skip and labelling it takes the skip back, while there is room."""
    make_images(project, 1)
    image_id = take_next(project, annotator)["image"]["id"]
    skip_create(project=project, annotator=annotator, image_id=image_id)
    assert post(project, annotator, image_id).status_code == 201
    assert Image.objects.get(pk=image_id).annotation_count == 1


def test_a_late_label_is_taken_while_its_image_has_room(project, annotator, make_images):
    """A lease that expired (the page's saved work sent after a lost connection) still
    lets its label in when no one took the slot."""
    make_images(project, 1)
    image_id = take_next(project, annotator)["image"]["id"]
    Assignment.objects.update(expires_at=timezone.now() - timedelta(hours=1))
    assert assignments_purge_expired() == 0  # kept for late labels
    assert post(project, annotator, image_id).status_code == 201


def test_a_late_label_whose_slot_was_taken_is_409(project, make_images):
    """Overlap 2: the first annotator's lease expired, two others took the image since;
    the late label is refused, and the image keeps 2 labels."""
    late, *others = crowd(project, 3)
    make_images(project, 1)
    image_id = take_next(project, late)["image"]["id"]
    Assignment.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    for user in others:
        assert take_next(project, user)["image"]["id"] == image_id
    assert post(project, others[0], image_id).status_code == 201
    # The second other holds a live lease: the late label may not take its slot either.
    response = post(project, late, image_id)
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "image_full"
    assert response.json()["detail"] == (
        f"Image {image_id} has all the labels it needs (2): your lease on it ran out and "
        "others took its place. Nothing was saved for it."
    )
    assert post(project, others[1], image_id).status_code == 201
    assert Image.objects.get(pk=image_id).annotation_count == 2


def test_a_late_label_on_an_image_completed_meanwhile_says_its_lease_ran_out(project, make_images):
    """Overlap 1: the lease ran out and another annotator labelled the image, now
    complete; the late label is refused saying so, and nothing is written."""
    Project.objects.filter(pk=project.pk).update(overlap=1)
    project.refresh_from_db()
    late, other = crowd(project, 2)
    make_images(project, 1)
    image_id = take_next(project, late)["image"]["id"]
    Assignment.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert post(project, other, image_id).status_code == 409  # never handed to them
    assert take_next(project, other)["image"]["id"] == image_id
    assert post(project, other, image_id).status_code == 201
    before = row_counts()
    response = post(project, late, image_id)
    assert response.status_code == 409, response.content
    assert response.json()["detail"] == (
        f"Image {image_id} has all the labels it needs (1): your lease on it ran out and "
        "others took its place. Nothing was saved for it."
    )
    assert row_counts() == before


def test_a_lowered_overlap_refuses_labels_past_it(project, make_images):
    """Both annotators hold a lease; the lead lowers the overlap to 1: the first label
    completes the image and the second is refused."""
    first, second = crowd(project, 2)
    make_images(project, 1)
    image_id = take_next(project, first)["image"]["id"]
    assert take_next(project, second)["image"]["id"] == image_id
    Project.objects.filter(pk=project.pk).update(overlap=1)
    assert post(project, first, image_id).status_code == 201
    refused = post(project, second, image_id).json()
    assert refused["code"] == "image_full"
    assert "the project's overlap was lowered" in refused["detail"]
    assert Annotation.objects.filter(image_id=image_id).count() == 1


def test_a_consensus_cannot_be_outvoted_from_outside_the_queue(lead, make_images):
    """The attack found: overlap 3 images labelled cat by three annotators; others post dog
    on them directly. Every such post is refused and the final label stays cat."""
    project = ProjectFactory(overlap=3)
    add_member(project, lead, "lead")
    voters, attackers = crowd(project, 3), [UserFactory(username=f"x{i}") for i in range(4)]
    for user in attackers:
        add_member(project, user)
    [image] = make_images(project, 1)
    for user in voters:
        annotation_submit(project=project, annotator=user, image_id=image.pk, labels=["cat"])
    final_labels_refresh(project=project)
    for user in attackers:
        assert post(project, user, image.pk, "dog").status_code == 409
    final_labels_refresh(project=project)
    final = FinalLabel.objects.get(image=image)
    assert [label.name for label in final.labels.all()] == ["cat"]
    assert Image.objects.get(pk=image.pk).annotation_count == 3


def test_a_gold_image_takes_every_annotators_label(lead, make_images):
    """Gold images score annotators: the queue hands them to everyone, past the overlap."""
    project = ProjectFactory(overlap=1, gold_rate=1.0)
    add_member(project, lead, "lead")
    users = crowd(project, 3)
    [image] = make_images(project, 1)
    image_decide(project=project, image_id=image.pk, labels=["cat"], decided_by=lead, method="gold")
    for user in users:
        assert take_next(project, user)["image"]["id"] == image.pk
        assert post(project, user, image.pk).status_code == 201
    assert Image.objects.get(pk=image.pk).annotation_count == 3


# Live leases are capped


def test_one_annotator_cannot_hold_every_lease(
    project, annotator, annotator2, make_images, settings
):
    """Asking next/ again and again with every held image excluded stops at the cap with a
    409 that says so; the next annotator still gets images."""
    settings.LABELER_MAX_LEASES = 4
    make_images(project, 10)
    held: list[int] = []
    for _ in range(4):
        held.append(take_next(project, annotator, held)["image"]["id"])
    response = client_for(annotator).get(
        url(project, "next/"), {"exclude": ",".join(map(str, held))}
    )
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "lease_limit"
    assert "You hold 4 images already" in response.json()["detail"]
    assert Assignment.objects.filter(annotator=annotator).count() == 4
    take_next(project, annotator2)  # 200: the others' queue goes on
    # Without the exclusions the annotator gets a held image back; labelling one frees a lease.
    assert take_next(project, annotator)["image"]["id"] == held[0]
    assert post(project, annotator, held[0]).status_code == 201
    assert take_next(project, annotator, held[1:])["image"]["id"] not in held


def test_the_cap_leaves_room_for_the_pages_look_ahead(settings):
    """The labelling page holds the image on screen, three ahead and one set aside."""
    assert settings.LABELER_MAX_LEASES >= 5


# What annotators are told carries nothing that tells gold or spot checks apart


def test_a_gold_image_past_its_overlap_looks_like_any_other(lead, make_images):
    """Once overlap annotators labelled a gold image, a later annotator gets it with the
    same fields as a fresh image: no count, no completeness."""
    project = ProjectFactory(overlap=2, gold_rate=0.0)
    add_member(project, lead, "lead")
    first, second, later = crowd(project, 3)
    gold, fresh = make_images(project, 2)
    image_decide(project=project, image_id=gold.pk, labels=["cat"], decided_by=lead, method="gold")
    for user in (first, second):
        annotation_submit(project=project, annotator=user, image_id=gold.pk, labels=["cat"])
    project.gold_rate = 1.0
    project.save()
    handed = take_next(project, later)
    assert handed["image"]["id"] == gold.pk
    project.gold_rate = 0.0
    project.save()
    ordinary = take_next(project, later, [gold.pk])
    assert ordinary["image"]["id"] == fresh.pk
    assert handed["image"].keys() == ordinary["image"].keys()
    assert not {"annotation_count", "is_complete", "priority"} & handed["image"].keys()


def test_annotators_read_images_without_counts(project, annotator, lead, make_images):
    [image] = make_images(project, 1)
    assert take_next(project, annotator)["image"]["id"] == image.pk  # handed to them: listed
    mine = client_for(annotator).get(url(project, f"images/{image.pk}/")).json()
    listed = client_for(annotator).get(url(project, "images/")).json()["results"][0]
    assert "annotation_count" not in mine and "is_complete" not in listed
    assert "annotation_count" in client_for(lead).get(url(project, f"images/{image.pk}/")).json()


def test_annotators_cannot_filter_images_by_completeness(project, annotator, lead, make_images):
    make_images(project, 1)
    response = client_for(annotator).get(url(project, "images/"), {"is_complete": "true"})
    assert response.status_code == 403
    assert "label blind" in response.json()["detail"]
    assert client_for(lead).get(url(project, "images/"), {"is_complete": "true"}).status_code == 200


def test_the_purge_drops_only_leases_past_the_late_window(
    project, annotator, make_images, settings
):
    settings.LABELER_LATE_SUBMIT_SECONDS = 3600
    make_images(project, 2)
    first = take_next(project, annotator)["image"]["id"]
    take_next(project, annotator, [first])
    Assignment.objects.filter(image_id=first).update(
        expires_at=timezone.now() - timedelta(seconds=3601)
    )
    assert assignments_purge_expired() == 1
    assert Assignment.objects.count() == 1
