"""The models page's download card in Chromium: a lead packages a version and downloads
its ONNX file, which onnxruntime runs; a reviewer sees no card."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from labeler.predictions.models import ModelPackage, PackageStatus
from tests.browser.conftest import login, save_screenshot, take_screenshot
from tests.worker.ml.packaged_version import SIZE, packaged_project, packaged_version, people

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api").expect
onnxruntime = pytest.importorskip("onnxruntime")
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 60_000  # ms: the packaging runs inside the POST here (tasks in-process)
DOCS_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "img" / "model-download.png"


def open_models(page: Page, live_server, project_id: int, username: str) -> None:
    login(page, live_server, username)
    page.goto(f"{live_server.url}/projects/{project_id}/models/")
    page.wait_for_selector("#models[data-state=ready]", timeout=WAIT)


def test_a_lead_packages_a_version_and_downloads_its_onnx_file(live_server, page, tmp_path):
    users = people()
    project, stored = packaged_project(users)
    first = packaged_version(project, stored)
    second = packaged_version(project, stored, architecture="mobilenet_v3_small")
    # Another lead's packaging of the newer version is under way: its row shows progress.
    ModelPackage.objects.create(model_version=second, status=PackageStatus.RUNNING)
    open_models(page, live_server, project.pk, "lena.lindqvist")
    card = page.locator("#model-download")
    expect(card).to_have_attribute("data-state", "ready", timeout=WAIT)
    row = card.locator(f"tr[data-version='{first.pk}']")
    expect(card.locator(f"tr[data-version='{second.pk}']")).to_contain_text("MobileNetV3 small")
    running = card.locator(f"tr[data-version='{second.pk}']")
    expect(row).to_have_attribute("data-status", "none")
    expect(running.locator(".status-pill")).to_have_text("running")
    expect(running.locator("[role=progressbar]")).to_be_visible()

    row.get_by_role("button", name="Package").click()
    expect(row).to_have_attribute("data-status", "ready", timeout=WAIT)
    for name in ("ONNX", "TorchScript", "Model card", "Card (JSON)"):
        expect(row.get_by_role("link", name=name)).to_be_visible()
    card.scroll_into_view_if_needed()
    shot = save_screenshot(page, "model-download", full_page=False)
    take_screenshot(page.locator("#model-download"), DOCS_IMAGE, animations="disabled")
    assert shot is None or shot.is_file()

    with page.expect_download() as started:
        row.get_by_role("link", name="ONNX").click()
    saved = tmp_path / "model.onnx"
    started.value.save_as(saved)
    session = onnxruntime.InferenceSession(str(saved), providers=["CPUExecutionProvider"])
    pixels = np.zeros((2, 3, SIZE, SIZE), dtype=np.uint8)
    probabilities = session.run(["probabilities"], {"pixels": pixels})[0]
    assert probabilities.shape == (2, 2)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-5)
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_a_reviewer_sees_no_download_card(live_server, page):
    users = people()
    project, stored = packaged_project(users, images=8)
    packaged_version(project, stored)
    open_models(page, live_server, project.pk, "rita.reviewsson")
    expect(page.locator("#versions-table")).to_be_visible()
    expect(page.locator("#model-download")).to_have_count(0)
