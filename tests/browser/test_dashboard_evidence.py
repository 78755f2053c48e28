"""The agreement dashboard in Chromium: flags only on enough evidence, n beside figures
over few images, faded over-time points, and a table that fits a 1024-pixel window."""

from __future__ import annotations

from typing import Any

import pytest

from labeler.agreement.needs_help import MIN_SHARED_IMAGES
from labeler.agreement.services import image_decide
from labeler.annotations.models import FinalLabelMethod
from labeler.projects.models import Role
from tests.browser.conftest import save_screenshot
from tests.browser.test_dashboard import (
    agreement,
    open_dashboard,
    rated_project,
    spread_over_days,
    submit,
)
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

NEWCOMER = "nadia"


def one_shared_image_project(make_images):
    """Two annotators agree closely on 30 images; a newcomer shares one image with them,
    disagreeing with one and agreeing with the other, the consensus and the gold label."""
    project = ProjectFactory(name="Pets", overlap=3)
    lead = UserFactory(username="lena")
    add_member(project, lead, Role.LEAD)
    for username in ("alice", "bruno", NEWCOMER):
        add_member(project, UserFactory(username=username))
    images = make_images(project, 31)
    names = ["cat", "dog", "bird"]
    for i, image in enumerate(images[:30]):
        truth = names[i % 3]
        submit(project, "alice", image, truth, 2000)
        submit(project, "bruno", image, truth if i % 10 else names[(i + 1) % 3], 2000)
    shared = images[30]
    submit(project, "alice", shared, "cat", 2000)
    submit(project, "bruno", shared, "dog", 2000)
    submit(project, NEWCOMER, shared, "cat", 2000)
    image_decide(
        project=project,
        image_id=shared.pk,
        labels=["cat"],
        decided_by=lead,
        method=FinalLabelMethod.GOLD,
    )
    return project


def test_one_shared_image_is_not_enough_to_flag(live_server, page, make_images):
    """The reported case: κ 0.00 with the others on n = 1 while 100% with the consensus and
    on gold. The newcomer is not flagged; the page says there are too few images and
    shows n = 1 beside each figure."""
    project = one_shared_image_project(make_images)
    body = agreement(project)
    newcomer_id = next(a["id"] for a in body["annotators"] if a["username"] == NEWCOMER)
    row = next(r for r in body["per_annotator"] if r["annotator"] == newcomer_id)
    assert (row["kappa_with_others"]["value"], row["kappa_with_others"]["n_items"]) == (0.0, 1)
    assert row["consensus_accuracy"]["value"] == 1.0
    assert row["gold_accuracy"]["value"] == 1.0
    assert row["needs_help"] == [] and row["too_few_images"] is True
    assert body["needs_help_rules"]["min_shared_images"] == MIN_SHARED_IMAGES

    open_dashboard(page, live_server, project, "lena")
    assert page.locator(".needs-help-badge").count() == 0
    line = page.locator(f'#annotators-table tr[data-username="{NEWCOMER}"]')
    assert "Too few images to judge (n = 1)" in line.locator(".status-cell").inner_text()
    assert line.locator("td .figure .n-items").all_inner_texts() == ["n = 1", "n = 1", "n = 1"]
    sure = page.locator('#annotators-table tr[data-username="alice"]')
    assert sure.locator(".ok-mark").inner_text() == "OK"
    # Bruno differs from alice on 3 of their 30 images: ties, counted as not agreeing.
    assert sure.locator(".consensus-n").inner_text().strip() == "of 31, 3 tied"
    footnote = page.locator("#annotators .footnote").inner_text()
    assert f"at least {MIN_SHARED_IMAGES} images shared" in footnote


def a_sloppy_annotator_on_many_images_is_still_flagged(page) -> None:
    flagged = page.locator("#annotators-table tr.needs-help")
    assert flagged.count() == 1
    assert flagged.get_attribute("data-username") == "sloppy-sam"
    assert "on 40 images" in flagged.locator(".help-reason").inner_text()
    for latecomer in ("early-eve", "late-lou"):
        cell = page.locator(f'#annotators-table tr[data-username="{latecomer}"] .status-cell')
        assert "Too few images to judge" in cell.inner_text()


def test_over_time_points_show_their_n_and_few_are_faded(live_server, page, make_images):
    project = rated_project(make_images)
    spread_over_days(project, 4)  # 40 images over 4 days: 10 a day, under the minimum
    points = agreement(project)["over_time"]["points"]
    open_dashboard(page, live_server, project, "lena")
    counts = page.locator("#chart-project text.point-n")
    assert counts.count() == len(points)
    assert [int(n) for n in counts.evaluate_all("ts => ts.map(t => t.dataset.n)")] == [
        p["n_images"] for p in points
    ]
    circles = page.locator("#chart-project circle.point")
    few = circles.evaluate_all(
        "cs => cs.map(c => [Number(c.dataset.n), c.classList.contains('few')])"
    )
    assert few and all(is_few == (n < MIN_SHARED_IMAGES) for n, is_few in few)
    assert any(is_few for _, is_few in few)


def overflow_report(page) -> dict[str, Any]:
    """What overflows at this window size: the page, each table past its box, each
    column past its card, and each header word broken over two lines."""
    return page.evaluate(
        """() => {
          const out = {page: document.documentElement.scrollWidth - window.innerWidth,
                       tables: [], clipped: [], broken: []};
          for (const wrap of document.querySelectorAll('#report .table-wrap')) {
            if (wrap.closest('details:not([open])')) continue;
            if (wrap.scrollWidth > wrap.clientWidth + 1) out.tables.push(wrap.firstChild.id);
            const box = wrap.getBoundingClientRect();
            for (const th of wrap.querySelectorAll('thead th')) {
              const r = th.getBoundingClientRect();
              if (r.right > box.right + 1) out.clipped.push(th.textContent.trim());
            }
          }
          for (const th of document.querySelectorAll('#report thead th')) {
            if (th.closest('details:not([open])')) continue;
            const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
              const re = /\\S+/g;
              let m;
              while ((m = re.exec(node.data))) {
                const range = document.createRange();
                range.setStart(node, m.index);
                range.setEnd(node, m.index + m[0].length);
                const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
                if (lines.size > 1) out.broken.push(m[0]);
              }
            }
          }
          return out;
        }"""
    )


def the_dashboard_fits_the_window(page, width: int) -> None:
    """At 1024 pixels (and wider) no table runs past its card: the Status column is whole,
    and no header word is broken over two lines. The page is loaded again at that width."""
    page.set_viewport_size({"width": width, "height": 900})
    page.reload()
    page.wait_for_selector("#report[data-state=ready]", timeout=15_000)
    page.wait_for_selector("#disagreements[data-state=ready]", timeout=15_000)
    status = page.locator("#annotators-table thead th").last
    assert status.inner_text().strip() == "Status"
    if width == 1024:
        save_screenshot(page, "dashboard-1024")
    report = overflow_report(page)
    assert report == {"page": 0, "tables": [], "clipped": [], "broken": []}
    card = page.locator("#annotators-card").bounding_box()
    cell = page.locator("#annotators-table tbody .status-cell").first.bounding_box()
    assert cell["x"] + cell["width"] <= card["x"] + card["width"]


def test_the_rated_projects_dashboard_flags_and_fits_the_window(live_server, page, make_images):
    """One seeded project, one login as its lead: the sloppy annotator flagged and the
    latecomers too new to judge, then the page at 1024 and 1280 pixels."""
    project = rated_project(make_images)
    open_dashboard(page, live_server, project, "lena")
    a_sloppy_annotator_on_many_images_is_still_flagged(page)
    for width in (1024, 1280):
        the_dashboard_fits_the_window(page, width)
