"""Every page of a new project in Chromium, as its lead, a reviewer and an annotator see it.

A project without images, then the same with images nobody has labelled: each page, once
its scripts have drawn it, says what is missing and what comes next, and none says
something that reads as a result ("All agreed", a kappa of 0, 0 of 0 complete, a table of
headers only). Screenshots of each page land in test-artifacts/ as empty-<role>-<page>.
"""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.images.models import Image
from labeler.projects.models import Project, Role
from labeler.projects.services import membership_set, project_create
from tests.browser.conftest import login, network_settled, save_screenshot
from tests.factories import UserFactory, image_bytes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 10_000

# What reads as a result where there is none.
MISLEADING = [
    re.compile(r"All agreed"),
    re.compile(r"\b0 of 0\b"),
    re.compile(r"κ\s*[=:]?\s*0\.00"),
    re.compile(r"kappa (of )?0(\.0+)?\b", re.IGNORECASE),
    re.compile(r"No image matches these filters"),
    re.compile(r"Thank you!"),
]

# Each page: its address, who may open it, and what it says on a project without images
# and on one whose images nobody has labelled yet.
PAGES: dict[str, tuple[str, str, str, str]] = {
    # name: (path after /projects/<id>/, who (all, oversee, manage), no images, no labels)
    "project": ("", "all", "No images yet", "0 of 3 images complete"),
    "dashboard": (
        "agreement/",
        "oversee",
        "No labels yet — agreement appears once two annotators label the same image",
        "No labels yet — agreement appears once two annotators label the same image",
    ),
    "review": (
        "review/",
        "oversee",
        "No images yet — nothing to review",
        "Nothing labelled yet — nothing to review",
    ),
    "browse": (
        "images/",
        "oversee",
        "No images in this project yet",
        "img-0.png",
    ),
    "models": ("models/", "oversee", "No model yet", "No model yet"),
    "slices": (
        "slices/",
        "oversee",
        "No image has a final label yet",
        "No image has a final label yet",
    ),
    "machine-review": (
        "machine-review/",
        "oversee",
        "No machine labels yet: there is no model to make them",
        "No machine labels yet: there is no model to make them",
    ),
    "throughput": (
        "throughput/",
        "manage",
        "No labels yet: each annotator",
        "No labels yet: each annotator",
    ),
    "duplicates": (
        "duplicates/",
        "oversee",
        "No near-duplicates looked for: grouping is turned off.",
        "No near-duplicates looked for: grouping is turned off.",
    ),
    "export": ("export/", "manage", "No exports yet", "No exports yet"),
    "import": ("import/", "manage", "First the import is checked", "First the import is checked"),
    "members": ("members/", "manage", "No open invitations", "No open invitations"),
    "label": (
        "label/",
        "all",
        "This project has no images yet",
        "",  # an image is up: nothing is empty
    ),
}

# What each of the project's people may open.
MAY_OPEN = {"lead": {"all", "oversee", "manage"}, "rev": {"all", "oversee"}, "ann1": {"all"}}


# Without images nothing a page does writes, so one project serves all three in turn; with
# images the labelling page takes an image for whoever opens it, so each walks their own.
WALKERS = ("lead", "rev", "ann1")


@pytest.fixture
def new_project() -> Project:
    """A project made as a lead makes it, with a reviewer and two annotators, no images."""
    lead = UserFactory(username="lead")
    project = project_create(creator=lead, name="Birds", labels=["robin", "wren"], overlap=2)
    for username, role in (
        ("rev", Role.REVIEWER),
        ("ann1", Role.ANNOTATOR),
        ("ann2", Role.ANNOTATOR),
    ):
        user = UserFactory(username=username)
        membership_set(project=project, user=user, role=role)
    return project


def add_images(project: Project) -> None:
    files = [SimpleUploadedFile(f"img-{i}.png", image_bytes(size=(64, 48))) for i in range(3)]
    flows.images_ingest(project=project, files=files)


def settled_text(page) -> str:
    """The page's text once its scripts have fetched and drawn what they fetch."""
    network_settled(page)
    page.wait_for_function(
        "!document.querySelector('[aria-busy=true]') && !document.querySelector('.loading-box')",
        timeout=WAIT,
    )
    return page.evaluate("document.body.innerText")


def walk(page, live_server, project: Project, username: str, *, images: bool) -> dict[str, str]:
    """Open every page the user may open, check each, and return each one's text; every
    page's problems are gathered before the test fails, so one run lists them all."""
    login(page, live_server, username)
    texts: dict[str, str] = {}
    problems: list[str] = []
    for name, (path, who, no_images, no_labels) in PAGES.items():
        response = page.goto(f"{live_server.url}/projects/{project.pk}/{path}")
        assert response is not None
        if who not in MAY_OPEN[username]:
            assert response.status == 403, (name, username)
            continue
        assert response.status == 200, (name, username)
        text = settled_text(page)
        save_screenshot(page, f"empty-{'images' if images else 'new'}-{username}-{name}")
        problems += [f"{name}: says {p.pattern!r}" for p in MISLEADING if p.search(text)]
        expected = no_labels if images else no_images
        if expected and expected not in text:
            problems.append(f"{name}: does not say {expected!r}")
        texts[name] = text
    page.context.clear_cookies()
    assert not problems, "\n".join(problems)
    return texts


def test_every_page_of_a_project_without_images_says_what_is_missing(
    live_server, page, new_project
):
    """No images: each page says so, with the next step, and nothing reads as a result; the
    lead, the reviewer and an annotator walk the one project in turn."""
    for username in WALKERS:
        texts = walk(page, live_server, new_project, username, images=False)
        if username == "lead":
            assert "Upload images" in texts["review"]


@pytest.mark.parametrize("username", ["lead", "rev", "ann1"])
def test_every_page_of_a_project_with_images_but_no_labels(
    live_server, page, new_project, username
):
    """Images but no label: the pages say nothing is labelled yet, not that all is well."""
    add_images(new_project)
    texts = walk(page, live_server, new_project, username, images=True)
    if username != "ann1":
        image = Image.objects.filter(project=new_project).order_by("pk").first()
        login(page, live_server, username)
        page.goto(f"{live_server.url}/projects/{new_project.pk}/images/{image.pk}/")
        text = settled_text(page)
        save_screenshot(page, f"empty-images-{username}-image")
        for phrase in MISLEADING:
            assert not phrase.search(text), ("image", username, phrase.pattern)
    assert texts
