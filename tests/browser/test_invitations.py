"""Invitations in Chromium: a lead makes a link on the members page and a newcomer joins
by it and labels; a lead invites by e-mail and the invitee joins from the mail's link."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.annotations.models import Annotation
from labeler.projects.models import Membership, Role
from tests.browser.conftest import csp_refusals, login, save_screenshot
from tests.factories import ProjectFactory, UserFactory, add_member, image_bytes

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 10_000  # ms


def pets_with_a_lead():
    project = ProjectFactory(name="Pets")
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    files = [SimpleUploadedFile(f"pet-{i}.png", image_bytes(size=(96, 64))) for i in range(3)]
    flows.images_ingest(project=project, files=files)
    return project


def fresh_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    return page, csp_refusals(page)


def test_a_newcomer_joins_by_a_link_and_labels(live_server, page: Page, browser, screenshot):
    project = pets_with_a_lead()
    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/projects/{project.pk}/members/")
    link_form = page.locator("form", has=page.get_by_role("heading", name="By link"))
    link_form.get_by_label("Role").select_option("annotator")
    link_form.get_by_label("Link works for").select_option("7")
    link_form.get_by_label("At most this many people").fill("5")
    link_form.get_by_role("button", name="Make link").click()
    expect(page.get_by_text("Link made: whoever opens it joins as annotator.")).to_be_visible()
    link = page.get_by_role("textbox", name="Invitation link").input_value()
    assert re.fullmatch(rf"{live_server.url}/join/[A-Za-z0-9_-]{{43}}/", link)
    row = page.locator("table.invitations tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Anyone with the link")
    expect(row).to_contain_text("0 of 5")
    expect(row).to_contain_text("lena")
    screenshot("members-invitations")

    invitee, refused = fresh_page(browser)
    invitee.goto(link)
    expect(invitee.get_by_role("heading", name="Join Pets")).to_be_visible()
    expect(invitee.get_by_text("lena invites you as annotator.", exact=False)).to_be_visible()
    save_screenshot(invitee, "join")
    invitee.get_by_label("Username").fill("nora")
    invitee.get_by_label("E-mail address").fill("nora@example.org")
    invitee.get_by_label("Password", exact=True).fill("12345678")
    invitee.get_by_label("The same password again").fill("12345678")
    invitee.get_by_role("button", name="Make account and join").click()
    expect(invitee.get_by_text("This password is entirely numeric.")).to_be_visible()
    invitee.get_by_label("Password", exact=True).fill("tabby-whiskers-42")
    invitee.get_by_label("The same password again").fill("tabby-whiskers-42")
    invitee.get_by_role("button", name="Make account and join").click()
    invitee.wait_for_url(f"{live_server.url}/projects/{project.pk}/label/")
    expect(invitee.get_by_text("Welcome to Pets: you joined as annotator.")).to_be_visible()
    invitee.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    image_id = int(invitee.locator("#stage").get_attribute("data-image-id"))
    invitee.keyboard.press("1")
    invitee.wait_for_selector("#save-status[data-waiting='0']", timeout=WAIT)
    invitee.wait_for_function("window.labeler.outbox().length === 0", timeout=WAIT)
    annotation = Annotation.objects.get(annotator__username="nora")
    assert annotation.image_id == image_id
    assert list(annotation.labels.values_list("name", flat=True)) == ["cat"]
    assert invitee.evaluate("document.cookie").find("sessionid") == -1  # HttpOnly, not read
    invitee.context.close()
    assert refused == []

    page.reload()
    expect(page.locator("table.invitations tbody tr")).to_contain_text("1 of 5")
    expect(page.locator('tr[data-username="nora"]')).to_contain_text("1")
    page.locator("table.invitations").get_by_role("button", name=re.compile("^Revoke")).click()
    expect(page.get_by_text("The link no longer works: it was revoked.")).to_be_visible()
    expect(page.get_by_role("heading", name="No open invitations")).to_be_visible()

    late, _ = fresh_page(browser)
    late.goto(link)
    expect(late.get_by_role("heading", name="This invitation was revoked")).to_be_visible()
    late.context.close()


def test_an_e_mailed_invitation_brings_a_reviewer_in(live_server, page: Page, browser):
    project = pets_with_a_lead()
    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/projects/{project.pk}/members/")
    email_form = page.locator("form", has=page.get_by_role("heading", name="By e-mail"))
    email_form.get_by_label("E-mail address").fill("rita@example.org")
    email_form.get_by_label("Role").select_option("reviewer")
    email_form.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to rita@example.org as reviewer.")).to_be_visible()
    expect(page.locator("table.invitations tbody tr")).to_contain_text("rita@example.org")

    (message,) = mail.outbox
    assert message.to == ["rita@example.org"] and "Pets" in message.subject
    link = re.search(r"http://\S+/join/\S+/", message.body).group(0)
    assert link == page.get_by_role("textbox", name="Invitation link").input_value()

    invitee, refused = fresh_page(browser)
    invitee.goto(link)
    expect(invitee.locator(".join-email")).to_have_text("rita@example.org")
    invitee.get_by_label("Username").fill("rita")
    invitee.get_by_label("Password", exact=True).fill("review-all-the-pets")
    invitee.get_by_label("The same password again").fill("review-all-the-pets")
    invitee.get_by_role("button", name="Make account and join").click()
    invitee.wait_for_url(f"{live_server.url}/projects/{project.pk}/")
    expect(invitee.get_by_text("Welcome to Pets: you joined as reviewer.")).to_be_visible()
    membership = Membership.objects.get(project=project, user__username="rita")
    assert membership.role == Role.REVIEWER and membership.user.email == "rita@example.org"
    # The invitation was for one person, once.
    invitee.get_by_role("button", name="Log out").click()
    invitee.goto(link)
    expect(invitee.get_by_role("heading", name="This invitation is used up")).to_be_visible()
    invitee.context.close()
    assert refused == []
