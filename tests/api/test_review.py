"""The review queue and decisions over REST: shapes, roles, every bad input, query counts."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from labeler.agreement.services import final_labels_refresh
from labeler.annotations.models import FinalLabel
from labeler.projects.models import Label
from tests.conftest import client_for
from tests.factories import ModelVersionFactory, ProjectFactory, annotation_submit, predict
from tests.rows import row_counts

pytestmark = pytest.mark.django_db

ITEM_FIELDS = {
    "image",
    "reason",
    "consensus",
    "annotations",
    "suggestion",
    "final_label",
    "requests",
}


@pytest.fixture
def urls(project):
    base = f"/api/v1/projects/{project.pk}"
    return {
        "review": f"{base}/review/",
        "decisions": f"{base}/decisions/",
        "images": f"{base}/images/",
        "consensus": f"{base}/consensus/",
    }


@pytest.fixture
def split(project, annotator, annotator2, make_images):
    """Overlap 2: two images the annotators split on (ties), one they agree on."""
    first, second, agreed = make_images(project, 3)
    for image, (a, b) in (
        (first, ("cat", "dog")),
        (second, ("bird", "cat")),
        (agreed, ("dog",) * 2),
    ):
        annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=[a])
        annotation_submit(project=project, annotator=annotator2, image_id=image.pk, labels=[b])
    final_labels_refresh(project=project)
    return first, second, agreed


def label_id(project, name: str) -> int:
    return Label.objects.get(project=project, name=name).pk


def decide(user, urls, **body):
    return client_for(user).post(urls["decisions"], body, format="json")


def test_the_list_shows_what_a_reviewer_needs(project, reviewer, urls, split, annotator):
    """Each item: the image with its URLs, why, the consensus, who gave what, no decision."""
    first, second, _ = split
    response = client_for(reviewer).get(urls["review"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 2 and body["next"] is None
    assert body["reasons"] == {"requested": 0, "tie": 2, "low_confidence": 0, "disagreement": 0}
    item = body["results"][0]
    assert set(item) == ITEM_FIELDS
    image = client_for(reviewer).get(f"{urls['images']}{first.pk}/").json()
    # File and thumbnail URLs as the image API gives them (which adds the image's metadata).
    assert item["image"] == {name: image[name] for name in item["image"]}
    assert item["reason"] == "tie"
    assert item["consensus"] == {"label_ids": [], "confidence": 0.5, "method": "majority"}
    assert [(a["username"], a["label_ids"]) for a in item["annotations"]] == [
        ("ann1", [label_id(project, "cat")]),
        ("ann2", [label_id(project, "dog")]),
    ]
    assert item["annotations"][0]["annotator"] == annotator.pk
    assert item["annotations"][0]["updated_at"]
    assert item["suggestion"] is None and item["final_label"] is None
    assert [r["image"]["id"] for r in body["results"]] == [first.pk, second.pk]


def test_pages_and_the_reason_filter(reviewer, urls, split):
    """page_size pages through the queue; ?reason filters; an unknown reason is a 400."""
    first, second, _ = split
    page = client_for(reviewer).get(urls["review"], {"page_size": 1}).json()
    assert [r["image"]["id"] for r in page["results"]] == [first.pk]
    assert page["count"] == 2 and "page=2" in page["next"]
    second_page = client_for(reviewer).get(page["next"]).json()
    assert [r["image"]["id"] for r in second_page["results"]] == [second.pk]
    none = client_for(reviewer).get(urls["review"], {"reason": "low_confidence"}).json()
    assert none["count"] == 0 and none["reasons"]["tie"] == 2
    bad = client_for(reviewer).get(urls["review"], {"reason": "odd"})
    assert bad.status_code == 400 and bad.json()["errors"] == {"reason": [bad.json()["detail"]]}
    assert client_for(reviewer).get(urls["review"], {"page": 9}).status_code == 404


def test_the_model_suggestion_is_part_of_an_item(project, lead, urls, split):
    """With a current model, each item carries its suggestion as the queue shows it."""
    first, _, _ = split
    model = ModelVersionFactory(project=project)
    predict(model, first, {str(label_id(project, "cat")): 0.9, str(label_id(project, "dog")): 0.1})
    item = client_for(lead).get(f"{urls['review']}{first.pk}/").json()
    assert item["suggestion"]["label_ids"] == [label_id(project, "cat")]
    assert item["suggestion"]["confidence"] == pytest.approx(0.9)
    assert item["suggestion"]["version"] == model.version


def test_a_decision_replaces_the_consensus_and_leaves_the_queue(project, reviewer, urls, split):
    """Adjudicating: 201 with the final label; the image leaves the queue; refresh keeps it."""
    first, _, agreed = split
    response = decide(reviewer, urls, image=first.pk, labels=["dog"], method="adjudicated")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["image"] == first.pk and body["label_ids"] == [label_id(project, "dog")]
    assert (body["method"], body["confidence"], body["decided_by"]) == ("adjudicated", 1.0, "rev")
    assert body["updated_at"]
    queue = client_for(reviewer).get(urls["review"]).json()
    assert first.pk not in [r["image"]["id"] for r in queue["results"]] and queue["count"] == 1

    # An agreed image with a consensus final label: a person's decision overrides it.
    assert FinalLabel.objects.get(image=agreed).method == "consensus"
    response = decide(reviewer, urls, image=agreed.pk, labels=[label_id(project, "bird")])
    assert response.status_code == 201 and response.json()["method"] == "adjudicated"
    final_labels_refresh(project=project)
    finals = {f.image_id: f.method for f in FinalLabel.objects.all()}
    assert finals == {first.pk: "adjudicated", agreed.pk: "adjudicated"}
    detail = client_for(reviewer).get(f"{urls['review']}{first.pk}/").json()
    assert detail["reason"] == "tie" and detail["final_label"]["decided_by"] == "rev"


def test_a_lead_marks_gold_and_takes_decisions_back(
    project, lead, urls, split, settings, django_capture_on_commit_callbacks
):
    """Gold is a lead's; deleting a decision hands the image back to consensus."""
    settings.AGREEMENT_REFRESH_SECONDS = 0
    first, _, agreed = split
    with django_capture_on_commit_callbacks(execute=True):
        response = decide(lead, urls, image=agreed.pk, labels=["cat"], method="gold")
    assert response.status_code == 201 and response.json()["method"] == "gold"
    decide(lead, urls, image=first.pk, labels=["cat"])
    listed = client_for(lead).get(urls["decisions"]).json()["results"]
    assert [(d["image"], d["method"]) for d in listed] == [
        (first.pk, "adjudicated"),
        (agreed.pk, "gold"),
    ]
    gold = client_for(lead).get(urls["decisions"], {"method": "gold"}).json()["results"]
    assert [d["image"] for d in gold] == [agreed.pk]
    assert client_for(lead).get(urls["decisions"], {"method": "x"}).status_code == 400

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(lead).delete(f"{urls['decisions']}{agreed.pk}/")
    assert response.status_code == 204
    final = FinalLabel.objects.get(image=agreed)  # written again by the refresh
    assert final.method == "consensus" and final.labels.get().name == "dog"
    again = client_for(lead).delete(f"{urls['decisions']}{agreed.pk}/")
    assert again.status_code == 404 and again.json()["code"] == "not_found"


def test_roles(project, lead, reviewer, annotator, outsider, admin_user, urls, split):
    """Reviewers adjudicate; only leads and admins mark gold, change gold or take back."""
    first, second, _ = split
    paths = [urls["review"], f"{urls['review']}{first.pk}/", urls["decisions"]]
    for path in paths:
        assert client_for(annotator).get(path).status_code == 403
        assert client_for(outsider).get(path).status_code == 404
        assert client_for(reviewer).get(path).status_code == 200
        assert client_for(admin_user).get(path).status_code == 200
    assert decide(annotator, urls, image=first.pk, labels=["cat"]).status_code == 403
    assert decide(outsider, urls, image=first.pk, labels=["cat"]).status_code == 404
    refused = decide(reviewer, urls, image=first.pk, labels=["cat"], method="gold")
    assert refused.status_code == 403 and "gold" in refused.json()["detail"]
    assert (
        decide(admin_user, urls, image=first.pk, labels=["cat"], method="gold").status_code == 201
    )
    overwrite = decide(reviewer, urls, image=first.pk, labels=["dog"])
    assert overwrite.status_code == 403 and "gold image" in overwrite.json()["detail"]
    assert decide(reviewer, urls, image=second.pk, labels=["dog"]).status_code == 201
    for user, code in ((annotator, 403), (reviewer, 403), (outsider, 404), (lead, 204)):
        assert client_for(user).delete(f"{urls['decisions']}{second.pk}/").status_code == code
    assert FinalLabel.objects.get(image=first).method == "gold"


@pytest.mark.parametrize(
    "body",
    [
        {"image": 999999, "labels": ["cat"]},  # unknown image
        {"image": "other", "labels": ["cat"]},  # an image of another project (filled in)
        {"image": "first", "labels": ["horse"]},  # unknown label
        {"image": "first", "labels": ["other-label"]},  # a label of another project
        {"image": "first", "labels": []},  # empty on a single-label project
        {"image": "first", "labels": ["cat", "dog"]},  # two on a single-label project
        {"image": "first", "labels": ["cat", "cat"]},  # twice the same
        {"image": "abc", "labels": ["cat"]},
        {"image": True, "labels": ["cat"]},
        {"image": "first", "labels": "cat"},
        {"image": "first", "labels": [True]},
        {"image": "first", "labels": [{"name": "cat"}]},
        {"image": "first", "labels": ["cat"], "method": "consensus"},
        {"image": "first", "labels": ["cat"], "method": 5},
        {"labels": ["cat"]},
        {"image": "first"},
    ],
)
def test_bad_decisions_are_4xx_and_write_nothing(project, lead, urls, split, make_images, body):
    """Every malformed or disallowed decision is refused with a message; no row changes."""
    first, _, _ = split
    other = ProjectFactory(labels=["elsewhere"])
    other_image = make_images(other, 1)[0]
    fill = {"first": first.pk, "other": other_image.pk}
    body = {**body}
    if body.get("image") in fill:
        body["image"] = fill[body["image"]]
    if body.get("labels") == ["other-label"]:
        body["labels"] = [Label.objects.get(project=other).pk]
    before = row_counts()
    response = decide(lead, urls, **body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid" and response.json()["detail"]
    assert row_counts() == before


def test_a_body_that_is_not_an_object_is_refused(lead, urls, split):
    """A JSON list or a string instead of an object: 400."""
    for body in ([1, 2], "cat"):
        response = client_for(lead).post(urls["decisions"], body, format="json")
        assert response.status_code == 400


def test_detail_of_images_outside_the_queue_or_project(project, lead, urls, split, make_images):
    """An agreed image has no reason and its consensus final label; unknown ids are 404."""
    _, _, agreed = split
    item = client_for(lead).get(f"{urls['review']}{agreed.pk}/").json()
    assert item["reason"] is None and item["final_label"]["method"] == "consensus"
    assert item["consensus"]["label_ids"] == [label_id(project, "dog")]
    other_image = make_images(ProjectFactory(), 1)[0]
    for image_id in (other_image.pk, 999999):
        response = client_for(lead).get(f"{urls['review']}{image_id}/")
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_the_list_costs_a_fixed_number_of_queries(
    project, lead, annotator, annotator2, urls, make_images, django_assert_max_num_queries
):
    """A page of 25 costs what a page of 5 does: details come in bulk, not per image."""
    images = make_images(project, 30)
    model = ModelVersionFactory(project=project)
    for image in images:
        annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=["cat"])
        annotation_submit(project=project, annotator=annotator2, image_id=image.pk, labels=["dog"])
        predict(model, image, {str(label_id(project, "cat")): 0.6})
    client = client_for(lead)
    client.get(urls["review"])  # computes and caches the candidates
    for size in (5, 25):
        with django_assert_max_num_queries(13):
            body = client.get(urls["review"], {"page_size": size}).json()
        assert len(body["results"]) == size
        assert all(r["suggestion"] and len(r["annotations"]) == 2 for r in body["results"])


def test_the_schema_documents_the_endpoints():
    """The OpenAPI schema names each endpoint with its request and response shapes."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    review = paths["/api/v1/projects/{project_pk}/review/"]["get"]
    assert {p["name"] for p in review["parameters"]} >= {"reason", "page", "page_size"}
    decisions = paths["/api/v1/projects/{project_pk}/decisions/"]
    assert set(decisions) >= {"get", "post"}
    assert "201" in decisions["post"]["responses"]
    assert "delete" in paths["/api/v1/projects/{project_pk}/decisions/{image_id}/"]
    assert "get" in paths["/api/v1/projects/{project_pk}/review/{image_id}/"]
    assert set(schema["components"]["schemas"]["ReviewItem"]["properties"]) == ITEM_FIELDS


@pytest.mark.embedded
@pytest.mark.parametrize(
    ("image", "message"),
    [
        (2**63, f"No row has an id above {2**63 - 1}."),
        (2**70, f"No row has an id above {2**63 - 1}."),
        (-(2**70), "Ids start at 1."),
    ],
)
def test_a_reviewers_decision_on_an_id_beyond_64_bits_is_refused(reviewer, urls, image, message):
    """A reviewer's decision looked the id up before any check: OverflowError on SQLite
    (found by the schema fuzz)."""
    response = decide(reviewer, urls, image=image, labels=["cat"])
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"image": [message]}
