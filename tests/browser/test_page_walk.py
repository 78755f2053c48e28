"""Every page of one project, as each role that can open it, at a desk's 1280x800 and a
phone's 390x844 in Chromium, read for what a person would see wrong.

One project with data (labels, images, three annotators whose labels disagree on some
images, a reviewer, a lead, a current model with predictions and machine labels sent to
review, an invitation, a webhook) is built once; each role keeps one browser context per
size, and each page is read by one script (``CHECKS``) that fails it on:

- **a sideways scroll**: the document wider than the window (``scrollWidth`` over
  ``clientWidth`` + 1 px); the elements that stick out are named. A wide table inside a
  container that scrolls sideways itself is fine: only the document must not.
- **clipped text**: a visible text whose box reaches past an ancestor that hides its
  overflow (``overflow`` hidden or clip, on that axis), measured from the text itself, not
  the element, so a padded box that merely looks full is not flagged. What a scrolling
  container holds is measured against what it shows, not clipped. A cut with an ellipsis
  (``text-overflow: ellipsis``, or a line clamp) is intended only where the whole text can
  still be read: a ``title`` on the cutting element or inside it holding it; else it is
  clipped text like any other.
- **text that runs past its box**: a visible text reaching more than 1 px past the sides of
  the nearest box that lays it out (the nearest ancestor that is not inline), where that box
  shows its overflow (a long word that does not wrap, a label wider than its button).
- **overlapping text**: two visible line boxes of different texts that cross by more than
  2 px across and a third of the shorter's height, outside what is meant to stack: anything
  fixed to the window (toasts, bars), tooltips, visually hidden text (clipped to a pixel),
  text off the page (the skip link), transparent or hidden elements.
- **a count that disagrees with its noun**: "1 images", "3 image", "All 1 file" in the
  page's visible text, titles and labels (``labeler/words.py`` and ``static/js/lib/format.js``
  write counts; a noun in ``NOUNS``).
- **a heading not in sentence case**: h1-h4 and the page's title, each part of a title
  between its " · " separators read on its own: after the first word, a capitalised word
  must be a name the test made (the project's, its labels', people's) or in ``PROPER``
  (acronyms, product and method names); words in code or kbd, and headings set in capitals
  by CSS, are not read.

With ``LABELER_SCREENSHOTS=1`` each page's full-page screenshot is kept under
test-artifacts/page-walk/<size>/<role>-<page>.png (a fifth of the walk's time, so only
when asked for). A failure lists every finding of every page, each with its page, role
and size.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.images.models import Image
from labeler.predictions.machine_labels import machine_labels_send
from labeler.predictions.models import Prediction
from labeler.projects.invitations import invitation_create
from labeler.projects.models import Project, Role
from tests.browser.conftest import (
    ARTIFACTS,
    csp_refusals,
    login,
    network_settled,
    requests_tracked,
    take_screenshot,
)
from tests.browser.test_models import metrics_for
from tests.factories import (
    ModelVersionFactory,
    ProjectFactory,
    UserFactory,
    add_member,
    annotation_submit,
    image_bytes,
    webhook_of,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SIZES = {"desk": (1280, 800), "phone": (390, 844)}
SHOTS = ARTIFACTS / "page-walk"
PROJECT = "Shelter pets"
LABELS = ["cat", "dog", "guinea pig"]
LEAD, REVIEWER, ADMIN = "lena", "rita", "admin"
ANNOTATORS = ["alice", "bruno", "chen"]
N_IMAGES = 20

# Words that keep their capitals inside a heading: acronyms, products, methods, people.
PROPER = {
    "API", "REST", "ONNX", "TorchScript", "CSV", "COCO", "JSON", "YOLO", "ImageFolder",
    "Label", "Studio",  # Label Studio, a tool's name
    "Cohen's", "Fleiss'", "Krippendorff's", "Dawid-Skene", "Kolmogorov-Smirnov", "Holm",
    "MMD", "ROC", "AUC", "ECE", "F1", "ID", "IDs", "URL", "S3", "EXIF", "HEIC", "AVIF", "GPS",
    "OpenID", "Connect", "SSO", "OIDC", "CNN", "ResNet-18", "MobileNetV3", "EfficientNet-B0",
    "Small", "Swagger", "PNG", "JPEG", "ZIP", "HTTP", "HTTPS", "SHA-256", "UTC", "I",
}  # fmt: skip

# Counted nouns: singular and plural (a count of 1 takes the first, any other the second).
NOUNS = {
    "image": "images", "file": "files", "label": "labels", "annotation": "annotations",
    "annotator": "annotators", "member": "members", "person": "people", "reviewer": "reviewers",
    "lead": "leads", "version": "versions", "run": "runs", "model": "models", "day": "days",
    "hour": "hours", "minute": "minutes", "second": "seconds", "week": "weeks",
    "vote": "votes", "item": "items", "group": "groups", "pair": "pairs",
    "disagreement": "disagreements", "tie": "ties", "invitation": "invitations", "use": "uses",
    "field": "fields", "webhook": "webhooks", "delivery": "deliveries", "export": "exports",
    "entry": "entries", "class": "classes", "match": "matches", "error": "errors",
    "row": "rows", "skip": "skips", "token": "tokens", "page": "pages", "tile": "tiles",
    "prediction": "predictions", "suggestion": "suggestions", "change": "changes",
    "event": "events", "value": "values", "record": "records", "epoch": "epochs",
    "duplicate": "duplicates", "account": "accounts", "project": "projects",
    "decision": "decisions", "review": "reviews", "slice": "slices", "result": "results",
}  # fmt: skip

# The checks, run once on each page; they return the findings as lines of text. The file's
# opening comment is left out: Playwright calls what it is given only if it starts as a
# function does.
_CHECKS_FILE = (Path(__file__).parent / "page_walk_checks.js").read_text(encoding="utf-8")
CHECKS = _CHECKS_FILE[_CHECKS_FILE.index("({") :]


@dataclass(frozen=True)
class Walk:
    project: Project
    image_id: int
    invitation: str


def build() -> Walk:
    """One project with something on every page: three annotators who agree on most images
    and split three ways on two (a tie for review), a reviewer and a lead, a current model
    with predictions on the images nobody labelled and some of them sent to machine review,
    an invitation link and a webhook."""
    project = ProjectFactory(name=PROJECT, labels=LABELS, overlap=3)
    lead = UserFactory(username=LEAD)
    add_member(project, lead, Role.LEAD)
    add_member(project, UserFactory(username=REVIEWER), Role.REVIEWER)
    UserFactory(username=ADMIN, is_staff=True, is_superuser=True)
    annotators = [UserFactory(username=name) for name in ANNOTATORS]
    for user in annotators:
        add_member(project, user)
    files = [
        SimpleUploadedFile(f"pet-{i:02d}.png", image_bytes(size=(96, 64))) for i in range(N_IMAGES)
    ]
    flows.images_ingest(project=project, files=files)
    images = list(Image.objects.filter(project=project).order_by("pk"))
    for n, image in enumerate(images[:12]):
        for k, user in enumerate(annotators):
            if n < 2:  # a three-way split: a tie for the review queue
                label = LABELS[k]
            elif n < 5 and k == 2:  # outvoted: agreement below one
                label = LABELS[(n + 1) % 3]
            else:
                label = LABELS[n % 3]
            annotation_submit(
                project=project, annotator=user, image_id=image.pk, labels=[label],
                time_spent_ms=1500 + 100 * n,
            )  # fmt: skip
    model = ModelVersionFactory(project=project, version=1, metrics=metrics_for(project, 0.8))
    ids = [str(pk) for pk in project.labels.order_by("position").values_list("pk", flat=True)]
    for n, image in enumerate(images[12:]):
        sure = 0.95 if n % 2 == 0 else 0.6
        rest = (1 - sure) / 2
        Prediction.objects.create(
            image=image,
            model_version=model,
            probabilities={pk: sure if i == n % 3 else rest for i, pk in enumerate(ids)},
            confidence=sure,
        )
    machine_labels_send(project=project, min_confidence=0.9)
    link = invitation_create(project=project, by=lead, base_url="http://testserver").link
    webhook_of(project, lead)
    return Walk(project=project, image_id=images[0].pk, invitation=urlsplit(link).path)


def pages(walk: Walk) -> dict[str, list[tuple[str, str]]]:
    """Each role's pages: (name, address), in the order a person would open them."""
    p = f"/projects/{walk.project.pk}"
    everyone = [
        ("home", "/"), ("project", f"{p}/"), ("label", f"{p}/label/"),
        ("label-grid", f"{p}/label/#grid"),
    ]  # fmt: skip
    oversee = [
        ("images", f"{p}/images/"), ("image", f"{p}/images/{walk.image_id}/"),
        ("agreement", f"{p}/agreement/"), ("review", f"{p}/review/"),
        ("duplicates", f"{p}/duplicates/"), ("models", f"{p}/models/"),
        ("slices", f"{p}/slices/"), ("machine-review", f"{p}/machine-review/"),
    ]  # fmt: skip
    manage = [
        ("settings", f"{p}/settings/"), ("members", f"{p}/members/"),
        ("fields", f"{p}/fields/"), ("webhooks", f"{p}/webhooks/"),
        ("upload", f"{p}/upload/"), ("import", f"{p}/import/"), ("export", f"{p}/export/"),
        ("erasures", f"{p}/images/erasures/"), ("audit", f"{p}/audit/"),
        ("throughput", f"{p}/throughput/"), ("prediction-api", f"{p}/prediction-api/"),
    ]  # fmt: skip
    return {
        "anonymous": [
            ("login", "/login/"),
            ("password-reset", "/password-reset/"),
            ("password-reset-sent", "/password-reset/sent/"),
            ("join", walk.invitation),
        ],
        # One's own account's page is the same whatever one's role in a project.
        "annotator": [*everyone, ("email", "/email/")],
        "reviewer": everyone + oversee,
        "lead": everyone + oversee + manage,
        "admin": [("team", "/team/"), ("site-audit", "/audit/"), ("new-project", "/projects/new/")],
    }


USERS = {"annotator": ANNOTATORS[0], "reviewer": REVIEWER, "lead": LEAD, "admin": ADMIN}


def pages_open(tabs: dict[str, Any], url: str, user_id: int | None, project_id: int) -> None:
    """Open the address in each size's tab at once (the server and Chromium then work for
    both sizes together, as fast as one on two cores), and wait until each page's scripts
    have drawn it. ``#grid`` opens the labelling page in grid mode: the annotator's choice,
    kept in the browser."""
    if url.endswith("#grid"):
        key = f"labeler:grid-mode:{user_id}:{project_id}"
        for tab in tabs.values():
            tab.evaluate("key => window.localStorage.setItem(key, 'grid')", key)
        url = url[: -len("#grid")]
    desk, phone = tabs.values()
    # The page being left may still rewrite its own address (the review and slices pages
    # keep their filters in the query by replaceState): that is a navigation too, without a
    # response, so only a navigation away from the page's path, or to the address asked
    # for, is the one waited for.
    with (
        desk.expect_navigation(url=_leaving(desk.url, url)) as desk_went,
        phone.expect_navigation(url=_leaving(phone.url, url)) as phone_went,
    ):
        for tab in tabs.values():
            tab.evaluate("url => window.location.assign(url)", url)
    for response in (desk_went.value, phone_went.value):
        assert response is not None and response.ok, f"{url}: {response and response.status}"
    for tab in tabs.values():
        network_settled(tab)


def _leaving(here: str, target: str) -> Any:
    """Whether a navigation's address is the one to ``target`` from the page at ``here``."""
    left, wanted = urlsplit(here).path, urlsplit(target).path
    return lambda address: urlsplit(address).path != left or wanted == left


def static_files_kept(context, kept: dict[str, Any]) -> None:
    """Answer the context's requests for /static/ files from ``kept`` once fetched: the
    test server sends them without a cache lifetime, so each of the walk's hundred pages
    would fetch its thirty scripts and styles again from Django."""

    def answer(route) -> None:
        url = route.request.url
        if url not in kept:
            got = route.fetch()
            kept[url] = {"status": got.status, "headers": got.headers, "body": got.body()}
        route.fulfill(**kept[url])

    context.route("**/static/**", answer)


def test_every_page_reads_right_at_both_sizes(live_server, browser):
    """No page of the project, as any role that can open it, at a desk's size or a
    phone's, scrolls sideways, clips or runs text past its box, overlaps text, miscounts
    a noun, or capitalises a heading as a title."""
    started = time.monotonic()
    walk = build()
    names = [PROJECT, *LABELS, LEAD, REVIEWER, ADMIN, *ANNOTATORS]
    arguments: dict[str, Any] = {"names": names, "proper": sorted(PROPER), "nouns": NOUNS}
    findings: list[str] = []
    refused: list[str] = []
    walked = 0
    kept: dict[str, Any] = {}
    for role, role_pages in pages(walk).items():
        tabs, refusals = {}, {}
        username = USERS.get(role)
        for size, (width, height) in SIZES.items():
            context = browser.new_context(
                viewport={"width": width, "height": height}, base_url=live_server.url
            )
            static_files_kept(context, kept)
            tabs[size] = requests_tracked(context.new_page())
            refusals[size] = csp_refusals(tabs[size])
            if username:
                login(tabs[size], live_server, username)
            else:
                tabs[size].goto("/")
        user_id = get_user_model().objects.get(username=username).pk if username else None
        for name, url in role_pages:
            pages_open(tabs, url, user_id, walk.project.pk)
            for size, tab in tabs.items():
                for finding in tab.evaluate(CHECKS, arguments):
                    findings.append(f"{name} as {role} at {size}: {finding}")
                take_screenshot(tab, SHOTS / size / f"{role}-{name}.png", full_page=True)
                walked += 1
        for size, tab in tabs.items():
            tab.context.close()
            refused += [f"{role} at {size}: {text}" for text in refusals[size]]
    print(f"page walk: {walked} pages in {time.monotonic() - started:.1f} s")
    assert not refused, "the Content-Security-Policy refused:\n" + "\n".join(refused)
    assert not findings, f"{len(findings)} findings:\n" + "\n".join(findings)


def test_the_checks_find_what_they_look_for(browser):
    """The checks themselves: a page made to fail each one is failed on each."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_content(
        """<title>Page Walk · labeler</title>
        <h1>Export Images</h1><h2>Cohen's kappa for Shelter pets</h2>
        <p style="width: 100px; white-space: nowrap">a sentence far too long to fit its box</p>
        <p style="width: 100px; overflow: hidden; white-space: nowrap">clipped without a word</p>
        <p style="width: 100px; overflow: hidden; white-space: nowrap; text-overflow: ellipsis"
           title="cut but readable in full">cut but readable in full</p>
        <div style="position: relative; height: 2em"><span>first words</span>
          <span style="position: absolute; left: 0; top: 0">second words</span></div>
        <p>1 images, 3 label, All 1 file, 1 image and 2 images</p>
        <div style="width: 600px">wide</div>
        <span class="sr-only" style="position: absolute; width: 1px; height: 1px;
          overflow: hidden; clip: rect(0 0 0 0)">visually hidden and long enough</span>"""
    )
    arguments = {"names": [PROJECT], "proper": sorted(PROPER), "nouns": NOUNS}
    found = "\n".join(page.evaluate(CHECKS, arguments))
    context.close()
    for expected in (
        "scrolls sideways",
        "text runs past its box p by",
        'text clipped by p (x): "clipped without a word"',
        'text overlaps: "first words"',
        'count disagrees with its noun: "1 images"',
        'count disagrees with its noun: "3 label"',
        'count disagrees with its noun: "All 1"',
        'h1 not in sentence case: "Images"',
        'title not in sentence case: "Walk"',
    ):
        assert expected in found, f"{expected!r} not in:\n{found}"
    for unexpected in ("readable in full", "Cohen", "Shelter", "visually hidden", "2 images"):
        assert unexpected not in found, found
    assert re.search(r'"1 image\b(?!s)', found) is None, found
