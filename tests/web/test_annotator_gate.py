"""The dashboard's "who may label" section and the lead's actions through the test client."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from labeler.annotations.models import AnnotatorStanding, StandingStatus
from labeler.projects.models import Role
from tests.factories import UserFactory, add_member

pytestmark = pytest.mark.django_db


def client_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def failed(project, annotator):
    from django.utils import timezone

    project.qualification_gold_count = 3
    project.save()
    return AnnotatorStanding.objects.create(
        project=project,
        annotator=annotator,
        status=StandingStatus.FAILED,
        test_answered=3,
        test_correct=1,
        changed_at=timezone.now(),
    )


def test_the_lead_sees_who_waits_and_lets_them_retake(project, lead, annotator, failed):
    page = client_as(lead).get(reverse("agreement-dashboard", args=[project.pk]))
    html = page.content.decode()
    assert 'id="standings-waiting"' in html and "did not pass the test (1 of 3 right)" in html
    assert "Retake the test" in html
    url = reverse("standing-action", args=[project.pk, annotator.pk])
    response = client_as(lead).post(url, {"action": "retake"}, follow=True)
    assert "ann1 takes the qualification test again." in response.content.decode()
    assert AnnotatorStanding.objects.get(pk=failed.pk).status == StandingStatus.QUALIFYING
    again = client_as(lead).post(url, {"action": "retake"}, follow=True)
    assert "only a failed or paused annotator" in again.content.decode()


def test_reviewers_see_the_section_without_actions_and_annotators_cannot_act(
    project, annotator, failed
):
    reviewer = UserFactory(username="rev")
    add_member(project, reviewer, Role.REVIEWER)
    html = client_as(reviewer).get(reverse("agreement-dashboard", args=[project.pk])).content
    assert b'id="standings"' in html and b"Retake the test" not in html
    url = reverse("standing-action", args=[project.pk, annotator.pk])
    assert client_as(reviewer).post(url, {"action": "resume"}).status_code == 403
    assert client_as(annotator).post(url, {"action": "resume"}).status_code == 403
    assert AnnotatorStanding.objects.get(pk=failed.pk).status == StandingStatus.FAILED
