"""The path, query strings and the pages' forms: unsafe text is a 400 naming where it was.

PostgreSQL compares no text holding NUL, and a lone surrogate (or other bytes that are
not UTF-8) was quietly made U+FFFD by Django's decoding: both are refused on every page.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db

NUL = "holds the NUL character (U+0000), which no text here can contain."
NOT_UTF8 = (
    "its bytes are not UTF-8 (a lone surrogate, or another encoding), which no text here can be."
)


@pytest.mark.parametrize(
    ("query", "name", "message"),
    [
        ("export/?annotator=a%00b", "annotator", NUL),
        ("export/?format=csv&label=%00", "label", NUL),
        ("images/?sha256=%00", "sha256", NUL),
        ("label-history/?kind=a&x%00=1", "the name x\\u0000", NUL),
        ("export/?annotator=%ED%A0%80", "annotator", NOT_UTF8),
        ("images/?cursor=%ED%B0%80", "cursor", NOT_UTF8),
        ("images/?x%ED%A0%80=1", "the name b'x\\xed\\xa0\\x80'", NOT_UTF8),
        ("images/?name=%FF", "name", NOT_UTF8),
    ],
)
def test_an_api_query_string_with_unsafe_text_is_a_400_naming_the_parameter(
    api_as, lead, project, query, name, message
):
    """The direct export's annotator reached the database (a 500 on PostgreSQL)."""
    response = api_as(lead).get(f"/api/v1/projects/{project.pk}/{query}")
    assert response.status_code == 400, response.content
    assert response.json() == {
        "detail": f"{name}: {message}",
        "code": "invalid",
        "errors": {name: [f"{name}: {message}"]},
    }


def test_safe_text_reaches_the_view_decoded(api_as, lead, project):
    response = api_as(lead).get(f"/api/v1/projects/{project.pk}/export/?annotator=ann1")
    assert response.status_code == 200, response.content
    response = api_as(lead).get(f"/api/v1/projects/{project.pk}/export/?annotator=ann%C3%A9")
    assert response.json()["detail"] == "No user is named 'ann\u00e9'."


def test_a_path_holding_nul_is_a_400_where_a_route_takes_it(client, api_as, lead):
    """A route's text parameter would take it; a path no route matches stays a 404."""
    response = client.get("/files/1/a%00b/x.png")
    assert response.status_code == 400, response.content
    assert response.content.decode() == f"the path: {NUL}"
    assert api_as(lead).get("/api/v1/users/a%00b/").status_code == 404


def test_a_method_a_view_does_not_take_is_a_405_whatever_its_query(api_as, lead, project):
    """Its text would not be read: the view's own answer says what is wrong."""
    response = api_as(lead).generic("TRACE", "/api/v1/projects/?name=a%00b")
    assert response.status_code == 405, response.content
    response = api_as(lead).put(f"/api/v1/projects/{project.pk}/export/?annotator=a%00b")
    assert response.status_code == 405, response.content
    response = api_as(lead).head(f"/api/v1/projects/{project.pk}/export/?annotator=a%00b")
    assert response.status_code == 400


def test_an_admin_search_with_nul_is_a_400(client, admin_user):
    client.force_login(admin_user)
    response = client.get("/admin/auth/user/?q=a%00b")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == f"q: {NUL}"
    assert client.get("/admin/auth/user/?q=adm").status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"username=a%00&password=x", f"username: {NUL}"),
        (b"username=%ED%A0%80&password=x", f"username: {NOT_UTF8}"),
    ],
)
def test_a_page_form_with_unsafe_text_is_a_400_and_logs_no_one_in(client, lead, body, message):
    response = client.post("/login/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.content.decode() == message
    assert "_auth_user_id" not in client.session


def test_a_page_multipart_form_with_nul_is_a_400_and_changes_nothing(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/auth/user/add/",
        {"username": "x\x00y", "password1": "a long passphrase", "password2": "a long passphrase"},
    )
    assert response.status_code == 400
    assert response.content.decode() == f"username: {NUL}"
    assert not User.objects.filter(username__startswith="x").exists()


def test_a_json_body_sent_to_a_page_with_unsafe_text_is_a_400(client, lead):
    """No page reads JSON today; one that will is covered already."""
    body = json.dumps({"username": "lead", "nested": [{"x": "\ud800"}]})
    response = client.post("/login/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.content.decode().startswith("nested[0].x: holds a lone surrogate (U+D800")
    bottomless = "[" * 100_000
    response = client.post("/login/", bottomless, content_type="application/json")
    assert response.status_code < 500


def _multipart(field: str, value: bytes) -> bytes:
    return (
        b'--XX\r\nContent-Disposition: form-data; name="' + field.encode() + b'"'
        + b"\r\n\r\n" + value + b"\r\n--XX--\r\n"
    )  # fmt: skip


@pytest.mark.parametrize("value", [b"x\xed\xa0\x80y", b"x\xc0\x80y", b"x\xffy"])
def test_a_multipart_value_that_is_not_utf8_is_a_400_on_pages_and_the_api(
    client, admin_user, api_as, lead, project, value
):
    """Django's multipart parser made such bytes U+FFFD without a word (a 200 storing
    U+FFFD), where a form body or a query string holding them is refused."""
    client.force_login(admin_user)
    response = client.post(
        "/admin/auth/user/add/",
        _multipart("username", value),
        content_type="multipart/form-data; boundary=XX",
    )
    assert response.status_code == 400
    assert response.content.decode().startswith("username: holds a lone surrogate")
    assert not User.objects.filter(username__startswith="x").exists()

    before = project.instructions
    response = api_as(lead).patch(
        f"/api/v1/projects/{project.pk}/",
        _multipart("instructions", value),
        content_type="multipart/form-data; charset=utf-8; boundary=XX",
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["instructions"]
    project.refresh_from_db()
    assert project.instructions == before


def test_a_multipart_value_in_utf8_passes_as_sent(api_as, lead, project):
    response = api_as(lead).patch(
        f"/api/v1/projects/{project.pk}/",
        _multipart("instructions", "Étiquetez ✓".encode()),
        content_type="multipart/form-data; boundary=XX",
    )
    assert (response.status_code, response.json()["instructions"]) == (200, "Étiquetez ✓")
