"""The browser's keyset pages: every page walked forwards and back, and each image's
neighbours, in each order, against the order sorted in Python."""

from __future__ import annotations

import random

import pytest
from django.http import QueryDict

from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.browse.details import image_neighbours
from labeler.browse.filters import images_filtered
from labeler.browse.sorts import images_page
from labeler.images.models import Image
from labeler.predictions.models import Prediction
from tests.factories import ModelVersionFactory

# SQL, triggers or task running that differ on the embedded default: run there too.
pytestmark = pytest.mark.embedded

SEED = 20261125
# Confidences with ties, and images with no final label or one without a confidence:
# both sort as -1.
CONFIDENCES = [None, 0.5, 0.9, "none", 0.5, 0.0, 1.0, None, 0.5, 0.75, "none", 0.9, 0.25]


@pytest.fixture
def ranked(project, make_images):
    images = make_images(project, len(CONFIDENCES))
    rng = random.Random(SEED)
    keys = {}
    for image, confidence in zip(images, CONFIDENCES, strict=True):
        Image.objects.filter(pk=image.pk).update(priority=rng.choice([0.0, 1.0, 2.0]))
        if confidence == "none":
            keys[image.pk] = -1.0
            continue
        FinalLabel.objects.create(
            image=image, method=FinalLabelMethod.CONSENSUS, confidence=confidence
        )
        keys[image.pk] = -1.0 if confidence is None else confidence
    return keys


@pytest.fixture
def model_ranked(project, ranked):
    """The current model's confidence on each image of ``ranked`` (with ties, a prediction
    without a confidence and images without a prediction: both sort as -1), beside an
    older model's predictions that must not count."""
    rng = random.Random(SEED + 1)
    current = ModelVersionFactory(project=project)
    older = ModelVersionFactory(project=project, is_current=False)
    keys = {}
    for image_id in sorted(ranked):
        Prediction.objects.create(
            model_version=older, image_id=image_id, probabilities={}, confidence=rng.random()
        )
        confidence = rng.choice([None, "none", 0.3, 0.6, 0.6, 0.95, rng.random()])
        keys[image_id] = -1.0 if confidence in (None, "none") else confidence
        if confidence != "none":
            Prediction.objects.create(
                model_version=current, image_id=image_id, probabilities={}, confidence=confidence
            )
    return keys


@pytest.fixture
def keys(ranked, model_ranked):
    """Each order's keys that the images' rows do not hold themselves."""
    return {"confidence": ranked, "model_confidence": model_ranked}


def expected_order(project, keys, sort: str) -> list[int]:
    name = sort.removeprefix("-")
    if name in keys:
        key = keys[name]
    else:
        key = dict(Image.objects.filter(project=project).values_list("pk", name))
    order = sorted(key, key=lambda pk: (key[pk], pk))
    return order[::-1] if sort.startswith("-") else order


def walk(project, lead, sort: str, size: int) -> tuple[list[int], list[int]]:
    """Every page from the first by its next links, then back by the previous links."""
    images = images_filtered(project, QueryDict(f"sort={sort}"), user=lead)
    pages = [images_page(images, sort=sort, cursor=None, size=size)]
    while pages[-1].next_cursor:
        assert len(pages) <= len(CONFIDENCES), "the next links go round in a circle"
        pages.append(images_page(images, sort=sort, cursor=pages[-1].next_cursor, size=size))
    forwards = [image.pk for page in pages for image in page.images]
    back = [pages[-1]]
    while back[-1].previous_cursor:
        assert len(back) <= len(CONFIDENCES), "the previous links go round in a circle"
        back.append(images_page(images, sort=sort, cursor=back[-1].previous_cursor, size=size))
    backwards = [image.pk for page in reversed(back) for image in page.images]
    return forwards, backwards


ORDERS = ["confidence", "-confidence", "model_confidence", "-model_confidence"]


@pytest.mark.django_db
@pytest.mark.parametrize("sort", [*ORDERS, "priority", "-priority", "id"])
@pytest.mark.parametrize("size", [1, 3, 5, 100])
def test_pages_follow_the_order_both_ways(project, lead, keys, sort, size):
    expected = expected_order(project, keys, sort)
    forwards, backwards = walk(project, lead, sort, size)
    assert forwards == expected
    assert backwards == expected


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ORDERS)
def test_neighbours_are_the_images_beside_one_in_the_order(project, lead, keys, sort):
    expected = expected_order(project, keys, sort)
    images = images_filtered(project, QueryDict(f"sort={sort}"), user=lead)
    for n, image_id in enumerate(expected):
        preceding, following = image_neighbours(
            images, sort=sort, image_id=image_id, project=project
        )
        assert preceding == (expected[n - 1] if n > 0 else None)
        assert following == (expected[n + 1] if n + 1 < len(expected) else None)


@pytest.mark.django_db
def test_a_filtered_page_in_confidence_order_keeps_the_filter(project, lead, ranked):
    """The runs of the order each keep the filter: here images with a final label."""
    params = "final_method=consensus&sort=-confidence"
    images = images_filtered(project, QueryDict(params), user=lead)
    page = images_page(images, sort="-confidence", cursor=None, size=100)
    labelled = expected_order(project, {"confidence": ranked}, "-confidence")
    with_final = set(FinalLabel.objects.values_list("image_id", flat=True))
    assert [image.pk for image in page.images] == [pk for pk in labelled if pk in with_final]


@pytest.mark.django_db
def test_without_a_current_model_every_image_sorts_as_minus_one(project, lead, model_ranked):
    """No model pre-labels the project: its images come in id order, one of each."""
    project.model_versions.update(is_current=False)
    no_model = {"model_confidence": dict.fromkeys(model_ranked, -1.0)}
    expected = expected_order(project, no_model, "-model_confidence")
    forwards, backwards = walk(project, lead, "-model_confidence", 3)
    assert forwards == backwards == expected
