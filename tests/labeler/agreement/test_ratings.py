"""Loading a project's annotations as arrays in one aggregated query."""

from __future__ import annotations

import numpy as np
import pytest

from labeler.agreement.ratings import ratings_load
from labeler.projects.models import Role
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


def test_single_label_codes_follow_label_order(project, annotator, annotator2, make_images):
    """codes[i, a] is the label's position; -1 where the annotator did not label the image."""
    first, second, _unlabelled = make_images(project, 3)
    annotation_submit(project=project, annotator=annotator, image_id=first.pk, labels=["dog"])
    annotation_submit(project=project, annotator=annotator2, image_id=first.pk, labels=["bird"])
    annotation_submit(
        project=project, annotator=annotator2, image_id=second.pk, labels=["cat"], time_spent_ms=900
    )
    ratings = ratings_load(project)
    assert list(ratings.image_ids) == [first.pk, second.pk]
    assert list(ratings.annotator_ids) == sorted([annotator.pk, annotator2.pk])
    names = list(project.labels.order_by("position").values_list("name", flat=True))
    column = {pk: i for i, pk in enumerate(ratings.annotator_ids)}
    assert names[ratings.codes[0, column[annotator.pk]]] == "dog"
    assert names[ratings.codes[0, column[annotator2.pk]]] == "bird"
    assert ratings.codes[1, column[annotator.pk]] == -1
    assert names[ratings.codes[1, column[annotator2.pk]]] == "cat"
    assert ratings.time_spent_ms[1, column[annotator2.pk]] == 900
    assert (ratings.rated_at[ratings.codes >= 0] > 1_600_000_000).all()
    assert ratings.label_sets is None and ratings.k == 3


def test_multi_label_sets(make_images):
    """label_sets[i, a, l] is 1 for given labels, 0 for the others, -1 when not labelled."""
    project = ProjectFactory(multi_label=True)
    one, two = UserFactory(), UserFactory()
    for user in (one, two):
        add_member(project, user, Role.ANNOTATOR)
    (image,) = make_images(project, 1)
    annotation_submit(project=project, annotator=one, image_id=image.pk, labels=["cat", "bird"])
    ratings = ratings_load(project)
    assert ratings.label_sets is not None
    column = {pk: i for i, pk in enumerate(ratings.annotator_ids)}
    assert list(ratings.label_sets[0, column[one.pk]]) == [1, 0, 1]
    assert ratings.label_sets.shape == (1, 1, 3)


def test_an_empty_project_gives_empty_arrays(project):
    """No annotations: zero rows, no error."""
    ratings = ratings_load(project)
    assert ratings.codes.shape == (0, 0)
    assert np.asarray(ratings.image_ids).size == 0
