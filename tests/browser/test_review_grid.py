"""The review queue as a grid in Chromium: a page confirmed with Enter, tiles fixed by key."""

from __future__ import annotations

import shutil

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from labeler import flows
from labeler.images.models import Image
from labeler.projects.models import Project, Role
from tests.browser.conftest import login, save_screenshot
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit, image_bytes

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 10_000  # ms; generous for a loaded CI machine, never reached when things work
# Three annotators per image: five images are cat by two to one, three dog by two to one,
# two are split three ways (no consensus).
VOTES = [("cat", "cat", "dog")] * 5 + [("dog", "dog", "cat")] * 3 + [("cat", "dog", "bird")] * 2


def pets_split() -> tuple[Project, list[Image]]:
    project = ProjectFactory(name="Pets", overlap=3)
    annotators = [UserFactory(username=f"ann{i}") for i in (1, 2, 3)]
    for user in annotators:
        add_member(project, user)
    add_member(project, UserFactory(username="rita"), Role.REVIEWER)
    add_member(project, UserFactory(username="lead"), Role.LEAD)
    files = [
        SimpleUploadedFile(f"pet-{i}.png", image_bytes(size=(96, 64))) for i in range(len(VOTES))
    ]
    flows.images_ingest(project=project, files=files)
    images = list(Image.objects.filter(project=project).order_by("pk"))
    for image, votes in zip(images, VOTES, strict=True):
        for user, name in zip(annotators, votes, strict=True):
            annotation_submit(project=project, annotator=user, image_id=image.pk, labels=[name])
    return project, images


def final_labels(project: Project, username: str) -> dict[int, tuple[str, str]]:
    """Image id -> (label name, method) of each person's decision, read through the API."""
    from django.contrib.auth.models import User

    client = APIClient()
    client.force_authenticate(User.objects.get(username=username))
    names = {label.pk: label.name for label in project.labels.all()}
    answer = client.get(f"/api/v1/projects/{project.pk}/decisions/", {"page_size": 100})
    assert answer.status_code == 200, answer.content
    rows = answer.json()["results"]
    return {row["image"]: (names[row["label_ids"][0]], row["method"]) for row in rows}


def open_grid(page, live_server, project) -> None:
    page.goto(f"{live_server.url}/projects/{project.pk}/review/")
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    page.keyboard.press("Alt+g")
    expect(page.locator("#grid-groups")).to_have_attribute("data-state", "ready", timeout=WAIT)


def tile(page, image: Image):
    return page.locator(f".rg-tile[data-image='{image.pk}']")


def wait_saved(page) -> None:
    page.wait_for_function("window.reviewer.outbox().length === 0", timeout=WAIT)


def look(page, name: str) -> None:
    """A screenshot for people to look at, under /tmp as well as test-artifacts/, when
    screenshots are asked for."""
    path = save_screenshot(page, name, full_page=False)
    if path is not None:
        shutil.copy(path, f"/tmp/{name}.png")


def test_a_reviewer_confirms_a_page_and_fixes_two_by_key(live_server, page):
    """Space marks two cat tiles, 2 fixes them as dog, Enter confirms the page: the rest get
    their consensus, the three-way splits stay; the choice of view survives a reload."""
    project, images = pets_split()
    cats, dogs, splits = images[:5], images[5:8], images[8:]
    login(page, live_server, "rita")
    open_grid(page, live_server, project)
    expect(page.locator(".rg-tile")).to_have_count(10)
    groups = page.locator(".rg-group")
    expect(groups).to_have_count(3)
    expect(groups.nth(0).locator(".tile-group-head")).to_contain_text("cat")
    expect(groups.nth(0).locator(".rg-tile")).to_have_count(5)
    expect(groups.nth(1).locator(".rg-tile")).to_have_count(3)
    expect(groups.nth(2).locator(".tile-group-head")).to_contain_text("no consensus")
    # A tile shows every label given, with its count.
    expect(tile(page, splits[0]).locator(".rg-votes .chip")).to_have_count(3)
    expect(tile(page, cats[0]).locator(".rg-votes")).to_contain_text("cat2")

    expect(tile(page, cats[0])).to_be_focused()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    expect(page.locator(".rg-tile[data-marked=true]")).to_have_count(2)
    page.keyboard.press("2")  # dog
    for image in cats[:2]:
        expect(tile(page, image)).to_have_attribute("data-fixed", "true")
        expect(tile(page, image).locator(".rg-outcome")).to_contain_text("dog")
    expect(page.locator(".rg-tile[data-marked=true]")).to_have_count(0)
    # A fix by mistake, undone before the page is sent.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("3")
    expect(tile(page, cats[2])).to_have_attribute("data-fixed", "true")
    page.keyboard.press("Control+z")
    expect(tile(page, cats[2])).to_have_attribute("data-fixed", "false")
    expect(page.locator("#grid-summary")).to_have_text(
        "6 to confirm · 2 fixed · 2 without consensus stay"
    )
    look(page, "review-grid-page")

    page.keyboard.press("Enter")
    expect(page.locator("#grid-empty")).to_be_visible(timeout=WAIT)
    expect(page.locator("#grid-empty-title")).to_have_text("Only images you left are left")
    wait_saved(page)
    look(page, "review-grid-empty")
    expected = {i.pk: ("dog", "adjudicated") for i in cats[:2] + dogs}
    expected |= {i.pk: ("cat", "adjudicated") for i in cats[2:]}
    assert final_labels(project, "rita") == expected

    # Reviewers may not take decisions back: Ctrl+Z says so and changes nothing.
    page.keyboard.press("Control+z")
    expect(page.locator("#grid-failures")).to_contain_text("only the project's leads and admins")
    assert final_labels(project, "rita") == expected

    # The images left come back on request; the grid is still the view after a reload.
    page.get_by_role("button", name="Review the images left again").click()
    expect(page.locator(".rg-tile")).to_have_count(2, timeout=WAIT)
    page.reload()
    expect(page.locator("#grid-view")).to_be_visible(timeout=WAIT)
    expect(page.locator(".rg-tile")).to_have_count(2, timeout=WAIT)
    page.keyboard.press("Alt+g")
    expect(page.locator("#single-view")).to_be_visible()
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    assert int(page.locator("#stage").get_attribute("data-image-id")) in {s.pk for s in splits}


def test_a_lead_takes_a_confirmed_page_back_with_ctrl_z(live_server, page):
    """Enter confirms the page; Ctrl+Z takes its decisions back and shows it again."""
    project, images = pets_split()
    login(page, live_server, "lead")
    open_grid(page, live_server, project)
    expect(page.locator(".rg-tile")).to_have_count(10)
    page.keyboard.press("3")  # the focused tile (no mark): bird
    page.keyboard.press("Enter")
    expect(page.locator("#grid-empty")).to_be_visible(timeout=WAIT)
    wait_saved(page)
    decided = final_labels(project, "lead")
    assert len(decided) == 8 and decided[images[0].pk] == ("bird", "adjudicated")

    page.keyboard.press("Control+z")
    expect(page.locator(".rg-tile")).to_have_count(10, timeout=WAIT)
    expect(tile(page, images[0])).to_have_attribute("data-fixed", "true")
    expect(page.locator("#left-count")).to_have_text("10")
    assert final_labels(project, "lead") == {}


def test_counts_the_server_made_before_a_page_was_saved_do_not_undo_its_count(live_server, page):
    """The next page is asked for while the confirmed one is being saved. Here the server
    answers before the page reaches it and the answer arrives after the save: its counts
    are older than the count the page moved, which stands."""
    project, _ = pets_split()
    login(page, live_server, "lead")
    open_grid(page, live_server, project)
    expect(page.locator(".rg-tile")).to_have_count(10)
    expect(page.locator("#left-count")).to_have_text("10")
    held = {}

    def hold(name):
        def handler(route):
            if name in held:
                route.continue_()
            else:
                held[name] = route

        return handler

    page.route("**/decisions/batch/", hold("save"))
    page.route(lambda url: "/review/?" in url, hold("queue"))
    page.keyboard.press("3")  # the focused tile: bird
    expect(page.locator(".rg-tile[data-fixed=true]")).to_have_count(1)
    page.keyboard.press("Enter")
    for _ in range(WAIT // 50):
        if len(held) == 2:
            break
        page.wait_for_timeout(50)
    assert set(held) == {"save", "queue"}
    expect(page.locator("#left-count")).to_have_text("2")
    before_the_save = held["queue"].fetch()
    held["save"].continue_()
    wait_saved(page)
    held["queue"].fulfill(response=before_the_save)

    expect(page.locator("#grid-empty")).to_be_visible(timeout=WAIT)
    expect(page.locator("#left-count")).to_have_text("2")
    assert len(final_labels(project, "lead")) == 8


def test_the_mouse_does_what_the_keys_do(live_server, page):
    """A click marks, a label button fixes, the confirm button sends; "." opens full size."""
    project, images = pets_split()
    login(page, live_server, "rita")
    open_grid(page, live_server, project)
    tile(page, images[8]).click()
    tile(page, images[9]).click(modifiers=["Shift"])
    expect(page.locator(".rg-tile[data-marked=true]")).to_have_count(2)
    dog = project.labels.get(name="dog")
    page.locator(f"#grid-labels [data-label-id='{dog.pk}']").click()
    expect(page.locator(".rg-tile[data-fixed=true]")).to_have_count(2)
    page.keyboard.press(".")
    expect(page.locator("#grid-full")).to_be_visible()
    expect(page.locator("#grid-full-caption")).to_contain_text("no consensus")
    look(page, "review-grid-full")
    page.keyboard.press(".")
    expect(page.locator("#grid-full")).to_be_hidden()
    page.locator("#grid-confirm").click()
    expect(page.locator("#grid-empty-title")).to_have_text("Nothing to review", timeout=WAIT)
    wait_saved(page)
    decided = final_labels(project, "rita")
    assert len(decided) == 10
    assert decided[images[8].pk] == decided[images[9].pk] == ("dog", "adjudicated")


def test_chords_and_the_search_fix_tiles_with_many_labels(live_server, page):
    """With more than nine labels the grid's panel is the label picker: a chord fixes the
    marked tiles, the search ("/", letters, Enter) the focused one."""
    project, images = pets_split()
    cat, dog, bird = (project.labels.get(name=n) for n in ("cat", "dog", "bird"))
    for label, hotkey in ((cat, "ca"), (dog, "dg"), (bird, "bd")):
        label.hotkey = hotkey
        label.save(update_fields=["hotkey"])
    for n in range(9):
        project.labels.create(name=f"fish {n}", color="#123456", hotkey=f"f{n}", position=3 + n)
    login(page, live_server, "rita")
    open_grid(page, live_server, project)
    expect(page.locator("#grid-labels .label-search")).to_be_visible()

    expect(tile(page, images[0])).to_be_focused()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    page.keyboard.press("d")
    expect(page.locator("#grid-labels .chord-pending")).to_contain_text("dog")
    page.keyboard.press("g")
    for image in images[:2]:
        expect(tile(page, image)).to_have_attribute("data-fixed", "true")
    expect(page.locator(".rg-tile[data-marked=true]")).to_have_count(0)

    page.keyboard.press("ArrowRight")
    page.keyboard.press("/")
    expect(page.locator("#grid-labels .label-search")).to_be_focused()
    page.keyboard.type("bir")
    page.keyboard.press("Enter")
    expect(tile(page, images[2])).to_be_focused()
    expect(tile(page, images[2]).locator(".rg-outcome")).to_contain_text("bird")
    look(page, "grid-picker-review")

    page.keyboard.press("Enter")
    expect(page.locator("#grid-empty")).to_be_visible(timeout=WAIT)
    wait_saved(page)
    decided = final_labels(project, "rita")
    assert decided[images[0].pk] == decided[images[1].pk] == ("dog", "adjudicated")
    assert decided[images[2].pk] == ("bird", "adjudicated")
