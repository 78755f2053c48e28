"""The webhooks page in Chromium: a lead adds a webhook, sends a test, and reads each
delivery's answer (a real receiver on 127.0.0.1 answers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labeler.projects.models import Role
from labeler.webhooks import services
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.labeler.webhooks.receiver import Receiver, Reply, loopback_allow

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1, which deliveries may reach in this test."""
    loopback_allow(settings)
    with Receiver() as running:
        yield running


def test_a_lead_adds_a_webhook_tests_it_and_reads_the_answers(
    live_server,
    page,
    screenshot,
    receiver,
):
    project = ProjectFactory(name="Street signs")
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    page.goto(f"{live_server.url}/login/?next=/projects/{project.pk}/settings/")
    page.fill("input[name=username]", "lena")
    page.fill("input[name=password]", "correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Webhooks", exact=True).first.click()  # the settings' folded section
    page.get_by_role("link", name="Webhooks").click()
    expect(page).to_have_title("Webhooks · Street signs · labeler")

    page.get_by_label("Payload URL").fill("http://10.0.0.8/hook")
    page.get_by_label("export.ready").check()
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator("#webhook-url-error")).to_contain_text("a private address")

    page.get_by_label("Payload URL").fill(receiver.url)
    page.get_by_label("model.promoted").check()
    page.get_by_label("Description").fill("Deploys the promoted model to the line scanners")
    page.get_by_role("button", name="Add webhook").click()
    card = page.locator("article.webhook")
    expect(card).to_contain_text(receiver.url)

    hook = project.webhooks.get()
    receiver.secret = hook.secret
    receiver.script(Reply(503, b"upstream busy"), Reply(200, b'{"received":true}'))
    page.get_by_role("button", name="Send a test").click()
    expect(card.locator("tbody tr")).to_have_count(1)
    expect(card.locator("tbody tr").first).to_contain_text("delivered")
    expect(card.locator("tbody tr").first).to_contain_text('HTTP 200 · {"received":true}')
    assert [r.signed for r in receiver.received] == [True, True]

    receiver.script(Reply(410, b"this receiver was retired"))
    services.webhook_event_emit(
        project_id=project.pk, event="model.promoted", payload={"model_version_id": 3, "version": 3}
    )
    page.reload()
    first = card.locator("tbody tr").first
    expect(first).to_contain_text("model.promoted")
    expect(first).to_contain_text("failed")
    expect(first).to_contain_text("HTTP 410 · this receiver was retired")
    screenshot("webhooks")  # docs/img/webhooks.png is a copy of it
