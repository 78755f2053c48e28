"""A standing holds its annotator only while they are one: the queue tests and pauses
annotators, and leads act on annotators' standings only."""

from __future__ import annotations

import pytest

from labeler.agreement.services import image_decide
from labeler.annotations.models import AnnotatorStanding, StandingStatus
from labeler.projects.models import Membership, Role
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def tested(lead, make_images):
    """A 2-image test (pass mark 1.0) on 3 gold "cat" images, and 3 ordinary images."""
    project = ProjectFactory(
        overlap=1, gold_rate=0.0, qualification_gold_count=2, qualification_pass_mark=1.0
    )
    add_member(project, lead, Role.LEAD)
    images = make_images(project, 6)
    for image in images[:3]:
        image_decide(
            project=project, image_id=image.pk, labels=["cat"], decided_by=lead, method="gold"
        )
    return project


def next_image(project, user):
    return client_for(user).get(f"/api/v1/projects/{project.pk}/next/")


def fail_the_test(project, user):
    for _ in range(2):
        response = next_image(project, user)
        assert response.status_code == 200, response.content
        answer = client_for(user).post(
            f"/api/v1/projects/{project.pk}/annotations/",
            {"image": response.json()["image"]["id"], "labels": ["dog"]},
            format="json",
        )
        assert answer.status_code == 201, answer.content
    assert next_image(project, user).status_code == 403


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.LEAD])
def test_a_failed_annotator_made_a_reviewer_or_lead_is_not_held(tested, lead, role):
    """They were refused the queue (403 qualification_failed, "a lead lets you retake")
    while no lead could let them (409: not an annotator): locked out for good."""
    user = UserFactory(username="new")
    add_member(tested, user)
    fail_the_test(tested, user)
    Membership.objects.filter(project=tested, user=user).update(role=role)
    response = next_image(tested, user)
    assert response.status_code == 200, response.content
    # Made an annotator again, the failed test holds them again.
    Membership.objects.filter(project=tested, user=user).update(role=Role.ANNOTATOR)
    response = next_image(tested, user)
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "qualification_failed"
    standing = AnnotatorStanding.objects.get(project=tested, annotator=user)
    assert standing.status == StandingStatus.FAILED
