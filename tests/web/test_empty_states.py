"""What the pages say on a new project: nothing yet is said as it is, with the next step.

Each empty page through the Django test client; tests/browser/test_empty_project.py walks
the same pages in Chromium, where the scripts draw what they draw.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from labeler.projects.models import Project, Role
from tests.factories import ProjectFactory, add_member, annotation_submit

pytestmark = pytest.mark.django_db


def client_as(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def script_data(html: str, name: str) -> dict[str, Any]:
    start = html.index(f'<script id="{name}" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def review_empty(project: Project, user: Any) -> dict[str, str]:
    response = client_as(user).get(reverse("review", args=[project.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    data = script_data(html, "review-data")["empty"]
    # The page's own markup says the same before its script runs.
    assert f'<h2 id="empty-title">{data["title"]}</h2>' in html
    assert "All agreed" not in html
    return data


def test_review_queue_of_a_project_without_images_says_upload(project, lead):
    """No images: the queue says there is nothing to review because nothing is uploaded."""
    empty = review_empty(project, lead)
    assert empty["state"] == "no-images"
    assert empty["title"] == "No images yet — nothing to review"
    assert empty["link"] == reverse("project-upload", args=[project.pk])


def test_review_queue_before_any_label_says_nothing_is_labelled(project, lead, make_images):
    """Images but no label: not "all agreed" but nothing labelled, and where to label."""
    make_images(project, 3)
    empty = review_empty(project, lead)
    assert empty["state"] == "no-labels"
    assert empty["title"] == "Nothing labelled yet — nothing to review"
    assert "None of the 3 images has a label yet." in empty["text"]
    assert "2 annotators who label it disagree" in empty["text"]
    assert empty["link"] == reverse("label", args=[project.pk])


def test_review_queue_before_any_image_reaches_the_overlap(
    project, reviewer, annotator, make_images
):
    """Labels, but no image labelled by the project's two annotators yet: it says so."""
    images = make_images(project, 3)
    annotation_submit(project=project, annotator=annotator, image_id=images[0].pk, labels=["cat"])
    empty = review_empty(project, reviewer)
    assert empty["state"] == "not-complete"
    assert empty["title"] == "No image has reached 2 annotators yet"
    assert empty["text"].startswith("1 label so far.")


def test_review_queue_with_every_image_agreed_counts_them(
    project, lead, annotator, annotator2, make_images
):
    """Two images agreed, one waiting: nothing to review, with how many are settled."""
    images = make_images(project, 3)
    for image in images[:2]:
        for who in (annotator, annotator2):
            annotation_submit(project=project, annotator=who, image_id=image.pk, labels=["dog"])
    empty = review_empty(project, lead)
    assert empty["state"] == "settled"
    assert empty["title"] == "Nothing to review"
    assert empty["text"].startswith(
        "All 2 fully labelled images are agreed on or decided. 1 image still waits for labels."
    )


def dashboard_html(project: Project, user: Any) -> str:
    response = client_as(user).get(reverse("agreement-dashboard", args=[project.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_dashboard_shows_the_agreement_figures_before_who_may_label(
    project, lead, annotator, make_images
):
    """With labels, the kappa heat map comes first; the annotators' standings follow."""
    (image,) = make_images(project, 1)
    annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=["dog"])
    html = dashboard_html(project, lead)
    assert html.index('id="pairs-card"') < html.index('id="standings-card"')
    assert html.index('id="confusion-card"') < html.index('id="sway-card"')
    assert "Which labels get confused <span" in html and "in images" in html


def test_dashboard_folds_the_sway_card_until_there_is_something_to_compare(project, lead):
    """No model, no labels: the sway card is one folded line that says when it fills."""
    html = dashboard_html(project, lead)
    assert '<details class="card wide suggestion-sway" id="sway-card">' in html
    assert "— no model suggests labels yet" in html
    assert 'id="sway"' not in html  # no table of headers only


def test_dashboard_of_a_project_without_images_says_upload(lead):
    """No images: no "0%" complete, but that there are none and where to upload them."""
    project = ProjectFactory(name="New", overlap=2)
    add_member(project, lead, Role.LEAD)
    html = dashboard_html(project, lead)
    assert 'id="no-images-note"' in html and "upload some" in html
    assert "0% ·" not in html
    assert f'href="{reverse("project-members", args=[project.pk])}"' in html
    assert "No annotators in this project yet" in html


def test_dashboard_of_a_one_annotator_project_says_agreement_needs_two(lead, make_images):
    """One annotator an image: no agreement to measure, and the page says where to change it."""
    project = ProjectFactory(name="Solo", overlap=1)
    add_member(project, lead, Role.LEAD)
    make_images(project, 2)
    html = dashboard_html(project, lead)
    assert 'id="overlap-one"' in html
    assert "Each image is labelled by one annotator, so no two labels" in html
    assert f'href="{reverse("project-edit", args=[project.pk])}"' in html


@pytest.mark.parametrize(
    ("page", "says"),
    [
        ("images-browse", "No images in this project yet."),
        ("duplicates", "No near-duplicates looked for: grouping is turned off."),
        ("project-throughput", "No labels yet: each annotator's labels, pace and agreement"),
        ("machine-review", "No machine labels yet: there is no model to make them"),
        ("project-export", "No images yet: <a href="),
        ("project-detail", "No images yet."),
    ],
)
def test_pages_of_a_project_without_images_say_so(lead, page, says):
    """Each page of a new project says what is missing, never a result of nothing."""
    project = ProjectFactory(name="New", overlap=2)
    add_member(project, lead, Role.LEAD)
    html = client_as(lead).get(reverse(page, args=[project.pk])).content.decode()
    assert says in html
    for misleading in ("No image matches these filters", "0 of 0", "No near-duplicates found"):
        assert misleading not in html
