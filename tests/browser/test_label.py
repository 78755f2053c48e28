"""The labelling page in Chromium: keyboard labelling, skip, back, undo, retries, suggestions."""

from __future__ import annotations

import re
import time

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from labeler import flows
from labeler.annotations.models import Annotation, AnnotationRevision, Assignment, Skip
from labeler.idempotency.models import IdempotentRequest
from labeler.images.delivery import links
from labeler.images.models import Image
from labeler.predictions.models import ModelVersion, Prediction
from labeler.predictions.selectors import SUGGESTION_HELD_BACK
from labeler.projects.models import Label, Role
from tests.browser.conftest import login, save_screenshot
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit, image_bytes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 10_000  # ms; generous for a loaded CI machine, never reached when things work


def make_project(n_images: int, *, overlap: int = 1, multi_label: bool = False, annotators=()):
    project = ProjectFactory(name="Pets", overlap=overlap, multi_label=multi_label)
    lead = UserFactory(username="lead")
    add_member(project, lead, Role.LEAD)
    for user in annotators:
        add_member(project, user)
    files = [
        SimpleUploadedFile(f"pet-{i:02d}.png", image_bytes(size=(96, 64))) for i in range(n_images)
    ]
    flows.images_ingest(project=project, files=files)
    return project


def open_workspace(page, live_server, project):
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)


def shown_image(page) -> int:
    return int(page.locator("#stage").get_attribute("data-image-id"))


def press_when_ready(page, key: str) -> int:
    """Press a key on the image on screen; returns that image's id."""
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    image_id = shown_image(page)
    page.keyboard.press(key)
    return image_id


def wait_moved_on(page, image_id: int) -> None:
    """Wait until the stage shows something other than this image (a dialog's close event
    records a skip a moment after the dialog closes)."""
    page.wait_for_function(
        f"document.querySelector('#stage').dataset.imageId !== '{image_id}'", timeout=WAIT
    )


def wait_saved(page) -> None:
    page.wait_for_selector("#save-status[data-waiting='0']", timeout=WAIT)
    page.wait_for_function("window.labeler.outbox().length === 0", timeout=WAIT)


def labels_of(annotation: Annotation) -> list[str]:
    return sorted(annotation.labels.values_list("name", flat=True))


def test_keyboard_only_label_skip_back_and_change(live_server, page, screenshot):
    """Five labels, a skip with a reason, back twice and a change: the database holds just that."""
    annotator = UserFactory(username="ann")
    project = make_project(10, overlap=2, annotators=[annotator])
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)
    screenshot("label")

    done = {}
    for key, name in zip("12312", ["cat", "dog", "bird", "cat", "dog"], strict=True):
        done[press_when_ready(page, key)] = name
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    skipped = shown_image(page)
    page.keyboard.press("Space")
    page.wait_for_selector("#skip-dialog[open]")
    page.keyboard.type("too dark")
    page.keyboard.press("Enter")
    page.wait_for_selector("#skip-dialog:not([open])", state="attached")
    wait_moved_on(page, skipped)

    page.keyboard.press("ArrowLeft")  # the skipped image
    assert shown_image(page) == skipped
    assert page.locator("#mode-banner").inner_text().count("skipped") == 1
    page.keyboard.press("ArrowLeft")  # the fifth labelled image, "dog" selected
    fifth = list(done)[-1]
    assert shown_image(page) == fifth
    assert page.locator("[data-label-id][aria-pressed=true]").inner_text().endswith("dog")
    screenshot("label-history")
    page.keyboard.press("3")  # change it to bird; moves forward to the skipped image
    done[fifth] = "bird"
    assert shown_image(page) == skipped
    page.keyboard.press("ArrowRight")  # back to the queue
    page.wait_for_selector("#stage[data-mode=queue][data-state=ready]", timeout=WAIT)
    assert shown_image(page) not in {*done, skipped}
    wait_saved(page)

    mine = Annotation.objects.filter(annotator=annotator)
    assert {a.image_id: labels_of(a)[0] for a in mine} == done
    assert all(len(labels_of(a)) == 1 for a in mine)
    assert all(a.time_spent_ms is not None and a.time_spent_ms > 0 for a in mine)
    assert AnnotationRevision.objects.filter(annotation__image_id=fifth).count() == 2
    assert list(Skip.objects.values_list("image_id", "annotator_id", "reason")) == [
        (skipped, annotator.pk, "too dark")
    ]
    assert Annotation.objects.count() == 5
    # The progress line is refreshed in the background once the last save is through.
    expect(page.locator("#mine-text")).to_have_text(re.compile(r"^5 labelled, 1 skipped"))


def test_undo_takes_back_the_last_label_and_skip(live_server, page):
    """Ctrl+Z brings the last image back and the server forgets its label or skip."""
    annotator = UserFactory(username="ann")
    project = make_project(6, annotators=[annotator])
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)

    first = press_when_ready(page, "1")
    second = press_when_ready(page, "2")
    wait_saved(page)
    page.keyboard.press("Control+z")
    assert shown_image(page) == second
    assert page.locator("[data-label-id][aria-pressed=true]").inner_text().endswith("dog")
    wait_saved(page)
    assert list(Annotation.objects.values_list("image_id", flat=True)) == [first]
    assert Assignment.objects.filter(image_id=second, annotator=annotator).exists()

    press_when_ready(page, "3")  # label it again, differently
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    third = shown_image(page)
    page.keyboard.press("Space")
    page.keyboard.press("Enter")  # skip without a reason
    page.wait_for_selector("#skip-dialog:not([open])", state="attached")
    wait_moved_on(page, third)
    wait_saved(page)
    assert Skip.objects.filter(image_id=third).exists()
    page.keyboard.press("Control+z")
    assert shown_image(page) == third
    wait_saved(page)
    assert not Skip.objects.exists()
    assert {a.image_id: labels_of(a) for a in Annotation.objects.all()} == {
        first: ["cat"],
        second: ["bird"],
    }


def test_two_annotators_with_overlap_one_never_get_the_same_image(live_server, browser):
    """Two browser contexts label side by side; every image is shown to exactly one of them."""
    one, two = UserFactory(username="one"), UserFactory(username="two")
    project = make_project(12, overlap=1, annotators=[one, two])
    pages = []
    for user in (one, two):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        login(page, live_server, user.username)
        open_workspace(page, live_server, project)
        pages.append(page)

    seen: list[set[int]] = [set(), set()]
    for _ in range(12):
        for i, page in enumerate(pages):
            if page.locator("#stage").get_attribute("data-state") == "ready":
                seen[i].add(press_when_ready(page, "1"))
            page.wait_for_timeout(30)
    for page in pages:
        wait_saved(page)
        page.wait_for_selector("#stage[data-state=done]", timeout=WAIT)
        page.context.close()

    assert seen[0] and seen[1]
    assert not seen[0] & seen[1]
    assert seen[0] | seen[1] == set(Image.objects.values_list("pk", flat=True))
    per_image = [image.annotations.count() for image in Image.objects.all()]
    assert per_image == [1] * 12


def test_failed_submit_is_retried_and_shown(live_server, page):
    """The server is unreachable for the first submit: the page says so, retries, and saves."""
    annotator = UserFactory(username="ann")
    project = make_project(4, annotators=[annotator])
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)
    failures = {"left": 2}

    def flaky(route):
        if route.request.method == "POST" and failures["left"] > 0:
            failures["left"] -= 1
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/annotations/", flaky)
    first = press_when_ready(page, "2")
    second = press_when_ready(page, "1")  # the next image came at once, despite the failure
    page.wait_for_selector("#save-status[data-state=error]", timeout=WAIT)
    assert "retrying" in page.locator("#save-status").inner_text()
    wait_saved(page)
    assert page.locator("#save-status").inner_text() == "All saved"
    assert {a.image_id: labels_of(a) for a in Annotation.objects.all()} == {
        first: ["dog"],
        second: ["cat"],
    }
    assert page.evaluate("window.labeler.stats.retries") >= 1


def test_a_submit_whose_answer_was_lost_is_sent_again_under_its_key(live_server, page):
    """The first submit reaches the server but its answer never comes back: the page sends
    it again with the same Idempotency-Key, and the server answers it without a second write."""
    annotator = UserFactory(username="ann")
    project = make_project(3, annotators=[annotator])
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)
    sent: list[str | None] = []
    replayed: list[str | None] = []

    def answer_lost(route):
        sent.append(route.request.headers.get("idempotency-key"))
        response = route.fetch()
        if len(sent) == 1:
            route.abort("connectionreset")  # applied on the server, never answered
        else:
            replayed.append(response.headers.get("idempotent-replayed"))
            route.fulfill(response=response)

    page.route("**/annotations/", answer_lost)
    image_id = press_when_ready(page, "2")
    wait_saved(page)
    assert len(sent) == 2 and sent[0] == sent[1] and re.fullmatch(r"[0-9a-f-]{32,36}", sent[0])
    assert replayed == ["true"]
    [annotation] = Annotation.objects.all()
    assert (annotation.image_id, labels_of(annotation)) == (image_id, ["dog"])
    assert Image.objects.get(pk=image_id).annotation_count == 1
    assert IdempotentRequest.objects.get().key == sent[0]


def test_outbox_survives_a_reload(live_server, page):
    """A label still waiting when the page is reloaded is sent by the reloaded page."""
    annotator = UserFactory(username="ann")
    project = make_project(4, annotators=[annotator])
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)
    page.route("**/annotations/", lambda route: route.abort("connectionrefused"))
    image_id = press_when_ready(page, "3")
    page.wait_for_selector("#save-status[data-state=error]", timeout=WAIT)
    page.unroute("**/annotations/")
    page.on("dialog", lambda dialog: dialog.accept())  # "leave with unsaved work?"
    page.reload()
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    assert shown_image(page) != image_id
    wait_saved(page)
    assert [(a.image_id, labels_of(a)) for a in Annotation.objects.all()] == [(image_id, ["bird"])]


def test_suggestion_is_preselected_marked_and_accepted_with_enter(live_server, page, screenshot):
    """The model's label is shown as a suggestion with its confidence; Enter accepts it."""
    annotator = UserFactory(username="ann")
    project = make_project(3, annotators=[annotator])
    dog = Label.objects.get(project=project, name="dog")
    model = ModelVersion.objects.create(project=project, version=3, is_current=True)
    for image in Image.objects.all():
        labels = {str(label.pk): 0.05 for label in project.labels.all()}
        labels[str(dog.pk)] = 0.9
        Prediction.objects.create(image=image, model_version=model, probabilities=labels)
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)

    suggestion = page.locator("#suggestion")
    assert suggestion.is_visible()
    assert "dog" in suggestion.inner_text() and "90%" in suggestion.inner_text()
    chosen = page.locator("[data-label-id][aria-pressed=true]")
    assert chosen.count() == 1 and "suggested" in chosen.inner_text().lower()
    screenshot("label-suggestion", full_page=False)
    accepted = press_when_ready(page, "Enter")
    overridden = press_when_ready(page, "1")
    wait_saved(page)

    rows = {a.image_id: a for a in Annotation.objects.all()}
    assert labels_of(rows[accepted]) == ["dog"]
    assert rows[accepted].suggestion_accepted and rows[accepted].suggested_by_id == model.pk
    assert labels_of(rows[overridden]) == ["cat"]
    assert not rows[overridden].suggestion_accepted
    assert rows[overridden].suggested_by_id == model.pk


def test_multi_label_keys_toggle_and_enter_submits(live_server, page, screenshot):
    """In a multi-label project keys toggle; Enter submits; an empty submit is refused."""
    annotator = UserFactory(username="ann")
    project = make_project(3, multi_label=True, annotators=[annotator])
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)

    first = shown_image(page)
    page.keyboard.press("Enter")  # nothing chosen yet
    expect(page.locator("#stage-message")).to_contain_text("at least one label", timeout=WAIT)
    for key in "132":
        page.keyboard.press(key)
    page.keyboard.press("Control+z")  # un-toggles "dog"
    assert page.locator("[data-label-id][aria-pressed=true]").count() == 2
    screenshot("label-multi", full_page=False)
    assert shown_image(page) == first
    page.keyboard.press("Enter")
    wait_saved(page)
    assert [(a.image_id, labels_of(a)) for a in Annotation.objects.all()] == [
        (first, ["bird", "cat"])
    ]


def test_other_annotators_labels_are_never_shown(live_server, page):
    """An image someone else labelled comes with nothing selected, and history is one's own."""
    annotator, other = UserFactory(username="ann"), UserFactory(username="other")
    project = make_project(2, overlap=2, annotators=[annotator, other])
    for image in Image.objects.all():
        annotation_submit(project=project, annotator=other, image_id=image.pk, labels=["bird"])
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)
    assert page.locator("[data-label-id][aria-pressed=true]").count() == 0
    assert page.locator("#back-button").is_disabled()
    assert page.locator("#mode-banner").is_hidden()


def close_first_instructions(page) -> None:
    """Close the project's instructions, which open by themselves the first time a person
    labels it: label keys pressed while they are open are not shortcuts."""
    dialog = page.locator("#instructions-dialog")
    expect(dialog).to_be_visible(timeout=WAIT)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_instructions_open_the_first_time_only_and_one_click_away(live_server, page, screenshot):
    """The instructions open by themselves on a person's first visit to the labelling page,
    not on the next; they open from the bar and close with Escape; ? lists the shortcuts."""
    annotator = UserFactory(username="ann")
    project = make_project(2, annotators=[annotator])
    project.instructions = "Cats only if you see whiskers.\n<script>alert(1)</script>"
    project.save()
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)
    dialog = page.locator("#instructions-dialog")
    expect(dialog).to_be_visible()
    assert "whiskers" in dialog.inner_text() and "<script>" in dialog.inner_text()
    assert "Open them again at any time" in dialog.inner_text()
    screenshot("label-instructions-first-time", full_page=False)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.reload()
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    page.wait_for_timeout(300)  # the first-time check runs as the page starts
    assert dialog.is_hidden()
    page.get_by_role("button", name="Instructions").click()
    assert dialog.is_visible()
    page.keyboard.press("Escape")
    assert dialog.is_hidden()
    page.keyboard.press("?")
    expect(page.locator("#help-dialog")).to_contain_text("Keyboard shortcuts", timeout=WAIT)
    page.keyboard.press("Escape")
    assert page.locator("#help-dialog").is_hidden()

    # Changed instructions are new to everyone: they open once more.
    project.instructions = "Cats only if you see whiskers and a tail."
    project.save()
    page.reload()
    expect(dialog).to_be_visible(timeout=WAIT)
    assert "a tail" in dialog.inner_text()


def test_a_project_without_instructions_opens_no_dialog(live_server, page):
    """Nothing written: the labelling page starts on the image, no empty dialog first."""
    annotator = UserFactory(username="ann")
    project = make_project(1, annotators=[annotator])
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)
    page.wait_for_timeout(300)
    assert page.locator("#instructions-dialog").is_hidden()


def test_the_finish_screen_drops_the_last_caption_and_offers_a_way_on(
    live_server, page, screenshot
):
    """After the last image: no caption of the image just labelled, and buttons back to the
    project and to check again; checking again finds an image added since."""
    annotator = UserFactory(username="ann")
    project = make_project(1, annotators=[annotator])
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)
    first = shown_image(page)
    assert page.locator("#stage-info").inner_text().startswith(f"#{first} ·")
    press_when_ready(page, "1")
    page.wait_for_selector("#stage[data-state=done]", timeout=WAIT)
    wait_saved(page)
    assert page.locator("#stage-message").inner_text().startswith("Nothing left for you")
    assert page.locator("#stage-info").inner_text() == ""
    assert page.locator("#stage-info").is_hidden()
    done = page.locator("#done")
    expect(done).to_be_visible()
    project_link = done.get_by_role("link", name="Back to the project")
    assert project_link.get_attribute("href") == f"/projects/{project.pk}/"
    assert done.get_by_role("link", name="Review queue").count() == 0  # annotators: no
    screenshot("label-finished", full_page=False)

    flows.images_ingest(
        project=project,
        files=[SimpleUploadedFile("pet-new.png", image_bytes(size=(90, 60)))],
    )
    done.get_by_role("button", name="Check again for new images").click()
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    new = Image.objects.get(project=project, original_name="pet-new.png").pk
    assert shown_image(page) == new
    assert page.locator("#stage-info").inner_text().startswith(f"#{new} ·")
    assert done.is_hidden()
    project_link.wait_for(state="hidden")


def test_a_lead_who_finishes_is_offered_the_review_queue(live_server, page):
    """Leads and reviewers label too: their finish screen links the review queue."""
    annotator = UserFactory(username="ann")
    project = make_project(1, annotators=[annotator])
    image = Image.objects.get(project=project)
    annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=["cat"])
    login(page, live_server, "lead")
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    page.wait_for_selector("#stage[data-state=done]", timeout=WAIT)
    review = page.locator("#done").get_by_role("link", name="Review queue")
    assert review.get_attribute("href") == f"/projects/{project.pk}/review/"


def test_a_suggestion_held_back_says_why(live_server, page, screenshot):
    """A project holding every suggestion back: the panel says the image is labelled blind,
    in the predictions layer's words, rather than showing nothing."""
    annotator = UserFactory(username="ann")
    project = make_project(1, annotators=[annotator])
    project.suggestion_holdback = 1.0
    project.save()
    model = ModelVersion.objects.create(project=project, version=1, is_current=True, metrics={})
    image = Image.objects.get(project=project)
    cat = Label.objects.get(project=project, name="cat")
    Prediction.objects.create(model_version=model, image=image, probabilities={str(cat.pk): 0.9})
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)
    box = page.locator("#suggestion")
    expect(box).to_be_visible()
    assert box.inner_text() == SUGGESTION_HELD_BACK
    assert page.locator("#labels .suggested").count() == 0
    screenshot("label-suggestion-held-back", full_page=False)


def test_tablet_layout_fits_without_scrolling(live_server, browser):
    """At 768x1024 with touch, the image sits above the labels and nothing scrolls sideways."""
    annotator = UserFactory(username="ann")
    project = make_project(2, annotators=[annotator])
    context = browser.new_context(
        viewport={"width": 768, "height": 1024}, has_touch=True, is_mobile=True
    )
    page = context.new_page()
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)
    first = shown_image(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    stage_box = page.locator("#stage").bounding_box()
    labels_box = page.locator("#labels").bounding_box()
    assert stage_box["y"] + stage_box["height"] <= labels_box["y"] + 1
    page.locator("[data-label-id]").first.tap()
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    assert shown_image(page) != first
    save_screenshot(page, "label-tablet", full_page=False)
    wait_saved(page)
    context.close()
    assert Annotation.objects.get().image_id == first


def test_an_undo_waiting_offline_survives_a_reload(live_server, page):
    """Label, undo and reload while the server is unreachable: nothing is left stored."""
    annotator = UserFactory(username="ann")
    project = make_project(4, annotators=[annotator])
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)
    page.route("**/annotations/**", lambda route: route.abort("connectionrefused"))
    image_id = press_when_ready(page, "1")
    page.keyboard.press("Control+z")
    assert shown_image(page) == image_id
    assert [op["kind"] for op in page.evaluate("window.labeler.outbox()")] == [
        "annotate",
        "withdraw",
    ]
    page.unroute("**/annotations/**")
    page.on("dialog", lambda dialog: dialog.accept())
    page.reload()
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    wait_saved(page)
    assert not Annotation.objects.exists()
    assert page.locator("#failures").is_hidden()


def test_zoom_and_fit_with_the_keyboard(live_server, page):
    """+ zooms into the image, - zooms out, = fits it to the screen again."""
    annotator = UserFactory(username="ann")
    project = make_project(1, annotators=[annotator])
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)
    scale = "() => new DOMMatrix(getComputedStyle(document.querySelector('#stage-frame img'))"
    scale += ".transform).a"
    assert page.evaluate(scale) == pytest.approx(1)
    page.keyboard.press("+")
    page.keyboard.press("+")
    page.wait_for_function(f"({scale})() > 1.2")
    page.keyboard.press("-")
    page.keyboard.press("=")
    page.wait_for_function(f"Math.abs(({scale})() - 1) < 0.01")
    assert Annotation.objects.count() == 0


def test_an_earlier_image_whose_address_expired_is_fetched_again(live_server, page, monkeypatch):
    """Going back to an earlier image after its address (given when the page opened) has
    expired: the page asks for its history again and shows the image from a new address."""
    annotator = UserFactory(username="ann")
    project = make_project(2, annotators=[annotator])
    earlier = Image.objects.order_by("id").first()
    annotation_submit(project=project, annotator=annotator, image_id=earlier.pk, labels=["cat"])
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)
    assert shown_image(page) != earlier.pk

    later = time.time() + 2 * settings.LABELER_FILE_LINK_SECONDS
    monkeypatch.setattr(links, "_now", lambda: later)  # the live server runs in this process
    page.keyboard.press("ArrowLeft")

    assert shown_image(page) == earlier.pk
    page.wait_for_function(
        "[...document.querySelectorAll('#stage img')].some((img) => img.naturalWidth > 0)",
        timeout=WAIT,
    )


def test_the_suggested_tag_stays_inside_its_button_among_ten_labels(live_server, page):
    """Ten labels at 1280 px share two narrow columns: the suggested one keeps its name on
    a line and its "suggested" tag inside the button (it wraps below the name)."""
    names = ["vehicle", "texture", "space", "airplane", "automobile", "woodland", "waterfront",
             "mountains", "building", "interior"]  # fmt: skip
    project = make_project(1, annotators=[UserFactory(username="ann")])
    Label.objects.filter(project=project).delete()
    for position, name in enumerate(names):
        Label.objects.create(
            project=project, name=name, color="#336699", hotkey=str((position + 1) % 10),
            position=position,
        )  # fmt: skip
    model = ModelVersion.objects.create(project=project, version=1, is_current=True)
    waterfront = Label.objects.get(project=project, name="waterfront")
    probabilities = {str(label.pk): 0.01 for label in project.labels.all()}
    Prediction.objects.create(
        image=Image.objects.get(),
        model_version=model,
        probabilities={**probabilities, str(waterfront.pk): 0.9},
    )
    page.set_viewport_size({"width": 1280, "height": 800})
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)

    button = page.locator(".label-button.suggested")
    expect(button).to_contain_text("waterfront")
    box, tag = button.bounding_box(), button.locator(".tag").bounding_box()
    name = button.locator(".label-name").bounding_box()
    assert box and tag and name
    assert box["x"] <= tag["x"] and tag["x"] + tag["width"] <= box["x"] + box["width"] + 0.5
    assert tag["y"] + tag["height"] <= box["y"] + box["height"] + 0.5
    assert name["height"] < 30  # one line, not a column of letters
