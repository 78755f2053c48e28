"""POST /api/v1/projects/{id}/members/{user_id}/link/: an imported account's labels given to
a member, for leads and admins; 400 naming what is wrong, 404 outside the project."""

from __future__ import annotations

import pytest

from labeler.annotations.models import Annotation
from labeler.annotations.submit import annotation_record
from labeler.imports.applying.accounts import people_resolve
from labeler.imports.planning.people import people_match
from labeler.imports.reading.records import Person
from labeler.projects.models import Membership
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit
from tests.rows import row_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def vendor(project):
    matches = people_match(project=project, people=[Person("ls:7", username="vendor")])
    return people_resolve(project=project, matches=matches)["ls:7"]


def link_url(project, user) -> str:
    return f"/api/v1/projects/{project.pk}/members/{user.pk}/link/"


def test_the_lead_links_and_gets_the_report(project, vendor, lead, annotator, make_images):
    """Moved annotations, images both labelled (with both labels), and whether the
    imported account left the project."""
    a, b = make_images(project, 2)
    for image, label in ((a, "cat"), (b, "dog")):
        annotation_record(project=project, annotator=vendor, image_id=image.pk, labels=[label])
    annotation_submit(project=project, annotator=annotator, image_id=b.pk, labels=["bird"])

    response = client_for(lead).post(link_url(project, vendor), {"to": "ann1"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "account": "vendor",
        "member": "ann1",
        "moved": 1,
        "conflicts": [{"image": b.pk, "account_labels": ["dog"], "member_labels": ["bird"]}],
        "decisions_moved": 0,
        "membership_removed": False,
    }
    assert Annotation.objects.get(image=a).annotator == annotator


def test_an_admin_links_and_the_account_leaves_when_nothing_is_left(
    project, vendor, admin_user, make_images
):
    [image] = make_images(project, 1)
    annotation_record(project=project, annotator=vendor, image_id=image.pk, labels=["cat"])
    response = client_for(admin_user).post(link_url(project, vendor), {"to": "ann2"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["moved"], response.json()["membership_removed"]) == (1, True)
    assert not Membership.objects.filter(project=project, user=vendor).exists()
    # It is no member any more: linking again is a 404.
    again = client_for(admin_user).post(link_url(project, vendor), {"to": "ann2"}, format="json")
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("who", "body", "field", "says"),
    [
        ("vendor", {"to": "vendor"}, "to", "linked to itself"),
        ("ann2", {"to": "ann1"}, "user", "not an imported account"),
        ("vendor", {"to": "gone"}, "to", "not an active member"),
        ("vendor", {"to": "outsider"}, "to", "No member of this project is named 'outsider'"),
        ("vendor", {"to": ""}, "to", ""),
        ("vendor", {"to": 7}, "to", "Must be text"),
        ("vendor", {}, "to", ""),
    ],
)
def test_a_wrong_link_answers_400_naming_it(
    project, vendor, lead, outsider, make_images, who, body, field, says
):
    """Not an imported account, the same account, a member who cannot log in or none,
    a missing or malformed name: 400 naming the field, nothing moved."""
    gone = UserFactory(username="gone", is_active=False)
    add_member(project, gone)
    [image] = make_images(project, 1)
    annotation_record(project=project, annotator=vendor, image_id=image.pk, labels=["cat"])
    source = {"vendor": vendor, "ann2": project.memberships.get(user__username="ann2").user}[who]
    before = row_counts()

    response = client_for(lead).post(link_url(project, source), body, format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]
    assert says in response.json()["detail"]
    assert row_counts() == before
    assert Annotation.objects.get(image=image).annotator == vendor


def test_outside_the_project_it_is_not_found(project, vendor, lead, outsider):
    """A user who is no member, or a project the caller cannot see: 404."""
    client = client_for(lead)
    response = client.post(link_url(project, outsider), {"to": "ann1"}, format="json")
    assert response.status_code == 404
    assert response.json()["detail"] == f"User {outsider.pk} is not a member of this project."
    other = ProjectFactory()
    response = client.post(link_url(other, vendor), {"to": "ann1"}, format="json")
    assert response.status_code == 404


def test_annotators_and_reviewers_may_not_link(project, vendor, annotator, reviewer):
    for user in (annotator, reviewer):
        response = client_for(user).post(link_url(project, vendor), {"to": "ann1"}, format="json")
        assert response.status_code == 403
    assert Membership.objects.filter(project=project, user=vendor).exists()
