"""Query strings holding NUL are a 400 on every page: PostgreSQL could not compare them."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

NUL_MESSAGE = "holds the NUL character (%00), which no parameter here can contain."


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("export/?annotator=a%00b", "annotator"),
        ("export/?format=csv&label=%00", "label"),
        ("images/?sha256=%00", "sha256"),
        ("label-history/?kind=a&x%00=1", "x\x00"),
    ],
)
def test_an_api_query_string_with_nul_is_a_400_naming_the_parameter(
    api_as, lead, project, query, name
):
    """The direct export's annotator reached the database (a 500 on PostgreSQL)."""
    response = api_as(lead).get(f"/api/v1/projects/{project.pk}/{query}")
    assert response.status_code == 400, response.content
    assert response.json() == {
        "detail": f"The query parameter {name!r} {NUL_MESSAGE}",
        "code": "invalid",
        "errors": {name: [f"The query parameter {name!r} {NUL_MESSAGE}"]},
    }


def test_an_export_without_nul_is_still_answered(api_as, lead, project):
    response = api_as(lead).get(f"/api/v1/projects/{project.pk}/export/?annotator=ann1")
    assert response.status_code == 200, response.content


def test_an_admin_search_with_nul_is_a_400(client, admin_user):
    client.force_login(admin_user)
    response = client.get("/admin/auth/user/?q=a%00b")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == f"The query parameter 'q' {NUL_MESSAGE}"
    assert client.get("/admin/auth/user/?q=adm").status_code == 200
