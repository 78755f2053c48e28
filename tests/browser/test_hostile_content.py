"""HTML and script in every name a user gives, shown by every page, in Chromium.

A project whose name, instructions, label names, members' usernames, skip reasons and
image file names carry script payloads is opened page by page by its lead and an
annotator, with the site's Content-Security-Policy on. No payload runs (window.__xss
stays unset, no dialog opens), the text appears literally, and no page logs a CSP
violation: every script and style comes from our static files.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.images.models import Image
from labeler.projects.models import Role
from tests.browser.conftest import login, network_settled, requests_tracked, save_screenshot
from tests.browser.test_label import close_first_instructions
from tests.factories import (
    ProjectFactory,
    UserFactory,
    add_member,
    annotation_submit,
    image_bytes,
    skip_create,
)
from tests.labeler.test_security import page_urls

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 10_000
IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "</script><script>window.__xss=1</script>"
SVG = '"><svg onload="window.__xss=1">'
LINK = "javascript:window.__xss=1"
PAYLOADS = [IMG, SCRIPT, SVG, LINK]
INSTRUCTIONS = "\n".join([*PAYLOADS, f"[read me]({LINK})", f'<a href="{LINK}">here</a>'])

WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI} ${where}`);
});
"""


@pytest.fixture
def hostile_project():
    """A project of payloads: its name, instructions, labels, members, skips, file names."""
    project = ProjectFactory(
        name=IMG, instructions=INSTRUCTIONS, labels=[IMG, SCRIPT, SVG], multi_label=True,
        overlap=2,
    )  # fmt: skip
    lead = UserFactory(username="lead")
    add_member(project, lead, Role.LEAD)
    annotator = UserFactory(username="ann")
    add_member(project, annotator)
    # Usernames from the admin or an identity provider are not held to Django's pattern.
    other = UserFactory(username=SVG[:150])
    add_member(project, other)
    files = [SimpleUploadedFile(f"{name}.png", image_bytes()) for name in [IMG, SCRIPT, SVG, "a"]]
    flows.images_ingest(project=project, files=files)
    images = list(Image.objects.filter(project=project).order_by("pk"))
    annotation_submit(project=project, annotator=other, image_id=images[0].pk, labels=[IMG, SVG])
    annotation_submit(project=project, annotator=lead, image_id=images[0].pk, labels=[SCRIPT])
    skip_create(project=project, annotator=other, image_id=images[1].pk, reason=SCRIPT)
    return project


@pytest.fixture
def production_csp(settings):
    """The policy exactly as production sends it (tests allow eval for Playwright)."""
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {**directives, "script-src": ["'self'"]}}


@pytest.fixture
def watched(browser, production_csp):
    """A page under the production CSP that records dialogs and CSP violations."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(WATCH)
    page = requests_tracked(context.new_page())
    page.events = []  # type: ignore[attr-defined]
    page.on(
        "dialog", lambda dialog: (page.events.append(f"dialog {dialog.message}"), dialog.dismiss())
    )
    page.on(
        "console",
        lambda message: (
            page.events.append(f"console {message.text}")
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    yield page
    context.close()


def visit(page, url: str) -> str:
    """Open the page, let its scripts run, check nothing ran or was refused; its text."""
    page.goto(url)
    network_settled(page)
    page.wait_for_timeout(200)
    assert page.evaluate("window.__xss") is None, url
    assert page.evaluate("window.__violations") == [], url
    assert page.events == [], url
    return page.evaluate("document.body.innerText")


def test_payloads_render_as_text_on_every_lead_page(live_server, watched, hostile_project):
    """Every page a lead opens shows the project's name literally and runs none of it."""
    login(watched, live_server, "lead")
    pages = page_urls(hostile_project.pk, creator=False)

    for path in pages:
        text = visit(watched, f"{live_server.url}{path}")
        if path != "/":
            assert IMG in text, path

    detail = visit(watched, f"{live_server.url}/projects/{hostile_project.pk}/")
    for payload in PAYLOADS:
        assert payload in detail
    assert watched.locator("a[href^='javascript']").count() == 0
    members = visit(watched, f"{live_server.url}/projects/{hostile_project.pk}/members/")
    assert SVG in members
    dashboard = visit(watched, f"{live_server.url}/projects/{hostile_project.pk}/agreement/")
    assert SCRIPT in dashboard or IMG in dashboard
    visit(watched, f"{live_server.url}/api/v1/docs/")
    assert len(pages) == 11


def test_an_annotator_labels_with_payload_labels_and_nothing_runs(
    live_server, watched, hostile_project
):
    """The label page shows payload labels and instructions as text; labelling with one
    records it, and the history and home page show it as text too."""
    login(watched, live_server, "ann")
    url = f"{live_server.url}/projects/{hostile_project.pk}/label/"
    text = visit(watched, url)
    watched.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    text = watched.evaluate("document.body.innerText")
    for label in (IMG, SCRIPT, SVG):
        assert label in text
    save_screenshot(watched, "hostile-label")

    close_first_instructions(watched)
    watched.keyboard.press("1")
    watched.keyboard.press("3")
    watched.keyboard.press("Enter")
    watched.wait_for_selector("#save-status[data-waiting='0']", timeout=WAIT)
    for _ in range(50):  # not wait_for_function: it evaluates a string, which the CSP forbids
        if watched.evaluate("window.labeler.outbox().length") == 0:
            break
        watched.wait_for_timeout(100)
    assert watched.evaluate("window.__xss") is None
    assert watched.evaluate("window.__violations") == []
    assert watched.events == []
    [annotation] = hostile_project.annotations.filter(annotator__username="ann")
    assert sorted(annotation.labels.values_list("name", flat=True)) == sorted([IMG, SVG])

    home = visit(watched, f"{live_server.url}/")
    assert IMG in home
    detail = visit(watched, f"{live_server.url}/projects/{hostile_project.pk}/")
    assert IMG in detail and SCRIPT in detail
