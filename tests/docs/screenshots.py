"""Screenshots of the real pages with the demo project, for the documentation (docs/img/).

Run against a server that serves the demo (``make run``, or any ``load_demo``-ed one):

    .venv/bin/python tests/docs/screenshots.py http://127.0.0.1:8000

Debian's Chromium is driven headless by Playwright, as in tests/browser/. The pages are
those the guides show: the labelling page as ``annotator1``, the lead's pages as ``lead``,
then the first hour of a new team (``tests/docs/first_hour.py``: the demo's ``admin``
creates a project of photos and two newcomers join it by link and label), whose
``first-*.png`` the getting-started page shows. That walk makes accounts and a project,
so it runs once per server: on a fresh ``make run`` (or after ``make clean``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere

from tests.docs.first_hour import first_hour, photos_write

OUT = Path(__file__).resolve().parents[2] / "docs" / "img"
PASSWORD = "demo-password"

# (file name, user, path, what to wait for); the page's viewport, or only the element waited
# for where ELEMENT_SHOTS names it.
SHOTS = [
    ("demo-label", "annotator1", "/projects/{project}/label/", "img"),
    ("demo-project", "lead", "/projects/{project}/", "main"),
    ("demo-agreement", "lead", "/projects/{project}/agreement/", "main"),
    ("demo-review", "lead", "/projects/{project}/review/", "img"),
    ("demo-images", "lead", "/projects/{project}/images/", "img"),
    ("demo-models", "lead", "/projects/{project}/models/", "main"),
    ("demo-settings", "lead", "/projects/{project}/settings/", "main"),
    # The current version's figures on the held-out test images (after a training).
    ("models-test-demo", "lead", "/projects/{project}/models/", "#test-set[data-state=scored]"),
]
ELEMENT_SHOTS = {"models-test-demo"}


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state("networkidle")


def main(base: str, project: int = 1) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
        )
        for name, user, path, ready in SHOTS:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            log_in(page, base, user)
            page.goto(base + path.format(project=project))
            page.wait_for_load_state("networkidle")
            page.wait_for_selector(ready)
            page.wait_for_timeout(1500)  # charts drawn, images decoded
            if name in ELEMENT_SHOTS:
                page.locator(ready).screenshot(path=str(OUT / f"{name}.png"))
            else:
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=False)
            print(f"docs/img/{name}.png")
            context.close()

        def shot(page: Page, name: str) -> None:
            page.wait_for_timeout(1000)
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=False)
            print(f"docs/img/{name}.png")

        with tempfile.TemporaryDirectory() as folder:
            photos = photos_write(Path(folder))
            first_hour(browser, base, admin="admin", password=PASSWORD, photos=photos, shot=shot)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8000")
