"""The labelling page in Chromium: which suggestions are pre-selected, and steady buttons."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from labeler import flows
from labeler.annotations.models import Annotation
from labeler.images.models import Image
from labeler.predictions.models import ModelVersion, Prediction
from labeler.projects.models import Label, Role
from tests.browser.conftest import login
from tests.browser.test_label import (
    WAIT,
    open_workspace,
    press_when_ready,
    shown_image,
    wait_saved,
)
from tests.factories import ProjectFactory, UserFactory, add_member, image_bytes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MANY = ["cat", "dog", "bird", "fish", "horse", "hamster", "a very long label name indeed"]


def make_project(n_images: int, *, labels=None, preselect: float = 0.6):
    project = ProjectFactory(name="Pets", labels=labels, suggestion_preselect=preselect)
    add_member(project, UserFactory(username="lead"), Role.LEAD)
    add_member(project, UserFactory(username="ann"))
    files = [
        SimpleUploadedFile(f"pet-{i:02d}.png", image_bytes(size=(96, 64))) for i in range(n_images)
    ]
    flows.images_ingest(project=project, files=files)
    return project


def suggest(project, confidence_of: dict[int, float], label_name: str = "dog") -> ModelVersion:
    """A current model suggesting ``label_name`` on the given images at those confidences."""
    model = ModelVersion.objects.create(project=project, version=1, is_current=True)
    chosen = Label.objects.get(project=project, name=label_name)
    others = project.labels.exclude(pk=chosen.pk)
    for image_id, confidence in confidence_of.items():
        rest = (1 - confidence) / others.count()
        probabilities = {str(label.pk): rest for label in others}
        probabilities[str(chosen.pk)] = confidence
        Prediction.objects.create(
            image_id=image_id, model_version=model, probabilities=probabilities
        )
    return model


def test_a_suggestion_below_the_setting_is_shown_not_selected(live_server, page):
    """At 40% against a 60% setting the suggestion is shown and tagged, nothing is
    pre-selected, and Enter accepts nothing: the annotator has to choose."""
    project = make_project(2)
    ids = list(Image.objects.order_by("pk").values_list("pk", flat=True))
    model = suggest(project, {ids[0]: 0.4, ids[1]: 0.4})
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)

    box = page.locator("#suggestion")
    assert box.is_visible() and "40%" in box.inner_text()
    assert box.get_attribute("data-preselected") == "false"
    assert "Not pre-selected" in box.inner_text()
    assert page.locator("[data-label-id][aria-pressed=true]").count() == 0
    tagged = page.locator("[data-label-id].suggested")
    assert tagged.count() == 1 and "dog" in tagged.inner_text()
    assert page.locator("#submit-button").is_hidden()

    before = shown_image(page)
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    assert shown_image(page) == before  # Enter accepted nothing
    expect(page.locator("#stage-message")).to_contain_text("not confident enough", timeout=WAIT)

    labelled = press_when_ready(page, "2")  # the annotator chooses dog themselves
    wait_saved(page)
    [annotation] = Annotation.objects.filter(image_id=labelled)
    assert annotation.suggested_by_id == model.pk


def test_a_suggestion_at_the_setting_is_preselected(live_server, page):
    """A suggestion exactly at the setting's confidence is pre-selected; Enter accepts it."""
    project = make_project(1, preselect=0.7)
    [image_id] = Image.objects.values_list("pk", flat=True)
    suggest(project, {image_id: 0.7})
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)

    assert page.locator("#suggestion").get_attribute("data-preselected") == "true"
    pressed = page.locator("[data-label-id][aria-pressed=true]")
    assert pressed.count() == 1 and "dog" in pressed.inner_text()
    press_when_ready(page, "Enter")
    wait_saved(page)
    [annotation] = Annotation.objects.all()
    assert annotation.suggestion_accepted


def widths(page) -> list[float]:
    return page.eval_on_selector_all(
        "#labels [data-label-id]", "buttons => buttons.map(b => b.getBoundingClientRect().width)"
    )


@pytest.mark.parametrize(
    ("labels", "viewport"),
    [
        (None, {"width": 1280, "height": 800}),
        (MANY, {"width": 1280, "height": 800}),
        (MANY, {"width": 800, "height": 900}),
    ],
    ids=["three-labels", "many-labels", "narrow-window"],
)
def test_label_buttons_keep_their_width_when_the_suggested_tag_appears(
    live_server, page, labels, viewport
):
    """The buttons measure the same on an image with a suggestion (tag shown) and on one
    without, in one column, in two, and in the narrow window's grid."""
    page.set_viewport_size(viewport)
    project = make_project(4, labels=labels)
    ids = list(Image.objects.order_by("pk").values_list("pk", flat=True))
    name = "a very long label name indeed" if labels else "bird"
    suggest(project, {ids[0]: 0.9, ids[2]: 0.3}, label_name=name)
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)

    seen: dict[bool, list[float]] = {}
    for _ in range(4):
        page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
        tagged = page.locator("#labels .tag").count() > 0
        seen.setdefault(tagged, widths(page))
        assert widths(page) == seen[tagged]
        press_when_ready(page, "1")
        page.wait_for_timeout(100)
    assert set(seen) == {True, False}, "expected images with and without the tag"
    assert seen[True] == seen[False]
