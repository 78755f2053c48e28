"""A cursor is text from outside too: its position is checked before the database sees it."""

from __future__ import annotations

import base64

import pytest

from labeler.projects.models import Role
from tests.factories import ProjectFactory, add_member

pytestmark = pytest.mark.django_db


def _cursor(query: str) -> str:
    return base64.b64encode(query.encode("ascii")).decode("ascii")


LISTS = [
    "/api/v1/projects/",
    "/api/v1/projects/{p}/decisions/",
    "/api/v1/projects/{p}/annotations/",
    "/api/v1/projects/{p}/label-history/",
]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("p=abc", 404),  # no id: DRF's invalid cursor (the lookup's ValueError was a 500)
        ("p=2026-01-01", 404),
        ("o=1&p=%00", 400),  # NUL
        ("p=1%00", 400),
        ("p=%ED%A0%80", 400),  # a lone surrogate written as UTF-8
        ("r=1&p=%FF", 400),  # not UTF-8
    ],
)
def test_a_cursor_whose_position_is_no_id_or_unsafe_text_is_refused(
    api_as, lead, project, path, query, status
):
    response = api_as(lead).get(path.format(p=project.pk), {"cursor": _cursor(query)})
    assert response.status_code == status, response.content
    if status == 400:
        assert list(response.json()["errors"]) == ["cursor.p"]


def test_the_next_links_cursor_is_followed(api_as, lead, project):
    for number in range(3):
        add_member(ProjectFactory(name=f"More {number}"), lead, Role.LEAD)
    client = api_as(lead)
    first = client.get("/api/v1/projects/", {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    ids = [row["id"] for row in first["results"] + second["results"]]
    assert len(ids) == 4 and ids == sorted(ids)
