"""The Models page's drift card in Chromium: the alarm banner with its reason, the p-values
over time with the alarm line, and a lead's "Check now"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeler.monitoring import services
from labeler.monitoring.models import DriftCheck
from labeler.projects.models import Role
from labeler.serving.models import ServedPrediction
from tests.browser.conftest import ARTIFACTS, login, take_screenshot
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.labeler.monitoring.drifted import serve, with_reference

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 20_000  # ms


def checked_project():
    """A project whose current version was checked daily for a week: five quiet days, then
    a new class mix and shifted embeddings (two alarms)."""
    project = ProjectFactory(
        name="Colours", labels=["red", "green", "blue"], drift_minimum_count=40
    )
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    add_member(project, UserFactory(username="rita"), Role.REVIEWER)
    version = with_reference(project)
    days = [{}, {}, {}, {}, {}, {"mix": (0.7, 0.2, 0.1)}, {"mix": (0.8, 0.1, 0.1), "shift": 0.6}]
    for day, shift in enumerate(days):
        ServedPrediction.objects.filter(project=project).delete()
        serve(project, version, 120, seed=10 + day, **shift)
        check = services.drift_check_run(project_id=project.pk)
        then = timezone.now() - timedelta(days=len(days) - 1 - day)
        DriftCheck.objects.filter(pk=check.pk).update(created_at=then)
    return project, version


def test_the_models_page_shows_the_alarm_and_the_checks_over_time(live_server, page):
    project, version = checked_project()
    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/projects/{project.pk}/models/")

    banner = page.locator("#drift-alarm")
    expect(banner).to_be_visible(timeout=WAIT)
    expect(banner).to_contain_text("Drift alarm.")
    expect(banner).to_contain_text("the mix of predicted labels changed")
    chart = page.locator("#drift-p-values")
    expect(chart).to_be_visible(timeout=WAIT)
    for series in ("embeddings", "confidence", "labels"):
        expect(chart.locator(f"[data-series={series}] circle")).to_have_count(7)
    expect(chart.locator(".drift-alarm-mark")).to_have_count(2)
    expect(chart.locator(".drift-threshold")).to_have_count(1)
    expect(page.locator("#drift-card .chart-legend")).to_contain_text("Alarm below p = 0.0033")
    page.set_viewport_size({"width": 1100, "height": 800})
    take_screenshot(page.locator("#drift-card"), ARTIFACTS / "drift.png")
    page.evaluate("window.scrollTo(0, 0)")
    take_screenshot(page, ARTIFACTS / "drift-alarm.png")

    # A check now: the served predictions look like the test set again.
    ServedPrediction.objects.filter(project=project).delete()
    serve(project, version, 120, seed=99)
    page.get_by_role("button", name="Check now").click()
    expect(chart.locator("[data-series=labels] circle")).to_have_count(8, timeout=WAIT)
    expect(page.locator("#drift-alarm")).to_have_count(0)
    expect(page.locator("#drift-latest")).to_contain_text("No drift found")


def test_a_reviewer_reads_the_checks_but_cannot_run_one(live_server, page):
    project, _ = checked_project()
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/projects/{project.pk}/models/")
    expect(page.locator("#drift-alarm")).to_be_visible(timeout=WAIT)
    expect(page.locator("#drift-p-values")).to_be_visible()
    expect(page.get_by_role("button", name="Check now")).to_have_count(0)


def test_without_checks_the_card_says_when_one_runs(live_server, page):
    project = ProjectFactory(name="New")
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/projects/{project.pk}/models/")
    expect(page.locator("#drift-latest")).to_contain_text("No drift check yet", timeout=WAIT)
    expect(page.locator("#drift-chart")).to_contain_text("No checks to draw yet.")
    expect(page.locator("#drift-alarm")).to_have_count(0)
