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


def test_the_settings_form_shows_and_saves_the_test_and_pause_rules(project, lead):
    from tests.web.test_projects import edit_post

    url = reverse("project-edit", args=[project.pk])
    page = client_as(lead).get(url).content.decode()
    assert 'name="qualification_gold_count"' in page and 'name="pause_below_percent"' in page
    data = edit_post(
        project,
        qualification_gold_count="8",
        pass_percent="75",
        pause_below_percent="60",
        gold_pause_window="15",
    )
    assert client_as(lead).post(url, data).status_code == 302
    project.refresh_from_db()
    assert (project.qualification_gold_count, project.gold_pause_window) == (8, 15)
    assert (project.qualification_pass_mark, project.gold_pause_below) == (0.75, 0.6)
    bad = client_as(lead).post(url, edit_post(project, pass_percent="120", name="Changed"))
    assert "The pass mark is a percentage from 0 to 100." in bad.content.decode()
    project.refresh_from_db()
    assert project.name != "Changed"
