"""REST: the history of an image's labels and of the whole project, for those who oversee."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeler.agreement.services import image_decide
from labeler.annotations.models import LabelChange
from labeler.annotations.services import annotation_withdraw
from tests.factories import annotation_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(project, lead, annotator, annotator2, make_images):
    """Image a: labelled, relabelled and withdrawn by one annotator, decided by the lead;
    image b: labelled by another annotator."""
    a, b = make_images(project, 2)
    mine, _ = annotation_submit(project=project, annotator=annotator, image_id=a.pk, labels=["cat"])
    annotation_submit(project=project, annotator=annotator, image_id=a.pk, labels=["dog"])
    annotation_withdraw(project=project, annotator=annotator, annotation_id=mine.pk)
    image_decide(project=project, image_id=a.pk, labels=["bird"], decided_by=lead, method="gold")
    annotation_submit(project=project, annotator=annotator2, image_id=b.pk, labels=["cat"])
    return a, b


def url(project, tail):
    return f"/api/v1/projects/{project.pk}/{tail}"


def test_an_images_history_says_who_when_from_what_to_what(api_as, lead, project, history):
    a, _ = history
    response = api_as(lead).get(url(project, f"images/{a.pk}/history/"))
    assert response.status_code == 200
    rows = response.json()
    assert [
        (r["kind"], r["method"], r["changed_by_username"], r["from_labels"], r["to_labels"])
        for r in rows
    ] == [
        ("annotation_created", "", "ann1", [], ["cat"]),
        ("annotation_changed", "", "ann1", ["cat"], ["dog"]),
        ("annotation_withdrawn", "", "ann1", ["dog"], []),
        ("final_set", "gold", "lead", [], ["bird"]),
    ]
    assert all(r["created_at"] and r["image"] == a.pk for r in rows)
    assert rows[0]["annotator_username"] == "ann1" and rows[3]["annotator"] is None
    bird = project.labels.get(name="bird").pk
    assert rows[3]["to_label_ids"] == [bird]


def test_a_removed_label_shows_by_its_id(api_as, lead, project, history):
    a, _ = history
    bird = project.labels.get(name="bird")
    bird.annotations.clear()
    bird.final_labels.clear()
    bird_id = bird.pk
    bird.delete()
    rows = api_as(lead).get(url(project, f"images/{a.pk}/history/")).json()
    assert rows[-1]["to_labels"] == [f"#{bird_id}"]


def test_the_project_history_is_newest_first_filtered_and_paged(
    api_as, reviewer, project, annotator2, history
):
    a, b = history
    client = api_as(reviewer)
    everything = client.get(url(project, "label-history/")).json()["results"]
    assert len(everything) == 5 and everything[0]["image"] == b.pk
    assert [r["id"] for r in everything] == sorted((r["id"] for r in everything), reverse=True)
    by_kind = client.get(url(project, "label-history/?kind=annotation_withdrawn")).json()
    assert [r["image"] for r in by_kind["results"]] == [a.pk]
    by_person = client.get(url(project, f"label-history/?changed_by={annotator2.pk}")).json()
    assert [r["image"] for r in by_person["results"]] == [b.pk]
    by_image = client.get(url(project, f"label-history/?image={a.pk}&method=gold")).json()
    assert [r["kind"] for r in by_image["results"]] == ["final_set"]
    start = timezone.now() - timedelta(hours=1)
    for n, change in enumerate(LabelChange.objects.order_by("id")):
        LabelChange.objects.filter(pk=change.pk).update(created_at=start + timedelta(minutes=n))
    since = (start + timedelta(minutes=2, seconds=30)).isoformat()
    recent = client.get(url(project, "label-history/"), {"since": since}).json()["results"]
    assert [r["id"] for r in recent] == [r["id"] for r in everything[:2]]
    first = client.get(url(project, "label-history/?page_size=2")).json()
    second = client.get(first["next"]).json()
    assert [r["id"] for r in first["results"] + second["results"]] == [
        r["id"] for r in everything[:4]
    ]


@pytest.mark.parametrize(
    "query",
    ["kind=renamed", "method=guess", "since=yesterday", "image=x", "changed_by=nobody"],
)
def test_bad_filters_are_400(api_as, lead, project, history, query):
    response = api_as(lead).get(url(project, f"label-history/?{query}"))
    assert response.status_code == 400
    assert response.json()["errors"]


def test_annotators_are_refused_and_strangers_see_nothing(
    api_as, annotator, outsider, lead, project, history, make_images
):
    a, _ = history
    for tail in (f"images/{a.pk}/history/", "label-history/"):
        refused = api_as(annotator).get(url(project, tail))
        assert refused.status_code == 403 and "reviewers" in refused.json()["detail"]
        assert api_as(outsider).get(url(project, tail)).status_code == 404
    other = project.__class__.objects.create(name="Other")
    [elsewhere] = make_images(other, 1)
    missing = api_as(lead).get(url(project, f"images/{elsewhere.pk}/history/"))
    assert missing.status_code == 404
