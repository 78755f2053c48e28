"""A project lead's pages in Chromium: create a project, upload images, add members, overview."""

from __future__ import annotations

import base64
import io
import re
import zipfile
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import Permission

from labeler.annotations.models import Annotation
from labeler.images.models import Image
from labeler.projects.models import Membership, Project, Role
from tests.factories import ProjectFactory, UserFactory, add_member, image_bytes

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TABLET = {"width": 768, "height": 1024}


def log_in(page: Page, base_url: str, username: str, next_path: str) -> None:
    """Log in through the form and land on next_path."""
    page.goto(f"{base_url}/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}{next_path}")


def project_led_by_lena() -> Project:
    """A project with three labels whose one lead is lena."""
    project = ProjectFactory(name="Street signs", overlap=2, instructions="Label the sign type.")
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    return project


def no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_lead_creates_a_project_through_the_form(live_server, page, screenshot):
    """Two starting rows plus an added third with its own colour and hotkey, overlap 2."""
    lead = UserFactory(username="lena")
    lead.user_permissions.add(Permission.objects.get(codename="add_project"))
    log_in(page, live_server.url, "lena", "/projects/new/")
    expect(page).to_have_title("New project · labeler")

    page.get_by_label("Name", exact=True).fill("Road signs")
    page.get_by_text("Instructions for annotators").click()  # a folded section
    page.get_by_label("Instructions").fill("Pick the sign's shape.\nIgnore signs behind glass.")
    page.get_by_label("Name of label 1").fill("round")
    page.get_by_label("Name of label 2").fill("triangle")
    page.get_by_role("button", name="+ Add label").click()
    expect(page.get_by_label("Name of label 3")).to_be_focused()
    page.get_by_label("Name of label 3").fill("square")
    page.get_by_label("Colour of label 3").fill("#00aa55")
    expect(page.get_by_label("Hotkey of label 3")).to_have_value("3")
    page.get_by_label("Hotkey of label 3").fill("s")
    page.get_by_label("Single label").check()
    page.get_by_label("People who label each image").fill("2")
    # A fourth row added and removed again leaves no trace.
    page.get_by_role("button", name="+ Add label").click()
    page.get_by_role("button", name="Remove label 4").click()
    expect(page.locator(".label-row")).to_have_count(3)
    screenshot("project-new")

    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(re.compile(r"/projects/\d+/$"))
    expect(page.get_by_text("Project “Road signs” created")).to_be_visible()

    project = Project.objects.get()
    assert (project.name, project.multi_label, project.overlap) == ("Road signs", False, 2)
    assert project.instructions == "Pick the sign's shape.\r\nIgnore signs behind glass."
    assert [(x.name, x.color, x.hotkey) for x in project.labels.all()] == [
        ("round", "#1f77b4", "1"),
        ("triangle", "#ff7f0e", "2"),
        ("square", "#00aa55", "s"),
    ]
    assert Membership.objects.get(project=project).user == lead
    assert page.url == f"{live_server.url}/projects/{project.pk}/"


def test_form_errors_show_beside_fields_and_keep_values(live_server, page, screenshot):
    """A duplicate hotkey comes back from the service next to the labels, rows intact."""
    project = project_led_by_lena()
    log_in(page, live_server.url, "lena", f"/projects/{project.pk}/settings/")
    page.get_by_label("Hotkey of label 2").fill("1")
    page.get_by_label("Name of label 3").fill("yield")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#labels-error")).to_contain_text("Duplicate hotkey: '1'.")
    expect(page.get_by_label("Name of label 3")).to_have_value("yield")
    screenshot("project-settings-error")
    assert [x.name for x in project.labels.all()] == ["cat", "dog", "bird"]

    page.get_by_label("Hotkey of label 2").fill("d")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_url(f"{live_server.url}/projects/{project.pk}/")
    assert [(x.name, x.hotkey) for x in project.labels.all()] == [
        ("cat", "1"),
        ("dog", "d"),
        ("yield", "3"),
    ]


XSS_NAME = "<img src=x onerror=alert(1)>.png"


def png(seed: int) -> bytes:
    return image_bytes(seed=seed)


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def drop_files(page: Page, selector: str, files: list[tuple[str, str, bytes]]) -> None:
    """Drop files on an element as a person would: dragenter, dragover, drop."""
    payload = [
        {"name": name, "type": mime, "data": base64.b64encode(data).decode()}
        for name, mime, data in files
    ]
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], f.name, { type: f.type }));
            }
            return transfer;
        }""",
        payload,
    )
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event(selector, event, {"dataTransfer": transfer})


def wait_until_done(page: Page, count: int) -> None:
    page.wait_for_function(
        """(count) => document.querySelectorAll('#file-list .file-item').length === count
            && document.getElementById('summary').dataset.state === 'done'""",
        arg=count,
        timeout=30_000,
    )


def file_item(page: Page, name: str):
    return page.locator(".file-item", has=page.locator(".file-name", has_text=name))


def test_lead_uploads_files_and_a_dropped_zip(live_server, page, screenshot, make_images):
    """PNGs through the file input and a zip dropped on the zone, each with its outcome."""
    project = project_led_by_lena()
    (stored,) = make_images(project, 1)
    stored_bytes = stored.file.read()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, live_server.url, "lena", f"/projects/{project.pk}/upload/")
    expect(page).to_have_title("Upload images · Street signs · labeler")
    page.focus("#file-input")  # keyboard users reach the picker; its visible label lights up
    assert page.eval_on_selector(".choose-files", "e => getComputedStyle(e).boxShadow") != "none"

    page.set_input_files(
        "#file-input",
        [
            {"name": "a.png", "mimeType": "image/png", "buffer": png(1)},
            {"name": XSS_NAME, "mimeType": "image/png", "buffer": png(2)},
            {"name": "again.png", "mimeType": "image/png", "buffer": stored_bytes},
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not an image"},
        ],
    )
    archive = zip_of(
        {"inside/c.png": png(3), "d.jpg": image_bytes("JPEG", seed=4), "readme.txt": b"hello"}
    )
    drop_files(page, "#dropzone", [("more.zip", "application/zip", archive)])
    wait_until_done(page, 5)

    expect(page.locator("#summary-status")).to_have_text("All 5 files processed.")
    expect(page.locator("[data-count=created]")).to_have_text("4")
    expect(page.locator("[data-count=duplicate]")).to_have_text("1")
    expect(page.locator("[data-count=rejected]")).to_have_text("2")
    expect(file_item(page, "a.png")).to_have_attribute("data-status", "created")
    expect(file_item(page, "again.png")).to_have_attribute("data-status", "duplicate")
    expect(file_item(page, "notes.txt")).to_have_attribute("data-status", "rejected")
    expect(file_item(page, "notes.txt")).to_contain_text("Not an image file")
    zip_item = file_item(page, "more.zip")
    expect(zip_item.locator(".file-status")).to_have_text(
        "Archive: 2 created, 0 duplicates, 1 rejected"
    )
    expect(zip_item.locator(".member")).to_have_count(3)
    expect(zip_item.locator(".member-rejected")).to_contain_text("readme.txt")
    rejected = page.locator("#rejected-list li")
    expect(rejected).to_have_count(2)
    expect(page.locator("#rejected-list")).to_contain_text("more.zip \u203a readme.txt")
    expect(page.locator("#rejected-list")).to_contain_text("notes.txt")
    # The file name is text, never markup.
    expect(file_item(page, XSS_NAME)).to_have_count(1)
    assert page.locator("#upload img").count() == 0
    assert dialogs == []
    expect(page.locator("#image-count")).to_have_text("5 images")
    screenshot("upload")

    names = set(Image.objects.filter(project=project).values_list("original_name", flat=True))
    assert names == {stored.original_name, "a.png", XSS_NAME, "c.png", "d.jpg"}
    assert Image.objects.count() == 5


def test_a_failed_upload_can_be_retried(live_server, page, screenshot):
    """A request that never reaches the server shows an error and a working Retry button."""
    project = project_led_by_lena()
    log_in(page, live_server.url, "lena", f"/projects/{project.pk}/upload/")
    api = f"**/api/v1/projects/{project.pk}/images/"
    page.route(api, lambda route: route.abort("connectionfailed"))
    page.set_input_files(
        "#file-input", [{"name": "x.png", "mimeType": "image/png", "buffer": png(9)}]
    )
    item = file_item(page, "x.png")
    expect(item).to_have_attribute("data-status", "failed")
    expect(item).to_contain_text("Network error")
    expect(page.locator("#summary-status")).to_contain_text("1 upload failed")
    screenshot("upload-failed")
    assert Image.objects.count() == 0

    page.unroute(api)
    page.get_by_role("button", name="Retry x.png").click()
    expect(item).to_have_attribute("data-status", "created")
    expect(page.locator("#summary-status")).to_have_text("The file was processed.")
    assert Image.objects.filter(project=project, original_name="x.png").count() == 1


def test_lead_adds_an_annotator_on_the_members_page(live_server, page, screenshot):
    project = project_led_by_lena()
    newcomer = UserFactory(username="nadia")
    add_member(project, UserFactory(username="rui"), Role.REVIEWER)
    log_in(page, live_server.url, "lena", f"/projects/{project.pk}/members/")
    expect(page).to_have_title("Members · Street signs · labeler")

    page.get_by_label("Username").fill("nobody")
    page.get_by_role("button", name="Add member").click()
    expect(page.locator("#add-username-error")).to_contain_text("There is no user named “nobody”")

    page.get_by_label("Username").fill("nadia")
    page.get_by_label("Role", exact=True).select_option("annotator")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_text("nadia added as annotator.")).to_be_visible()
    expect(page.locator("tr[data-username=nadia]")).to_be_visible()
    expect(page.get_by_label("Role of nadia", exact=True)).to_have_value("annotator")
    assert Membership.objects.get(project=project, user=newcomer).role == Role.ANNOTATOR

    page.get_by_label("Role of lena", exact=True).select_option("annotator")
    page.get_by_role("button", name="Save role of lena").click()
    expect(page.locator("tr[data-username=lena] .field-error")).to_have_text(
        "A project must keep at least one lead."
    )
    assert Membership.objects.get(project=project, user__username="lena").role == Role.LEAD
    screenshot("members")


def test_project_page_shows_the_counts(live_server, page, screenshot, make_images):
    """Images by state and annotations, as project_progress counts them."""
    project = project_led_by_lena()
    annotators = [UserFactory(username=f"ann{i}") for i in range(2)]
    for person in annotators:
        add_member(project, person)
    done, half, *_ = make_images(project, 5)
    cat = project.labels.get(name="cat")
    for image, people in ((done, annotators), (half, annotators[:1])):
        for person in people:
            Annotation.objects.create(project=project, image=image, annotator=person).labels.add(
                cat
            )
    Image.objects.filter(pk=done.pk).update(annotation_count=2, is_complete=True)
    Image.objects.filter(pk=half.pk).update(annotation_count=1)

    log_in(page, live_server.url, "lena", f"/projects/{project.pk}/")
    expect(page).to_have_title("Street signs · labeler")
    counts = {
        name: page.locator(f"[data-stat={name}]").inner_text()
        for name in ("images", "complete", "in_progress", "not_started", "skipped", "annotations")
    }
    assert counts == {
        "images": "5",
        "complete": "1",
        "in_progress": "1",
        "not_started": "3",
        "skipped": "0",
        "annotations": "3",
    }
    expect(page.get_by_text("1 of 5 images complete")).to_be_visible()
    for name in ("Start labelling", "Upload images", "Members", "Settings"):
        expect(page.get_by_role("link", name=name)).to_be_visible()
    screenshot("project")


def test_delete_project_after_typing_its_name(live_server, page, screenshot):
    project = project_led_by_lena()
    log_in(page, live_server.url, "lena", f"/projects/{project.pk}/settings/")
    page.get_by_role("button", name="Delete project…").click()
    expect(page).to_have_title("Delete Street signs? · labeler")
    screenshot("project-delete")
    page.get_by_label("Type the project's name to confirm").fill("Street sign")
    page.get_by_role("button", name="Delete project").click()
    expect(page.locator("#confirm-error")).to_be_visible()
    assert Project.objects.filter(pk=project.pk).exists()
    page.get_by_label("Type the project's name to confirm").fill("Street signs")
    page.get_by_role("button", name="Delete project").click()
    page.wait_for_url(f"{live_server.url}/")
    assert not Project.objects.filter(pk=project.pk).exists()


@pytest.mark.parametrize("path", ["", "settings/", "members/", "upload/"])
def test_pages_fit_a_tablet_without_horizontal_scroll(live_server, page, screenshot, path):
    """At 768x1024 every lead page fits its width, and keyboard focus is visible."""
    project = project_led_by_lena()
    add_member(project, UserFactory(username="a-rather-long-username-for-the-table"))
    page.set_viewport_size(TABLET)
    log_in(page, live_server.url, "lena", f"/projects/{project.pk}/{path}")
    assert no_horizontal_scroll(page)
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")  # the brand
    assert page.evaluate("getComputedStyle(document.activeElement).boxShadow") != "none"
    screenshot(f"tablet-{path.strip('/') or 'project'}")


def test_new_project_form_fits_a_tablet(live_server, page, screenshot):
    UserFactory(username="lena", is_staff=True)
    page.set_viewport_size(TABLET)
    log_in(page, live_server.url, "lena", "/projects/new/")
    page.get_by_role("button", name="+ Add label").click()
    assert no_horizontal_scroll(page)
    screenshot("tablet-project-new")
