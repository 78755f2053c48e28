"""Linking an imported account to a member on the project's Members page: the form shows
on imported accounts only, and the page says what moved, what stayed and why not."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from labeler.annotations.models import Annotation
from labeler.annotations.submit import annotation_record
from labeler.imports.applying.accounts import people_resolve
from labeler.imports.planning.people import people_match
from labeler.imports.reading.records import Person
from labeler.projects.models import Membership
from tests.factories import annotation_submit
from tests.rows import row_counts

pytestmark = pytest.mark.django_db


def client_as(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def vendor(project):
    matches = people_match(project=project, people=[Person("ls:7", username="vendor")])
    return people_resolve(project=project, matches=matches)["ls:7"]


def members_url(project) -> str:
    return reverse("project-members", args=[project.pk])


def link(client: Client, project, user, to: str) -> str:
    response = client.post(
        members_url(project), {"action": "link", "user": user.pk, "to": to}, follow=True
    )
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_imported_accounts_get_the_link_form(project, vendor, lead):
    """Only the imported account's row has it, choosing among active members."""
    page = client_as(lead).get(members_url(project)).content.decode()
    forms = re.findall(r'<form method="post" class="link-form">.*?</form>', page, re.S)
    assert len(forms) == 1
    assert f'name="user" value="{vendor.pk}"' in forms[0]
    assert "csrfmiddlewaretoken" in forms[0]
    options = re.findall(r'<option value="([^"]+)">', forms[0])
    assert options == ["ann1", "ann2", "lead"]
    assert "Link to member" in forms[0]


def test_linking_moves_and_says_what_stayed(project, vendor, lead, annotator, make_images):
    a, b = make_images(project, 2)
    for image, label in ((a, "cat"), (b, "dog")):
        annotation_record(project=project, annotator=vendor, image_id=image.pk, labels=[label])
    annotation_submit(project=project, annotator=annotator, image_id=b.pk, labels=["bird"])

    page = link(client_as(lead), project, vendor, "ann1")

    assert "1 annotation of vendor moved to ann1." in page
    assert (
        f"1 image both labelled stays with vendor: image {b.pk} (vendor: dog, ann1: bird)." in page
    )
    assert Annotation.objects.get(image=a).annotator == annotator
    assert Membership.objects.filter(project=project, user=vendor).exists()


def test_a_link_once_nothing_is_left_takes_the_account_out(project, vendor, lead, make_images):
    [image] = make_images(project, 1)
    annotation_record(project=project, annotator=vendor, image_id=image.pk, labels=["cat"])
    page = link(client_as(lead), project, vendor, "ann2")
    assert "1 annotation of vendor moved to ann2. vendor left the project." in page
    assert 'class="link-form"' not in page


@pytest.mark.parametrize(
    ("who", "to", "says"),
    [
        ("ann1", "ann2", "ann1 was not linked: 'ann1' is not an imported account"),
        ("vendor", "", "vendor was not linked: Name the member to link to"),
        ("vendor", "nobody", "vendor was not linked: No member of this project is named 'nobody'"),
    ],
)
def test_a_wrong_link_says_why_and_changes_nothing(
    project, vendor, lead, annotator, make_images, who, to, says
):
    [image] = make_images(project, 1)
    annotation_record(project=project, annotator=vendor, image_id=image.pk, labels=["cat"])
    source = vendor if who == "vendor" else annotator
    before = row_counts()
    assert says in link(client_as(lead), project, source, to)
    assert row_counts() == before


def test_annotators_cannot_link(project, vendor, annotator, make_images):
    [image] = make_images(project, 1)
    annotation_record(project=project, annotator=vendor, image_id=image.pk, labels=["cat"])
    response = client_as(annotator).post(
        members_url(project), {"action": "link", "user": vendor.pk, "to": "ann1"}
    )
    assert response.status_code == 403
    assert Annotation.objects.get(image=image).annotator == vendor
