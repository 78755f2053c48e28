"""The agreement dashboard page through the Django test client: who may open it, what it carries.

The figures themselves are drawn in the browser (tests/browser/test_dashboard.py); here the
page's access rules, its server-rendered progress and the data handed to its script.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from labeler.projects.models import Label, Project, Role
from tests.factories import UserFactory, add_member, annotation_submit

pytestmark = pytest.mark.django_db


def client_as(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def dashboard_url(project: Project) -> str:
    return reverse("agreement-dashboard", args=[project.pk])


def script_data(html: str) -> dict[str, Any]:
    """The JSON the view hands to dashboard.js."""
    start = html.index('<script id="dashboard-data" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


@pytest.mark.parametrize("role", [Role.LEAD, Role.REVIEWER])
def test_leads_and_reviewers_open_the_dashboard(project, role):
    """Reviewers and leads of the project get the page."""
    user = UserFactory(username=f"the-{role}")
    add_member(project, user, role)
    response = client_as(user).get(dashboard_url(project))
    assert response.status_code == 200
    assert "agreement/dashboard.html" in [t.name for t in response.templates]


def test_admins_open_any_dashboard(project, admin_user):
    """Staff see every project's dashboard without being members."""
    assert client_as(admin_user).get(dashboard_url(project)).status_code == 200


def test_annotators_get_403(project, annotator):
    """The dashboard names annotators and compares them: annotators may not see it."""
    response = client_as(annotator).get(dashboard_url(project))
    assert response.status_code == 403
    assert b"reviewers, leads and admins" in response.content
    assert "<h1>Not allowed</h1>" in response.content.decode()


def test_strangers_get_404_and_anonymous_visitors_log_in(project, outsider):
    """A non-member learns nothing about the project; a visitor is sent to log in."""
    assert client_as(outsider).get(dashboard_url(project)).status_code == 404
    response = Client().get(dashboard_url(project))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_only_get(project, lead):
    """The page is read-only."""
    assert client_as(lead).post(dashboard_url(project)).status_code == 405


def test_empty_project_shows_the_empty_state_and_no_script(project, lead, make_images):
    """No labels yet: the page says so, and does not load the figures at all."""
    make_images(project, 3)
    response = client_as(lead).get(dashboard_url(project))
    html = response.content.decode()
    assert "No labels yet — agreement appears once two annotators label the same image" in html
    assert 'id="report"' not in html
    assert "js/dashboard.js" not in html
    assert script_data(html)["has_labels"] is False


def test_script_gets_labels_and_addresses(project, lead, annotator, make_images):
    """Labels (name, colour) in order and the endpoints the script fetches."""
    (image,) = make_images(project, 1)
    annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=["dog"])
    response = client_as(lead).get(dashboard_url(project))
    html = response.content.decode()
    data = script_data(html)
    assert data["has_labels"] is True
    assert [label["name"] for label in data["labels"]] == ["cat", "dog", "bird"]
    assert data["urls"]["agreement"] == f"/api/v1/projects/{project.pk}/agreement/"
    assert data["urls"]["review_api"] == f"/api/v1/projects/{project.pk}/review/"
    assert data["urls"]["review_page"] == f"/projects/{project.pk}/review/"
    assert "js/dashboard.js" in html
    assert response.context["progress"].annotations == 1


def test_label_names_cannot_break_out_of_the_script_data(project, lead, annotator, make_images):
    """A label named like markup stays data: json_script escapes it."""
    Label.objects.filter(project=project, name="bird").update(name="</script><b>x</b>")
    (image,) = make_images(project, 1)
    annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=["cat"])
    html = client_as(lead).get(dashboard_url(project)).content.decode()
    assert "</script><b>x</b>" not in html
    assert [label["name"] for label in script_data(html)["labels"]][-1] == "</script><b>x</b>"
