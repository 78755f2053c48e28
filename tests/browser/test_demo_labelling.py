"""An annotator labels 40 digits of the demo project with the keyboard alone, never waiting."""

from __future__ import annotations

import pytest
from sklearn.datasets import load_digits

from labeler.annotations.models import Annotation
from labeler.demo.services import DEMO_PASSWORD, demo_load
from labeler.images.models import Image
from tests.browser.conftest import login, save_screenshot
from tests.browser.test_label import close_first_instructions

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(transaction=True), pytest.mark.slow]

THINK_MS = 250  # quicker than a person reads a digit and finds its key


def test_label_40_digits_with_the_keyboard_without_waiting(live_server, page):
    """Each key press finds the next image already on screen; all 40 labels are stored."""
    summary = demo_load(n_images=160, simulate_fraction=0.0, seed=1)
    truth = load_digits().target
    login(page, live_server, "annotator1", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/projects/{summary.project.pk}/label/")
    page.wait_for_selector("#stage[data-state=ready]", timeout=15_000)
    close_first_instructions(page)  # the demo project has instructions: they open first
    # The first image is on screen: while it is looked at, the ones after it arrive.
    page.wait_for_function("window.labeler.state.buffer.length >= 3", timeout=15_000)
    save_screenshot(page, "label-demo", full_page=False)
    names = dict(Image.objects.values_list("pk", "original_name"))

    pressed = {}
    not_ready = 0
    for _ in range(40):
        page.wait_for_timeout(THINK_MS)
        stage = page.locator("#stage")
        if stage.get_attribute("data-state") != "ready":
            not_ready += 1
            page.wait_for_selector("#stage[data-state=ready]", timeout=15_000)
        image_id = int(stage.get_attribute("data-image-id"))
        digit = str(truth[int(names[image_id][6:10])])  # "digit-0042.png" is digit 42
        page.keyboard.press(digit)
        pressed[image_id] = digit
    page.wait_for_function("window.labeler.outbox().length === 0", timeout=30_000)

    assert not_ready == 0
    assert page.evaluate("window.labeler.stats.stalls") == 0
    assert len(pressed) == 40
    stored = {
        a.image_id: a.labels.get().name
        for a in Annotation.objects.filter(annotator__username="annotator1")
    }
    assert stored == pressed
