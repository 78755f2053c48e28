"""The Images page and an image's page: who may open them, filters from the address,
every label with who and when, the models' probabilities, the history, previous and next."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from labeler.agreement.services import image_decide
from labeler.annotations.models import FinalLabelMethod
from labeler.images.models import Image
from tests.factories import ModelVersionFactory, ProjectFactory, annotation_submit, predict

pytestmark = pytest.mark.django_db


def browse_url(project) -> str:
    return reverse("images-browse", args=[project.pk])


def image_url(project, image) -> str:
    return reverse("image-page", args=[project.pk, image.pk])


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def images(project, lead, annotator, annotator2, make_images):
    made = make_images(project, 4)
    for user, label in ((annotator, "cat"), (annotator2, "dog")):
        annotation_submit(project=project, annotator=user, image_id=made[1].pk, labels=[label])
    image_decide(
        project=project, image_id=made[2].pk, labels=["dog"], decided_by=lead,
        method=FinalLabelMethod.GOLD,
    )  # fmt: skip
    image_decide(
        project=project, image_id=made[3].pk, labels=["cat"], decided_by=lead,
        method=FinalLabelMethod.GOLD,
    )  # fmt: skip
    return made


def test_anonymous_visitors_are_sent_to_log_in(client, project):
    assert client.get(browse_url(project)).status_code == 302


@pytest.mark.parametrize(("who", "status"), [("outsider", 404), ("annotator", 403)])
def test_annotators_and_outsiders_cannot_open_them(request, project, images, who, status):
    client = client_of(request.getfixturevalue(who))
    assert client.get(browse_url(project)).status_code == status
    assert client.get(image_url(project, images[1])).status_code == status


@pytest.mark.parametrize("who", ["lead", "reviewer", "admin_user"])
def test_leads_reviewers_and_admins_browse(request, project, images, who):
    response = client_of(request.getfixturevalue(who)).get(browse_url(project))
    assert response.status_code == 200
    assert [row["image"].pk for row in response.context["rows"]] == [i.pk for i in images]


def test_the_project_page_links_to_the_images(project, lead):
    page = client_of(lead).get(reverse("project-detail", args=[project.pk])).content.decode()
    assert browse_url(project) in page


def test_filters_and_sort_come_from_the_address(project, lead, images):
    response = client_of(lead).get(browse_url(project), {"status": "gold", "sort": "-id"})
    assert [row["image"].pk for row in response.context["rows"]] == [images[3].pk, images[2].pk]
    page = response.content.decode()
    assert 'value="gold" checked' in page
    # Each image's link keeps the filter, for previous and next on its page.
    assert f"{image_url(project, images[3])}?status=gold&amp;sort=-id" in page


def test_a_bad_filter_value_says_what_is_wrong(project, lead, images):
    response = client_of(lead).get(browse_url(project), {"labels_min": "lots"})
    assert response.status_code == 400
    assert "labels_min: &#x27;lots&#x27; is not a whole number" in response.content.decode()


def test_pages_follow_on(project, lead, make_images):
    make_images(project, 65)
    client = client_of(lead)
    first = client.get(browse_url(project))
    assert len(first.context["rows"]) == 60 and first.context["previous_url"] is None
    second = client.get(browse_url(project) + first.context["next_url"])
    assert len(second.context["rows"]) == 5 and second.context["next_url"] is None
    table = client.get(browse_url(project), {"view": "table"})
    assert len(table.context["rows"]) == 65


def test_the_image_page_shows_labels_predictions_and_history(project, lead, images):
    model = ModelVersionFactory(project=project)
    cat, dog = (str(project.labels.get(name=name).pk) for name in ("cat", "dog"))
    predict(model, images[1], {cat: 0.25, dog: 0.75})
    response = client_of(lead).get(image_url(project, images[1]))
    assert response.status_code == 200
    annotations = response.context["annotations"]
    assert [(a["facts"].annotator, a["labels"][0]["name"]) for a in annotations] == [
        ("ann1", "cat"),
        ("ann2", "dog"),
    ]
    [prediction] = response.context["predictions"]
    assert [(row["label"], row["p"]) for row in prediction["rows"]] == [
        ("dog", 0.75), ("cat", 0.25)
    ]  # fmt: skip
    assert prediction["facts"].is_current
    kinds = [change["facts"].kind for change in response.context["history"]]
    assert kinds[:2] == ["annotation_created", "annotation_created"]


def test_previous_and_next_stay_within_the_filter(project, lead, images):
    client = client_of(lead)
    response = client.get(image_url(project, images[2]), {"status": "gold"})
    assert response.context["previous_url"] is None
    assert response.context["next_url"] == f"{image_url(project, images[3])}?status=gold"
    last = client.get(image_url(project, images[3]), {"status": "gold", "sort": "-id"})
    assert last.context["previous_url"] is None
    assert last.context["next_url"] == f"{image_url(project, images[2])}?status=gold&sort=-id"


def test_an_image_of_another_project_is_a_404(project, lead, images, make_images):
    other = ProjectFactory()
    [elsewhere] = make_images(other, 1)
    assert client_of(lead).get(image_url(project, elsewhere)).status_code == 404


def test_only_leads_are_offered_the_erasure(project, images, annotator):
    html = client_of(annotator).get(image_url(project, images[0])).content.decode()
    assert 'id="erase"' not in html
    assert 'value="erase"' not in html
    assert Image.objects.count() == len(images)
