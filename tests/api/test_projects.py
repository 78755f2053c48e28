"""Projects through /api/v1/projects/: creation, validation, label changes, overlap."""

from __future__ import annotations

from typing import Any

import pytest

from labeler.images.models import Image
from labeler.projects.labels import PALETTE
from labeler.projects.models import Label, Membership, Project, Role
from tests.conftest import client_for
from tests.factories import ProjectFactory, annotation_submit
from tests.rows import row_counts

URL = "/api/v1/projects/"


def labels_of(project: Project) -> list[tuple[int, str, str, str, int]]:
    return list(project.labels.values_list("pk", "name", "color", "hotkey", "position"))


def label_id(project: Project, name: str) -> int:
    return project.labels.get(name=name).pk


# Creating


def test_an_admin_creates_a_project_and_leads_it(admin_user):
    """The creator becomes lead; labels get palette colours and hotkeys in order."""
    payload = {
        "name": "  Birds ",
        "instructions": "Pick the species.",
        "overlap": 3,
        "labels": ["crow", {"name": "owl", "color": "#00FF00", "hotkey": "O"}],
    }
    response = client_for(admin_user).post(URL, payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["overlap"], body["multi_label"]) == ("Birds", 3, False)
    assert body["role"] == "lead"
    assert [(lb["name"], lb["color"], lb["hotkey"], lb["position"]) for lb in body["labels"]] == [
        ("crow", PALETTE[0], "1", 0),
        ("owl", "#00ff00", "o", 1),
    ]
    project = Project.objects.get(pk=body["id"])
    assert project.created_by == admin_user
    assert list(project.memberships.values_list("user", "role")) == [(admin_user.pk, Role.LEAD)]


def test_a_multi_label_project_may_start_with_one_label(admin_user):
    """Multi-label projects need only one label."""
    payload = {"name": "Tags", "multi_label": True, "labels": ["outdoor"]}
    response = client_for(admin_user).post(URL, payload, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["multi_label"] is True


def test_a_user_without_the_permission_cannot_create_projects(lead, project):
    """Leading a project does not grant creating new ones; nothing is written."""
    before = row_counts()
    response = client_for(lead).post(URL, {"name": "Mine", "labels": ["a", "b"]}, format="json")
    assert response.status_code == 403
    assert "create projects" in response.json()["detail"]
    assert row_counts() == before


BAD_PAYLOADS = [
    pytest.param({"labels": ["a", "b"]}, "name", id="no-name"),
    pytest.param({"name": "", "labels": ["a", "b"]}, "name", id="empty-name"),
    pytest.param({"name": "   ", "labels": ["a", "b"]}, "name", id="blank-name"),
    pytest.param({"name": None, "labels": ["a", "b"]}, "name", id="null-name"),
    pytest.param({"name": "n" * 201, "labels": ["a", "b"]}, "name", id="long-name"),
    pytest.param({"name": "P", "overlap": 0, "labels": ["a", "b"]}, "overlap", id="overlap-0"),
    pytest.param({"name": "P", "overlap": 51, "labels": ["a", "b"]}, "overlap", id="overlap-51"),
    pytest.param({"name": "P", "overlap": -1, "labels": ["a", "b"]}, "overlap", id="overlap-neg"),
    pytest.param({"name": "P", "overlap": "x", "labels": ["a", "b"]}, "overlap", id="overlap-x"),
    pytest.param({"name": "P", "multi_label": "maybe", "labels": ["a"]}, "multi_label", id="ml"),
    pytest.param({"name": "P"}, "labels", id="no-labels"),
    pytest.param({"name": "P", "labels": None}, "labels", id="null-labels"),
    pytest.param({"name": "P", "labels": []}, "labels", id="empty-labels"),
    pytest.param({"name": "P", "multi_label": True, "labels": []}, "labels", id="empty-multi"),
    pytest.param({"name": "P", "labels": "cat,dog"}, "labels", id="labels-string"),
    pytest.param({"name": "P", "labels": {"name": "cat"}}, "labels", id="labels-object"),
    pytest.param({"name": "P", "labels": ["cat"]}, "labels", id="single-label-one-label"),
    pytest.param({"name": "P", "labels": ["cat", "Cat"]}, "labels", id="duplicate-names"),
    pytest.param(
        {"name": "P", "labels": [{"name": "a", "hotkey": "x"}, {"name": "b", "hotkey": "x"}]},
        "labels",
        id="duplicate-hotkeys",
    ),
    pytest.param(
        {"name": "P", "labels": ["a", {"name": "b", "color": "blue"}]}, "labels", id="bad-colour"
    ),
    pytest.param(
        {"name": "P", "labels": ["a", {"name": "b", "hotkey": "abc"}]}, "labels", id="bad-hotkey"
    ),
    pytest.param(
        {"name": "P", "labels": ["a", {"name": "b", "size": 3}]}, "labels", id="unknown-field"
    ),
    pytest.param({"name": "P", "labels": ["a", 7]}, "labels", id="label-not-name"),
    pytest.param({"name": "P", "labels": ["a", {"name": "b", "id": 1}]}, "labels", id="label-id"),
]


@pytest.mark.parametrize("payload, field", BAD_PAYLOADS)
def test_bad_project_payloads_are_refused_naming_the_field(admin_user, payload, field):
    """Bad payloads answer 400 with the error shape, naming the field; nothing is written."""
    before = row_counts()
    response = client_for(admin_user).post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"]
    assert list(body["errors"]) == [field]
    assert all(isinstance(message, str) for message in body["errors"][field])
    assert row_counts() == before


@pytest.mark.parametrize(
    "content, content_type",
    [
        ('{"name": "P", "labels": ["a", "b"]', "application/json"),
        ("not json at all", "application/json"),
        ('["a", "b"]', "application/json"),
        ("", "application/json"),
    ],
)
def test_a_malformed_body_is_a_400_not_a_500(admin_user, content, content_type):
    """Broken JSON, or JSON that is not an object, is refused with a message."""
    before = row_counts()
    response = client_for(admin_user).generic("POST", URL, content, content_type=content_type)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"]
    assert body["code"] in ("parse_error", "invalid")
    assert row_counts() == before


# Reading


def test_a_member_reads_the_project_with_their_role(project, annotator, admin_user):
    """Each caller sees their own role; an admin who is not a member sees none."""
    url = f"{URL}{project.pk}/"
    body = client_for(annotator).get(url).json()
    assert body["role"] == "annotator"
    assert [lb["name"] for lb in body["labels"]] == ["cat", "dog", "bird"]
    assert client_for(admin_user).get(url).json()["role"] is None


# Updating


@pytest.fixture
def patch(project, lead):
    """PATCH the project as its lead."""

    def send(payload: Any) -> Any:
        return client_for(lead).patch(f"{URL}{project.pk}/", payload, format="json")

    return send


@pytest.fixture
def labelled(project, annotator, make_images):
    """One image of the project labelled "cat" by an annotator."""
    (image,) = make_images(project, 1)
    annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=["cat"])
    return image


def test_the_lead_renames_the_project_and_edits_instructions(project, patch):
    """Fields not sent are left alone."""
    response = patch({"name": " Pets v2 ", "instructions": "Be quick."})
    assert response.status_code == 200, response.content
    project.refresh_from_db()
    assert (project.name, project.instructions, project.overlap) == ("Pets v2", "Be quick.", 2)
    assert response.json()["name"] == "Pets v2"


def test_labels_are_renamed_recoloured_and_reordered_by_id(project, patch, labelled):
    """Objects with ids rename, recolour and reorder labels in use; annotations follow them."""
    cat, dog, bird = (label_id(project, n) for n in ("cat", "dog", "bird"))
    response = patch(
        {
            "labels": [
                {"id": bird, "name": "bird", "color": "#abcdef"},
                {"id": cat, "name": "kitten"},
                {"id": dog, "name": "dog", "hotkey": "d"},
            ]
        }
    )
    assert response.status_code == 200, response.content
    assert labels_of(project) == [
        (bird, "bird", "#abcdef", "3", 0),
        (cat, "kitten", "#123456", "1", 1),
        (dog, "dog", "#123456", "d", 2),
    ]
    assert list(labelled.annotations.get().labels.values_list("name", flat=True)) == ["kitten"]
    assert [lb["name"] for lb in response.json()["labels"]] == ["bird", "kitten", "dog"]


def test_two_labels_swap_names_and_hotkeys(project, patch, labelled):
    """Swapping names or hotkeys between labels does not trip the uniqueness rules."""
    cat, dog = label_id(project, "cat"), label_id(project, "dog")
    response = patch(
        {
            "labels": [
                {"id": cat, "name": "dog", "hotkey": "2"},
                {"id": dog, "name": "cat", "hotkey": "1"},
                "bird",
            ]
        }
    )
    assert response.status_code == 200, response.content
    assert [row[:2] + row[3:4] for row in labels_of(project)] == [
        (cat, "dog", "2"),
        (dog, "cat", "1"),
        (label_id(project, "bird"), "bird", "3"),
    ]


def test_labels_are_added_keeping_the_existing_ones(project, patch, labelled):
    """Existing labels named (by id or by name) stay as they are; new names are added."""
    before = labels_of(project)
    response = patch({"labels": [{"id": before[0][0], "name": "cat"}, "dog", "bird", "fish"]})
    assert response.status_code == 200, response.content
    after = labels_of(project)
    assert after[:3] == before
    assert after[3][1:] == ("fish", PALETTE[3], "4", 3)


def test_an_unused_label_is_removed(project, patch, labelled):
    """Leaving an unused label out of the list deletes it."""
    response = patch({"labels": ["cat", "dog"]})
    assert response.status_code == 200, response.content
    assert [row[1] for row in labels_of(project)] == ["cat", "dog"]


def test_removing_a_label_in_use_is_a_conflict(project, patch, labelled):
    """A label some annotation holds cannot be removed: 409 naming it, nothing changes."""
    before, counts = labels_of(project), row_counts()
    response = patch({"name": "Renamed", "labels": ["dog", "bird", "fish"]})
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "conflict"
    assert "cat" in body["detail"]
    assert body["errors"] == {"labels": [body["detail"]]}
    assert labels_of(project) == before
    assert row_counts() == counts
    project.refresh_from_db()
    assert project.name == "Pets"


@pytest.mark.parametrize(
    "labels, message",
    [
        (["cat"], "at least 2"),
        ([], "at least 2"),
        ("cat", "must be a list"),
        (["cat", "dog", "Dog"], "Duplicate label name"),
        ([{"id": 10**9, "name": "ghost"}, "dog"], "not labels of this project"),
        (["cat", {"name": "dog", "colour": "#zzzzzz"}], "colour"),
    ],
)
def test_bad_label_updates_are_refused(project, patch, labelled, labels, message):
    """A bad label list answers 400 naming `labels`; labels and annotations stay as they were."""
    before, counts = labels_of(project), row_counts()
    response = patch({"labels": labels})
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]
    assert list(response.json()["errors"]) == ["labels"]
    assert labels_of(project) == before
    assert row_counts() == counts


def test_label_ids_of_another_project_are_refused(project, patch, admin_user):
    """Another project's label ids cannot be pulled in or renamed through this project."""
    other = ProjectFactory(labels=["sun", "rain"])
    sun = label_id(other, "sun")
    before = row_counts()
    response = patch({"labels": [{"id": sun, "name": "mine"}, "cat"]})
    assert response.status_code == 400, response.content
    assert str(sun) in response.json()["detail"]
    assert other.labels.get(pk=sun).name == "sun"
    assert row_counts() == before


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"overlap": 0}, "overlap"),
        ({"overlap": 51}, "overlap"),
        ({"overlap": None}, "overlap"),
        ({"labels": None}, "labels"),
    ],
)
def test_bad_updates_are_refused(project, patch, payload, field):
    """A bad field answers 400 naming it; the project stays as it was."""
    before = row_counts()
    response = patch(payload)
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]
    project.refresh_from_db()
    assert (project.name, project.overlap) == ("Pets", 2)
    assert row_counts() == before


def test_put_needs_the_whole_project(project, lead):
    """PUT replaces: without labels it is refused; with them it applies."""
    url = f"{URL}{project.pk}/"
    response = client_for(lead).put(url, {"name": "Whole"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["labels"]
    payload = {"name": "Whole", "labels": ["cat", "dog"], "overlap": 3}
    response = client_for(lead).put(url, payload, format="json")
    assert response.status_code == 200, response.content
    project.refresh_from_db()
    assert (project.name, project.overlap, project.labels.count()) == ("Whole", 3, 2)


@pytest.fixture
def multi_project(project, annotator, make_images):
    """The project made multi-label, with one image labelled "cat" and "dog"."""
    project.multi_label = True
    project.save()
    (image,) = make_images(project, 1)
    annotation_submit(
        project=project, annotator=annotator, image_id=image.pk, labels=["cat", "dog"]
    )
    return project


def test_becoming_single_label_is_refused_while_an_annotation_has_several(multi_project, patch):
    """multi -> single answers 409 when some annotation holds two labels; nothing changes."""
    before = row_counts()
    response = patch({"multi_label": False, "name": "Single"})
    assert response.status_code == 409, response.content
    assert "several labels" in response.json()["detail"]
    multi_project.refresh_from_db()
    assert (multi_project.multi_label, multi_project.name) == (True, "Pets")
    assert row_counts() == before


def test_becoming_single_label_is_allowed_when_every_annotation_has_one(
    multi_project, patch, annotator
):
    """Once the annotator narrows their labels down, the switch goes through."""
    image = Image.objects.get(project=multi_project)
    annotation_submit(project=multi_project, annotator=annotator, image_id=image.pk, labels=["cat"])
    response = patch({"multi_label": False})
    assert response.status_code == 200, response.content
    multi_project.refresh_from_db()
    assert multi_project.multi_label is False


def test_becoming_single_label_needs_two_labels(project, patch):
    """A multi-label project with one label cannot become single-label."""
    project.multi_label = True
    project.save()
    project.labels.exclude(name="cat").delete()
    response = patch({"multi_label": False})
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["labels"]
    project.refresh_from_db()
    assert project.multi_label is True


def test_changing_overlap_recomputes_which_images_are_complete(
    project, patch, annotator, annotator2, make_images
):
    """Lowering overlap completes images with enough labels; raising it reopens them."""
    once, twice, _ = make_images(project, 3)
    annotation_submit(project=project, annotator=annotator, image_id=once.pk, labels=["cat"])
    for user in (annotator, annotator2):
        annotation_submit(project=project, annotator=user, image_id=twice.pk, labels=["dog"])

    def complete() -> set[int]:
        return set(Image.objects.filter(is_complete=True).values_list("pk", flat=True))

    assert complete() == {twice.pk}
    assert patch({"overlap": 1}).status_code == 200
    assert complete() == {once.pk, twice.pk}
    assert patch({"overlap": 3}).status_code == 200
    assert complete() == set()
    assert patch({"overlap": 2}).status_code == 200
    assert complete() == {twice.pk}


# Deleting


def test_the_lead_deletes_the_project_with_everything_in_it(project, lead, labelled):
    """DELETE removes the project, its labels, memberships, images and annotations."""
    response = client_for(lead).delete(f"{URL}{project.pk}/")
    assert response.status_code == 204
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not Label.objects.exists()
    assert not Membership.objects.exists()
    assert not Image.objects.exists()


# Large label sets


def test_a_project_of_300_grouped_labels_comes_back_with_groups_and_chords(admin_user):
    """300 labels under 30 headings: each keeps its group and gets a distinct two-key
    chord; the project reads back in order with both, and a second label added later gets
    a chord while the stored ones stay."""
    groups = [f"Family {chr(ord('A') + i % 26)}{i // 26}" for i in range(30)]
    labels = [
        {"name": f"{group} species {n}", "group": group} for group in groups for n in range(10)
    ]
    client = client_for(admin_user)
    response = client.post(URL, {"name": "Birds of the world", "labels": labels}, format="json")
    assert response.status_code == 201, response.content
    project_id = response.json()["id"]
    body = client.get(f"{URL}{project_id}/").json()
    got = body["labels"]
    assert [(lb["name"], lb["group"], lb["position"]) for lb in got] == [
        (lb["name"], lb["group"], i) for i, lb in enumerate(labels)
    ]
    keys = [lb["hotkey"] for lb in got]
    assert all(len(key) == 2 for key in keys) and len(set(keys)) == 300
    more = [{"id": lb["id"], "name": lb["name"]} for lb in got] + [{"name": "Zebra finch"}]
    response = client.patch(f"{URL}{project_id}/", {"labels": more}, format="json")
    assert response.status_code == 200, response.content
    after = response.json()["labels"]
    assert [lb["hotkey"] for lb in after[:300]] == keys
    assert [lb["group"] for lb in after[:300]] == [lb["group"] for lb in labels]
    assert after[300]["hotkey"] == "zf" and after[300]["group"] == ""


def test_a_single_key_that_starts_a_chord_is_refused_with_both_labels_named(admin_user):
    payload = {
        "name": "P",
        "labels": [{"name": "goose", "hotkey": "g"}, {"name": "gannet", "hotkey": "GA"}],
    }
    response = client_for(admin_user).post(URL, payload, format="json")
    assert response.status_code == 400
    body = response.content.decode()
    assert "single key cannot start a chord" in body and "goose" in body and "gannet" in body
