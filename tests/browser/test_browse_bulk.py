"""Bulk actions from the Images page in Chromium: everything the filter matches less an
unticked image as a background job with its progress bar, send back for relabelling, mark
gold, delete, and an export in a chosen format offered as a download link."""

from __future__ import annotations

import pytest

from labeler.agreement.final_labels import final_labels_current
from labeler.annotations.models import Annotation, FinalLabel, FinalLabelMethod
from labeler.browse.filters import images_filtered
from labeler.bulk.models import BulkAction
from labeler.images.models import Image
from tests.browser.conftest import login
from tests.browser.test_browse import digits_project, open_images

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 10_000  # ms


def card_ids(page) -> list[int]:
    cards = page.locator(".browse-card")
    return [int(cards.nth(n).get_attribute("data-image-id")) for n in range(cards.count())]


def apply(page, action: str, value: str | None = None) -> None:
    page.locator("#bulk-action").select_option(action)
    if value is not None:
        page.locator("#bulk-param").fill(value)
    page.locator("#bulk-apply").click()


def test_everything_the_filter_matches_less_one_unticked_runs_as_a_job(
    live_server, page, screenshot, settings
):
    settings.LABELER_BULK_BACKGROUND_OVER = 3
    project, _ = digits_project()
    lead = project.memberships.get(user__username="lead").user
    matching = set(
        images_filtered(project, {"status": ["complete"]}, user=lead).values_list("pk", flat=True)
    )
    login(page, live_server, "lead")
    open_images(page, live_server, project, "?status=complete")
    expect(page.locator(".browse-card")).to_have_count(len(matching), timeout=WAIT)
    page.locator("#select-all-matching").check()
    count = page.locator("#selected-count")
    expect(count).to_contain_text(f"{len(matching)} images, so {len(matching)} images")
    left_out = card_ids(page)[1]
    page.locator(f".browse-card[data-image-id='{left_out}'] .pick").uncheck()
    expect(count).to_have_text(
        f"Everything the filter matches: {len(matching)} images less 1 unticked, "
        f"so {len(matching) - 1} images will be acted on"
    )
    page.locator("#bulk-action").select_option("priority")
    page.locator("#bulk-param").fill("5")
    screenshot("browse-bulk-all-matching", full_page=False)
    with page.expect_response(
        lambda r: r.url.endswith("/images/bulk/") and r.request.method == "POST"
    ) as answer:
        page.locator("#bulk-apply").click()
    assert answer.value.status == 202
    sent = answer.value.request.post_data_json
    assert sent["selection"] == {"filter": "status=complete", "exclude_ids": [left_out]}
    expect(page.locator("#bulk-status")).to_contain_text("Done", timeout=WAIT)
    expect(page.locator("#bulk-progress")).to_be_visible()
    priorities = dict(Image.objects.filter(project=project).values_list("pk", "priority"))
    assert priorities[left_out] == 0.0
    assert {pk for pk, p in priorities.items() if p == 5.0} == matching - {left_out}
    record = BulkAction.objects.get()
    assert (record.total, record.changed, record.status) == (len(matching) - 1,) * 2 + ("done",)


def test_send_back_for_relabelling(live_server, page):
    project, _ = digits_project()
    login(page, live_server, "lead")
    open_images(page, live_server, project, "?status=complete")
    chosen = card_ids(page)[:2]
    for pk in chosen:
        page.locator(f".browse-card[data-image-id='{pk}'] .pick").check()
    expect(page.locator("#selected-count")).to_have_text("2 selected")
    apply(page, "relabel")
    expect(page.locator("#bulk-status")).to_contain_text("Done: 2 images changed", timeout=WAIT)
    assert not Annotation.objects.filter(image_id__in=chosen).exists()
    assert not Image.objects.filter(pk__in=chosen, is_complete=True).exists()
    top = max(Image.objects.filter(project=project).values_list("priority", flat=True))
    assert set(Image.objects.filter(pk__in=chosen).values_list("priority", flat=True)) == {top}
    # The page reloads without them: they are not complete any more.
    page.wait_for_load_state()
    gone = page.locator(f".browse-card[data-image-id='{chosen[0]}']")
    expect(gone).to_have_count(0, timeout=WAIT)


def test_mark_gold(live_server, page):
    project, _ = digits_project()
    final_labels_current(project=project)  # the consensus as the refresh leaves it
    login(page, live_server, "lead")
    open_images(page, live_server, project, "?final_method=consensus")
    expect(page.locator(".browse-card").first).to_be_visible(timeout=WAIT)
    pk = card_ids(page)[0]
    page.locator(f".browse-card[data-image-id='{pk}'] .pick").check()
    apply(page, "gold")
    expect(page.locator("#bulk-status")).to_contain_text("Done: 1 image changed", timeout=WAIT)
    assert FinalLabel.objects.get(image_id=pk).method == FinalLabelMethod.GOLD
    open_images(page, live_server, project, "?status=gold")
    expect(page.locator(f".browse-card[data-image-id='{pk}'] .status-chip")).to_have_text("gold")


def test_delete(live_server, page):
    project, images = digits_project()
    login(page, live_server, "lead")
    open_images(page, live_server, project)
    chosen = card_ids(page)[:3]
    for pk in chosen:
        page.locator(f".browse-card[data-image-id='{pk}'] .pick").check()
    page.once("dialog", lambda dialog: dialog.accept())
    apply(page, "delete")
    expect(page.locator("#bulk-status")).to_contain_text("Done: 3 images changed", timeout=WAIT)
    assert not Image.objects.filter(pk__in=chosen).exists()
    expect(page.locator(".browse-card")).to_have_count(len(images) - 3, timeout=WAIT)


def test_export_offers_its_file(live_server, page, screenshot):
    project, _ = digits_project()
    login(page, live_server, "lead")
    open_images(page, live_server, project)
    chosen = card_ids(page)[:3]
    for pk in chosen:
        page.locator(f".browse-card[data-image-id='{pk}'] .pick").check()
    page.locator("#bulk-action").select_option("export")
    expect(page.locator("#bulk-param")).to_be_hidden()
    page.locator("#bulk-format").select_option("csv")
    page.locator("#bulk-apply").click()
    link = page.locator("#bulk-download-link")
    expect(link).to_be_visible(timeout=WAIT)
    expect(page.locator("#bulk-status")).to_contain_text("ready (3 images)")
    screenshot("browse-bulk-export", full_page=False)
    answer = page.request.get(link.get_attribute("href"))
    assert answer.status == 200
    body = answer.text()
    assert body.splitlines()[0].count(",") >= 2  # a CSV header
    assert all("digit-" in line for line in body.splitlines()[1:] if line)


def test_sent_to_review_shows_on_the_image_page(live_server, page, screenshot):
    project, _ = digits_project()
    login(page, live_server, "lead")
    open_images(page, live_server, project, "?status=not_started")
    fresh = page.locator(".browse-card").filter(has_not=page.locator(".status-gold"))
    pk = int(fresh.first.get_attribute("data-image-id"))
    page.locator(f".browse-card[data-image-id='{pk}'] .pick").check()
    page.locator("#bulk-action").select_option("review")
    page.locator("#bulk-apply").click()
    expect(page.locator("#bulk-status")).to_contain_text("Done: 1 image changed", timeout=WAIT)
    open_images(page, live_server, project, "?status=in_review&status=not_started")
    chips = page.locator(f".browse-card[data-image-id='{pk}'] .status-chip")
    expect(chips).to_have_text(["not started", "in review"])
    page.goto(f"{live_server.url}/projects/{project.pk}/images/{pk}/")
    expect(page.locator("#history")).to_contain_text("Sent to review (requested) by lead")
    expect(page.locator("#queue-facts")).to_have_text("Queue priority 0 · not reserved")
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    screenshot("image-page-review-history", full_page=False)


def test_a_delete_of_a_selection_that_changed_since_it_was_counted_is_refused_and_recounted(
    live_server, page, screenshot
):
    """The page sends the count it showed; when the filter matches another number by the
    time the lead presses the button, nothing is deleted, the page says why and counts
    again, and a second press deletes what the new count says."""
    project, _ = digits_project()
    lead = project.memberships.get(user__username="lead").user
    matching = list(
        images_filtered(project, {"status": ["complete"]}, user=lead).values_list("pk", flat=True)
    )
    login(page, live_server, "lead")
    open_images(page, live_server, project, "?status=complete")
    page.locator("#select-all-matching").check()
    count = page.locator("#selected-count")
    expect(count).to_contain_text(f"{len(matching)} images, so {len(matching)} images")
    gone = matching[-1]
    Image.objects.filter(pk=gone).delete()  # another lead deletes one meanwhile
    before = Image.objects.count()

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(
        lambda r: r.url.endswith("/images/bulk/") and r.request.method == "POST"
    ) as answer:
        apply(page, "delete")
    assert answer.value.status == 409
    assert answer.value.request.post_data_json["expected_count"] == len(matching)
    status = page.locator("#bulk-status")
    expect(status).to_contain_text(f"not the {len(matching)} you saw", timeout=WAIT)
    expect(count).to_contain_text(f"so {len(matching) - 1} images", timeout=WAIT)
    screenshot("browse-bulk-recounted", full_page=False)
    assert Image.objects.count() == before

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#bulk-apply").click()
    expect(status).to_contain_text("Done", timeout=WAIT)
    assert not Image.objects.filter(pk__in=matching).exists()
    assert Image.objects.count() == before - (len(matching) - 1)


@pytest.mark.parametrize(("typed", "said"), [("", "'priority' is empty"), ("soon", "not 'soon'")])
def test_set_priority_refuses_an_empty_field_or_a_word(live_server, page, typed, said):
    """The field used to be sent as Number(""), 0: the images' priorities were reset unsaid."""
    project, _ = digits_project()
    Image.objects.filter(project=project).update(priority=4)
    login(page, live_server, "lead")
    open_images(page, live_server, project)
    page.locator(".browse-card .pick").first.check()
    apply(page, "priority", typed)
    expect(page.locator("#bulk-status")).to_contain_text(said, timeout=WAIT)
    expect(page.locator("#bulk-apply")).to_be_enabled()
    assert set(Image.objects.filter(project=project).values_list("priority", flat=True)) == {4.0}
    assert not BulkAction.objects.exists()
