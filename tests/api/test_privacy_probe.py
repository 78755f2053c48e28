"""The privacy features probed as an attacker and as a careless client would, through the
real routes: the audit trail (who reads it, what its CSV holds, who a request can claim
to be), erasures (filters that match more than asked, odd bodies), face boxes and the
files of a project that blurs faces. Every bad input is a 4xx and changes nothing."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from labeler.audit.models import Action, AuditEntry
from labeler.audit.services import audit_record
from labeler.erasure.models import Erasure
from labeler.images.models import FaceRegion, Image
from labeler.projects.models import Project
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db

FORMULAS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\tx", "\rx"]


def csv_rows(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


# -- the audit trail ------------------------------------------------------------------


@pytest.mark.parametrize("typed", FORMULAS)
def test_audit_csv_never_starts_a_cell_with_a_formula(admin_user, typed):
    """A failed login keeps the username typed; the CSV export puts a quote before a
    cell a spreadsheet would run (OWASP's CSV injection advice), the JSON Lines keep it."""
    if typed[0] in "\t\r":  # the login form strips these: written as a caller could
        audit_record(action=Action.LOGIN_FAILED, actor_name=typed)
    else:
        Client().post("/login/", {"username": typed, "password": "x"})
    entry = AuditEntry.objects.get(action=Action.LOGIN_FAILED)
    assert entry.actor_name == typed
    client = client_for(admin_user)
    rows = csv_rows(client.get("/api/v1/audit/?export=csv&action=login_failed"))
    assert [row["actor_name"] for row in rows] == ["'" + typed]
    lines = b"".join(client.get("/api/v1/audit/?export=jsonl").streaming_content).decode()
    assert typed.replace("\t", "\\t").replace("\r", "\\r").replace('"', '\\"') in lines


def test_audit_csv_quotes_a_project_name_and_target_text(project, lead):
    Project.objects.filter(pk=project.pk).update(name="=1+1")
    client = client_for(lead)
    changed = client.patch(
        f"/api/v1/projects/{project.pk}/", {"instructions": "new"}, format="json"
    )
    assert changed.status_code == 200, changed.content
    rows = csv_rows(client.get(f"/api/v1/projects/{project.pk}/audit/?export=csv"))
    assert rows and all(row["project_name"] == "'=1+1" for row in rows)


@pytest.mark.parametrize(
    "username", ["a\x00b", "\ufffe", "\x1b[31m", "ü" * 400, "x" * 10_000, "\u202egnp.exe", " "]
)
def test_odd_failed_login_usernames_are_refused_or_kept_never_a_500(username):
    page = Client().post("/login/", {"username": username, "password": "x"})
    assert page.status_code in (200, 400), page.status_code
    api = Client().post(
        "/api/v1/auth/token/",
        {"username": username, "password": "x"},
        content_type="application/json",
    )
    assert api.status_code in (400, 401), api.content


def test_a_forged_forwarded_for_is_not_the_address_kept(lead, settings):
    """With NUM_PROXIES 0 (no proxy in front) X-Forwarded-For is the client's own text."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    Client().post(
        "/login/",
        {"username": "nobody", "password": "x"},
        HTTP_X_FORWARDED_FOR="6.6.6.6",
        REMOTE_ADDR="10.1.2.3",
    )
    entry = AuditEntry.objects.get(action=Action.LOGIN_FAILED)
    assert entry.address == "10.1.2.3"


def test_a_lead_reads_only_their_own_projects_trail(project, lead, annotator, reviewer):
    other = ProjectFactory(name="secret")
    other_lead = UserFactory()
    add_member(other, other_lead, "lead")
    client_for(other_lead).patch(
        f"/api/v1/projects/{other.pk}/", {"instructions": "x"}, format="json"
    )
    client = client_for(lead)
    own = f"/api/v1/projects/{project.pk}/audit/"
    # project= on a project's route does not widen it to another project: it is refused.
    for query in (f"?project={other.pk}", f"?project={other.pk}&export=jsonl"):
        answer = client.get(own + query)
        assert answer.status_code == 400
        body = (
            b"".join(answer.streaming_content).decode()
            if answer.streaming
            else answer.content.decode()
        )
        assert "secret" not in body
    assert client.get(f"/api/v1/projects/{other.pk}/audit/").status_code in (403, 404)
    assert client.get("/api/v1/audit/").status_code == 403
    assert client.get(f"/api/v1/audit/?project={other.pk}").status_code == 403
    for user in (annotator, reviewer):
        assert client_for(user).get(own).status_code == 403
        assert client_for(user).get(own + "?export=csv").status_code == 403
    web = Client()
    web.force_login(lead)
    assert web.get(f"/projects/{other.pk}/audit/").status_code in (403, 404)
    assert web.get("/audit/").status_code == 403


@pytest.mark.parametrize(
    "query",
    [
        "since=2026-13-40",
        "until=%00",
        "since=9999999999",
        "action=%F0%9F%98%80",
        "project=-1",
        "project=1.5",
        "project=99999999999999999999999",
        "export=xls",
        "export=%00",
        "since=2026-01-01T00:00:00%2B99:00",
    ],
)
def test_bad_audit_filters_are_400s(admin_user, query):
    assert client_for(admin_user).get(f"/api/v1/audit/?{query}").status_code == 400
    web = Client()
    web.force_login(admin_user)
    assert web.get(f"/audit/?{query}").status_code in (200, 400)


def test_actor_filter_with_odd_text_is_no_500(admin_user):
    client = client_for(admin_user)
    for actor in ("%00", "%F0%9F%98%80" * 100, "%25", "'%20OR%201=1--"):
        assert client.get(f"/api/v1/audit/?actor={actor}").status_code in (200, 400)


def test_a_refused_request_leaves_no_entry_and_a_rolled_back_one_neither(project, annotator):
    before = AuditEntry.objects.count()
    # An annotator may not change the project: no change is recorded, only the refusal.
    refused = client_for(annotator).patch(
        f"/api/v1/projects/{project.pk}/", {"name": "x"}, format="json"
    )
    assert refused.status_code == 403
    recorded = list(AuditEntry.objects.order_by("sequence")[before:])
    assert [(e.action, e.actor_id) for e in recorded] == [("access_refused", annotator.pk)]


# -- erasures --------------------------------------------------------------------------


@pytest.fixture
def erasure_url(project) -> str:
    return f"/api/v1/projects/{project.pk}/erasures/"


@pytest.fixture
def three(project, make_images, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return make_images(project, 3)


@pytest.mark.parametrize(
    "body",
    [
        {"image_ids": [-1], "reason": "x"},
        {"image_ids": [0], "reason": "x"},
        {"image_ids": [1.5], "reason": "x"},
        {"image_ids": [2**63], "reason": "x"},
        {"image_ids": [10**40], "reason": "x"},
        {"image_ids": list(range(1, 10_002)), "reason": "x"},
        {"image_ids": [None], "reason": "x"},
        {"image_ids": None, "reason": "x"},
        {"image_ids": {"a": 1}, "reason": "x"},
        {"filter": None, "reason": "x"},
        {"filter": [], "reason": "x"},
        {"filter": {"tag": []}, "reason": "x"},
        {"filter": {"tag": [[]]}, "reason": "x"},
        {"filter": {"tag": None}, "reason": "x"},
        {"filter": {"tag": True}, "reason": "x"},
        {"filter": {"tags": "a"}, "reason": "x"},
        {"filter": {"Tag": "a"}, "reason": "x"},
        {"filter": {"tag ": "a"}, "reason": "x"},
        {"filter": {"tag\x00": "a"}, "reason": "x"},
        {"filter": {"tag": "a\x00"}, "reason": "x"},
        {"filter": {"tag": ""}, "reason": "x"},
        {"filter": {"tag": " "}, "reason": "x"},
        {"filter": {"id": ""}, "reason": "x"},
        {"filter": {"cursor": "x"}, "reason": "x"},
        {"filter": {"page_size": "1"}, "reason": "x"},
        {"filter": {"exclude_ids": "1"}, "reason": "x"},
        {"filter": "&&&", "reason": "x"},
        {"filter": "?", "reason": "x"},
        {"filter": "tag", "reason": "x"},
        {"filter": "%ZZ=1", "reason": "x"},
        {"filter": "tag=%ud800", "reason": "x"},
        {"filter": "tag=a&sort=id&sort=-id", "reason": "x"},
        {"filter": {"sort": ["id", "-id"]}, "reason": "x"},
        {"filter": "x" * 100_000, "reason": "x"},
        {"image_ids": ["IMAGE"], "reason": "x" * 2001},
        {"image_ids": ["IMAGE"], "reason": "a\x00b"},
        {"image_ids": ["IMAGE"], "reason": ["x"]},
        {"image_ids": ["IMAGE"], "reason": "x", "dry_run": "true"},
        {"image_ids": ["IMAGE"], "reason": "x", "dry_run": 1},
        {"image_ids": ["IMAGE"], "reason": "x", "dry_run": None},
    ],
)
def test_odd_erasure_bodies_are_400s_that_erase_nothing(lead, erasure_url, three, body):
    if body.get("image_ids") == ["IMAGE"]:
        body = {**body, "image_ids": [three[0].pk]}
    answer = client_for(lead).post(erasure_url, body, format="json")
    assert answer.status_code == 400, (answer.status_code, answer.content[:300])
    assert Image.objects.count() == 3 and not Erasure.objects.exists()


@pytest.mark.parametrize("raw", [b"[1]", b'"x"', b"null", b"1", b"{", b"\xff\xfe", b'{"a":' * 600])
def test_erasure_bodies_that_are_not_an_object(lead, erasure_url, three, raw):
    answer = client_for(lead).generic("POST", erasure_url, raw, content_type="application/json")
    assert answer.status_code in (400, 415), answer.content[:300]
    assert Image.objects.count() == 3


def test_duplicate_ids_erase_once_and_a_second_submit_finds_nothing(
    lead, erasure_url, three, django_capture_on_commit_callbacks
):
    client = client_for(lead)
    body = {"image_ids": [three[0].pk, three[0].pk], "reason": "asked", "expected_count": 1}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(erasure_url, body, format="json")
    assert first.status_code == 201 and first.json()["image_ids"] == [three[0].pk]
    second = client.post(erasure_url, body, format="json")
    assert second.status_code == 400  # the image is gone: nothing half-done, no second report
    assert Erasure.objects.count() == 1 and Image.objects.count() == 2


def test_another_projects_ids_or_erasure_reports_are_out_of_reach(
    project, lead, erasure_url, three, make_images
):
    other = ProjectFactory()
    theirs = make_images(other, 1)[0]
    client = client_for(lead)
    mixed = {"image_ids": [three[0].pk, theirs.pk], "reason": "x"}
    assert client.post(erasure_url, mixed, format="json").status_code == 400
    assert client.post(erasure_url, {**mixed, "dry_run": True}, format="json").status_code == 400
    assert Image.objects.count() == 4
    # Wrong methods are a 405, not a 500.
    assert client.put(erasure_url, {}, format="json").status_code == 405
    assert client.delete(f"{erasure_url}1/").status_code == 405
    assert client.get(f"{erasure_url}99999999999999999999/").status_code == 404


# -- faces -----------------------------------------------------------------------------


@pytest.fixture
def blurred(project, make_images):
    """Two images of a project that blurs faces: the first done, the second still pending."""
    made = make_images(project, 2)
    Project.objects.filter(pk=project.pk).update(blur_faces=True)
    Image.objects.filter(pk=made[0].pk).update(faces_state="done")
    Image.objects.filter(pk=made[1].pk).update(faces_state="pending")
    return made


@pytest.mark.parametrize(
    "body",
    [
        {"left": 0, "top": 0, "width": 0, "height": 1},
        {"left": -1, "top": 0, "width": 1, "height": 1},
        {"left": 0, "top": 0, "width": 10**6, "height": 1},
        {"left": 2**63, "top": 0, "width": 1, "height": 1},
        {"left": 10**40, "top": 0, "width": 1, "height": 1},
        {"left": 1.5, "top": 0, "width": 1, "height": 1},
        {"left": "1", "top": "0", "width": "1e3", "height": 1},
        {"left": "1\x00", "top": 0, "width": 1, "height": 1},
        {"left": None, "top": 0, "width": 1, "height": 1},
        {"left": True, "top": 0, "width": 1, "height": 1},
        {"top": 0, "width": 1, "height": 1},
        [1, 2],
        "x",
    ],
)
def test_odd_face_boxes_are_400s(blurred, lead, body):
    url = f"/api/v1/projects/{blurred[0].project_id}/images/{blurred[0].pk}/faces/"
    answer = client_for(lead).post(url, body, format="json")
    assert answer.status_code == 400, (answer.status_code, answer.content[:300])
    assert not FaceRegion.objects.exists()


def test_face_routes_with_odd_ids_and_methods(blurred, lead, project):
    client = client_for(lead)
    base = f"/api/v1/projects/{project.pk}/images"
    for image_id in ("99999999999999999999", str(2**63), "0"):
        assert client.get(f"{base}/{image_id}/faces/").status_code == 404
    for pk in ("99999999999999999999", str(2**63), "0"):
        assert client.delete(f"{base}/{blurred[0].pk}/faces/{pk}/").status_code == 404
    assert client.put(f"{base}/{blurred[0].pk}/faces/", {}, format="json").status_code == 405
    assert client.get(f"{base}/{blurred[0].pk}/faces/detect/").status_code == 405
    other = ProjectFactory()
    assert client.get(f"/api/v1/projects/{other.pk}/images/{blurred[0].pk}/faces/").status_code in (
        403,
        404,
    )


def test_another_projects_lead_reaches_no_face_box(blurred):
    intruder = UserFactory()
    add_member(ProjectFactory(), intruder, "lead")
    url = f"/api/v1/projects/{blurred[0].project_id}/images/{blurred[0].pk}/faces/"
    client = client_for(intruder)
    assert client.get(url).status_code == 404
    assert (
        client.post(url, {"left": 0, "top": 0, "width": 1, "height": 1}, format="json").status_code
        == 404
    )


@pytest.mark.parametrize("kind", ["thumbnail", "display", "file"])
def test_an_image_not_yet_blurred_is_not_served_to_annotators_or_reviewers(
    blurred, annotator, reviewer, lead, kind
):
    url = f"/api/v1/projects/{blurred[1].project_id}/images/{blurred[1].pk}/{kind}/"
    for user in (annotator, reviewer):
        answer = client_for(user).get(url)
        assert answer.status_code in (404, 409), (user, kind, answer.status_code)
    assert client_for(lead).get(url).status_code in (200, 302, 404)


def test_explanations_are_not_served_to_annotators_where_faces_are_blurred(blurred, annotator):
    url = f"/api/v1/projects/{blurred[0].project_id}/images/{blurred[0].pk}/explanation/"
    assert client_for(annotator).get(url).status_code in (403, 404)


# -- single sign-on --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "refused"),
    [
        ({"given_name": "Ann\x00", "family_name": "Lee"}, True),
        ({"name": "Ann\x00 Lee"}, True),
        ({"family_name": "\ud800"}, True),
        ({"preferred_username": "\x00\x00", "email": "a\x00@example.org"}, True),
        ({"groups": ["staff", "\x00"]}, True),
        ({"groups": ["\ud800"]}, True),
        ({"name": "=cmd|' /C calc'!A0 \u202e"}, False),
        ({"given_name": "x" * 10_000}, False),
        ({"groups": ["a" * 10_000, 5, None, "<b>x</b>", "Ä Ö", "' OR 1=1"]}, False),
        ({"groups": {"a": 1}}, False),
    ],
)
def test_odd_claims_make_an_account_or_a_refusal_never_a_500(claims, refused):
    """What a provider sends is text from outside (a name or a group its user may set): a
    NUL or a lone surrogate, which no database text can hold, is the sign-in page's 400
    (ValidationFailed, as for any request), never a database error."""
    from labeler.errors import ValidationFailed
    from labeler.sso.identities import identity_login

    issuer = "https://id.example.org"
    if refused:
        with pytest.raises(ValidationFailed):
            identity_login(issuer=issuer, claims={"sub": "odd", **claims})
        return
    for _ in range(2):  # made, then updated from the same claims
        user = identity_login(issuer=issuer, claims={"sub": "odd", **claims})
    user.refresh_from_db()
    assert len(user.first_name) <= 150


@pytest.mark.slow
@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_sso_next_never_leaves_the_site_and_a_callback_replayed_is_refused(
    sso, live_server, target
):
    from urllib.parse import urljoin

    import requests

    from tests.labeler.sso.flow import follow, provider_login
    from tests.oidc_provider.fixtures import provider_user

    provider_user(sso, "nina", [])
    session = requests.Session()
    form = follow(session, f"{live_server.url}/sso/login/?next={target}")
    sent = provider_login(session, form, "nina")
    back = follow(session, urljoin(sent.url, sent.headers["Location"]), until=live_server.url)
    callback = back.headers["Location"]
    landed = session.get(callback, allow_redirects=False, timeout=20)
    assert landed.status_code == 302
    assert "evil.example" not in landed.headers["Location"]
    logins = AuditEntry.objects.filter(action=Action.LOGIN).count()
    replayed = requests.Session().get(callback, allow_redirects=False, timeout=20)
    assert replayed.status_code == 400  # another browser: no state of its own
    again = session.get(callback, allow_redirects=False, timeout=20)
    assert again.status_code in (302, 400) and "evil.example" not in again.headers.get(
        "Location", ""
    )
    assert AuditEntry.objects.filter(action=Action.LOGIN).count() == logins
