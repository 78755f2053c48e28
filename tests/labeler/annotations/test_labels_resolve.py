"""labels_resolve: names, ids or the project's own label rows become its labels, under
its rules; rows a caller read already are taken without reading them again."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeler.annotations.services import labels_resolve
from labeler.errors import ValidationFailed
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def test_names_ids_and_rows_resolve_to_the_same_labels(project):
    rows = list(project.labels.order_by("position"))
    by_name = labels_resolve(project=project, raw_labels=[rows[1].name])
    by_id = labels_resolve(project=project, raw_labels=[rows[1].pk])
    with CaptureQueriesContext(connection) as queries:
        by_row = labels_resolve(project=project, raw_labels=[rows[1]])
    assert by_name == by_id == by_row == [rows[1]]
    assert len(queries) == 0


def test_rows_keep_every_rule_of_names():
    single = ProjectFactory(labels=["cat", "dog"])
    cat, dog = single.labels.order_by("position")
    with pytest.raises(ValidationFailed, match="single-label project"):
        labels_resolve(project=single, raw_labels=[cat, dog])
    with pytest.raises(ValidationFailed, match="label list is empty"):
        labels_resolve(project=single, raw_labels=[])
    multi = ProjectFactory(multi_label=True, labels=["indoor", "people"])
    indoor, people = multi.labels.order_by("position")
    with pytest.raises(ValidationFailed, match="given twice"):
        labels_resolve(project=multi, raw_labels=[indoor, indoor])
    assert labels_resolve(project=multi, raw_labels=[people, indoor]) == [people, indoor]


def test_another_projects_row_is_refused():
    """A label row of another project is not one of this project's, whatever its name."""
    mine, theirs = ProjectFactory(labels=["cat"]), ProjectFactory(labels=["cat"])
    (their_cat,) = theirs.labels.all()
    with pytest.raises(ValidationFailed, match="is not a label name or id"):
        labels_resolve(project=mine, raw_labels=[their_cat])
    (my_cat,) = mine.labels.all()
    with pytest.raises(ValidationFailed, match="is not a label name or id"):
        labels_resolve(project=mine, raw_labels=[my_cat, their_cat])
