"""The Images page and an image's page in Chromium: the grid and the table, filters kept in
the address, an image large with its labels, and previous and next by keyboard."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from sklearn.datasets import load_digits

from labeler import flows
from labeler.agreement.services import image_decide
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.demo.services import digit_png
from labeler.images.models import Image
from labeler.projects.labels import PALETTE
from labeler.projects.models import Project, Role
from tests.browser.conftest import login, save_screenshot
from tests.factories import (
    ModelVersionFactory,
    ProjectFactory,
    UserFactory,
    add_member,
    annotation_submit,
    predict,
)

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 10_000  # ms
NAMES = ["zero", "one", "two", "three"]


def digits_project() -> tuple[Project, list[Image]]:
    """24 handwritten digits 0-3 labelled by two annotators (who split on every fifth), a
    model's predictions, and every fourth image a lead's gold label."""
    project = ProjectFactory(name="Digits", overlap=2, labels=NAMES)
    for label, colour in zip(project.labels.order_by("position"), PALETTE, strict=False):
        label.color = colour
        label.save(update_fields=["color"])
    ann1, ann2 = UserFactory(username="ann1"), UserFactory(username="ann2")
    lead = UserFactory(username="lead")
    for user in (ann1, ann2):
        add_member(project, user)
    add_member(project, lead, Role.LEAD)
    digits = load_digits()
    chosen = [i for i, target in enumerate(digits.target) if target < 4][:24]
    files = [
        SimpleUploadedFile(f"digit-{n:02d}.png", digit_png(digits.images[i], size=96))
        for n, i in enumerate(chosen)
    ]
    flows.images_ingest(project=project, files=files)
    images = list(Image.objects.filter(project=project).order_by("pk"))
    labels = {label.name: label.pk for label in project.labels.all()}
    model = ModelVersionFactory(project=project)
    for n, (image, i) in enumerate(zip(images, chosen, strict=True)):
        truth = NAMES[digits.target[i]]
        if n % 4 == 0:
            image_decide(
                project=project, image_id=image.pk, labels=[truth], decided_by=lead,
                method=FinalLabelMethod.GOLD,
            )  # fmt: skip
        elif n % 3:
            other = NAMES[(digits.target[i] + 1) % 4] if n % 5 == 0 else truth
            annotation_submit(project=project, annotator=ann1, image_id=image.pk, labels=[truth])
            annotation_submit(project=project, annotator=ann2, image_id=image.pk, labels=[other])
        probabilities = {str(pk): 0.1 for pk in labels.values()}
        probabilities[str(labels[truth])] = 0.7
        predict(model, image, probabilities)
    return project, images


def open_images(page, live_server, project, query: str = "") -> None:
    page.goto(f"{live_server.url}/projects/{project.pk}/images/{query}")


def a_lead_browses_the_grid_and_the_table(page, live_server, project: Project) -> None:
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.get_by_role("link", name="Images", exact=True).click()
    expect(page.locator(".browse-card")).to_have_count(24, timeout=WAIT)
    page.wait_for_function(
        "[...document.querySelectorAll('.browse-thumb img')]"
        ".every(i => i.complete && i.naturalWidth)",
        timeout=WAIT,
    )
    save_screenshot(page, "images-browser", full_page=False)
    page.locator("#view-table").click()
    expect(page).to_have_url(re.compile(r"view=table"))
    expect(page.locator("#image-table tbody tr")).to_have_count(24)


def filters_live_in_the_address(page, live_server, project: Project) -> None:
    open_images(page, live_server, project)
    # No Filter button: each choice applies as it is made, and the address follows.
    expect(page.get_by_role("button", name="Filter")).to_be_hidden()
    page.locator("#filters input[name=status][value=gold]").check()
    expect(page).to_have_url(re.compile(r"\?view=grid&sort=id&status=gold$"))
    page.locator("#filters select[name=final_label]").select_option("two")
    expect(page).to_have_url(re.compile(r"\?view=grid&sort=id&status=gold&final_label=two$"))
    shown = page.locator(".browse-card").count()
    assert shown >= 1
    gold_twos = FinalLabel.objects.filter(
        image__project=project, method="gold", labels__name="two"
    ).count()
    assert shown == gold_twos
    # The link is shareable: opened fresh, it shows the same images and the form says why.
    address = page.url
    other = page.context.new_page()
    other.goto(address)
    expect(other.locator(".browse-card")).to_have_count(shown)
    expect(other.locator("#filters input[name=status][value=gold]")).to_be_checked()
    expect(other.locator("#filters select[name=final_label]")).to_have_value("two")
    other.close()
    # A bad value in an address says what is wrong.
    open_images(page, live_server, project, "?labels_min=lots")
    expect(page.locator("#filter-error")).to_contain_text("labels_min")


def typed_filters_apply_after_a_pause_keeping_the_caret(page, live_server, project) -> None:
    """Text applies once typing stops (or on Enter), and the caret stays in the field."""
    open_images(page, live_server, project)
    expect(page.locator(".browse-card")).to_have_count(24)
    name = page.locator("#filters input[name=name]")
    name.press_sequentially("digit-1", delay=50)
    expect(page).to_have_url(re.compile(r"[?&]name=digit-1$"), timeout=WAIT)
    expect(page.locator(".browse-card")).to_have_count(10)  # digit-10 to digit-19
    expect(name).to_be_focused()
    name.press("End")
    name.press_sequentially("2", delay=50)
    name.press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]name=digit-12$"), timeout=WAIT)
    expect(page.locator(".browse-card")).to_have_count(1)
    expect(name).to_be_focused()
    expect(name).to_have_value("digit-12")


def the_image_page_steps_through_the_filter_by_keyboard(
    page, live_server, project: Project, images: list[Image]
) -> None:
    open_images(page, live_server, project, "?status=complete")
    complete = [image.pk for image in images if Image.objects.get(pk=image.pk).is_complete]
    cards = page.locator(".browse-card")
    expect(cards).to_have_count(len(complete))
    cards.nth(0).locator("a").click()
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    expect(page).to_have_url(re.compile(rf"/images/{complete[0]}/\?status=complete$"))
    expect(page.locator("#annotations tbody tr")).to_have_count(2)
    expect(page.locator("#annotations")).to_contain_text("ann1")
    expect(page.locator(".prediction .badge")).to_have_text("current")
    expect(page.locator("#history")).to_contain_text("Annotation created by ann2")
    expect(page.locator("#final-label")).not_to_contain_text("None yet")
    for key, shown in (("ArrowRight", 1), ("j", 2), ("k", 1), ("ArrowLeft", 0)):
        page.keyboard.press(key)
        expect(page).to_have_url(re.compile(rf"/images/{complete[shown]}/\?status=complete$"))
        page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    save_screenshot(page, "image-page", full_page=False)
    page.keyboard.press("+")
    expect(page.locator("#previous-image")).to_have_count(0)


def test_a_lead_walks_the_images_pages(live_server, page):
    """One seeded project, one login as its lead: the grid and the table, filters in the
    address, typed filters, then an image's page stepped through by keyboard."""
    project, images = digits_project()
    login(page, live_server, "lead")
    a_lead_browses_the_grid_and_the_table(page, live_server, project)
    filters_live_in_the_address(page, live_server, project)
    typed_filters_apply_after_a_pause_keeping_the_caret(page, live_server, project)
    the_image_page_steps_through_the_filter_by_keyboard(page, live_server, project, images)


def test_a_lead_sets_the_priority_of_ticked_images(live_server, page):
    project, _ = digits_project()
    login(page, live_server, "lead")
    open_images(page, live_server, project, "?status=gold")
    cards = page.locator(".browse-card")
    expect(cards).to_have_count(6)
    cards.nth(0).locator(".pick").check()
    cards.nth(1).locator(".pick").check()
    expect(page.locator("#selected-count")).to_have_text("2 selected")
    page.locator("#bulk-action").select_option("priority")
    page.locator("#bulk-param").fill("7")
    page.locator("#bulk-apply").click()
    expect(page.locator("#bulk-status")).to_contain_text("Done", timeout=WAIT)
    ids = [int(cards.nth(n).get_attribute("data-image-id")) for n in (0, 1)]
    priorities = set(Image.objects.filter(pk__in=ids).values_list("priority", flat=True))
    assert priorities == {7.0}
