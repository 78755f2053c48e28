"""The built documentation site works opened from disk: links lead to pages and search finds.

``make docs`` runs it after building ``site/``, as a newcomer opens it: Chromium on
``site/index.html`` over ``file://``, no server. It follows the nav to a page, searches
for a word the docs use, opens the first result, and fails on a request that could not
be made (nothing may come from the network) or a script error.

    .venv/bin/python tests/docs/site_from_disk.py [site]
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"


def check(site: Path) -> list[str]:
    """What went wrong opening the site from disk (empty when it works)."""
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        page.on("requestfailed", lambda request: problems.append(f"not loaded: {request.url}"))
        page.goto((site / "index.html").as_uri())
        page.get_by_role("link", name="Getting started").first.click()
        page.wait_for_load_state()
        if not page.url.endswith("/getting-started.html"):
            problems.append(f"the nav's link led to {page.url}")
        search = page.locator("input.md-search__input")
        results = page.locator(".md-search-result__item a")
        try:
            search.wait_for(state="visible", timeout=5_000)  # hidden while search cannot run
        except PlaywrightError:
            problems.append("no search box: the site's search did not start")
            browser.close()
            return problems
        search.click()
        search.press_sequentially("kappa", delay=20)
        try:
            results.first.wait_for(timeout=10_000)
        except PlaywrightError:
            problems.append("search found nothing for 'kappa'")
        else:
            results.first.click()
            page.wait_for_load_state()
            if "kappa" not in page.content().lower():
                problems.append(f"the first search result, {page.url}, does not say kappa")
        browser.close()
    return problems


def main() -> None:
    site = Path(sys.argv[1] if len(sys.argv) > 1 else "site").resolve()
    if not Path(CHROMIUM).exists():  # as the browser tests, which skip without it
        print(f"{site}/index.html not opened from disk: no Chromium at {CHROMIUM}")
        return
    problems = check(site)
    for problem in problems:
        print(f"{site}/index.html from disk: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"{site}/index.html opens from disk: links and search work")


if __name__ == "__main__":
    main()
