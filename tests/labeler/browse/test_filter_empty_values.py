"""An empty filter value is a 400 naming it, one sent beside other values too."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from labeler.browse.filters import images_filtered
from labeler.bulk.selection import selection_count
from labeler.bulk.services import bulk_action
from labeler.errors import ValidationFailed
from labeler.images.models import Image
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

# Each held an empty value beside a real one, which was dropped without a word: the
# selection became something other than what was sent (labels_min, given once, twice).
QUERIES = [
    ("name=img&name=", "name"),
    ("name=&name=img", "name"),
    ("labels_min=0&labels_min=", "labels_min"),
    ("status=not_started&status=%20", "status"),
]


@pytest.mark.parametrize(("query", "field"), QUERIES)
def test_the_filter_set_refuses_an_empty_value_beside_others(project, lead, query, field):
    with pytest.raises(ValidationFailed) as refused:
        images_filtered(project, QueryDict(query), user=lead)
    assert refused.value.field == field


@pytest.mark.parametrize(("query", "field"), QUERIES)
def test_a_bulk_delete_and_its_count_refuse_it(project, lead, make_images, query, field):
    images = make_images(project, 3)
    with pytest.raises(ValidationFailed) as counted:
        selection_count(project, query, user=lead)
    assert counted.value.field == field
    with pytest.raises(ValidationFailed) as refused:
        bulk_action(
            project=project,
            user=lead,
            action="delete",
            selection={"filter": query},
            expected_count=len(images),
        )
    assert refused.value.field == field
    assert Image.objects.filter(project=project).count() == 3


@pytest.mark.parametrize(("query", "field"), QUERIES)
def test_the_images_list_answers_400_naming_it(project, lead, make_images, query, field):
    make_images(project, 2)
    answer = client_for(lead).get(f"/api/v1/projects/{project.pk}/images/?{query}")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["errors"]


def test_the_images_page_form_still_sends_its_empty_fields(project, lead, make_images):
    make_images(project, 2)
    images = images_filtered(
        project, QueryDict("name=&name=img&status="), user=lead, empty_is_none=True
    )
    assert images.count() == 2


@pytest.mark.parametrize("query", ["sort=", "sort=id&sort=-id", "sort=name&sort="])
def test_a_sort_given_twice_or_empty_is_a_400_not_a_quiet_choice(project, lead, query):
    """The list and a selection take one order or none; the pages keep theirs as sent."""
    with pytest.raises(ValidationFailed) as refused:
        images_filtered(project, QueryDict(query), user=lead)
    assert refused.value.field == "sort"
    images_filtered(project, QueryDict(query), user=lead, reads=("sort",), empty_is_none=True)


def test_the_bulk_count_takes_one_filter(project, lead):
    """Two ``filter`` parameters were counted as the last one (an empty one: everything)."""
    response = client_for(lead).get(
        f"/api/v1/projects/{project.pk}/images/bulk/?filter=status%3Dcomplete&filter="
    )
    assert response.status_code == 400, response.content
    assert "filter" in response.json()["errors"]
