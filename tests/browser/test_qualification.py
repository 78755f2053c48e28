"""Who may label, in Chromium: a new annotator held to gold images until the test is
decided, a paused annotator the lead sees and lets go on, and the sway table's figures."""

from __future__ import annotations

import pytest

from labeler.agreement.services import image_decide
from labeler.annotations.models import Annotation, AnnotatorStanding, Assignment, StandingStatus
from labeler.images.models import Image
from labeler.projects.models import Project
from tests.api.test_sway import build_sway_set
from tests.browser.conftest import login
from tests.browser.test_label import (
    WAIT,
    make_project,
    open_workspace,
    press_when_ready,
    shown_image,
    wait_moved_on,
    wait_saved,
)
from tests.factories import UserFactory, add_member

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
PlaywrightTimeout = sync_api.TimeoutError
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def with_gold(project: Project, n: int) -> set[int]:
    """The project's first n images made gold images labelled "cat"."""
    lead = project.memberships.get(role="lead").user
    ids = list(Image.objects.filter(project=project).order_by("pk").values_list("pk", flat=True))
    for image_id in ids[:n]:
        image_decide(project=project, image_id=image_id, labels=["cat"], decided_by=lead,
                     method="gold")  # fmt: skip
    return set(ids[:n])


def stage_message(page) -> str:
    return page.locator("#stage-message").inner_text()


def wait_ready_or_say_why(page, annotator) -> None:
    """Wait for an image on the stage; failing that, say what the page and the server hold."""
    try:
        page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    except PlaywrightTimeout:
        standing = AnnotatorStanding.objects.filter(annotator=annotator).first()
        leases = Assignment.objects.filter(annotator=annotator).values_list("image_id", flat=True)
        labelled = Annotation.objects.filter(annotator=annotator).values_list("image_id", flat=True)
        stage = page.locator("#stage").get_attribute("data-state")
        pytest.fail(
            f"no image on the stage: state {stage!r}, message {stage_message(page)!r}, save "
            f"status {page.locator('#save-status').inner_text()!r}, standing "
            f"{standing.status if standing else None!r}, leases {list(leases)}, labelled "
            f"{list(labelled)}"
        )


def test_a_new_annotator_labels_only_gold_until_the_test_is_decided(live_server, page):
    """A 2-image test with the pass mark at 100%: the newcomer sees only gold images, gets
    one wrong, and the page then says they did not pass and wait for a lead."""
    annotator = UserFactory(username="newcomer")
    project = make_project(8, annotators=[annotator])
    gold = with_gold(project, 3)
    Project.objects.filter(pk=project.pk).update(
        gold_rate=0.0, qualification_gold_count=2, qualification_pass_mark=1.0
    )
    login(page, live_server, "newcomer")
    open_workspace(page, live_server, project)
    shown = [press_when_ready(page, "1")]  # cat: right
    shown.append(press_when_ready(page, "2"))  # dog: wrong
    wait_moved_on(page, shown[-1])
    page.wait_for_function(
        "document.querySelector('#stage-message').textContent.includes('did not pass')"
        " || document.querySelector('#stage').dataset.state === 'ready'",
        timeout=WAIT,
    )
    # The third gold image, leased ahead before the test was decided, may be shown first:
    # the page says so once it is labelled.
    if page.locator("#stage").get_attribute("data-state") == "ready":
        shown.append(press_when_ready(page, "1"))
        page.wait_for_selector("#stage[data-state=done]", timeout=WAIT)
    page.wait_for_function(
        "document.querySelector('#stage-message').textContent.includes('did not pass')",
        timeout=WAIT,
    )
    assert set(shown) <= gold, "only gold images while qualifying"
    assert "did not pass this project's qualification test" in stage_message(page)
    assert "1 of 2 gold images right" in stage_message(page)
    standing = AnnotatorStanding.objects.get(annotator=annotator)
    assert standing.status == StandingStatus.FAILED


def test_passing_the_test_opens_the_real_queue(live_server, page):
    annotator = UserFactory(username="newcomer")
    project = make_project(6, annotators=[annotator])
    gold = with_gold(project, 2)
    Project.objects.filter(pk=project.pk).update(
        gold_rate=0.0, qualification_gold_count=2, qualification_pass_mark=1.0
    )
    login(page, live_server, "newcomer")
    open_workspace(page, live_server, project)
    first = [press_when_ready(page, "1"), press_when_ready(page, "1")]
    assert set(first) == gold
    wait_ready_or_say_why(page, annotator)
    after = int(page.locator("#stage").get_attribute("data-image-id"))
    assert after not in gold, "the real queue opened"
    assert AnnotatorStanding.objects.get(annotator=annotator).status == StandingStatus.QUALIFIED


def test_a_refusal_answered_after_the_last_test_label_was_saved_is_asked_again(live_server, page):
    """next/ asked while the test images are held answers lease_limit (the annotator
    holds every test image left); that answer is held back until both are labelled and
    their labels saved, so nothing is being saved when it comes. The page asks
    again and gets a real image (it took the 409 for a refusal and said nothing was left)."""
    annotator = UserFactory(username="newcomer")
    project = make_project(5, annotators=[annotator])
    gold = with_gold(project, 2)
    Project.objects.filter(pk=project.pk).update(
        gold_rate=0.0, qualification_gold_count=2, qualification_pass_mark=1.0
    )
    held = []

    def hold_refusals(route):
        response = route.fetch()
        if response.status == 409:
            held.append((route, response))
        else:
            route.fulfill(response=response)

    login(page, live_server, "newcomer")
    page.route("**/next/**", hold_refusals)
    open_workspace(page, live_server, project)
    first = press_when_ready(page, "1")
    wait_moved_on(page, first)
    # The look-ahead's request went out before the second image was put up; Playwright
    # calls the route handler (which asks the server) while the test waits in one of its
    # calls: wait here, so that it is asked while the second test image is still held.
    for _ in range(WAIT // 100):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "next/ was refused while the test images were held"
    last = press_when_ready(page, "1")
    assert {first, last} == gold
    wait_saved(page)
    for route, response in held:
        route.fulfill(response=response)
    page.unroute("**/next/**")
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    assert shown_image(page) not in gold, "the real queue opened"
    assert "refused" not in stage_message(page)


def test_a_paused_annotator_is_shown_to_the_lead_who_lets_them_go_on(live_server, page):
    """Gold on every image, a window of 2 and a mark of 50%: two wrong gold labels pause
    the annotator; the dashboard names them and a click lets them label again."""
    annotator = UserFactory(username="slip")
    project = make_project(6, annotators=[annotator])
    with_gold(project, 6)
    Project.objects.filter(pk=project.pk).update(
        gold_rate=1.0, gold_pause_window=2, gold_pause_below=0.5
    )
    login(page, live_server, "slip")
    open_workspace(page, live_server, project)
    press_when_ready(page, "2")
    press_when_ready(page, "2")
    page.wait_for_function(
        "document.querySelector('#stage-message').textContent.includes('paused')",
        timeout=WAIT * 2,
    )
    assert "Your labelling in this project is paused" in stage_message(page)

    lead_page = page.context.browser.new_page()
    login(lead_page, live_server, "lead")
    lead_page.goto(f"{live_server.url}/projects/{project.pk}/agreement/")
    waiting = lead_page.locator("#standings-waiting")
    expect(waiting).to_contain_text("slip")
    expect(waiting).to_contain_text("is paused")
    row = lead_page.locator("#standings tr[data-annotator=slip]")
    expect(row).to_have_attribute("data-status", "paused")
    row.get_by_role("button", name="Let slip label").click()
    expect(lead_page.locator(".messages, .message").first).to_contain_text("slip may label again")
    expect(lead_page.locator("#standings tr[data-annotator=slip]")).to_have_attribute(
        "data-status", "qualified"
    )
    lead_page.close()
    assert AnnotatorStanding.objects.get(annotator=annotator).status == StandingStatus.QUALIFIED


def test_the_sway_table_shows_the_constructed_figures(live_server, page, screenshot):
    """The constructed set of tests/api/test_sway.py, as the dashboard writes it."""
    project = make_project(6)
    lead = project.memberships.get(role="lead").user
    users = {name: UserFactory(username=name) for name in ("ann1", "ann2")}
    for user in users.values():
        add_member(project, user)
    build_sway_set(project, lead, users, list(Image.objects.filter(project=project).order_by("pk")))
    login(page, live_server, "lead")
    page.goto(f"{live_server.url}/projects/{project.pk}/agreement/")
    page.locator("#sway-card").scroll_into_view_if_needed()
    screenshot("dashboard-who-may-label")
    table = page.locator("#sway")
    team = table.locator("tr[data-annotator=Team]")
    expect(team.locator("[data-figure=shown]")).to_contain_text("60%")
    expect(team.locator("[data-figure=shown]")).to_contain_text("n=5")
    expect(team.locator("[data-figure=withheld]")).to_contain_text("67%")
    expect(team.locator("[data-figure=wrong-accepted]")).to_contain_text("67%")
    expect(team.locator("[data-figure=wrong-accepted]")).to_contain_text("n=3")
    first = table.locator("tr[data-annotator=ann1]")
    expect(first.locator("[data-figure=shown]")).to_contain_text("67%")
    expect(first.locator("[data-figure=withheld]")).to_contain_text("50%")
    expect(first.locator("[data-figure=difference]")).to_contain_text("+17 points")
    expect(first.locator("[data-figure=wrong-accepted]")).to_contain_text("50%")
    second = table.locator("tr[data-annotator=ann2]")
    expect(second.locator("[data-figure=withheld]")).to_contain_text("100%")
    expect(second.locator("[data-figure=withheld]")).to_contain_text("n=1")
    expect(second.locator("[data-figure=wrong-accepted]")).to_contain_text("n=1")
