"""A new team's first hour, in the browser alone: from the server ``make run`` starts to
two invited annotators labelling a project of photos of its own.

The admin that ``load_demo`` makes logs in, creates a project with six photos (name,
labels, two people per image and the files, nothing else), makes an invitation link on
the project's Members page, and two newcomers open it in browsers of their own, choose a
username and password, land on the labelling page and label every photo. The lead then
opens the agreement dashboard.

Driven by Playwright against any base URL: ``tests/browser/test_first_hour.py`` walks it
on a live test server and checks what was stored; ``tests/docs/screenshots.py`` walks it
on a ``make run`` server for the screenshots of the getting-started page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image as PILImage
from playwright.sync_api import Browser, Page, expect

WAIT = 30_000  # ms: the first page of a fresh server, six photos stored, a model's first pass

# The photos (scikit-image's sample data) and what each shows.
PHOTOS = {
    "chelsea": "animal",
    "astronaut": "person",
    "camera": "person",
    "coffee": "thing",
    "rocket": "thing",
    "coins": "thing",
}
LABELS = ("animal", "person", "thing")
NEWCOMERS = ("maya", "omar")
NEWCOMER_PASSWORD = "sunny-meadow-2718"

Shot = Callable[[Page, str], object]


@dataclass
class Walked:
    """What the walk saw: the project it made, the link, and what each newcomer pressed."""

    project_id: int = 0
    link: str = ""
    pressed: dict[str, dict[int, str]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # what the pages' CSP refused


def photos_write(folder: Path) -> list[Path]:
    """The six photos as JPEG files named as a camera would (no class in the name)."""
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, name in enumerate(PHOTOS):
        pixels = getattr(data, name)()
        path = folder / f"IMG_{2041 + number}.jpg"
        buffer = io.BytesIO()
        PILImage.fromarray(pixels).convert("RGB").save(buffer, "JPEG", quality=90)
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


def no_shot(page: Page, name: str) -> None:
    """Take no screenshot."""


def first_hour(
    browser: Browser,
    base: str,
    *,
    admin: str,
    password: str,
    photos: list[Path],
    shot: Shot = no_shot,
) -> Walked:
    """Walk the first hour on the server at ``base``; ``shot(page, name)`` is called at
    each step worth a screenshot."""
    walked = Walked()
    lead = _page(browser, walked)
    _log_in(lead, base, admin, password)
    shot(lead, "first-home")

    lead.get_by_role("link", name=re.compile("^New project")).first.click()
    lead.wait_for_url(f"{base}/projects/new/")
    lead.get_by_label("Name", exact=True).fill("Holiday photos")
    for number, label in enumerate(LABELS, start=1):
        if lead.get_by_label(f"Name of label {number}").count() == 0:
            lead.get_by_role("button", name="+ Add label").click()
        lead.get_by_label(f"Name of label {number}").fill(label)
    expect(lead.get_by_label("People who label each image")).to_have_value("2")
    lead.locator("#id_images").set_input_files([str(path) for path in photos])
    shot(lead, "first-new-project")
    lead.get_by_role("button", name="Create project").click()
    lead.wait_for_url(re.compile(rf"{re.escape(base)}/projects/\d+/$"), timeout=WAIT)
    expect(lead.get_by_text(f"with {len(photos)} images")).to_be_visible()
    walked.project_id = int(lead.url.rstrip("/").rsplit("/", 1)[1])
    shot(lead, "first-project")

    lead.goto(f"{base}/projects/{walked.project_id}/members/")
    link_form = lead.locator("form", has=lead.get_by_role("heading", name="By link"))
    link_form.get_by_label("Role").select_option("annotator")
    link_form.get_by_label("Link works for").select_option("7")
    link_form.get_by_role("button", name="Make link").click()
    expect(lead.get_by_text("Link made: whoever opens it joins as annotator.")).to_be_visible()
    link_box = lead.get_by_role("textbox", name="Invitation link")
    walked.link = link_box.input_value()
    link_box.scroll_into_view_if_needed()
    shot(lead, "first-invite")

    truth = _truth(lead, base, walked.project_id)
    for number, username in enumerate(NEWCOMERS):
        page = _page(browser, walked)
        page.goto(walked.link)
        expect(page.get_by_role("heading", name="Join Holiday photos")).to_be_visible()
        if number == 0:
            shot(page, "first-join")
        page.get_by_label("Username").fill(username)
        page.get_by_label("E-mail address").fill(f"{username}@example.org")
        page.get_by_label("Password", exact=True).fill(NEWCOMER_PASSWORD)
        page.get_by_label("The same password again").fill(NEWCOMER_PASSWORD)
        page.get_by_role("button", name="Make account and join").click()
        page.wait_for_url(f"{base}/projects/{walked.project_id}/label/", timeout=WAIT)
        walked.pressed[username] = _label_all(page, truth, shot if number == 0 else no_shot)
        page.context.close()

    lead.goto(f"{base}/projects/{walked.project_id}/agreement/")
    lead.wait_for_load_state("networkidle")
    shot(lead, "first-agreement")
    lead.context.close()
    return walked


def _page(browser: Browser, walked: Walked) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.on(
        "console",
        lambda message: (
            walked.refused.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    return page


def _log_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")


def _truth(lead: Page, base: str, project_id: int) -> dict[int, str]:
    """Each image's hotkey for what it shows, read as the lead through the REST API (the
    annotators see no file names)."""
    response = lead.request.get(f"{base}/api/v1/projects/{project_id}/images/?page_size=100")
    assert response.ok, response.text()
    names = {row["id"]: row["original_name"] for row in response.json()["results"]}
    kinds = list(PHOTOS.values())
    return {
        image_id: str(LABELS.index(kinds[int(name[4:8]) - 2041]) + 1)
        for image_id, name in names.items()
    }


def _label_all(page: Page, truth: dict[int, str], shot: Shot) -> dict[int, str]:
    """Press each photo's hotkey until the queue is empty; what was pressed per image."""
    pressed: dict[int, str] = {}
    stage = page.locator("#stage")
    instructions = page.locator("#instructions-dialog")
    for _ in range(len(truth) + 1):
        page.wait_for_selector("#stage[data-state=ready], #stage[data-state=done]", timeout=WAIT)
        if instructions.is_visible():
            page.keyboard.press("Escape")
        if stage.get_attribute("data-state") == "done":
            break
        if not pressed:
            shot(page, "first-label")
        image_id = int(stage.get_attribute("data-image-id") or 0)
        page.keyboard.press(truth[image_id])
        pressed[image_id] = truth[image_id]
        page.wait_for_selector(
            f"#stage:not([data-image-id='{image_id}']), #stage[data-state=done]", timeout=WAIT
        )
    # Selectors only, no script evaluated in the page: the server's policy forbids eval.
    page.wait_for_selector("#save-status[data-waiting='0']", timeout=WAIT)
    expect(page.locator("#save-status")).to_have_text("All saved", timeout=WAIT)
    # "Welcome to …: you joined" greeted the newcomer; with nothing left it is gone.
    expect(page.locator(".messages")).to_be_hidden()
    shot(page, "first-finished")
    return pressed
