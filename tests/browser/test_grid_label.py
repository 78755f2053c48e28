"""The labelling page in grid mode, in Chromium: a page of images labelled by keys, question
mode, undo of a tile and of a page, a reload mid-page, full size, honest times, held-back
suggestions and the lead's setting."""

from __future__ import annotations

import io
import json
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage
from playwright.sync_api import expect

from labeler import flows
from labeler.annotations.models import Annotation
from labeler.images.models import Image
from labeler.predictions.models import ModelVersion, Prediction
from labeler.predictions.selectors import SUGGESTION_HELD_BACK
from labeler.projects.models import Label, Role
from tests.browser.conftest import login, save_screenshot, take_screenshot
from tests.factories import ProjectFactory, UserFactory, add_member, image_bytes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 10_000  # ms; generous for a loaded CI machine, never reached when things work
GRID = "#grid"
TILES = "#grid-tiles .grid-tile"


def make_project(n_images: int, *, labels=None, grid_mode="always", grid_size=12, **fields):
    project = ProjectFactory(
        name="Pets", labels=labels, grid_mode=grid_mode, grid_size=grid_size, **fields
    )
    add_member(project, UserFactory(username="lead"), Role.LEAD)
    add_member(project, UserFactory(username="ann"))
    files = [
        SimpleUploadedFile(f"pet-{i:02d}.png", image_bytes(size=(96, 64))) for i in range(n_images)
    ]
    flows.images_ingest(project=project, files=files)
    return project


def suggest(project, confidence_of: dict[int, float], label_name: str) -> ModelVersion:
    """The current model suggests ``label_name`` on these images at these confidences."""
    model, _ = ModelVersion.objects.get_or_create(project=project, version=1, is_current=True)
    chosen = Label.objects.get(project=project, name=label_name)
    others = project.labels.exclude(pk=chosen.pk)
    for image_id, confidence in confidence_of.items():
        probabilities = {str(label.pk): (1 - confidence) / others.count() for label in others}
        probabilities[str(chosen.pk)] = confidence
        Prediction.objects.create(
            image_id=image_id, model_version=model, probabilities=probabilities
        )
    return model


def image_ids(project) -> list[int]:
    return list(Image.objects.filter(project=project).order_by("pk").values_list("pk", flat=True))


def label_id(project, name: str) -> int:
    return Label.objects.get(project=project, name=name).pk


def open_grid(page, live_server, project) -> None:
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    page.wait_for_selector(f"{GRID}[data-state=ready]", timeout=WAIT)


def tiles(page) -> list[dict]:
    """The tiles on screen, in order: image id, chosen label ids, marked, focused."""
    return page.eval_on_selector_all(
        TILES,
        """buttons => buttons.map(b => ({
            id: Number(b.dataset.imageId),
            labels: b.dataset.labels ? b.dataset.labels.split(",").map(Number) : [],
            suggested: b.dataset.suggested,
            marked: b.dataset.marked === "true",
            focused: b.dataset.focused === "true",
            group: b.closest(".grid-group").dataset.group,
        }))""",
    )


def focused(page) -> dict:
    [tile] = [t for t in tiles(page) if t["focused"]]
    return tile


def press(page, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)


def focus_image(page, image_id: int) -> None:
    """Moves the focus with the arrow keys until it is on this image's tile."""
    order = [t["id"] for t in tiles(page)]
    here = order.index(focused(page)["id"])
    target = order.index(image_id)
    key = "ArrowRight" if target > here else "ArrowLeft"
    for _ in range(abs(target - here)):
        page.keyboard.press(key)
    assert focused(page)["id"] == image_id


def wait_saved(page) -> None:
    page.wait_for_selector("#save-status[data-waiting='0']", timeout=WAIT)
    page.wait_for_function("window.labeler.outbox().length === 0", timeout=WAIT)


def page_seq(page) -> str:
    return page.locator(GRID).get_attribute("data-page")


def ahead_ready(page) -> None:
    page.wait_for_function(
        "window.labeler.grid && window.labeler.grid.ahead.length > 0", timeout=WAIT
    )


def labels_by_image(project) -> dict[int, list[str]]:
    return {
        a.image_id: sorted(a.labels.values_list("name", flat=True))
        for a in Annotation.objects.filter(image__project=project)
    }


def test_a_page_labelled_by_keys_grouped_by_suggestion(live_server, page):
    """Twelve images: four suggested cat, four dog (pre-selected), four without. The groups
    follow the label order, "No suggestion" last; two tiles fixed by key, the four without
    marked with Space and given bird at once, then Enter submits all twelve as grid labels."""
    project = make_project(12)
    ids = image_ids(project)
    suggest(project, {i: 0.9 for i in ids[:4]}, "cat")
    suggest(project, {i: 0.8 for i in ids[4:8]}, "dog")
    cat, dog, bird = (label_id(project, n) for n in ("cat", "dog", "bird"))
    login(page, live_server, "ann")
    open_grid(page, live_server, project)

    shown = tiles(page)
    assert [t["group"] for t in shown] == [str(cat)] * 4 + [str(dog)] * 4 + ["none"] * 4
    assert {t["id"] for t in shown} == set(ids)
    assert all(t["labels"] == [cat] for t in shown[:4])
    assert all(t["labels"] == [dog] for t in shown[4:8])
    assert all(t["labels"] == [] for t in shown[8:])
    heads = page.locator(".grid-group-head").all_inner_texts()
    assert "cat" in heads[0] and "dog" in heads[1] and "No suggestion" in heads[2]
    assert shown[0]["focused"]

    # Fix two: the first cat is a dog, the second dog is a cat.
    press(page, "2")
    focus_image(page, shown[5]["id"])
    press(page, "1")
    # The four without a suggestion: marked with Space, labelled bird with one key.
    focus_image(page, shown[8]["id"])
    for _ in range(4):
        press(page, "Space", "ArrowRight")
    assert sum(t["marked"] for t in tiles(page)) == 4
    press(page, "3")
    now = {t["id"]: t for t in tiles(page)}
    assert not any(t["marked"] for t in now.values())
    assert now[shown[0]["id"]]["labels"] == [dog] and now[shown[5]["id"]]["labels"] == [cat]
    assert all(now[t["id"]]["labels"] == [bird] for t in shown[8:])
    save_screenshot(page, "grid-keys-before-enter", full_page=False)

    press(page, "Enter")
    page.wait_for_selector(f"{GRID}[data-state=done]", timeout=WAIT)
    wait_saved(page)
    got = labels_by_image(project)
    assert len(got) == 12
    assert got[shown[0]["id"]] == ["dog"] and got[shown[5]["id"]] == ["cat"]
    assert all(got[t["id"]] == ["bird"] for t in shown[8:])
    assert all(got[t["id"]] == ["cat"] for t in shown[1:4])
    assert Annotation.objects.filter(grid=True).count() == 12


def test_question_mode_in_a_binary_project(live_server, page):
    """Shift+1 asks "Which are cat?": the marked ones become cat, the rest dog."""
    project = make_project(12, labels=["cat", "dog"])
    login(page, live_server, "ann")
    open_grid(page, live_server, project)
    order = [t["id"] for t in tiles(page)]

    press(page, "Shift+1")
    expect(page.locator("#grid-question")).to_contain_text("Which are cat?")
    assert page.locator(GRID).get_attribute("data-question") == str(label_id(project, "cat"))
    yes = {order[0], order[2], order[5]}
    press(page, "Space", *["ArrowRight"] * 2, "Space", *["ArrowRight"] * 3, "Space")
    assert {t["id"] for t in tiles(page) if t["marked"]} == yes
    save_screenshot(page, "grid-question", full_page=False)
    press(page, "Enter")  # answers the question
    assert page.locator(GRID).get_attribute("data-question") == ""
    cat, dog = label_id(project, "cat"), label_id(project, "dog")
    assert {t["id"]: t["labels"] for t in tiles(page)} == {
        i: [cat] if i in yes else [dog] for i in order
    }

    press(page, "Enter")  # accepts the page
    page.wait_for_selector(f"{GRID}[data-state=done]", timeout=WAIT)
    wait_saved(page)
    assert labels_by_image(project) == {i: ["cat"] if i in yes else ["dog"] for i in order}


def test_undo_a_tile_and_a_whole_page(live_server, page):
    """Ctrl+Z takes a tile's label back; after Enter, it takes the whole page back: its
    annotations withdrawn, the page on screen again with its labels, the next one ahead."""
    project = make_project(24)
    login(page, live_server, "ann")
    open_grid(page, live_server, project)
    first = page_seq(page)
    order = [t["id"] for t in tiles(page)]

    press(page, "1")
    assert focused(page)["labels"] == [label_id(project, "cat")]
    press(page, "Control+z")
    assert focused(page)["labels"] == []

    ahead_ready(page)
    for _ in range(12):
        press(page, "Space", "ArrowRight")
    press(page, "2")
    press(page, "Enter")
    assert page_seq(page) != first
    second = [t["id"] for t in tiles(page)]
    assert not set(second) & set(order)
    wait_saved(page)
    assert len(labels_by_image(project)) == 12

    press(page, "Control+z")
    assert page_seq(page) == first
    assert [t["id"] for t in tiles(page)] == order
    assert all(t["labels"] == [label_id(project, "dog")] for t in tiles(page))
    wait_saved(page)
    assert labels_by_image(project) == {}

    press(page, "Enter")  # again: the page that was ahead comes back on screen
    assert sorted(t["id"] for t in tiles(page)) == sorted(second)
    wait_saved(page)
    assert labels_by_image(project) == {i: ["dog"] for i in order}


def test_a_reload_mid_page_loses_nothing(live_server, page):
    """Four tiles accepted while the server cannot be reached, then a reload: the queued
    labels are sent from the outbox, and the eight tiles left come back."""
    project = make_project(24)
    login(page, live_server, "ann")
    open_grid(page, live_server, project)
    ahead_ready(page)
    order = [t["id"] for t in tiles(page)]
    page.route("**/annotations/", lambda route: route.abort("connectionrefused"))
    for _ in range(4):
        press(page, "Space", "ArrowRight")
    press(page, "3", "Enter")
    page.wait_for_selector("#save-status[data-state=error]", timeout=WAIT)
    left = [t["id"] for t in tiles(page)]
    assert left == order[4:]

    page.unroute("**/annotations/")
    page.on("dialog", lambda dialog: dialog.accept())  # "leave with unsaved work?"
    page.reload()
    page.wait_for_selector(f"{GRID}[data-state=ready]", timeout=WAIT)
    wait_saved(page)
    assert labels_by_image(project) == {i: ["bird"] for i in order[:4]}
    ahead_ready(page)
    held = page.evaluate(
        "[window.labeler.grid.page, ...window.labeler.grid.ahead]"
        ".flatMap(p => p.tiles.map(t => t.item.image.id))"
    )
    assert set(left) <= set(held)
    assert not set(order[:4]) & set(held)


def kept_labels(page, project) -> dict[int, list[int]] | None:
    """The labels the browser keeps for the page's open tiles (None: no key at all)."""
    user = get_user_model().objects.get(username="ann").pk
    raw = page.evaluate(f"localStorage.getItem('labeler:grid-page:{user}:{project.pk}')")
    if raw is None:
        return None
    return {int(k): v for k, v in json.loads(raw).items()}


def test_labels_not_yet_accepted_come_back_after_a_reload(live_server, page):
    """Two tiles fixed by key without Enter, then a reload: both show their labels again and
    Enter saves them; the store is empty after. Undoing a fix takes it out of the store."""
    project = make_project(12)
    cat, dog = label_id(project, "cat"), label_id(project, "dog")
    login(page, live_server, "ann")
    open_grid(page, live_server, project)
    order = [t["id"] for t in tiles(page)]
    assert kept_labels(page, project) is None

    press(page, "1", "ArrowRight", "ArrowRight", "2")
    fixed = {order[0]: [cat], order[2]: [dog]}
    assert kept_labels(page, project) == fixed
    # An undo back to the start takes the tile out; a fix again puts it back.
    press(page, "Control+z")
    assert kept_labels(page, project) == {order[0]: [cat]}
    press(page, "2")
    assert kept_labels(page, project) == fixed

    page.on("dialog", lambda dialog: dialog.accept())
    page.reload()
    page.wait_for_selector(f"{GRID}[data-state=ready]", timeout=WAIT)
    shown = {t["id"]: t["labels"] for t in tiles(page)}
    assert set(shown) == set(order)
    assert shown == {i: fixed.get(i, []) for i in order}
    save_screenshot(page, "grid-kept-after-reload", full_page=False)

    press(page, "Enter")
    wait_saved(page)
    assert labels_by_image(project) == {order[0]: ["cat"], order[2]: ["dog"]}
    assert kept_labels(page, project) is None
    assert sorted(t["id"] for t in tiles(page)) == sorted(set(order) - set(fixed))

    # Undoing the accept brings the two back with their labels, kept again until accepted.
    press(page, "Control+z")
    wait_saved(page)
    assert kept_labels(page, project) == fixed
    press(page, "Enter")
    wait_saved(page)
    assert kept_labels(page, project) is None
    assert labels_by_image(project) == {order[0]: ["cat"], order[2]: ["dog"]}


def test_full_size_and_back(live_server, page):
    """The "." key shows the focused image's display copy over the grid; "." or Escape go back."""
    project = make_project(12)
    login(page, live_server, "ann")
    open_grid(page, live_server, project)
    press(page, "ArrowRight", "ArrowRight")
    image_id = focused(page)["id"]
    full = page.locator("#grid-full")

    press(page, ".")
    expect(full).to_be_visible()
    assert full.get_attribute("data-image-id") == str(image_id)
    src = page.eval_on_selector("#grid-full-frame img", "img => img.src")
    display = page.evaluate(
        "window.labeler.grid.page.tiles"
        f".find(t => t.item.image.id === {image_id}).item.image.display_url"
    )
    assert src == display
    press(page, "ArrowRight")  # moving shows the next one
    assert full.get_attribute("data-image-id") == str(focused(page)["id"])
    press(page, ".")
    expect(full).to_be_hidden()
    press(page, ".", "Escape")
    expect(full).to_be_hidden()
    assert page.evaluate("document.activeElement.dataset.imageId") == str(focused(page)["id"])
    page.locator("#grid-full-button").click()
    expect(full).to_be_visible()
    page.locator("#grid-full-close").click()
    expect(full).to_be_hidden()


def test_times_add_up_to_the_page_time_shared_over_the_tiles(live_server, page):
    """Each accept shares the page's time since the last one equally over what it submits."""
    project = make_project(12)
    login(page, live_server, "ann")
    open_grid(page, live_server, project)
    started = time.monotonic()
    for _ in range(3):
        press(page, "Space", "ArrowRight")
    press(page, "1")
    page.wait_for_timeout(1200)
    first_ms = (time.monotonic() - started) * 1000
    press(page, "Enter")
    # The page's clock for the next accept starts at this one, not once its labels are
    # saved: on a busy machine the save alone can take a second.
    again = time.monotonic()
    wait_saved(page)
    first = list(Annotation.objects.values_list("time_spent_ms", flat=True))
    assert len(first) == 3
    assert max(first) - min(first) <= 1
    assert abs(sum(first) - first_ms) < 600, (sum(first), first_ms)

    for _ in range(9):
        press(page, "Space", "ArrowRight")
    press(page, "2")
    page.wait_for_timeout(900)
    second_ms = (time.monotonic() - again) * 1000
    press(page, "Enter")
    page.wait_for_selector(f"{GRID}[data-state=done]", timeout=WAIT)
    wait_saved(page)
    rest = [a.time_spent_ms for a in Annotation.objects.exclude(time_spent_ms__in=first)]
    every = list(Annotation.objects.values_list("time_spent_ms", flat=True))
    assert len(every) == 12
    assert abs(sum(every) - sum(first) - second_ms) < 600, (sum(every) - sum(first), second_ms)
    assert rest and max(rest) - min(rest) <= 1


def test_held_back_tiles_show_no_suggestion(live_server, page):
    """Every suggestion held back: the tiles sit under "No suggestion", nothing chosen, no
    confidence; the note is said once, under the heading, never per tile."""
    project = make_project(12, suggestion_holdback=1.0)
    ids = image_ids(project)
    suggest(project, {i: 0.95 for i in ids}, "dog")
    login(page, live_server, "ann")
    open_grid(page, live_server, project)
    shown = tiles(page)
    assert {t["group"] for t in shown} == {"none"}
    assert all(t["labels"] == [] and t["suggested"] == "" for t in shown)
    assert page.locator(".grid-confidence").count() == 0
    assert all(text == "no label" for text in page.locator(TILES).all_inner_texts())
    assert page.locator(".grid-note").all_inner_texts() == [SUGGESTION_HELD_BACK]
    assert "dog" not in page.locator("#grid-tiles").inner_text()
    data = page.evaluate("window.labeler.grid.page.tiles.map(t => t.item.suggestion)")
    assert data == [None] * 12


def test_the_lead_setting_always_forces_the_grid_and_off_hides_the_toggle(live_server, page):
    """Setting "always": the grid, no toggle; "choice": single first, the toggle (or Alt+G) switches
    and is remembered; "off": single even where the browser remembers the grid."""
    project = make_project(12, grid_mode="always")
    login(page, live_server, "ann")
    open_grid(page, live_server, project)
    expect(page.locator("#mode-toggle")).to_be_hidden()
    expect(page.locator("#stage")).to_be_hidden()

    project.grid_mode = "choice"
    project.save()
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    toggle = page.locator("#mode-toggle")
    expect(toggle).to_be_visible()
    toggle.click()
    page.wait_for_selector(f"{GRID}[data-state=ready]", timeout=WAIT)
    expect(page.locator("#mode-toggle")).to_have_attribute("aria-pressed", "true")
    page.reload()
    page.wait_for_selector(f"{GRID}[data-state=ready]", timeout=WAIT)  # remembered
    page.keyboard.press("Alt+g")
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    page.keyboard.press("Alt+g")
    page.wait_for_selector(f"{GRID}[data-state=ready]", timeout=WAIT)

    project.grid_mode = "off"
    project.save()
    page.reload()
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    expect(page.locator("#mode-toggle")).to_be_hidden()
    expect(page.locator(GRID)).to_be_hidden()


def test_enter_paints_the_page_ahead_within_a_few_frames(live_server, page):
    """The page ahead is leased and decoded while this one is on screen: from Enter's
    keydown to the paint of the new page's images (Element Timing, "grid-page")."""
    project = make_project(36)
    page.add_init_script(PAINT_PROBE)
    login(page, live_server, "ann")
    open_grid(page, live_server, project)
    for _ in range(2):
        ahead_ready(page)
        page.wait_for_timeout(300)
        for _ in range(12):
            press(page, "Space", "ArrowRight")
        page.evaluate("window.__gridPaint.reset()")
        press(page, "1", "Enter")
        # Every tile in sight is painted in one frame; those scrolled out of sight never are.
        page.wait_for_function("window.__gridPaint.painted() >= 1", timeout=WAIT)
        page.wait_for_timeout(300)
        assert len(tiles(page)) == 12  # a whole page ahead, not one cut short by the lease cap
        assert page.evaluate("window.__gridPaint.painted()") >= 8
        delay = page.evaluate("window.__gridPaint.delay()")
        print(f"Enter to the next page painted: {delay:.1f} ms")
        assert delay < 500


# Registered before the page's scripts: Enter's event time, and the paints of the images
# marked elementtiming="grid-page" after it (the page's clock for both).
PAINT_PROBE = """
(() => {
  let key = 0;
  let paints = [];
  document.addEventListener("keydown", (e) => { if (e.key === "Enter") key = e.timeStamp; }, true);
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.identifier !== "grid-page" || !key || entry.renderTime < key) continue;
      paints.push(entry.renderTime);
    }
  }).observe({ type: "element", buffered: true });
  window.__gridPaint = {
    reset() { key = 0; paints = []; },
    painted: () => paints.length,
    delay: () => Math.max(...paints) - key,
  };
})();
"""


# ---- photos, for the eye and the guide --------------------------------------------------
PHOTOS = {
    "animal": ["chelsea", "horse"],
    "person": ["astronaut", "camera"],
    "space": ["hubble_deep_field", "moon", "rocket"],
    "texture": ["brick", "grass", "gravel"],
    "object": ["coffee", "coins", "clock"],
    None: ["immunohistochemistry", "colorwheel", "retina"],
}


def photo(name: str, flip: bool = False) -> bytes:
    from skimage import data as photos

    array = getattr(photos, name)()
    picture = PILImage.fromarray(array).convert("RGB")
    if flip:
        picture = picture.transpose(PILImage.Transpose.FLIP_LEFT_RIGHT)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    return out.getvalue()


def test_a_page_of_photos_looks_right(live_server, page, settings):
    """Real photos on the grid: groups, chips, a marked tile and the focus ring (the
    screenshot in the annotators' guide)."""
    page.set_viewport_size({"width": 1440, "height": 900})
    project = ProjectFactory(
        name="Everyday photos",
        labels=["animal", "person", "space", "texture", "object"],
        grid_mode="always",
        grid_size=18,
    )
    add_member(project, UserFactory(username="ann"))
    colors = ["#d9480f", "#1971c2", "#7048e8", "#2b8a3e", "#e8590c"]
    for label, color in zip(project.labels.order_by("position"), colors, strict=True):
        label.color = color
        label.save()
    files, wanted = [], []
    for label, names in PHOTOS.items():
        for name in names:
            files.append(SimpleUploadedFile(f"{name}.jpg", photo(name)))
            wanted.append(label)
    flows.images_ingest(project=project, files=files)
    by_name = dict(Image.objects.filter(project=project).values_list("original_name", "pk"))
    confidence = iter(
        [0.97, 0.91, 0.74, 0.95, 0.88, 0.9, 0.83, 0.52, 0.93, 0.89, 0.86, 0.94, 0.79, 0.9, 0.97]
    )
    for label, names in PHOTOS.items():
        if label:
            suggest(project, {by_name[f"{n}.jpg"]: next(confidence) for n in names}, label)
    login(page, live_server, "ann")
    open_grid(page, live_server, project)
    page.wait_for_function(
        "[...document.querySelectorAll('#grid-tiles img')]"
        ".every(i => i.complete && i.naturalWidth)",
        timeout=WAIT,
    )
    # The rocket on its pad is an object, not space: fixed by key, its chip now differs.
    rocket = by_name["rocket.jpg"]
    focus_image(page, rocket)
    press(page, "5")
    press(page, "Home", "ArrowRight", "ArrowRight", "ArrowRight", "Space", "ArrowRight", "Space")
    path = save_screenshot(page, "grid-photos", full_page=False)
    take_screenshot(page, "/tmp/grid-photos.png")
    assert path is None or path.exists()
    press(page, "Shift+3")
    take_screenshot(page, "/tmp/grid-photos-question.png")
    press(page, "Escape", ".")
    page.wait_for_function("document.querySelector('#grid-full img')?.complete", timeout=WAIT)
    take_screenshot(page, "/tmp/grid-photos-full.png")
