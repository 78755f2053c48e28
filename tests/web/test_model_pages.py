"""The models and machine-review pages through the Django test client: who may open them,
what they carry for their scripts.

What the scripts draw is tested in Chromium (tests/browser/test_models.py and
tests/browser/test_machine_review.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.datastructures import MultiValueDict

from labeler.errors import ValidationFailed
from labeler.projects.models import Project, Role
from labeler.web.forms import ProjectForm
from labeler.web.model_pages import ID_SLOT
from tests.factories import ModelVersionFactory, ProjectFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db

PAGES = ["models", "machine-review"]
SCRIPT_DATA = {"models": "models-data", "machine-review": "machine-review-data"}


def client_as(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_url(name: str, project: Project) -> str:
    return reverse(name, args=[project.pk])


def script_data(html: str, script_id: str) -> dict[str, Any]:
    """The JSON the view hands to the page's script."""
    start = html.index(f'<script id="{script_id}" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("role", [Role.LEAD, Role.REVIEWER])
def test_leads_and_reviewers_open_the_pages(project, name, role):
    """Reviewers and leads of the project get both pages."""
    user = UserFactory(username=f"the-{role}")
    add_member(project, user, role)
    response = client_as(user).get(page_url(name, project))
    assert response.status_code == 200


@pytest.mark.parametrize("name", PAGES)
def test_admins_open_any_project(project, admin_user, name):
    """Staff see every project's model pages without being members."""
    assert client_as(admin_user).get(page_url(name, project)).status_code == 200


@pytest.mark.parametrize("name", PAGES)
def test_annotators_get_403(project, annotator, name):
    """The pages show and decide on every image's labels: annotators may not see them."""
    response = client_as(annotator).get(page_url(name, project))
    assert response.status_code == 403
    assert b"reviewers, leads and admins" in response.content


@pytest.mark.parametrize("name", PAGES)
def test_strangers_get_404_and_anonymous_visitors_log_in(project, outsider, name):
    """A non-member learns nothing about the project; a visitor is sent to log in."""
    assert client_as(outsider).get(page_url(name, project)).status_code == 404
    response = Client().get(page_url(name, project))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", PAGES)
def test_another_projects_lead_gets_404(project, name):
    """Leading one project opens nothing of another."""
    other = ProjectFactory(name="Other")
    boss = UserFactory(username="boss")
    add_member(other, boss, Role.LEAD)
    assert client_as(boss).get(page_url(name, project)).status_code == 404


@pytest.mark.parametrize("name", PAGES)
def test_only_get(project, lead, name):
    """The pages are read through GET; their writes go through the API."""
    assert client_as(lead).post(page_url(name, project)).status_code == 405


def test_a_missing_project_is_404(lead):
    assert client_as(lead).get(reverse("models", args=[987654])).status_code == 404


def test_lead_gets_the_train_form_and_the_api_addresses(project, lead):
    """A lead sees the Train button with the four architectures; the script gets where to ask."""
    response = client_as(lead).get(page_url("models", project))
    html = response.content.decode()
    assert 'id="train-button"' in html
    assert '<option value="auto" selected>Automatic</option>' in html
    for value in ("small-cnn", "resnet18", "mobilenet_v3_small", "efficientnet_b0"):
        assert f'<option value="{value}"' in html
    data = script_data(html, "models-data")
    assert data["can_manage"] is True
    assert [label["name"] for label in data["labels"]] == ["cat", "dog", "bird"]
    urls = data["urls"]
    assert urls["train"] == f"/api/v1/projects/{project.pk}/train/"
    assert urls["runs"] == f"/api/v1/projects/{project.pk}/training-runs/"
    assert urls["versions"] == f"/api/v1/projects/{project.pk}/model-versions/"
    assert urls["machine_stats"] == f"/api/v1/projects/{project.pk}/machine-labels/stats/"
    assert urls["run"] == f"/api/v1/training-runs/{ID_SLOT}/"
    assert urls["cancel"] == f"/api/v1/training-runs/{ID_SLOT}/cancel/"
    assert urls["promote"] == f"/api/v1/model-versions/{ID_SLOT}/promote/"
    assert data["slot"] == str(ID_SLOT)


def test_reviewers_read_only(project):
    """A reviewer sees the figures but no Train, Cancel or Promote controls."""
    rita = UserFactory(username="rita")
    add_member(project, rita, Role.REVIEWER)
    html = client_as(rita).get(page_url("models", project)).content.decode()
    assert 'id="train-button"' not in html
    assert 'id="cancel-button"' not in html
    assert "Only the project's leads start and cancel trainings." in html
    assert script_data(html, "models-data")["can_manage"] is False


def test_the_architecture_defaults_to_the_projects_setting(lead):
    """The Train form starts on the architecture of the project's training settings."""
    project = ProjectFactory(training={"architecture": "resnet18"})
    add_member(project, lead, Role.LEAD)
    html = client_as(lead).get(page_url("models", project)).content.decode()
    assert '<option value="resnet18" selected>' in html


def test_the_project_page_links_to_the_models_page_for_leads_and_reviewers(project, annotator):
    """Leads and reviewers find the models page from the project; annotators do not."""
    lead = project.memberships.get(role=Role.LEAD).user
    url = page_url("models", project)
    assert url in client_as(lead).get(reverse("project-detail", args=[project.pk])).content.decode()
    annotator_page = client_as(annotator).get(reverse("project-detail", args=[project.pk]))
    assert url not in annotator_page.content.decode()


def test_machine_review_carries_the_labels_and_endpoints(project, lead):
    """The script gets the labels with their hotkeys, the machine-label endpoints and where
    to fetch an image again through the API."""
    ModelVersionFactory(project=project, version=3)
    html = client_as(lead).get(page_url("machine-review", project)).content.decode()
    assert "Model v3 labels the images it is sure of" in html
    data = script_data(html, "machine-review-data")
    assert [label["hotkey"] for label in data["labels"]] == ["1", "2", "3"]
    base = f"/api/v1/projects/{project.pk}/machine-labels/"
    images = f"/api/v1/projects/{project.pk}/images/{data['slot']}/"
    assert data["urls"] == {
        "send": f"{base}send/",
        "pending": base,
        "review": f"{base}review/",
        "image_file": f"{images}file/",
        "image_thumbnail": f"{images}thumbnail/",
    }


def test_machine_review_without_a_model_says_to_train_one(project, lead):
    """With no current model there is nothing to send: the page points to the models page."""
    html = client_as(lead).get(page_url("machine-review", project)).content.decode()
    assert "No current model yet" in html
    assert 'id="send-button" disabled' in html


# ---- the model settings on the project's settings form ----


def settings_post(project: Project, **overrides: Any) -> dict[str, Any]:
    """The settings form as the page sends it, model and training inputs included."""
    labels = list(project.labels.all())
    data: dict[str, Any] = {
        "name": project.name,
        "instructions": "",
        "multi_label": "0",
        "overlap": str(project.overlap),
        "labels-id": [str(label.pk) for label in labels],
        "labels-name": [label.name for label in labels],
        "labels-color": [label.color for label in labels],
        "labels-hotkey": [label.hotkey for label in labels],
        "active_learning": "entropy",
        "random_percent": "20",
        "retrain_after": "50",
        "check_percent": "5",
        "training_shown": "1",
        "training_architecture": "auto",
        "training_image_size": "",
        "training_epochs": "40",
        "augment_hflip": "on",
        "augment_rotation": "10",
        "augment_crop": "0.1",
        "augment_color_jitter": "0.2",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def input_value(html: str, name: str) -> str:
    """The value an input of the page shows."""
    match = re.search(rf'<input[^>]* name="{name}"[^>]* value="([^"]*)"', html)
    assert match, name
    return match.group(1)


def settings_url(project: Project) -> str:
    return reverse("project-edit", args=[project.pk])


def test_the_form_shows_the_model_settings_over_the_training_defaults(project, lead):
    """Stored overrides show; the rest of the training inputs show the defaults."""
    project.training = {"epochs": 12, "augment": {"vflip": True}}
    project.save()
    html = client_as(lead).get(settings_url(project)).content.decode()
    assert '<option value="margin" selected>' in html
    assert input_value(html, "random_percent") == "10.0"
    assert input_value(html, "training_epochs") == "12"
    assert input_value(html, "training_image_size") == ""  # the architecture's own
    assert '<option value="auto" selected>Automatic</option>' in html
    assert 'name="augment_vflip" id="id_augment_vflip" checked' in html
    assert 'name="augment_hflip" id="id_augment_hflip" checked' in html


def test_saving_stores_rates_as_fractions_and_only_the_changed_training_keys(project, lead):
    """Percentages become fractions; training keeps only what differs from the defaults,
    with the stored keys the form does not show kept."""
    project.training = {"learning_rate": 0.01, "epochs": 12}
    project.save()
    data = settings_post(project, training_epochs="5", training_image_size="24", augment_hflip=None)
    response = client_as(lead).post(settings_url(project), data)
    assert response.status_code == 302, response.content.decode()
    project.refresh_from_db()
    assert project.active_learning == "entropy"
    assert project.active_learning_random_share == pytest.approx(0.2)
    assert project.retrain_after == 50
    assert project.machine_check_rate == pytest.approx(0.05)
    assert project.training["learning_rate"] == 0.01
    assert project.training["epochs"] == 5
    assert project.training["image_size"] == 24
    assert "architecture" not in project.training
    assert project.training["augment"]["hflip"] is False


def test_a_blank_image_size_goes_back_to_the_architectures_own(project, lead):
    """Emptying the image size removes the stored one: the architecture's size applies."""
    project.training = {"image_size": 64, "architecture": "resnet18"}
    project.save()
    data = settings_post(project, training_architecture="resnet18", training_image_size="")
    assert client_as(lead).post(settings_url(project), data).status_code == 302
    project.refresh_from_db()
    assert project.training == {"architecture": "resnet18", "epochs": 40}


def test_a_post_without_the_training_inputs_leaves_training_alone(project, lead):
    """Clients posting only the older fields change neither training nor the other settings."""
    project.training = {"epochs": 7}
    project.save()
    data = settings_post(project, training_shown=None, augment_hflip=None, active_learning=None)
    data = {k: v for k, v in data.items() if not k.startswith(("training_", "augment_"))}
    assert client_as(lead).post(settings_url(project), data).status_code == 302
    project.refresh_from_db()
    assert project.training == {"epochs": 7}
    assert project.active_learning == "margin"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"training_epochs": "0"}, "epochs", "Train for 1 to 500 epochs."),
        ({"training_image_size": "4"}, "image-size", "The image size is from 8 to 512 pixels."),
        ({"augment_rotation": "90"}, "rotation", "The rotation is from 0 to 45 degrees."),
        ({"random_percent": "120"}, "random", "percentage from 0 to 100"),
        ({"check_percent": "-1"}, "check", "The spot-check rate is a percentage from 0 to 100."),
        ({"retrain_after": "-3"}, "retrain", "0 or more (0: never)"),
        ({"active_learning": "psychic"}, "active-learning", "Choose random, least confidence"),
        ({"training_architecture": "vgg"}, "architecture", "Choose one of the architectures"),
    ],
)
def test_bad_model_settings_are_shown_by_their_field(project, lead, change, field, message):
    """Each bad input comes back beside its field, nothing saved."""
    response = client_as(lead).post(settings_url(project), settings_post(project, **change))
    assert response.status_code == 400
    html = response.content.decode()
    start = html.index(f'id="{field}-error"')
    assert message in html[start : html.index("</p>", start)]
    project.refresh_from_db()
    assert project.retrain_after == 200


def test_a_training_error_from_the_service_lands_on_its_input(project, lead):
    """The service names the bad training key; the form shows it beside that input."""
    posted = {k: v if isinstance(v, list) else [v] for k, v in settings_post(project).items()}
    form = ProjectForm(MultiValueDict(posted), project=project)
    assert form.is_valid()
    form.add_domain_error(
        ValidationFailed(
            "training.augment.crop must be a number from 0.0 to 0.5.", field="training"
        )
    )
    assert form.errors["augment_crop"] == [
        "training.augment.crop must be a number from 0.0 to 0.5."
    ]
    form.add_domain_error(
        ValidationFailed("gold_rate must be a number from 0 to 1.", field="gold_rate")
    )
    assert "gold_percent" in form.errors


def test_the_lead_keeps_or_leaves_out_photo_metadata_in_exports(project, lead):
    client = client_as(lead)
    assert 'id="id_export_keep_metadata" aria-describedby="keep-metadata-help">' in (
        client.get(settings_url(project)).content.decode()
    )  # unticked: left out by default
    assert (
        client.post(
            settings_url(project), settings_post(project, export_keep_metadata="on")
        ).status_code
        == 302
    )
    project.refresh_from_db()
    assert project.export_keep_metadata is True
    assert 'id="id_export_keep_metadata" aria-describedby="keep-metadata-help" checked' in (
        client.get(settings_url(project)).content.decode()
    )
    client.post(settings_url(project), settings_post(project))
    project.refresh_from_db()
    assert project.export_keep_metadata is False
