"""A page of decisions at once (the review grid): all written or none, per-item refusals."""

from __future__ import annotations

import pytest

from labeler.annotations.models import FinalLabel, LabelChange
from labeler.projects.models import Label
from tests.api.test_review import split  # noqa: F401  (a fixture)
from tests.conftest import client_for
from tests.factories import ProjectFactory
from tests.rows import row_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def url(project):
    return f"/api/v1/projects/{project.pk}/decisions/batch/"


def label_id(project, name: str) -> int:
    return Label.objects.get(project=project, name=name).pk


def send(user, url, decisions, **headers):
    return client_for(user).post(url, {"decisions": decisions}, format="json", **headers)


def test_a_page_of_decisions_is_written_at_once(project, reviewer, url, split):  # noqa: F811
    """201 with each final label in the batch's order, decided by the caller; they leave the
    queue and the history keeps one change per image, as single decisions would."""
    first, second, _ = split
    response = send(
        reviewer,
        url,
        [
            {"image": second.pk, "labels": ["bird"]},
            {"image": first.pk, "labels": [label_id(project, "dog")], "method": "adjudicated"},
        ],
    )
    assert response.status_code == 201, response.content
    rows = response.json()["decisions"]
    assert [(r["image"], r["method"], r["decided_by"]) for r in rows] == [
        (second.pk, "adjudicated", "rev"),
        (first.pk, "adjudicated", "rev"),
    ]
    assert rows[0]["label_ids"] == [label_id(project, "bird")]
    decided = FinalLabel.objects.filter(method="adjudicated")
    finals = {f.image_id: f.labels.get().name for f in decided}
    assert finals == {first.pk: "dog", second.pk: "bird"}
    queue = client_for(reviewer).get(f"/api/v1/projects/{project.pk}/review/").json()
    assert queue["count"] == 0
    changes = LabelChange.objects.filter(kind="final_set", changed_by=reviewer)
    assert sorted(changes.values_list("image_id", flat=True)) == sorted([first.pk, second.pk])


def test_one_refused_decision_writes_none_and_names_each(project, lead, url, split):  # noqa: F811
    """An unknown label and an image of no project: 400, every refused one listed, nothing
    written, not even the good decision before them."""
    first, second, _ = split
    before = row_counts()
    response = send(
        lead,
        url,
        [
            {"image": first.pk, "labels": ["cat"]},
            {"image": second.pk, "labels": ["horse"]},
            {"image": 999999, "labels": ["cat"]},
        ],
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "decisions_refused" and "Nothing was saved" in body["detail"]
    assert [(i["index"], i["image"], i["status"]) for i in body["items"]] == [
        (1, second.pk, 400),
        (2, 999999, 400),
    ]
    assert "horse" in body["items"][0]["detail"]
    assert row_counts() == before


def test_roles(project, lead, reviewer, annotator, outsider, admin_user, url, split):  # noqa: F811
    """Reviewers, leads and admins decide in batches; gold is for leads and admins, and a
    reviewer's batch touching a gold image is refused whole (403, the decision named)."""
    first, second, agreed = split
    one = [{"image": first.pk, "labels": ["cat"]}]
    assert send(annotator, url, one).status_code == 403
    assert send(outsider, url, one).status_code == 404
    gold = [{"image": agreed.pk, "labels": ["dog"], "method": "gold"}]
    refused = send(reviewer, url, [*one, *gold])
    assert refused.status_code == 403
    assert refused.json()["items"] == [
        {
            "index": 1,
            "image": agreed.pk,
            "status": 403,
            "code": "permission_denied",
            "detail": "Only the project's leads and admins mark gold images.",
        }
    ]
    assert not FinalLabel.objects.filter(method="adjudicated").exists()
    assert send(lead, url, gold).status_code == 201
    over_gold = send(reviewer, url, [*one, {"image": agreed.pk, "labels": ["cat"]}])
    assert over_gold.status_code == 403
    assert over_gold.json()["items"] == [
        {
            "index": 1,
            "image": agreed.pk,
            "status": 403,
            "code": "permission_denied",
            "detail": over_gold.json()["items"][0]["detail"],
        }
    ]
    assert "gold image" in over_gold.json()["items"][0]["detail"]
    assert send(reviewer, url, one).status_code == 201
    assert send(admin_user, url, [{"image": second.pk, "labels": ["dog"]}]).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"decisions": []},
        {"decisions": "first"},
        {"decisions": [{"image": "first"}]},
        {"decisions": [{"image": "first", "labels": ["cat"], "method": "consensus"}]},
        {"decisions": [{"image": "first", "labels": [name]} for name in ("cat", "dog")]},
        {"decisions": [{"image": "first", "labels": ["cat"]}] * 201},
        {"decision": [{"image": "first", "labels": ["cat"]}]},
        [{"image": "first", "labels": ["cat"]}],
        {"decisions": [{"image": "other", "labels": ["cat"]}]},
    ],
)
def test_bad_batches_are_400_and_write_nothing(lead, url, split, make_images, body):  # noqa: F811
    """Malformed, empty, too long, an image twice, another project's image: 400, no row."""
    first = split[0]
    other = make_images(ProjectFactory(labels=["elsewhere"]), 1)[0]
    fill = {"first": first.pk, "other": other.pk}

    def filled(value):
        if isinstance(value, dict):
            return {k: fill.get(v, v) if k == "image" else filled(v) for k, v in value.items()}
        if isinstance(value, list):
            return [filled(v) for v in value]
        return value

    before = row_counts()
    response = client_for(lead).post(url, filled(body), format="json")
    assert response.status_code in (400, 404), response.content
    assert response.json()["detail"]
    assert row_counts() == before


def test_a_retried_batch_is_applied_once(project, reviewer, url, split):  # noqa: F811
    """The same Idempotency-Key: the first answer again, the decisions written once."""
    first = split[0]
    decisions = [{"image": first.pk, "labels": ["cat"]}]
    headers = {"HTTP_IDEMPOTENCY_KEY": "page-1"}
    once = send(reviewer, url, decisions, **headers)
    again = send(reviewer, url, decisions, **headers)
    assert once.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == once.json()
    assert LabelChange.objects.filter(kind="final_set", image=first).count() == 1


@pytest.mark.parametrize(
    ("decision", "key"),
    [
        ({"image": "IMAGE", "labels": ["dog"], "methd": "gold"}, "methd"),
        ({"image": "IMAGE", "labels": ["dog"], "decided_by": "someone"}, "decided_by"),
    ],
)
def test_a_decision_with_a_key_it_does_not_know_is_a_400_naming_it(
    project,
    lead,
    url,
    split,  # noqa: F811
    decision,
    key,
):
    """A misspelt or foreign key in a batch item is refused, naming it, and nothing is
    written (before, it was dropped: a misspelt method quietly took its default)."""
    decision = {**decision, "image": split[0].pk}
    before = row_counts()
    response = send(lead, url, [{"image": split[1].pk, "labels": ["cat"]}, decision])
    assert response.status_code == 400, response.content
    assert key in response.json()["detail"], response.json()
    assert row_counts() == before


def test_a_batch_with_a_key_it_does_not_know_is_a_400_naming_it(project, lead, url, split):  # noqa: F811
    response = client_for(lead).post(
        url, {"decisions": [{"image": split[0].pk, "labels": ["cat"]}], "dry": True}, format="json"
    )
    assert response.status_code == 400 and "dry" in response.json()["detail"], response.content
