"""The agreement dashboard in Chromium: the API's figures, who needs help, links to review."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from django.utils import timezone

from labeler.annotations.models import Annotation
from labeler.demo.services import DEMO_PASSWORD, LEAD, demo_load
from labeler.images.models import Image
from labeler.projects.models import Label, Project, Role
from tests.browser.conftest import login, network_settled, save_screenshot
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

GOOD = {"alice": 0.95, "bruno": 0.9, "chen": 0.9}
SLOPPY = "sloppy-sam"
N_IMAGES = 40
# Two latecomers label five images each, never the same ones: their pair shares none.
EARLY, LATE = "early-eve", "late-lou"
MINUS, EN_DASH = "\u2212", "\u2013"


def kappa_text(value: float) -> str:
    """A figure as the page writes it: two decimals, a true minus sign."""
    return f"{value:.2f}".replace("-", MINUS)


def percent_text(value: float) -> str:
    return f"{int(value * 100 + 0.5)}%"


def submit(project: Project, username: str, image: Image, label: str, ms: int) -> None:
    user = UserFactory(username=username)
    annotation_submit(
        project=project, annotator=user, image_id=image.pk, labels=[label], time_spent_ms=ms
    )


def rated_project(make_images: Callable[..., list[Image]]) -> Project:
    """Pets: three careful annotators and a sloppy one label 40 images; two latecomers a few."""
    project = ProjectFactory(name="Pets", overlap=5)
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    for username in (*GOOD, SLOPPY, EARLY, LATE):
        add_member(project, UserFactory(username=username))
    images = make_images(project, N_IMAGES)
    names = ["cat", "dog", "bird"]
    rng = np.random.default_rng(11)
    truth = rng.integers(0, 3, N_IMAGES)
    for username, accuracy in (*GOOD.items(), (SLOPPY, 0.35)):
        for image, true in zip(images, truth, strict=True):
            choice = true if rng.random() < accuracy else rng.integers(0, 3)
            submit(project, username, image, names[choice], int(rng.integers(1500, 4000)))
    for username, chosen in ((EARLY, images[:5]), (LATE, images[-5:])):
        for image in chosen:
            true = truth[images.index(image)]
            submit(project, username, image, names[true], 2500)
    return project


def open_dashboard(page: Page, live_server: Any, project: Project, username: str) -> None:
    """Log in and wait until the figures and the review queue are drawn."""
    password = DEMO_PASSWORD if username == LEAD else "correct-horse-battery"
    login(page, live_server, username, password)
    page.goto(f"{live_server.url}/projects/{project.pk}/agreement/")
    page.wait_for_selector("#report[data-state=ready]", timeout=15_000)
    page.wait_for_selector("#disagreements[data-state=ready]", timeout=15_000)


def agreement(project: Project) -> dict[str, Any]:
    """The agreement report as the project's lead gets it from the API."""
    lead = project.memberships.get(role=Role.LEAD).user
    return client_for(lead).get(f"/api/v1/projects/{project.pk}/agreement/").json()


def agreement_by(project: Project, bucket: str) -> dict[str, Any]:
    """The report with its over_time points per `bucket` (day or week)."""
    lead = project.memberships.get(role=Role.LEAD).user
    url = f"/api/v1/projects/{project.pk}/agreement/?bucket={bucket}"
    return client_for(lead).get(url).json()


def headline_figures_match_the_api(page: Page, body: dict[str, Any]) -> None:
    """Each big figure is the API's value to two decimals, with its band and interval."""
    figures = {
        "cohen_kappa": body["cohen_kappa"]["mean"],
        "fleiss_kappa": body["fleiss_kappa"],
        "krippendorff_alpha": body["krippendorff_alpha"],
    }
    for key, figure in figures.items():
        card = page.locator(f".figure-card[data-figure={key}]")
        value = card.locator(".figure-value")
        expect(value).to_have_text(kappa_text(figure["value"]))
        assert float(value.get_attribute("data-value") or "nan") == figure["value"]
        expect(card.locator(".band")).to_have_text(figure["band"])
    fleiss = body["fleiss_kappa"]
    expect(page.locator(".figure-card[data-figure=fleiss_kappa] .figure-ci")).to_have_text(
        f"95% CI {kappa_text(fleiss['ci_low'])} {EN_DASH} {kappa_text(fleiss['ci_high'])}"
    )
    percent = page.locator(".figure-card[data-figure=percent_agreement]")
    expect(percent.locator(".figure-value")).to_have_text(
        percent_text(body["percent_agreement"]["value"])
    )
    expect(percent.locator(".band")).to_have_count(0)
    expect(page.locator("[data-stat=annotations]")).to_have_text(str(body["n_annotations"]))
    expect(page.locator("[data-stat=images]")).to_have_text(str(N_IMAGES))
    save_screenshot(page, "dashboard-pets")


def heat_map_has_a_cell_per_pair(page: Page, body: dict[str, Any]) -> None:
    """n x n cells: the pair's kappa, shared images and 95% interval, hatched when the interval
    is wide; blank where a pair shares none."""
    people = body["annotators"]
    n = len(people)
    assert n == 6
    table = page.locator("#heatmap-table")
    expect(table.locator("tbody td")).to_have_count(n * n)
    expect(table.locator("thead th")).to_have_text([p["username"] for p in people])
    expect(table.locator("td.self")).to_have_count(n)
    wide_pairs = 0
    for pair in body["cohen_kappa"]["pairs"]:
        a, b = pair["annotators"]
        for x, y in ((a, b), (b, a)):
            cell = table.locator(f"td[data-a='{x}'][data-b='{y}']")
            if pair["n_items"] == 0:
                expect(cell).to_have_class("cell empty")
                expect(cell).to_have_text("")
                continue
            few = f"n = {pair['n_items']}" if pair["n_items"] < 20 else ""  # n beside few
            expect(cell).to_have_text(kappa_text(pair["value"]) + few)
            assert float(cell.get_attribute("data-value") or "nan") == pair["value"]
            title = cell.get_attribute("title") or ""
            assert f"{pair['n_items']} shared images" in title
            low, high = pair["ci_low"], pair["ci_high"]
            assert f"95% CI {kappa_text(low)} {EN_DASH} {kappa_text(high)}" in title
            wide = cell.get_attribute("data-wide") == "true"
            assert wide == (high - low > 0.4 or pair["n_items"] < 30), (pair, title)
            wide_pairs += wide
    ids = {p["username"]: p["id"] for p in people}
    empty = table.locator(f"td[data-a='{ids[EARLY]}'][data-b='{ids[LATE]}']")
    assert "no shared images" in (empty.get_attribute("title") or "")
    expect(page.locator(".band-legend li")).to_have_count(6)
    # The latecomers share five images with the others: their intervals are wide.
    assert wide_pairs > 0
    expect(page.locator(".wide-note")).to_have_text("± wide interval: few shared images")


def sloppy_annotator_is_flagged_and_sorts_first(page: Page) -> None:
    """The one well below the others reads "Needs help" and why; sorting by kappa finds them."""
    table = page.locator("#annotators-table")
    sloppy = table.locator(f"tr[data-username='{SLOPPY}']")
    expect(sloppy).to_have_class("needs-help")
    expect(sloppy.locator(".needs-help-badge")).to_have_text("Needs help")
    expect(sloppy.locator(".help-reason")).to_contain_text("κ with others")
    expect(table.locator("tr.needs-help")).to_have_count(1)
    for username in GOOD:
        expect(table.locator(f"tr[data-username='{username}'] .ok-mark")).to_have_text("OK")

    header = table.get_by_role("button", name="κ with others")
    header.click()  # highest first
    expect(table.locator("tbody tr").last).to_have_attribute("data-username", SLOPPY)
    header.click()  # lowest first
    expect(table.locator("tbody tr").first).to_have_attribute("data-username", SLOPPY)
    expect(table.locator("th[aria-sort=ascending]")).to_have_count(1)
    save_screenshot(page, "dashboard-annotators", full_page=False)


def spread_over_days(project: Project, days: int) -> None:
    """Date the labels of the project's images over the last `days` days, oldest images first."""
    images = list(project.images.order_by("pk"))
    now = timezone.now()
    for index, image in enumerate(images):
        at = now - timedelta(days=days - 1 - index * days // len(images))
        Annotation.objects.filter(image=image).update(created_at=at, updated_at=at)


def test_agreement_over_time_matches_the_api(live_server, page, make_images):
    """A point per day: the charts and table carry the API's figures; weeks on request."""
    project = rated_project(make_images)
    spread_over_days(project, 3)
    body = agreement(project)
    points = body["over_time"]["points"]
    assert body["over_time"]["bucket"] == "day" and len(points) == 3
    open_dashboard(page, live_server, project, "lena")
    expect(page.locator("#bucket-switch button[aria-pressed=true]")).to_have_text("Per day")

    chart = page.locator("#chart-project")
    expect(chart.locator(".series-group")).to_have_count(4)
    means = [p["cohen_kappa_mean"]["value"] for p in points]
    drawn = chart.locator(".series-group[data-series='0'] circle")
    expect(drawn).to_have_count(sum(value is not None for value in means))
    values = [float(v) for v in drawn.evaluate_all("cs => cs.map(c => c.dataset.value)")]
    assert values == [value for value in means if value is not None]

    people = page.locator("#chart-annotators .series-group")
    expect(people).to_have_count(len(body["annotators"]))
    sloppy = [p["username"] for p in body["annotators"]].index(SLOPPY)
    expect(people.nth(sloppy).locator("path")).to_have_attribute("stroke-width", "3")

    page.get_by_text("Show the figures as a table").click()
    rows = page.locator(".time-table tbody tr")
    expect(rows).to_have_count(3)
    for row, point in zip(rows.all(), points, strict=True):
        expect(row.locator("th")).to_have_text(point["start"])
        expect(row.locator("td").first).to_have_text(str(point["n_images"]))

    weeks = agreement_by(project, "week")["over_time"]["points"]
    page.get_by_role("button", name="Per week").click()
    expect(page.locator("#bucket-switch button[aria-pressed=true]")).to_have_text("Per week")
    page.get_by_text("Show the figures as a table").click()
    expect(page.locator(".time-table tbody tr")).to_have_count(len(weeks))


def disagreements_link_to_the_review_page(page: Page, live_server: Any, project: Project) -> None:
    """The first items of the review queue show the annotators' labels and open the review."""
    lead = project.memberships.get(role=Role.LEAD).user
    queue = client_for(lead).get(f"/api/v1/projects/{project.pk}/review/?page_size=8").json()
    assert queue["count"] > 0
    expect(page.locator("#review-count")).to_have_text(str(queue["count"]))
    cards = page.locator("#disagreements a.disagreement")
    expect(cards).to_have_count(min(8, queue["count"]))
    first = queue["results"][0]
    image_id = first["image"]["id"]
    card = cards.first
    expect(card).to_have_attribute("data-image", str(image_id))
    expect(card.locator(".image-name")).to_have_text(first["image"]["original_name"])
    expect(card.locator(".reason")).to_have_text(first["reason"].replace("_", " "))
    for vote in first["annotations"]:
        expect(card.locator(".voter", has_text=vote["username"])).to_have_count(1)
    expect(card.locator("img")).to_have_js_property("complete", True)
    assert card.locator("img").evaluate("img => img.naturalWidth") > 0
    card.click()
    page.wait_for_url(f"{live_server.url}/projects/{project.pk}/review/?image={image_id}")


def test_the_rated_projects_dashboard_walk(live_server, page, make_images):
    """One seeded project, one visit as its lead: the headline figures, the heat map, the
    annotators' table and its sorting, then the disagreements, the last opening the review."""
    project = rated_project(make_images)
    body = agreement(project)
    open_dashboard(page, live_server, project, "lena")
    headline_figures_match_the_api(page, body)
    heat_map_has_a_cell_per_pair(page, body)
    sloppy_annotator_is_flagged_and_sorts_first(page)
    disagreements_link_to_the_review_page(page, live_server, project)


def test_loading_state_then_figures(live_server, page, make_images):
    """While the report is on its way the page shows placeholders, then the figures."""
    project = rated_project(make_images)
    held: list[Any] = []
    page.route(f"**/api/v1/projects/{project.pk}/agreement/", lambda route: held.append(route))
    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/projects/{project.pk}/agreement/")
    expect(page.locator("#headline")).to_have_attribute("aria-busy", "true")
    expect(page.locator("#headline .skeleton")).to_have_count(4)
    expect(page.locator("#heatmap")).to_have_text("Computing agreement…")
    expect(page.locator("[data-stat=images]")).to_have_text(str(N_IMAGES))  # no wait for it
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1
    held[0].continue_()
    page.wait_for_selector("#report[data-state=ready]")
    expect(page.locator("#headline")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#headline .figure-card")).to_have_count(4)
    expect(page.locator("#report-notice")).to_be_hidden()


def test_a_failed_report_says_so(live_server, page, make_images):
    """An error from the API is shown with its message, not left spinning."""
    project = rated_project(make_images)
    page.route(
        f"**/api/v1/projects/{project.pk}/agreement/",
        lambda route: route.fulfill(
            status=503, content_type="application/json", body='{"detail": "Try again soon."}'
        ),
    )
    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/projects/{project.pk}/agreement/")
    expect(page.locator("#load-error")).to_contain_text("Try again soon.")
    expect(page.locator("#report")).to_have_attribute("data-state", "error")
    # The page's other requests (its review preview refreshes consensus first) end before
    # the test's database is emptied.
    network_settled(page)


def test_project_without_labels_shows_the_empty_state(live_server, page, make_images):
    """No annotations: a sentence saying when agreement will appear, no figures, no errors."""
    project = ProjectFactory(name="Fresh", overlap=2)
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    make_images(project, 4)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/projects/{project.pk}/agreement/")
    expect(page.locator("#empty-state")).to_contain_text(
        "No labels yet — agreement appears once two annotators label the same image"
    )
    expect(page.locator(".figure-card")).to_have_count(0)
    expect(page.locator("[data-stat=to_review]")).to_have_text("0")
    save_screenshot(page, "dashboard-empty")
    assert errors == []


def test_undefined_figures_show_a_dash_and_why(live_server, page, make_images):
    """One annotator so far: every kappa is undefined, shown as a dash with the reason."""
    project = ProjectFactory(name="Solo", overlap=2)
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    add_member(project, UserFactory(username="solo"))
    for image in make_images(project, 3):
        submit(project, "solo", image, "cat", 2000)
    body = agreement(project)
    open_dashboard(page, live_server, project, "lena")
    for key in ("cohen_kappa", "fleiss_kappa", "krippendorff_alpha", "percent_agreement"):
        figure = body["cohen_kappa"]["mean"] if key == "cohen_kappa" else body[key]
        assert figure["value"] is None
        card = page.locator(f".figure-card[data-figure={key}]")
        expect(card.locator(".figure-value")).to_have_text("—")
        expect(card.locator(".figure-value")).to_have_attribute("title", figure["reason"])
        expect(card.locator(".figure-reason")).to_have_text(figure["reason"])
    expect(page.locator("#heatmap")).to_contain_text("once a second annotator labels")
    expect(page.locator("#report-notice")).to_contain_text("No image has been labelled by two")
    expect(page.locator("#confusion")).to_contain_text("No two annotators have labelled")
    save_screenshot(page, "dashboard-undefined")


def test_names_with_markup_are_shown_as_text(live_server, page, make_images):
    """Usernames and label names go into the page as text, never as HTML."""
    project = ProjectFactory(name="Escapes", overlap=2)
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    Label.objects.filter(project=project, name="cat").update(name="<img src=x id=label-xss>")
    images = make_images(project, 6)
    for username in ("<b id=user-xss>ann</b>", "plain"):
        add_member(project, UserFactory(username=username))
        for image in images:
            label = "<img src=x id=label-xss>" if image.pk % 2 else "dog"
            submit(project, username, image, label, 2000)
    open_dashboard(page, live_server, project, "lena")
    assert page.locator("#label-xss").count() == 0
    assert page.locator("#user-xss").count() == 0
    expect(page.locator("#heatmap-table thead th").first).to_have_text("<b id=user-xss>ann</b>")
    expect(page.locator("#labels-table tbody th").first).to_have_text("<img src=x id=label-xss>")


def test_multi_label_projects_show_their_own_figures(live_server, page, make_images):
    """Multi-label: mean Jaccard and each label's Fleiss' kappa, alpha and agreement."""
    project = ProjectFactory(name="Tags", overlap=2, multi_label=True)
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    for username in ("one", "two"):
        add_member(project, UserFactory(username=username))
    images = make_images(project, 8)
    sets = [["cat", "dog"], ["cat"], ["bird"], ["dog", "bird"]]
    for i, image in enumerate(images):
        for username, shift in (("one", 0), ("two", i % 2)):
            annotation_submit(
                project=project,
                annotator=UserFactory(username=username),
                image_id=image.pk,
                labels=sets[(i + shift) % 4],
            )
    body = agreement(project)
    open_dashboard(page, live_server, project, "lena")
    expect(page.locator(".figure-card[data-figure=jaccard] .figure-value")).to_have_text(
        kappa_text(body["jaccard"]["value"])
    )
    rows = page.locator("#labels-table tbody tr")
    expect(rows).to_have_count(3)
    for row in body["per_label"]:
        cells = page.locator(f"#labels-table tr[data-label='{row['label']}'] td")
        for index, name in enumerate(("fleiss_kappa", "krippendorff_alpha")):
            figure = row[name]
            text = kappa_text(figure["value"]) if figure["value"] is not None else "—"
            expect(cells.nth(index)).to_contain_text(text)
    expect(page.locator("#pairs-card")).to_be_hidden()
    expect(page.locator("#annotators-card")).to_be_hidden()
    save_screenshot(page, "dashboard-multi-label")


def test_demo_project_dashboard(live_server, page):
    """The demo's dashboard at 1280 px: every section drawn, nothing wider than the window."""
    summary = demo_load(n_images=600, simulate_fraction=0.3, seed=0)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_dashboard(page, live_server, summary.project, LEAD)
    expect(page.locator("#annotators-table tr.needs-help").first).to_contain_text("sim-sloppy")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    thumbnails = page.locator("#disagreements img")
    expect(thumbnails).to_have_count(8)
    page.wait_for_function(
        "[...document.querySelectorAll('#disagreements img')].every(i => i.naturalWidth > 0)"
    )
    save_screenshot(page, "dashboard")
    page.set_viewport_size({"width": 768, "height": 1024})
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    save_screenshot(page, "dashboard-tablet")
    assert errors == []
