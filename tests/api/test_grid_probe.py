"""Grid labelling's API probed from outside: odd and hostile queries of queue/page/, the
lease cap held across page/, next/, the undo routes and late labels, the grid flag taken
from the lease only, and decisions/batch/ all or nothing."""

from __future__ import annotations

from typing import Any

import pytest

from labeler.annotations.models import Annotation, Assignment
from labeler.annotations.queue import MAX_EXCLUDED, lease_cap
from labeler.projects.models import Project, Role
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.rows import row_counts

pytestmark = pytest.mark.django_db


def url(project: Project, path: str) -> str:
    return f"/api/v1/projects/{project.pk}/{path}"


def live(project, user) -> int:
    from django.utils import timezone

    return Assignment.objects.filter(
        project=project, annotator=user, expires_at__gt=timezone.now()
    ).count()


@pytest.fixture
def grid_project(lead, annotator, annotator2) -> Project:
    project = ProjectFactory(overlap=1, gold_rate=0.0, grid_size=12)
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator)
    add_member(project, annotator2)
    return project


SIZES = ["", "1", "48", "0", "49", "-1", "1.0", "1e1", " 12 ", "\u0661\u0662",
         "\uff11\uff12", "\u00b2", "12abc", "9" * 400,
         "0x10", "+12", "NaN", "\x00", "%00", "12,12"]  # fmt: skip


@pytest.mark.parametrize("size", SIZES)
def test_page_size_never_500(grid_project, annotator, make_images, size):
    make_images(grid_project, 3)
    response = client_for(annotator).get(url(grid_project, "queue/page/"), {"size": size})
    assert response.status_code in (200, 204, 400), (size, response.status_code)


EXCLUDES = ["", ",,,", "-1", "1.5", "\u0661", "abc", "9" * 30, str(2**63), str(2**63 - 1),
            "1,1,1,1", " 1 , 2 ", "\u00a01", "0"]  # fmt: skip


@pytest.mark.parametrize("exclude", EXCLUDES)
def test_page_exclude_never_500(grid_project, annotator, make_images, exclude):
    make_images(grid_project, 3)
    response = client_for(annotator).get(url(grid_project, "queue/page/"), {"exclude": exclude})
    assert response.status_code in (200, 204, 400), (exclude, response.status_code)


def test_repeated_params(grid_project, annotator, make_images):
    make_images(grid_project, 3)
    response = client_for(annotator).get(
        url(grid_project, "queue/page/") + "?size=1&size=99&exclude=1&exclude=x"
    )
    assert response.status_code in (200, 204, 400)


@pytest.mark.embedded
@pytest.mark.parametrize("path", ["queue/page/", "next/"])
def test_an_exclude_of_too_many_ids_is_400_and_leases_nothing(
    grid_project, annotator, make_images, path
):
    """Each excluded id is a parameter of every candidate statement: 70,000 of them kept
    SQLite busy for a minute and more. Past MAX_EXCLUDED the request is refused, cheaply."""
    images = make_images(grid_project, 3)
    c = client_for(annotator)
    ids = [*range(10**6, 10**6 + MAX_EXCLUDED), images[0].pk]
    response = c.get(url(grid_project, path), {"exclude": ",".join(map(str, ids))})
    assert response.status_code == 400, response.content
    assert "exclude" in response.json()["errors"]
    assert Assignment.objects.count() == 0
    response = c.get(url(grid_project, path), {"exclude": ",".join(map(str, ids[1:]))})
    assert response.status_code == 200, response.content
    tiles = response.json()["images"] if path == "queue/page/" else [response.json()]
    assert images[0].pk not in {tile["image"]["id"] for tile in tiles}


def test_other_projects_ids_in_exclude(grid_project, annotator, make_images):
    other = ProjectFactory(overlap=1, gold_rate=0.0)
    add_member(other, annotator)
    others = make_images(other, 3)
    make_images(grid_project, 3)
    response = client_for(annotator).get(
        url(grid_project, "queue/page/"), {"exclude": ",".join(str(i.pk) for i in others)}
    )
    assert response.status_code == 200
    assert len(response.json()["images"]) == 3


def test_non_member_and_anonymous(grid_project, outsider, make_images):
    make_images(grid_project, 3)
    assert client_for(outsider).get(url(grid_project, "queue/page/")).status_code in (403, 404)
    from rest_framework.test import APIClient

    assert APIClient().get(url(grid_project, "queue/page/")).status_code in (401, 403)
    assert Assignment.objects.count() == 0


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.LEAD])
def test_roles(grid_project, make_images, role):
    make_images(grid_project, 3)
    user = UserFactory(username=f"u{role}")
    add_member(grid_project, user, role)
    response = client_for(user).get(url(grid_project, "queue/page/"))
    assert response.status_code in (200, 204, 403, 409), response.status_code


def test_grid_off(grid_project, annotator, make_images):
    make_images(grid_project, 3)
    grid_project.grid_mode = "off"
    grid_project.save()
    response = client_for(annotator).get(url(grid_project, "queue/page/"))
    assert response.status_code == 409 and response.json()["code"] == "grid_off"
    assert Assignment.objects.count() == 0


def test_cap_alternating_page_and_next(grid_project, annotator, make_images):
    make_images(grid_project, 80)
    cap = lease_cap(grid_project, grid=True)
    held: set[int] = set()
    c = client_for(annotator)
    for turn in range(12):
        path = "queue/page/" if turn % 2 == 0 else "next/"
        r = c.get(url(grid_project, path), {"exclude": ",".join(map(str, sorted(held)))})
        assert r.status_code in (200, 204, 409), r.content
        if r.status_code == 200:
            body = r.json()
            tiles = body.get("images", [body])
            held |= {t["image"]["id"] for t in tiles}
        assert live(grid_project, annotator) <= cap


def test_cap_with_undo_routes(grid_project, annotator, make_images):
    """Label a page, fill the cap again, then undo (DELETE) the labels and skip-undo."""
    make_images(grid_project, 100)
    cap = lease_cap(grid_project, grid=True)
    c = client_for(annotator)
    first = [t["image"]["id"] for t in c.get(url(grid_project, "queue/page/")).json()["images"]]
    made = []
    for image_id in first:
        r = c.post(
            url(grid_project, "annotations/"), {"image": image_id, "labels": ["cat"]}, format="json"
        )
        assert r.status_code == 201, r.content
        made.append(r.json()["id"])
    held: set[int] = set(first)
    for _ in range(4):
        r = c.get(url(grid_project, "queue/page/"), {"exclude": ",".join(map(str, held))})
        if r.status_code == 200:
            held |= {t["image"]["id"] for t in r.json()["images"]}
    assert live(grid_project, annotator) <= cap
    for pk in made:
        r = c.delete(url(grid_project, f"annotations/{pk}/"))
        assert r.status_code in (204, 409), r.content
        assert live(grid_project, annotator) <= cap
    # skips
    ids = [a.image_id for a in Assignment.objects.filter(annotator=annotator)][:5]
    for image_id in ids:
        r = c.post(url(grid_project, "skips/"), {"image": image_id}, format="json")
        assert r.status_code in (201, 200, 400, 409), r.content
    for skip in c.get(url(grid_project, "skips/")).json().get("results", []):
        r = c.delete(url(grid_project, f"skips/{skip['id']}/"))
        assert r.status_code in (204, 409), r.content
        assert live(grid_project, annotator) <= cap


def test_grid_flag_not_forged(grid_project, annotator, make_images):
    make_images(grid_project, 5)
    c = client_for(annotator)
    single = c.get(url(grid_project, "next/")).json()["image"]["id"]
    r = c.post(
        url(grid_project, "annotations/"),
        {"image": single, "labels": ["cat"], "grid": True},
        format="json",
    )
    assert r.status_code in (201, 400)
    if r.status_code == 201:
        assert Annotation.objects.get(image_id=single).grid is False
    tile = c.get(url(grid_project, "queue/page/"), {"size": 1}).json()["images"][0]["image"]["id"]
    r = c.post(
        url(grid_project, "annotations/"),
        {"image": tile, "labels": ["cat"], "grid": False},
        format="json",
    )
    assert r.status_code in (201, 400)
    if r.status_code == 201:
        assert Annotation.objects.get(image_id=tile).grid is True


@pytest.mark.parametrize("spent", [-1, 2**31, 2**63, 10**30, 1.5, "1e3", True, None])
def test_time_spent(grid_project, annotator, make_images, spent):
    make_images(grid_project, 2)
    c = client_for(annotator)
    tile = c.get(url(grid_project, "queue/page/"), {"size": 1}).json()["images"][0]["image"]["id"]
    r = c.post(
        url(grid_project, "annotations/"),
        {"image": tile, "labels": ["cat"], "time_spent_ms": spent},
        format="json",
    )
    assert r.status_code in (201, 400), r.content


# decisions/batch/


def batch(project, user, body, key=None) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client_for(user).post(url(project, "decisions/batch/"), body, format="json", **headers)


BAD_BODIES: list[Any] = [
    {"decisions": []},
    {"decisions": "x"},
    {"decisions": {"image": 1}},
    {"decisions": [[1, 2]]},
    {"decisions": [{"image": {"a": 1}, "labels": ["cat"]}]},
    {"decisions": [{"image": 1, "labels": [[["cat"]]]}]},
    {"decisions": [{"image": 1, "labels": [{"name": "cat"}]}]},
    {"decisions": [{"image": 1, "labels": "cat"}]},
    {"decisions": [{"image": 1, "labels": [None]}]},
    {"decisions": [{"image": 1, "labels": [1.5]}]},
    {"decisions": [{"image": 1, "labels": [2**70]}]},
    {"decisions": [{"image": 2**70, "labels": ["cat"]}]},
    {"decisions": [{"image": -1, "labels": ["cat"]}]},
    {"decisions": [{"image": True, "labels": ["cat"]}]},
    {"decisions": [{"image": 1, "labels": ["cat"], "method": "consensus"}]},
    {"decisions": [{"image": 1, "labels": ["cat"], "method": ["gold"]}]},
    [],
    [{"image": 1, "labels": ["cat"]}],
    "garbage",
    None,
    {},
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_batch_garbage(project, lead, reviewer, make_images, body):
    make_images(project, 2)
    before = row_counts()
    for user in (lead, reviewer):
        r = batch(project, user, body)
        assert 400 <= r.status_code < 500, (body, r.status_code, r.content)
    assert row_counts() == before


def test_batch_sizes_duplicates_other_projects(project, lead, reviewer, make_images):
    images = make_images(project, 3)
    other = ProjectFactory()
    add_member(other, lead, Role.LEAD)
    foreign = make_images(other, 1)[0]
    before = row_counts()
    body = {"decisions": [{"image": images[0].pk, "labels": ["cat"]}] * 201}
    assert batch(project, lead, body).status_code == 400
    body = {"decisions": [{"image": images[0].pk, "labels": ["cat"]}] * 2}
    assert batch(project, lead, body).status_code == 400
    body = {
        "decisions": [
            {"image": images[0].pk, "labels": ["cat"]},
            {"image": foreign.pk, "labels": ["cat"]},
        ]
    }
    assert 400 <= batch(project, lead, body).status_code < 500
    body = {
        "decisions": [
            {"image": images[0].pk, "labels": ["cat"]},
            {"image": images[1].pk, "labels": ["cat"], "method": "gold"},
        ]
    }
    assert batch(project, reviewer, body).status_code == 403
    body = {
        "decisions": [
            {"image": images[0].pk, "labels": ["cat"]},
            {"image": images[1].pk, "labels": ["nope"]},
        ]
    }
    assert batch(project, lead, body).status_code == 400
    assert row_counts() == before


def test_batch_idempotency_replay_other_body(project, lead, make_images):
    images = make_images(project, 3)
    first = {"decisions": [{"image": images[0].pk, "labels": ["cat"]}]}
    other = {"decisions": [{"image": images[1].pk, "labels": ["dog"]}]}
    assert batch(project, lead, first, key="k1").status_code == 201
    r = batch(project, lead, other, key="k1")
    assert r.status_code in (409, 422, 400), r.content
    from labeler.annotations.models import FinalLabel

    assert not FinalLabel.objects.filter(image=images[1]).exists()


# Labels with groups and chords, grid settings, through the project API


def patch(project, user, body) -> Any:
    return client_for(user).patch(f"/api/v1/projects/{project.pk}/", body, format="json")


def many_labels(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"name": f"label {i}", **extra} for i in range(n)]


BAD_LABELS: list[Any] = [
    [{"name": "a", "hotkey": "x"}, {"name": "b", "hotkey": "xy"}],
    [{"name": "a", "hotkey": "X"}, {"name": "b", "hotkey": "xY"}],
    [{"name": "a", "hotkey": "ab"}, {"name": "b", "hotkey": "AB"}],
    [{"name": "a", "hotkey": "é"}, {"name": "b"}],
    [{"name": "a", "hotkey": "\u0661"}, {"name": "b"}],
    [{"name": "a", "hotkey": "abc"}, {"name": "b"}],
    [{"name": "a", "hotkey": "a\x00"}, {"name": "b"}],
    [{"name": "a", "hotkey": ["a"]}, {"name": "b"}],
    [{"name": "a", "hotkey": 1}, {"name": "b"}],
    [{"name": "a", "hotkey": "a b"}, {"name": "b"}],
    [{"name": "a", "group": "x" * 10_000}, {"name": "b"}],
    [{"name": "a", "group": "bad\x07bell"}, {"name": "b"}],
    [{"name": "a", "group": "bad\x7fdel"}, {"name": "b"}],
    [{"name": "a", "group": "bad\x9bcsi"}, {"name": "b"}],
    [{"name": "a", "group": "\u200b\u200d"}, {"name": "b"}],
    [{"name": "a\x7f", "group": "g"}, {"name": "b"}],
    [{"name": "a", "group": "\u202eevil"}, {"name": "b"}],
    [{"name": "a", "group": ["g"]}, {"name": "b"}],
    [{"name": "a", "group": {"g": 1}}, {"name": "b"}],
    many_labels(501),
]


@pytest.mark.parametrize("labels", BAD_LABELS)
def test_bad_labels_are_400_naming_labels(project, lead, labels):
    before = list(project.labels.values_list("name", "hotkey", "group"))
    response = patch(project, lead, {"labels": labels})
    assert response.status_code == 400, (labels[:2], response.status_code, response.content[:300])
    assert any(key.startswith("labels") for key in response.json()["errors"]), response.content
    assert list(project.labels.values_list("name", "hotkey", "group")) == before


def test_500_labels_get_prefix_free_chords(project, lead):
    response = patch(project, lead, {"labels": [*["cat", "dog"], *[f"l{i}" for i in range(498)]]})
    assert response.status_code == 200, response.content[:300]
    keys = list(project.labels.values_list("hotkey", flat=True))
    assert len(keys) == 500 and all(keys)
    assert len(set(keys)) == 500
    singles = {k for k in keys if len(k) == 1}
    assert not any(len(k) == 2 and k[0] in singles for k in keys)


def test_uppercase_and_spaced_hotkeys_are_stored_lower_case(project, lead):
    response = patch(
        project,
        lead,
        {"labels": [{"name": "cat", "hotkey": " Q "}, {"name": "dog", "hotkey": "WE"}]},
    )
    assert response.status_code == 200, response.content
    assert sorted(project.labels.values_list("hotkey", flat=True)) == ["q", "we"]


def test_a_stored_single_key_clashing_with_a_new_chord_is_400(project, lead):
    assert (
        patch(project, lead, {"labels": [{"name": "cat", "hotkey": "c"}, "dog"]}).status_code == 200
    )
    response = patch(project, lead, {"labels": ["cat", "dog", {"name": "cow", "hotkey": "co"}]})
    assert response.status_code == 400, response.content
    assert "labels" in response.json()["errors"]


@pytest.mark.parametrize(
    "field,value",
    [("grid_size", 11), ("grid_size", 49), ("grid_size", -1), ("grid_size", 2**70),
     ("grid_size", 12.5), ("grid_size", "24x"), ("grid_size", None), ("grid_size", True),
     ("grid_size", [24]), ("grid_mode", "ON"), ("grid_mode", ""),
     ("grid_mode", None), ("grid_mode", 1), ("grid_mode", ["off"]), ("grid_mode", "off\x00")],
)  # fmt: skip
def test_bad_grid_settings_are_400_naming_the_field(project, lead, field, value):
    response = patch(project, lead, {field: value})
    assert response.status_code == 400, (value, response.status_code, response.content)
    assert field in response.json()["errors"], response.content
    project.refresh_from_db()
    assert (project.grid_mode, project.grid_size) == ("choice", 24)


def test_grid_settings_by_a_non_lead(project, annotator, reviewer):
    for user in (annotator, reviewer):
        assert patch(project, user, {"grid_mode": "off"}).status_code == 403
    project.refresh_from_db()
    assert project.grid_mode == "choice"


def test_a_group_is_kept_with_its_spaces_folded(project, lead):
    response = patch(
        project,
        lead,
        {
            "labels": [
                {"name": "cat", "group": "  Pets\u0085 at\thome "},
                {"name": "dog", "group": "\u00dcn\u00efc\u00f6d\u00e9 \U0001f43e"},
            ]
        },
    )
    assert response.status_code == 200, response.content
    assert list(project.labels.order_by("position").values_list("group", flat=True)) == [
        "Pets at home",
        "\u00dcn\u00efc\u00f6d\u00e9 \U0001f43e",
    ]


def two_pages(project, user, exclude=()) -> list[int]:
    c = client_for(user)
    query = {"exclude": ",".join(map(str, exclude))}
    first = [t["image"]["id"] for t in c.get(url(project, "queue/page/"), query).json()["images"]]
    query = {"exclude": ",".join(map(str, [*exclude, *first]))}
    ahead = c.get(url(project, "queue/page/"), query)
    return first + [t["image"]["id"] for t in ahead.json()["images"]]


def test_a_skip_on_a_page_is_undone_within_the_pages_cap(grid_project, annotator, make_images):
    """Two pages held (more than LABELER_MAX_LEASES), a tile skipped, the skip undone: the
    image comes back on a page lease, under the cap for pages, not the single cap."""
    make_images(grid_project, 40)
    held = two_pages(grid_project, annotator)
    assert len(held) == lease_cap(grid_project, grid=True) == 24
    c = client_for(annotator)
    skip = c.post(url(grid_project, "skips/"), {"image": held[0]}, format="json")
    assert skip.status_code == 201, skip.content
    response = c.delete(url(grid_project, f"skips/{skip.json()['id']}/"))
    assert response.status_code in (200, 204), response.content
    lease = Assignment.objects.get(annotator=annotator, image_id=held[0])
    assert lease.grid is True
    assert live(grid_project, annotator) == 24
    # and labelled after a skip (the skip taken back by the label), still a page's label
    skip = c.post(url(grid_project, "skips/"), {"image": held[1]}, format="json")
    assert skip.status_code == 201, skip.content
    response = c.post(
        url(grid_project, "annotations/"), {"image": held[1], "labels": ["cat"]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Annotation.objects.get(image_id=held[1]).grid is True


def test_a_skip_in_single_mode_is_undone_under_the_single_cap(grid_project, annotator, make_images):
    make_images(grid_project, 40)
    held = two_pages(grid_project, annotator)
    c = client_for(annotator)
    single = c.get(url(grid_project, "next/"))  # renews a page lease as a single one
    image = single.json()["image"]["id"]
    skip = c.post(url(grid_project, "skips/"), {"image": image}, format="json")
    assert skip.status_code == 201
    response = c.delete(url(grid_project, f"skips/{skip.json()['id']}/"))
    assert response.status_code == 409 and response.json()["code"] == "lease_limit"
    assert live(grid_project, annotator) == len(held) - 1


def test_a_page_is_blind(project, lead, annotator, annotator2, make_images):
    """Overlap 2: what annotator2 chose, and any file name, never reach annotator's page."""
    make_images(project, 4)
    project.grid_size = 12
    project.save()
    c2 = client_for(annotator2)
    for tile in c2.get(url(project, "queue/page/")).json()["images"]:
        r = c2.post(
            url(project, "annotations/"),
            {"image": tile["image"]["id"], "labels": ["dog"]},
            format="json",
        )
        assert r.status_code == 201
    response = client_for(annotator).get(url(project, "queue/page/"))
    assert response.status_code == 200
    text = response.content.decode()
    assert len(response.json()["images"]) == 4
    for leaked in ("ann2", "dog", "img0", ".png", "annotation", "label"):
        assert leaked not in text, leaked
    assert all(tile["image"]["original_name"] == "" for tile in response.json()["images"])


def test_a_late_label_on_a_page_keeps_the_cap(grid_project, annotator, make_images):
    """A page lease expired while the annotator took two more pages: labelling it late takes
    a slot through the gate, refused while they hold the cap, accepted once below it."""
    from datetime import timedelta

    from django.utils import timezone

    make_images(grid_project, 60)
    c = client_for(annotator)
    first = [t["image"]["id"] for t in c.get(url(grid_project, "queue/page/")).json()["images"]]
    Assignment.objects.filter(image_id__in=first).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    held = two_pages(grid_project, annotator, exclude=first)
    assert not set(held) & set(first) and live(grid_project, annotator) == 24
    r = c.post(
        url(grid_project, "annotations/"), {"image": first[0], "labels": ["cat"]}, format="json"
    )
    assert r.status_code == 409 and r.json()["code"] == "lease_limit", r.content
    assert c.post(url(grid_project, "skips/"), {"image": held[0]}, format="json").status_code == 201
    r = c.post(
        url(grid_project, "annotations/"), {"image": first[0], "labels": ["cat"]}, format="json"
    )
    assert r.status_code == 201, r.content
    assert Annotation.objects.get(image_id=first[0]).grid is True
    assert live(grid_project, annotator) == 23
