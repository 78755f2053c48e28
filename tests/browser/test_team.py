"""The team in Chromium: an admin invites someone, who sets a password from the e-mailed
link and logs in; a lead imports a labelled zip, reads what waits on the home page, and
reads the annotators' time and throughput (and downloads it as CSV)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from django.core import mail

from labeler.projects.models import Role
from tests.browser.conftest import login
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit, image_bytes
from tests.labeler.imports.test_archive import zipped

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_invite_set_password_and_log_in(live_server, page: Page, browser, screenshot):
    project = ProjectFactory(name="Street signs")
    UserFactory(username="ada", is_staff=True, is_superuser=True)
    login(page, live_server, "ada")
    page.get_by_role("link", name="Team").click()
    expect(page).to_have_title("Team · labeler")
    page.get_by_label("Username").fill("nora")
    page.get_by_label("Email").fill("nora@example.org")
    page.get_by_label("First name").fill("Nora")
    page.get_by_label("Add to project").select_option(label="Street signs")
    page.get_by_label("Role there").select_option("annotator")
    page.get_by_role("button", name="Create and invite").click()
    expect(page.get_by_text("Invitation sent to nora@example.org.")).to_be_visible()
    row = page.locator('tr[data-username="nora"]')
    expect(row.locator(".status")).to_have_text("Invited")
    expect(row.locator(".projects")).to_contain_text("Street signs")
    screenshot("team")

    (message,) = mail.outbox
    link = re.search(r"http://\S+/password/\S+/", message.body).group(0)
    assert link == page.get_by_role("textbox", name="Link just sent").input_value()

    invited = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    invited.goto(link)
    expect(invited.locator(".set-username")).to_have_text("nora")
    invited.get_by_label("New password").fill("12345678")
    invited.get_by_label("The same password again").fill("12345678")
    invited.get_by_role("button", name="Set password").click()
    expect(invited.get_by_text("This password is entirely numeric.")).to_be_visible()
    invited.get_by_label("New password").fill("stop-sign-octagon-8")
    invited.get_by_label("The same password again").fill("stop-sign-octagon-8")
    invited.get_by_role("button", name="Set password").click()
    expect(invited.get_by_role("heading", name="Your password is set")).to_be_visible()
    invited.locator("#main").get_by_role("link", name="Log in").click()
    invited.wait_for_url(f"{live_server.url}/login/")
    login(invited, live_server, "nora", "stop-sign-octagon-8")
    expect(invited.locator(f'[data-project-id="{project.pk}"]')).to_be_visible()
    # The link works once.
    invited.goto(link)
    expect(invited.get_by_role("heading", name="This link no longer works")).to_be_visible()
    invited.context.close()


def test_forgot_password_from_the_login_page(live_server, page: Page):
    UserFactory(username="omar", email="omar@example.org")
    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_label("E-mail address").fill("omar@example.org")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    link = re.search(r"http://\S+/password/\S+/", mail.outbox[0].body).group(0)
    page.goto(link)
    page.get_by_label("New password").fill("a-fresh-passphrase-1")
    page.get_by_label("The same password again").fill("a-fresh-passphrase-1")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Your password is set")).to_be_visible()
    login(page, live_server, "omar", "a-fresh-passphrase-1")


def test_admin_deactivates_an_account_that_then_cannot_log_in(live_server, page: Page):
    UserFactory(username="ada", is_staff=True)
    UserFactory(username="ben")
    login(page, live_server, "ada")
    page.goto(f"{live_server.url}/team/")
    page.get_by_role("button", name="Deactivate ben").click()
    expect(page.get_by_text("ben was deactivated.")).to_be_visible()
    expect(page.locator('tr[data-username="ben"] .status')).to_have_text("Deactivated")
    page.get_by_role("button", name="Log out").click()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "ben")
    page.fill("input[name=password]", "correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("That username and password do not match")).to_be_visible()


def lead_project():
    project = ProjectFactory(name="Pets", overlap=2)
    lena = UserFactory(username="lena")
    add_member(project, lena, Role.LEAD)
    return project


def test_a_lead_imports_a_labelled_zip_and_reads_the_report(
    live_server, page: Page, tmp_path, screenshot
):
    project = lead_project()
    archive = tmp_path / "pets.zip"
    archive.write_bytes(
        zipped(
            {
                "pets/cat/1.png": image_bytes(),
                "pets/cat/2.png": image_bytes(),
                "pets/dog/3.png": image_bytes(),
                "pets/fox/4.png": image_bytes(),
                "pets/dog/broken.png": b"not an image",
            }
        ).getvalue()
    )
    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.get_by_role("link", name="Import labelled").click()
    page.get_by_label("Archive (.zip)").set_input_files(str(archive))
    page.get_by_label("Labels", exact=True).select_option("imagefolder")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#check-counts")).to_contain_text("5")  # files in
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-summary")).to_have_text(
        "4 created, 0 duplicates, 1 rejected; labels: 3 applied, 2 refused, 0 without labels."
    )
    expect(page.locator('tr[data-status="created"][data-labels="applied"]')).to_have_count(3)
    expect(page.locator(".import-report tr", has_text="fox/4.png")).to_contain_text("fox")
    expect(page.locator(".import-not-applied")).to_contain_text("Unknown label 'fox'")
    screenshot("import")


def test_lead_home_and_throughput(live_server, page: Page, make_images, screenshot):
    project = lead_project()
    ann = [UserFactory(username=name) for name in ("ann", "bo")]
    for user in ann:
        add_member(project, user, Role.ANNOTATOR)
    images = make_images(project, 6)
    for n, image in enumerate(images):
        for user, name in zip(ann, ["cat", "cat" if n % 3 else "dog"], strict=True):
            annotation_submit(
                project=project, annotator=user, image_id=image.pk, labels=[name],
                time_spent_ms=4000 + 1000 * n,
            )  # fmt: skip
    login(page, live_server, "lena")
    panel = page.locator(f'[data-project-id="{project.pk}"] .lead-waits')
    expect(panel.locator(".wait-review")).to_contain_text("2 in review")
    expect(panel.get_by_role("link", name="Agreement")).to_be_visible()
    screenshot("home-lead")

    panel.get_by_role("link", name="Images").click()
    expect(page).to_have_url(f"{live_server.url}/projects/{project.pk}/images/")
    expect(page.locator("h1")).to_contain_text("Images")
    page.go_back()
    panel.get_by_role("link", name="Agreement").click()
    page.get_by_role("link", name="Time and throughput").click()
    page.get_by_label("Per", exact=True).select_option("day")
    page.get_by_role("button", name="Show").click()
    row = page.locator('tr[data-username="ann"]')
    expect(row.locator(".labels")).to_have_text("6")
    # The two ties have no consensus: they count as not agreeing, and are said.
    expect(row.locator(".consensus")).to_contain_text("67%")
    expect(row.locator(".consensus")).to_contain_text("n=6, 2 tied")
    screenshot("throughput")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    text = download.value.path().read_text()
    assert text.splitlines()[0].startswith("period_start,annotator_id,username,labels")
    assert len(text.splitlines()) == 3
