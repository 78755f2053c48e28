"""A lead's home page: per project, what waits (review, machine labels, training, flagged
annotators) with links to the lead's pages, in a pinned number of queries."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from labeler.agreement.services import image_decide
from labeler.predictions.models import MachineLabel, RunStatus, TrainingRun
from labeler.projects.models import Role
from tests.factories import ModelVersionFactory, ProjectFactory, add_member, annotation_submit

pytestmark = pytest.mark.django_db


def client_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def card(html: str, name: str) -> str:
    match = re.search(rf'<article class="card project-card".*?{name}.*?</article>', html, re.S)
    assert match, html
    return match.group(0)


@pytest.fixture
def waiting(project, annotator, annotator2, make_images):
    """A tie to review, two machine labels pending, a training running."""
    tie, *others = make_images(project, 3)
    annotation_submit(project=project, annotator=annotator, image_id=tie.pk, labels=["cat"])
    annotation_submit(project=project, annotator=annotator2, image_id=tie.pk, labels=["dog"])
    version = ModelVersionFactory(project=project)
    for image in others:
        MachineLabel.objects.create(
            project=project, image=image, model_version=version, label_ids=[1], confidence=0.9
        )
    TrainingRun.objects.create(project=project, status=RunStatus.RUNNING)
    return project


def test_a_lead_sees_what_waits_with_links(waiting, lead):
    html = card(client_as(lead).get(reverse("home")).content.decode(), waiting.name)
    assert re.search(r'<span class="n">1</span> in review', html)
    assert re.search(r'<span class="n">2</span> machine labels pending', html)
    assert "Training running" in html
    assert re.search(r'<span class="n">0</span> annotators flagged', html)
    for name in ("agreement-dashboard", "review", "models"):
        assert f'href="{reverse(name, args=[waiting.pk])}"' in html
    assert ">Images</a>" in html


def test_annotators_see_no_lead_panel(waiting, annotator):
    html = client_as(annotator).get(reverse("home")).content.decode()
    assert "lead-waits" not in html


def test_the_query_count_is_pinned_per_project(waiting, lead):
    """One project's panel costs a fixed number of queries, reports and queues cached."""
    client = client_as(lead)
    client.get(reverse("home"))  # fill the caches of the review queue and the report
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("home"))
    second = ProjectFactory(name="Second")
    add_member(second, lead, Role.LEAD)
    client.get(reverse("home"))
    with CaptureQueriesContext(connection) as two:
        client.get(reverse("home"))
    per_project = len(two) - len(one)
    assert (len(one), per_project) == (PINNED_ONE, PINNED_PER_PROJECT), [
        q["sql"][:120] for q in two.captured_queries
    ]


# Each managed project adds its card (role, progress) and its panel (the cached report's
# and review queue's watermarks, the decided images); machine labels and trainings are
# two grouped queries for every project at once.
PINNED_ONE = 19
PINNED_PER_PROJECT = 12


def test_an_annotator_wrong_on_ten_gold_images_is_counted_flagged(
    project, lead, annotator, make_images
):
    for image in make_images(project, 10):
        annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=["cat"])
        image_decide(
            project=project, image_id=image.pk, labels=["dog"], decided_by=lead, method="gold"
        )
    html = card(client_as(lead).get(reverse("home")).content.decode(), project.name)
    assert re.search(r'<span class="n">1</span> annotator flagged', html)
