"""The labelling page when the queue refuses: a label whose slot was taken, the lease cap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeler.annotations.models import Annotation, Assignment
from tests.browser.conftest import login
from tests.browser.test_label import (
    WAIT,
    make_project,
    open_workspace,
    press_when_ready,
    shown_image,
    wait_moved_on,
    wait_saved,
)
from tests.factories import UserFactory, annotation_submit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_label_whose_slot_was_taken_is_shown_as_not_saved(live_server, page):
    """The annotator's lease ran out while the image was on screen and another annotator
    labelled it: the page says the label was not saved and why, and goes on."""
    annotator, other = UserFactory(username="ann"), UserFactory(username="other")
    project = make_project(3, annotators=[annotator, other])
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)
    image_id = shown_image(page)
    Assignment.objects.filter(annotator=annotator, image_id=image_id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    annotation_submit(project=project, annotator=other, image_id=image_id, labels=["cat"])
    assert press_when_ready(page, "2") == image_id
    wait_moved_on(page, image_id)
    failures = page.locator("#failures")
    failures.wait_for(state="visible", timeout=WAIT)
    text = failures.inner_text()
    assert f"Could not save the label of image {image_id}" in text
    assert "has all the labels it needs (1): your lease on it ran out" in text
    assert not Annotation.objects.filter(annotator=annotator, image_id=image_id).exists()
    assert Annotation.objects.get(image_id=image_id).annotator == other


def test_the_lease_cap_only_slows_the_look_ahead(live_server, page, settings):
    """With a cap of 2 live leases the page looks one image ahead instead of three, takes
    the 409 for what it is (not a lost connection, nothing to show), and the annotator
    labels every image."""
    settings.LABELER_MAX_LEASES = 2
    annotator = UserFactory(username="ann")
    project = make_project(5, annotators=[annotator])
    login(page, live_server, "ann")
    refused = lambda response: "/next/" in response.url and response.status == 409  # noqa: E731
    with page.expect_response(refused, timeout=WAIT):
        open_workspace(page, live_server, project)
    page.wait_for_timeout(300)
    assert "Cannot reach" not in page.locator("#save-status").inner_text()
    labelled = []
    for _ in range(5):
        labelled.append(press_when_ready(page, "1"))
        assert Assignment.objects.filter(annotator=annotator).count() <= 2
    wait_saved(page)
    assert sorted(labelled) == sorted(set(labelled))
    assert Annotation.objects.filter(annotator=annotator).count() == 5
    assert page.locator("#failures").is_hidden()
    assert page.locator("#save-status").inner_text() == "All saved"
    assert "refused" not in page.locator("#stage").inner_text()


def test_at_the_lease_cap_with_labels_still_saving_the_page_waits_for_them(
    live_server, page, settings
):
    """A slow server: both images the annotator may hold are labelled and still being
    saved, so next/ answers lease_limit with nothing on screen. The page waits for the
    saves and goes on (it took the 409 for a refusal and said nothing was left)."""
    settings.LABELER_MAX_LEASES = 2
    annotator = UserFactory(username="ann")
    project = make_project(4, annotators=[annotator])
    held = []
    page.route("**/annotations/", lambda route: held.append(route))  # the saves wait
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)
    first = press_when_ready(page, "1")
    wait_moved_on(page, first)
    second = press_when_ready(page, "1")
    refused = lambda response: "/next/" in response.url and response.status == 409  # noqa: E731
    with page.expect_response(refused, timeout=WAIT):
        wait_moved_on(page, second)
    page.wait_for_timeout(500)
    assert "Nothing left" not in page.locator("#stage").inner_text()

    assert len(held) == 1  # the outbox sends one save at a time
    page.unroute("**/annotations/")  # the held save goes on, and the one behind it
    third = press_when_ready(page, "1")  # a new image came once the saves were in
    assert third not in (first, second)
    press_when_ready(page, "1")
    wait_saved(page)
    assert Annotation.objects.filter(annotator=annotator).count() == 4
