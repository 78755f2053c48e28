"""Erasure in Chromium: from the Images page's selection (the dry run's counts confirmed
first, a reason required) and from an image's page; a dismissed confirmation erases
nothing."""

from __future__ import annotations

import pytest

from labeler.erasure.models import Erasure
from labeler.images.models import Image
from tests.browser.conftest import login
from tests.browser.test_browse import digits_project, open_images
from tests.browser.test_browse_bulk import apply, card_ids

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 10_000  # ms


def test_a_lead_erases_ticked_images_after_confirming_the_dry_runs_counts(live_server, page):
    project, images = digits_project()
    login(page, live_server, "lead")
    open_images(page, live_server, project)
    chosen = card_ids(page)[:2]
    for pk in chosen:
        page.locator(f".browse-card[data-image-id='{pk}'] .pick").check()
    apply(page, "erase")  # no reason yet
    expect(page.locator("#bulk-status")).to_contain_text("Say why", timeout=WAIT)
    asked: list[str] = []

    def dismiss(dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    apply(page, "erase", "Request of 3 May")
    expect(page.locator("#bulk-status")).to_have_text("Nothing was erased.", timeout=WAIT)
    assert asked[0].startswith("Erase 2 images for good?") and "stored file" in asked[0]
    assert Image.objects.filter(pk__in=chosen).count() == 2
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#bulk-apply").click()
    expect(page.locator("#bulk-status")).to_contain_text("Erased 2 images", timeout=WAIT)
    assert not Image.objects.filter(pk__in=chosen).exists()
    report = Erasure.objects.get()
    assert (sorted(report.image_ids), report.reason) == (sorted(chosen), "Request of 3 May")
    expect(page.locator(".browse-card")).to_have_count(len(images) - 2, timeout=WAIT)
    page.locator("#erasures-link").click()
    row = page.locator(f"#erasures tr[data-erasure='{report.pk}']")
    expect(row).to_contain_text("Request of 3 May")
    expect(row).to_contain_text("2 original")


def test_a_lead_erases_an_image_from_its_page(live_server, page):
    project, images = digits_project()
    image = images[0]
    login(page, live_server, "lead")
    page.goto(f"{live_server.url}/projects/{project.pk}/images/{image.pk}/")
    page.locator("#erase summary").click()
    page.locator("#erase-reason").fill("Asked by the person pictured")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#erase-image").click()
    expect(page.locator("#erase-status")).to_contain_text("Erased 1 image", timeout=WAIT)
    page.wait_for_url(f"**/projects/{project.pk}/images/", timeout=WAIT)
    assert not Image.objects.filter(pk=image.pk).exists()
    assert Erasure.objects.get().image_ids == [image.pk]
