"""Machine review in Chromium: send the model's sure predictions, mark the wrong one by
keyboard, confirm the batch; final labels follow."""

from __future__ import annotations

import re

import pytest

from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.images.models import Image
from labeler.predictions.models import MachineLabel, MachineLabelStatus, Prediction
from labeler.projects.models import Project
from tests.browser.conftest import login, save_screenshot
from tests.browser.test_models import colour_project
from tests.factories import ModelVersionFactory

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 10_000


def predicted_project() -> tuple[Project, dict[str, int], Image, Image]:
    """Colours with a current model that predicted the 9 unlabelled images: sure and right,
    except one red image it calls green and one blue image it is unsure of."""
    project = colour_project(per_label=4, unlabelled=3)
    labels = dict(project.labels.values_list("name", "pk"))
    model = ModelVersionFactory(project=project, version=1)
    unlabelled = Image.objects.filter(project=project, final_label__isnull=True).order_by("pk")
    wrong = unsure = None
    for image in unlabelled:
        colour = image.original_name.split("-")[0]
        said, confidence = colour, 0.95
        if colour == "red" and wrong is None:
            said, confidence, wrong = "green", 0.92, image
        elif colour == "blue" and unsure is None:
            confidence, unsure = 0.6, image
        rest = (1 - confidence) / 2
        Prediction.objects.create(
            image=image,
            model_version=model,
            probabilities={
                str(pk): confidence if name == said else rest for name, pk in labels.items()
            },
            confidence=confidence,
        )
    assert wrong is not None and unsure is not None
    return project, labels, wrong, unsure


def tile_index(page, image: Image) -> int:
    return int(page.locator(f".mr-tile[data-image='{image.pk}']").get_attribute("data-index"))


def test_a_reviewer_confirms_the_batch_and_corrects_one_by_keyboard(live_server, page):
    """Send at 0.9: the 8 sure predictions come grouped by label. Space marks the wrong one,
    its label's hotkey picks red; Confirm makes 7 machine final labels and 1 adjudicated."""
    project, labels, wrong, unsure = predicted_project()
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/projects/{project.pk}/machine-review/")
    expect(page.locator("#empty")).to_be_visible(timeout=WAIT)
    page.fill("#min-confidence", "0.9")
    page.get_by_role("button", name="Send to review").click()
    expect(page.locator("#send-result")).to_have_text("Sent 8 images to review.", timeout=WAIT)
    expect(page.locator(".mr-tile")).to_have_count(8)
    expect(page.locator("#pending-count")).to_have_text("8")
    expect(page.locator(".mr-group")).to_have_count(3)
    green = page.locator(f".mr-group[data-group='{labels['green']}']")
    expect(green.locator(".mr-tile")).to_have_count(4)  # three green images and the red one
    assert not MachineLabel.objects.filter(image=unsure).exists()

    page.keyboard.press("Home")
    for _ in range(tile_index(page, wrong)):
        page.keyboard.press("ArrowRight")
    tile = page.locator(f".mr-tile[data-image='{wrong.pk}']")
    expect(tile).to_be_focused()
    page.keyboard.press(" ")
    expect(tile).to_have_attribute("data-wrong", "true")
    expect(page.locator("#summary")).to_contain_text("1 marked wrong without a label stays pending")
    page.keyboard.press("1")  # red's hotkey
    expect(tile.locator(".mr-correct")).to_have_text("red")
    expect(page.locator("#labels [aria-pressed=true]")).to_have_text(re.compile("red"))
    # Another tile marked by mistake and put right again stays confirmed.
    page.keyboard.press("ArrowRight")
    page.keyboard.press(" ")
    page.keyboard.press(" ")
    expect(page.locator(".mr-tile[data-wrong=true]")).to_have_count(1)
    expect(page.locator("#confirm-button")).to_have_text("Confirm 7 and correct 1")
    save_screenshot(page, "machine-review-marked", full_page=False)

    page.get_by_role("button", name="Confirm 7 and correct 1").click()
    expect(page.locator("#send-result")).to_contain_text(
        "Confirmed 7 and corrected 1", timeout=WAIT
    )
    expect(page.locator("#empty")).to_be_visible()
    finals = FinalLabel.objects.filter(image__project=project, image__machine_label__isnull=False)
    assert finals.filter(method=FinalLabelMethod.MACHINE).count() == 7
    corrected = finals.get(image=wrong)
    assert corrected.method == FinalLabelMethod.ADJUDICATED
    assert list(corrected.labels.values_list("name", flat=True)) == ["red"]
    statuses = MachineLabel.objects.filter(project=project).values_list("status", flat=True)
    assert sorted(statuses) == [MachineLabelStatus.CONFIRMED] * 7 + [MachineLabelStatus.CORRECTED]
    assert not FinalLabel.objects.filter(image=unsure).exists()


def test_clicks_mark_wrong_and_the_panel_picks_the_label(live_server, page):
    """With the mouse: a click marks a tile wrong, a label button in the panel corrects it."""
    project, labels, wrong, _ = predicted_project()
    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/projects/{project.pk}/machine-review/")
    page.get_by_role("button", name="Send to review").click()
    expect(page.locator(".mr-tile")).to_have_count(8, timeout=WAIT)
    tile = page.locator(f".mr-tile[data-image='{wrong.pk}']")
    tile.click()
    expect(tile).to_have_attribute("data-wrong", "true")
    expect(page.locator("#wrong-button")).to_have_attribute("aria-pressed", "true")
    page.locator(f"#labels [data-label-id='{labels['red']}']").click()
    expect(tile.locator(".mr-correct")).to_have_text("red")
    with page.expect_response(lambda r: r.url.endswith("/machine-labels/review/")) as answer:
        page.get_by_role("button", name="Confirm 7 and correct 1").click()
    assert answer.value.request.post_data_json["correct"] == [
        {"image": wrong.pk, "labels": [labels["red"]]}
    ]
    expect(page.locator("#empty")).to_be_visible(timeout=WAIT)


def test_a_bad_threshold_is_refused_in_words(live_server, page):
    """A confidence outside 0..1 is caught before sending; nothing is sent."""
    project, *_ = predicted_project()
    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/projects/{project.pk}/machine-review/")
    page.fill("#min-confidence", "1.5")
    page.get_by_role("button", name="Send to review").click()
    expect(page.locator("#send-result")).to_have_text(re.compile("from 0 to 1"))
    expect(page.locator("#min-confidence")).to_have_attribute("aria-invalid", "true")
    assert not MachineLabel.objects.exists()


def test_images_whose_addresses_expired_are_fetched_again(live_server, page):
    """The page stayed open past its images' addresses: every tile and the preview still
    show their image, fetched through the API on the session's own access."""
    project, _, _, _ = predicted_project()
    login(page, live_server, "rita")
    page.route("**/files/**", lambda route: route.fulfill(status=404, body="expired"))
    page.goto(f"{live_server.url}/projects/{project.pk}/machine-review/")
    page.fill("#min-confidence", "0.9")
    page.get_by_role("button", name="Send to review").click()
    expect(page.locator(".mr-tile")).to_have_count(8, timeout=WAIT)
    page.wait_for_function(
        "[...document.querySelectorAll('.mr-tile img, #preview img')]"
        ".every((img) => img.complete && img.naturalWidth > 0)",
        timeout=WAIT,
    )
    sources = page.eval_on_selector_all(".mr-tile img", "(imgs) => imgs.map((i) => i.src)")
    assert all(re.search(r"/api/v1/projects/\d+/images/\d+/(thumbnail|file)/$", s) for s in sources)
