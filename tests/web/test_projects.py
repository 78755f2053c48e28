"""The project pages through the Django test client: who may open them, what they write.

A refused form re-renders with a 400, shows the service's message and writes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from labeler.annotations.models import Annotation
from labeler.images.models import Image
from labeler.projects.models import Label, Membership, Project, Role
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.rows import row_counts
from tests.web.links import has_link

pytestmark = pytest.mark.django_db


def client_as(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def creator() -> Any:
    """A user allowed to create projects through the add-project permission."""
    user = UserFactory(username="maker")
    user.user_permissions.add(Permission.objects.get(codename="add_project"))
    return user


def project_post(**overrides: Any) -> dict[str, Any]:
    """A valid form submission: three labels, single-label, overlap 2."""
    data: dict[str, Any] = {
        "name": "Birds",
        "instructions": "Pick the species.",
        "multi_label": "0",
        "overlap": "2",
        "labels-id": ["", "", ""],
        "labels-name": ["robin", "wren", "owl"],
        "labels-color": ["#ff0000", "#00ff00", "#0000ff"],
        "labels-hotkey": ["r", "w", "o"],
    }
    data.update(overrides)
    return data


def labels_of(project: Project) -> list[tuple[str, str, str]]:
    return [(label.name, label.color, label.hotkey) for label in project.labels.all()]


def edit_post(project: Project, **overrides: Any) -> dict[str, Any]:
    """The edit form as the page shows it, with the overrides applied."""
    labels = list(project.labels.all())
    data: dict[str, Any] = {
        "name": project.name,
        "instructions": project.instructions,
        "multi_label": "1" if project.multi_label else "0",
        "overlap": str(project.overlap),
        "labels-id": [str(label.pk) for label in labels],
        "labels-name": [label.name for label in labels],
        "labels-color": [label.color for label in labels],
        "labels-hotkey": [label.hotkey for label in labels],
    }
    data.update(overrides)
    return data


# ---- who may open which page ----

MANAGE_PAGES = ["project-edit", "project-members", "project-upload"]
ALL_PAGES = ["project-detail", *MANAGE_PAGES]


@pytest.mark.parametrize("name", ALL_PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, project, name):
    """Every project page asks an anonymous visitor to log in first, then come back."""
    url = reverse(name, args=[project.pk])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url}"


def test_anonymous_visitors_are_sent_to_log_in_from_new_project(client):
    response = client.get("/projects/new/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("name", ALL_PAGES)
def test_non_members_get_404(project, outsider, name):
    """Ids reveal nothing: a non-member cannot tell a project exists."""
    response = client_as(outsider).get(reverse(name, args=[project.pk]))
    assert response.status_code == 404


@pytest.mark.parametrize("name", MANAGE_PAGES)
def test_annotators_get_403_on_manage_pages(project, annotator, name):
    response = client_as(annotator).get(reverse(name, args=[project.pk]))
    assert response.status_code == 403


@pytest.mark.parametrize("name", MANAGE_PAGES)
def test_annotators_cannot_post_to_manage_pages(project, annotator, name):
    """A forged POST from an annotator changes nothing."""
    before = row_counts()
    response = client_as(annotator).post(
        reverse(name, args=[project.pk]), {"action": "delete-confirmed", "confirm_name": "Pets"}
    )
    assert response.status_code in (403, 405)
    assert row_counts() == before


@pytest.mark.parametrize("name", ALL_PAGES)
def test_leads_and_admins_open_every_page(project, lead, admin_user, name):
    for user in (lead, admin_user):
        response = client_as(user).get(reverse(name, args=[project.pk]))
        assert response.status_code == 200, (user, name)
        assert b"<title>" in response.content


def test_new_project_needs_the_permission(lead):
    """Users without the add-project permission get 403 on the page and on a POST."""
    client = client_as(lead)
    assert client.get("/projects/new/").status_code == 403
    before = row_counts()
    assert client.post("/projects/new/", project_post()).status_code == 403
    assert row_counts() == before


def test_staff_may_open_new_project(admin_user):
    response = client_as(admin_user).get("/projects/new/")
    assert response.status_code == 200
    assert response.content.count(b'name="labels-name"') == 3  # two rows and the template


# ---- project detail ----


def test_detail_shows_labels_counts_and_lead_links(project, lead, make_images):
    """The overview lists labels with hotkeys, counts from project_progress, manage links."""
    make_images(project, 3)
    response = client_as(lead).get(reverse("project-detail", args=[project.pk]))
    page = response.content.decode()
    assert "<title>Pets · labeler</title>" in page
    for name in ("cat", "dog", "bird"):
        assert name in page
    assert '<kbd title="Hotkey">1</kbd>' in page
    assert 'data-stat="images">3<' in page
    assert 'data-stat="not_started">3<' in page
    assert 'data-stat="complete">0<' in page
    assert f'href="/projects/{project.pk}/label/"' in page
    for path in ("upload", "members", "settings"):
        assert f'href="/projects/{project.pk}/{path}/"' in page


def test_detail_counts_complete_and_in_progress(project, lead, annotator, annotator2, make_images):
    """An image labelled to the overlap is complete; one labelled once is in progress."""
    done, half, _ = make_images(project, 3)
    cat = project.labels.get(name="cat")
    for image, people in ((done, (annotator, annotator2)), (half, (annotator,))):
        for person in people:
            Annotation.objects.create(project=project, image=image, annotator=person).labels.add(
                cat
            )
    Image.objects.filter(pk=done.pk).update(annotation_count=2, is_complete=True)
    Image.objects.filter(pk=half.pk).update(annotation_count=1)
    page = client_as(lead).get(reverse("project-detail", args=[project.pk])).content.decode()
    assert 'data-stat="complete">1<' in page
    assert 'data-stat="in_progress">1<' in page
    assert 'data-stat="not_started">1<' in page
    assert 'data-stat="annotations">3<' in page
    assert 'aria-valuenow="33"' in page


def test_annotators_see_no_management_links(project, annotator):
    page = client_as(annotator).get(reverse("project-detail", args=[project.pk])).content.decode()
    assert "Start labelling" in page and has_link(page, "Start labelling")
    for path in ("upload", "members", "settings"):
        assert f"/projects/{project.pk}/{path}/" not in page
    for name in ("Upload images", "Members", "Settings"):
        assert not has_link(page, name)


def test_detail_escapes_names_and_instructions(lead):
    project = ProjectFactory(name="<b>x</b>", instructions="<script>alert(1)</script>")
    add_member(project, lead, Role.LEAD)
    page = client_as(lead).get(reverse("project-detail", args=[project.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page


# ---- create ----


def test_create_project_stores_it_and_makes_the_creator_lead():
    """A valid form creates the project with its labels in order, then shows its page."""
    user = creator()
    client = client_as(user)
    response = client.post("/projects/new/", project_post())
    project = Project.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/projects/{project.pk}/"
    assert (project.name, project.instructions, project.multi_label, project.overlap) == (
        "Birds",
        "Pick the species.",
        False,
        2,
    )
    assert labels_of(project) == [
        ("robin", "#ff0000", "r"),
        ("wren", "#00ff00", "w"),
        ("owl", "#0000ff", "o"),
    ]
    assert Membership.objects.get(project=project).user == user
    assert Membership.objects.get(project=project).role == Role.LEAD
    follow = client.get(response["Location"])
    assert "Project “Birds” created" in follow.content.decode()


def test_create_skips_blank_rows_and_chooses_an_empty_hotkey():
    """An empty added row is ignored; a new label's empty hotkey is chosen for it."""
    data = project_post(
        **{
            "multi_label": "1",
            "labels-id": ["", ""],
            "labels-name": ["solo", "  "],
            "labels-color": ["#123456", "#654321"],
            "labels-hotkey": ["", "x"],
        }
    )
    assert client_as(creator()).post("/projects/new/", data).status_code == 302
    project = Project.objects.get()
    assert project.multi_label is True
    assert labels_of(project) == [("solo", "#123456", "1")]


BAD_CREATES = [
    ({"name": "   "}, "name", "The project needs a name."),
    ({"name": "x" * 201}, "name", "at most 200 characters"),
    ({"overlap": "0"}, "overlap", "Overlap must be between 1 and 50."),
    ({"overlap": "51"}, "overlap", "Overlap must be between 1 and 50."),
    ({"overlap": "two"}, "overlap", "Enter a whole number."),
    ({"overlap": ""}, "overlap", "Give the overlap"),
    ({"multi_label": "2"}, "multi-label", "Select a valid choice."),
    (
        {"labels-name": ["robin", "Robin", "owl"]},
        "labels",
        "Duplicate label name: &#x27;robin&#x27;",
    ),
    ({"labels-hotkey": ["r", "r", "o"]}, "labels", "Duplicate hotkey: &#x27;r&#x27;."),
    ({"labels-hotkey": ["r", "!", "o"]}, "labels", "hotkey must be one letter or digit, or two"),
    ({"labels-hotkey": ["r", "www", "o"]}, "labels", "hotkey must be one letter or digit, or two"),
    ({"labels-hotkey": ["r", "rw", "o"]}, "labels", "a single key cannot start a chord"),
    ({"labels-color": ["red", "#00ff00", "#0000ff"]}, "labels", "colour must look like"),
    ({"labels-name": ["robin", "", ""]}, "labels", "A single-label project needs at least 2"),
    ({"labels-id": ["7", "", ""]}, "labels", "New labels cannot carry an id."),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_CREATES)
def test_bad_create_re_renders_with_the_error_and_keeps_values(change, field, message):
    """Each bad input shows its message beside its field, keeps what was typed, writes nothing."""
    client = client_as(creator())
    before = row_counts()
    response = client.post("/projects/new/", project_post(**change))
    page = response.content.decode()
    assert response.status_code == 400
    assert message in page
    assert f'id="{field}-error"' in page
    assert row_counts() == before
    assert "Pick the species." in page  # the submitted values are kept
    assert 'value="owl"' in page or change.get("labels-name") == ["robin", "", ""]


def test_bad_create_keeps_submitted_label_rows():
    page = (
        client_as(creator())
        .post("/projects/new/", project_post(name="", **{"labels-hotkey": ["r", "w", "r"]}))
        .content.decode()
    )
    assert page.count('name="labels-name"') == 4  # three rows and the template
    assert 'value="#00ff00"' in page
    assert 'value="wren"' in page


# ---- edit ----


def test_edit_renames_keeping_ids_adds_and_removes_labels(project, lead):
    """Renaming keeps the label row (and its annotations); new rows add, missing rows go."""
    cat, dog, bird = project.labels.all()
    data = edit_post(
        project,
        name="Pets 2",
        overlap="3",
        instructions="New rules",
        **{
            "labels-id": [str(cat.pk), str(dog.pk), ""],
            "labels-name": ["kitty", "dog", "hamster"],
            "labels-color": ["#111111", dog.color, "#222222"],
            "labels-hotkey": ["k", "d", "h"],
        },
    )
    response = client_as(lead).post(reverse("project-edit", args=[project.pk]), data)
    assert response.status_code == 302
    assert response["Location"] == f"/projects/{project.pk}/"
    project.refresh_from_db()
    assert (project.name, project.overlap, project.instructions) == ("Pets 2", 3, "New rules")
    assert labels_of(project) == [
        ("kitty", "#111111", "k"),
        ("dog", "#123456", "d"),
        ("hamster", "#222222", "h"),
    ]
    assert Label.objects.get(pk=cat.pk).name == "kitty"
    assert not Label.objects.filter(pk=bird.pk).exists()


def test_edit_page_shows_the_stored_values_with_label_ids(project, lead):
    page = client_as(lead).get(reverse("project-edit", args=[project.pk])).content.decode()
    for label in project.labels.all():
        assert f'name="labels-id" value="{label.pk}"' in page
        assert f'value="{label.name}"' in page
    assert 'value="2"' in page  # overlap
    assert "Delete project" in page


BAD_EDITS = [
    ({"name": ""}, "name", "The project needs a name."),
    ({"overlap": "0"}, "overlap", "Overlap must be between 1 and 50."),
    ({"labels-hotkey": ["1", "1", "3"]}, "labels", "Duplicate hotkey"),
    ({"labels-id": ["999999", "", ""]}, "labels", "are not labels of this project"),
    ({"labels-id": ["x", "", ""]}, "labels", "id must be an integer"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_EDITS)
def test_bad_edit_re_renders_and_changes_nothing(project, lead, change, field, message):
    before = row_counts()
    data = edit_post(project, **change)
    response = client_as(lead).post(reverse("project-edit", args=[project.pk]), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert f'id="{field}-error"' in page
    assert row_counts() == before
    project.refresh_from_db()
    assert project.name == "Pets" and project.overlap == 2
    assert labels_of(project) == [
        ("cat", "#123456", "1"),
        ("dog", "#123456", "2"),
        ("bird", "#123456", "3"),
    ]


def test_removing_a_label_in_use_is_refused(project, lead, annotator, make_images):
    (image,) = make_images(project, 1)
    bird = project.labels.get(name="bird")
    Annotation.objects.create(project=project, image=image, annotator=annotator).labels.add(bird)
    before = row_counts()
    data = edit_post(
        project,
        **{
            "labels-id": [str(label.pk) for label in project.labels.all()][:2],
            "labels-name": ["cat", "dog"],
            "labels-color": ["#123456", "#123456"],
            "labels-hotkey": ["1", "2"],
        },
    )
    response = client_as(lead).post(reverse("project-edit", args=[project.pk]), data)
    assert response.status_code == 400
    assert "Labels in use cannot be removed: bird" in response.content.decode()
    assert row_counts() == before


def test_becoming_single_label_is_refused_when_annotations_carry_several(
    lead, annotator, make_images
):
    project = ProjectFactory(multi_label=True)
    add_member(project, lead, Role.LEAD)
    (image,) = make_images(project, 1)
    annotation = Annotation.objects.create(project=project, image=image, annotator=annotator)
    annotation.labels.add(*project.labels.all()[:2])
    response = client_as(lead).post(
        reverse("project-edit", args=[project.pk]), edit_post(project, multi_label="0")
    )
    assert response.status_code == 400
    assert 'id="multi-label-error"' in response.content.decode()
    project.refresh_from_db()
    assert project.multi_label is True


# ---- delete ----


def test_delete_asks_for_confirmation_first(project, lead, make_images):
    make_images(project, 2)
    before = row_counts()
    url = reverse("project-edit", args=[project.pk])
    response = client_as(lead).post(url, {"action": "delete"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Delete “Pets”?" in page
    assert "2 images" in page
    assert row_counts() == before


def test_delete_with_a_wrong_name_is_refused(project, lead):
    before = row_counts()
    url = reverse("project-edit", args=[project.pk])
    response = client_as(lead).post(url, {"action": "delete-confirmed", "confirm_name": "Pet"})
    assert response.status_code == 200
    assert "Type the project&#x27;s name exactly to confirm." in response.content.decode()
    assert row_counts() == before


def test_delete_confirmed_removes_the_project(project, lead, make_images):
    make_images(project, 2)
    client = client_as(lead)
    url = reverse("project-edit", args=[project.pk])
    response = client.post(url, {"action": "delete-confirmed", "confirm_name": "Pets"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert not Project.objects.filter(pk=project.pk).exists()
    assert Image.objects.count() == 0
    assert client.get(reverse("project-detail", args=[project.pk])).status_code == 404


# ---- members ----


def members_url(project: Project) -> str:
    return reverse("project-members", args=[project.pk])


def test_members_page_lists_everyone_with_roles(project, lead):
    page = client_as(lead).get(members_url(project)).content.decode()
    assert "<title>Members · Pets · labeler</title>" in page
    for username in ("lead", "ann1", "ann2"):
        assert f'data-username="{username}"' in page
    assert "3 members" in page


def test_add_member_by_username(project, lead):
    newcomer = UserFactory(username="newbie")
    client = client_as(lead)
    response = client.post(
        members_url(project), {"action": "add", "username": "newbie", "role": "reviewer"}
    )
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user=newcomer).role == Role.REVIEWER
    page = client.get(members_url(project)).content.decode()
    assert "newbie added as reviewer." in page


def test_add_member_forgives_the_case_of_the_name(project, lead):
    newcomer = UserFactory(username="Zoe")
    client_as(lead).post(
        members_url(project), {"action": "add", "username": "zoe", "role": "annotator"}
    )
    assert Membership.objects.filter(project=project, user=newcomer).exists()


def test_adding_an_existing_member_changes_their_role(project, lead, annotator):
    client_as(lead).post(
        members_url(project), {"action": "add", "username": "ann1", "role": "lead"}
    )
    assert Membership.objects.get(project=project, user=annotator).role == Role.LEAD
    assert Membership.objects.filter(project=project).count() == 3


BAD_ADDS = [
    ({"username": "nobody", "role": "annotator"}, "add-username", "There is no user named"),
    ({"username": "", "role": "annotator"}, "add-username", "Give the username"),
    ({"username": "outsider", "role": "boss"}, "add-role", "Select a valid choice."),
]


@pytest.mark.parametrize(("data", "field", "message"), BAD_ADDS)
def test_bad_add_re_renders_with_the_error(project, lead, outsider, data, field, message):
    before = row_counts()
    response = client_as(lead).post(members_url(project), {"action": "add", **data})
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert f'id="{field}-error"' in page
    assert f'value="{data["username"]}"' in page
    assert row_counts() == before


def test_change_role(project, lead, annotator):
    response = client_as(lead).post(
        members_url(project), {"action": "role", "user": annotator.pk, "role": "reviewer"}
    )
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user=annotator).role == Role.REVIEWER


def test_remove_member_keeps_their_annotations(project, lead, annotator, make_images):
    (image,) = make_images(project, 1)
    Annotation.objects.create(project=project, image=image, annotator=annotator)
    response = client_as(lead).post(
        members_url(project), {"action": "remove", "user": annotator.pk}
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(project=project, user=annotator).exists()
    assert Annotation.objects.filter(annotator=annotator).count() == 1


@pytest.mark.parametrize(
    "data",
    [{"action": "role", "role": "annotator"}, {"action": "remove"}],
    ids=["demote", "remove"],
)
def test_the_last_lead_cannot_step_down(project, lead, data):
    """The service refuses; the page shows its message in the lead's row and changes nothing."""
    before = row_counts()
    response = client_as(lead).post(members_url(project), {**data, "user": lead.pk})
    assert response.status_code == 400
    page = response.content.decode()
    assert "A project must keep at least one lead." in page
    assert f'id="error-{lead.pk}"' in page
    assert row_counts() == before


def test_bad_role_in_a_row_is_refused(project, lead, annotator):
    before = row_counts()
    response = client_as(lead).post(
        members_url(project), {"action": "role", "user": annotator.pk, "role": "king"}
    )
    assert response.status_code == 400
    assert f'id="error-{annotator.pk}"' in response.content.decode()
    assert row_counts() == before


@pytest.mark.parametrize("user_id", ["", "abc", "99999999999999999999", "9" * 5000, "٣"])
def test_change_for_a_non_member_says_so(project, lead, outsider, user_id):
    before = row_counts()
    client = client_as(lead)
    for value in (user_id, str(outsider.pk)):
        response = client.post(
            members_url(project), {"action": "remove", "user": value}, follow=True
        )
        assert response.status_code == 200
        assert "not a member of this project" in response.content.decode()
    assert row_counts() == before


def test_a_lead_who_steps_down_lands_on_the_project_page(project, lead, annotator):
    """With another lead present, a lead may demote themselves; they lose the members page."""
    Membership.objects.filter(project=project, user=annotator).update(role=Role.LEAD)
    response = client_as(lead).post(
        members_url(project), {"action": "role", "user": lead.pk, "role": "annotator"}
    )
    assert response["Location"] == f"/projects/{project.pk}/"


def test_a_lead_who_leaves_lands_home(project, lead, annotator):
    Membership.objects.filter(project=project, user=annotator).update(role=Role.LEAD)
    response = client_as(lead).post(members_url(project), {"action": "remove", "user": lead.pk})
    assert response["Location"] == "/"


# ---- label quality settings ----


def test_the_form_shows_and_saves_the_label_quality_settings(project, lead):
    """Consensus method, review threshold and the share of gold images (in per cent)."""
    page = client_as(lead).get(reverse("project-edit", args=[project.pk])).content.decode()
    assert 'value="majority" selected' in page and 'value="5.0"' in page
    data = edit_post(
        project, consensus_method="dawid_skene", review_threshold="0.8", gold_percent="12.5"
    )
    response = client_as(lead).post(reverse("project-edit", args=[project.pk]), data)
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.consensus_method, project.review_threshold) == ("dawid_skene", 0.8)
    assert project.gold_rate == pytest.approx(0.125)


def test_a_post_without_the_quality_settings_keeps_them(project, lead):
    """Older clients that do not send them change nothing about label quality."""
    Project.objects.filter(pk=project.pk).update(
        consensus_method="dawid_skene", review_threshold=0.9, gold_rate=0.2
    )
    client_as(lead).post(
        reverse("project-edit", args=[project.pk]), edit_post(project, name="Renamed")
    )
    project.refresh_from_db()
    assert project.name == "Renamed"
    assert (project.consensus_method, project.review_threshold, project.gold_rate) == (
        "dawid_skene",
        0.9,
        0.2,
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"consensus_method": "vote"}, "Choose majority vote or Dawid-Skene."),
        ({"review_threshold": "1.5"}, "The review threshold is a confidence from 0 to 1."),
        ({"review_threshold": "high"}, "Enter a number."),
        ({"gold_percent": "-1"}, "The share of gold images is a percentage from 0 to 100."),
        ({"gold_percent": "101"}, "The share of gold images is a percentage from 0 to 100."),
    ],
)
def test_bad_quality_settings_are_named_and_nothing_is_saved(project, lead, override, message):
    """The form comes back with the message beside the field; the project is unchanged."""
    response = client_as(lead).post(
        reverse("project-edit", args=[project.pk]), edit_post(project, name="Changed", **override)
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    project.refresh_from_db()
    assert project.name != "Changed"


# ---- groups and chords ----


def test_the_form_sets_groups_and_a_new_rows_empty_hotkey_becomes_a_chord(project, lead):
    """Each row's group is the heading its label sits under; past nine labels a new label
    left without a hotkey gets a chord from its name, and the edit page shows both."""
    labels = list(project.labels.all())
    names = [label.name for label in labels] + [f"extra {i}" for i in range(6)] + ["zebra"]
    rows = len(names)
    data = edit_post(
        project,
        **{
            "labels-id": [str(label.pk) for label in labels] + [""] * (rows - len(labels)),
            "labels-name": names,
            "labels-group": ["Pets"] * len(labels) + [""] * 6 + ["Wild  animals "],
            "labels-color": [label.color for label in labels] + [""] * (rows - len(labels)),
            "labels-hotkey": [label.hotkey for label in labels] + [""] * (rows - len(labels)),
        },
    )
    response = client_as(lead).post(reverse("project-edit", args=[project.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    stored = list(project.labels.all())
    assert [label.group for label in stored] == ["Pets"] * 3 + [""] * 6 + ["Wild animals"]
    assert [label.hotkey for label in stored[:3]] == [label.hotkey for label in labels]
    assert stored[-1].hotkey == "ze" and all(len(label.hotkey) == 2 for label in stored[3:])
    page = client_as(lead).get(reverse("project-edit", args=[project.pk])).content.decode()
    assert 'name="labels-group" value="Wild animals"' in page
    assert 'name="labels-hotkey" value="ze"' in page
