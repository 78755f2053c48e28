"""label_use: the labels a person gave most in a project, most used first."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from labeler.annotations import selectors
from labeler.annotations.selectors import label_use
from tests.factories import ProjectFactory, add_member, annotation_submit

pytestmark = pytest.mark.django_db


def test_most_used_first_ties_in_label_order_only_the_callers_and_this_projects(
    project, annotator, annotator2, make_images
):
    """Counts only the caller's own annotations in this project, in one query; labels of
    equal use come in the project's label order; unused labels are left out."""
    images = make_images(project, 6)
    ids = {label.name: label.pk for label in project.labels.all()}
    for image, name in zip(images, ["bird", "bird", "dog", "cat", "bird"], strict=False):
        annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=[name])
    for image in images[:4]:
        annotation_submit(project=project, annotator=annotator2, image_id=image.pk, labels=["dog"])
    other = ProjectFactory(name="Other")
    add_member(other, annotator)
    for image in make_images(other, 3):
        annotation_submit(project=other, annotator=annotator, image_id=image.pk, labels=["cat"])
    with CaptureQueriesContext(connection) as queries:
        used = label_use(project=project, user_id=annotator.pk)
    assert used == [ids["bird"], ids["cat"], ids["dog"]]
    assert len(queries) == 1
    assert label_use(project=project, user_id=annotator2.pk) == [ids["dog"]]
    assert label_use(project=ProjectFactory(), user_id=annotator.pk) == []


def test_multi_label_annotations_count_each_label(annotator, make_images):
    project = ProjectFactory(multi_label=True, labels=["indoor", "outdoor", "people"])
    add_member(project, annotator)
    ids = {label.name: label.pk for label in project.labels.all()}
    images = make_images(project, 2)
    for image in images:
        annotation_submit(
            project=project, annotator=annotator, image_id=image.pk, labels=["people", "outdoor"]
        )
    assert label_use(project=project, user_id=annotator.pk) == [ids["outdoor"], ids["people"]]


def page_data(client: Client, url: str, script_id: str) -> dict:
    page = client.get(url).content.decode()
    raw = re.search(rf'id="{script_id}"[^>]*>(.*?)</script>', page, re.S).group(1)
    return json.loads(raw)


def test_the_labelling_and_review_pages_carry_the_callers_label_use(
    project, annotator, lead, make_images
):
    """The labelling page gets the annotator's label use and labels with their group; the
    review pages get the reviewer's own."""
    project.labels.filter(name="dog").update(group="Mammals")
    image = make_images(project, 1)[0]
    annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=["dog"])
    dog = project.labels.get(name="dog").pk
    client = Client()
    client.force_login(annotator)
    data = page_data(client, reverse("label", args=[project.pk]), "workspace-data")
    assert data["label_use"] == [dog]
    assert [label["group"] for label in data["labels"]] == ["", "Mammals", ""]
    client.force_login(lead)
    review = page_data(client, reverse("review", args=[project.pk]), "review-data")
    assert review["label_use"] == []
    machine = page_data(client, reverse("machine-review", args=[project.pk]), "machine-review-data")
    assert machine["label_use"] == []


def test_only_the_latest_annotations_count(project, annotator, make_images, monkeypatch):
    """The count covers a person's latest annotations (LABEL_USE_RECENT of them), so the
    order follows what they label now and the cost stays bounded."""
    monkeypatch.setattr(selectors, "LABEL_USE_RECENT", 3)
    ids = {label.name: label.pk for label in project.labels.all()}
    images = make_images(project, 5)
    for image, name in zip(images, ["cat", "cat", "bird", "dog", "dog"], strict=True):
        annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=[name])
    assert label_use(project=project, user_id=annotator.pk) == [ids["dog"], ids["bird"]]
