"""The prediction API's page in Chromium: a lead issues a token (its key shown once, copied
with the button), the token predicts over HTTP, the served predictions are listed with
their caller and filtered by version, label and confidence, and the token is revoked."""

from __future__ import annotations

import hashlib
import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from labeler import resident
from labeler.projects.models import Membership, Role
from labeler.projects.services import membership_remove
from labeler.serving import services
from labeler.serving.tokens import predict_token_issue
from tests.browser.conftest import login, save_screenshot
from tests.factories import ProjectFactory, UserFactory, add_member, image_bytes
from tests.serving_model import served_logged, served_version

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

COLOURS = ("#d62728", "#2ca02c", "#1f77b4")
DOCS_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "img" / "prediction-api.png"


@pytest.fixture(autouse=True)
def model_dir(settings, tmp_path) -> Iterator[Path]:
    settings.LABELER_MODEL_DIR = tmp_path / "models"
    yield settings.LABELER_MODEL_DIR
    resident.resident_stop()  # the child ran on this test's database


def planted_log(project, versions, lead) -> None:
    """Served predictions of two versions (the log's one writer): v1 sure of 'red' three
    times, v2 unsure (0.55) of 'green' twice; asked by the lead."""
    red, green, _ = project.labels.order_by("pk").values_list("pk", flat=True)
    for label, colour in zip(project.labels.order_by("pk"), COLOURS, strict=True):
        label.color = colour
        label.save(update_fields=["color"])
    for version, rows, answer in (
        (versions[0], 3, [0.9, 0.06, 0.04]),
        (versions[1], 2, [0.3, 0.55, 0.15]),
    ):
        services.served_predictions_record(
            version=version,
            inputs=[{"name": f"{n}.png", "sha256": sha256(f"{version.version}-{n}")}
                    for n in range(rows)],
            outputs=services.ModelOutputs(
                label_ids=[red, green, _], multi_label=False, thresholds=None,
                probabilities=np.array([answer] * rows, np.float32),
                embeddings=np.zeros((rows, 4), np.float32), durations_ms=[1.0] * rows,
            ),
            caller_id=lead.pk, token_id=None, wait=True,
        )  # fmt: skip


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def predict(url: str, key: str) -> int:
    boundary = "pagetestboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="cam.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + image_bytes(seed=3)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    asked = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(asked, timeout=60) as answer:
            json.loads(answer.read())
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def test_a_lead_issues_a_token_reads_what_it_served_and_revokes_it(
    live_server, page, lead, screenshot
):
    project = ProjectFactory(name="Conveyor belt", labels=["red", "green", "blue"])
    add_member(project, lead, Role.LEAD)
    versions = [served_version(project, number=1, current=False), served_version(project, number=2)]
    planted_log(project, versions, lead)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    login(page, live_server, lead.username)

    page.goto(f"{live_server.url}/projects/{project.pk}/models/")
    page.locator("#prediction-api-link").click()
    expect(page.locator("h1")).to_contain_text("Prediction API")
    expect(page.locator("#no-tokens")).to_be_visible()

    page.fill("#token-name", "Camera line 3")
    page.get_by_role("button", name="Issue token").click()
    expect(page.locator("#new-token")).to_be_visible()
    key = page.locator("#new-token-key").input_value()
    assert key.startswith("lbp_") and len(key) > 40
    page.get_by_role("button", name="Copy token").click()
    expect(page.locator("#new-token-status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == key
    row = page.locator("#tokens-table tr[data-token-id]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Camera line 3")
    expect(row).to_contain_text(key[:10])
    assert key not in page.locator("#tokens-table").inner_text()  # only its first characters

    predict_url = f"{live_server.url}/api/v1/projects/{project.pk}/predict/"
    assert predict(predict_url, key) == 200
    served_logged(6, project=project)
    page.reload()
    expect(page.locator("#new-token")).to_be_hidden()  # the key is never shown again
    table = page.locator("#served-table tbody tr")
    expect(table).to_have_count(6)
    newest = table.first
    expect(newest.locator(".caller")).to_contain_text("token")
    expect(newest.locator(".caller")).to_contain_text("Camera line 3")
    expect(newest.locator(".version")).to_have_text("v2")
    expect(table.nth(1).locator(".caller")).to_have_text(lead.username)
    expect(page.locator("#tokens-table tr[data-token-id]")).not_to_contain_text("never")
    shot = screenshot("prediction-api")
    if shot is not None and DOCS_IMAGE.parent.is_dir():
        shutil.copyfile(shot, DOCS_IMAGE)

    page.select_option("#filter-version", "1")
    page.get_by_role("button", name="Filter").click()
    expect(table).to_have_count(3)
    expect(page.locator("#served-table .top-label").first).to_have_text("red")
    page.get_by_role("button", name="Clear").click()
    expect(table).to_have_count(6)
    page.select_option("#filter-label", label="green")
    page.fill("#filter-below", "0.6")
    page.get_by_role("button", name="Filter").click()
    expect(table).to_have_count(2)
    expect(page.locator("#served-table .probability").first).to_contain_text("0.550")
    page.fill("#filter-below", "0.5")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#no-served")).to_have_text("No served prediction matches these filters.")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke Camera line 3").click()
    expect(page.locator("#tokens-table tr.revoked")).to_contain_text("Revoked")
    assert predict(predict_url, key) == 401


def test_a_token_needs_a_name_and_its_name_stays_text(live_server, page, lead):
    project = ProjectFactory(name="Conveyor belt", labels=["red"])
    add_member(project, lead, Role.LEAD)
    login(page, live_server, lead.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/prediction-api/")
    page.fill("#token-name", "   ")
    page.get_by_role("button", name="Issue token").click()
    expect(page.locator("#token-error")).to_have_text("Give the token a name.")
    expect(page.locator("#new-token")).to_be_hidden()
    expect(page.locator("#no-tokens")).to_be_visible()
    expect(page.locator("#no-served")).to_contain_text("No prediction served yet")

    hostile = '<img src=x onerror="document.title=1"> line \u202e4'
    page.fill("#token-name", hostile)
    page.get_by_role("button", name="Issue token").click()
    expect(page.locator("#token-error")).to_be_hidden()
    expect(page.locator("#new-token-name")).to_have_text(hostile)
    expect(page.locator("#tokens-table .token-name")).to_have_text(hostile)
    expect(page.locator("#tokens img")).to_have_count(0)


def test_a_token_whose_issuer_left_says_why_it_no_longer_works(live_server, page, lead):
    project = ProjectFactory(name="Conveyor belt", labels=["red"])
    add_member(project, lead, Role.LEAD)
    issuer = UserFactory(username="left-lead")
    add_member(project, issuer, Role.LEAD)
    predict_token_issue(project=project, name="Camera line 9", created_by=issuer)
    membership_remove(membership=Membership.objects.get(project=project, user=issuer))
    login(page, live_server, lead.username)
    page.goto(f"{live_server.url}/projects/{project.pk}/prediction-api/")
    row = page.locator("#tokens-table tr.live")
    expect(row.locator(".token-ended")).to_contain_text(
        "The person who issued this token no longer manages the project."
    )
    expect(row.get_by_role("button", name="Revoke Camera line 9")).to_be_visible()
    save_screenshot(page, "prediction-api-token-ended")
