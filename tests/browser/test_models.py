"""The models page in Chromium: a lead trains, follows the run live, reads and promotes versions.

Tasks run in-process here (no broker), so a training runs inside the POST /train/ request:
the page follows it through the runs list meanwhile. Images are tiny and the epochs few.
"""

from __future__ import annotations

import io
import itertools
import re
from typing import TYPE_CHECKING

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image as PILImage

from labeler import flows
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.predictions.models import ModelVersion, RunStatus, TrainingRun
from labeler.projects.models import Project, Role
from tests.browser.conftest import login, save_screenshot
from tests.factories import ModelVersionFactory, ProjectFactory, UserFactory, add_member

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 20_000  # ms; generous for a loaded machine, never reached when things work
COLOURS = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 210)}
FAST = {"epochs": 4, "image_size": 12, "batch_size": 8, "patience": 10}


def coloured_png(colour: tuple[int, int, int], rng: np.random.Generator, size: int = 16) -> bytes:
    """A small image of one colour with noise: easy to tell apart, quick to learn."""
    pixels = np.clip(np.array(colour) + rng.normal(0, 25, (size, size, 3)), 0, 255)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels.astype(np.uint8), "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def colour_project(per_label: int = 6, unlabelled: int = 0, **training: object) -> Project:
    """Red, green and blue images; all but ``unlabelled`` per colour carry a final label."""
    project = ProjectFactory(
        name="Colours", labels=list(COLOURS), training={**FAST, **training}, retrain_after=0
    )
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    add_member(project, UserFactory(username="rita"), Role.REVIEWER)
    rng = np.random.default_rng(3)
    labels = {label.name: label for label in project.labels.all()}
    for name, colour in COLOURS.items():
        files = [
            SimpleUploadedFile(f"{name}-{i}.png", coloured_png(colour, rng))
            for i in range(per_label + unlabelled)
        ]
        results = flows.images_ingest(project=project, files=files)
        for result in results[:per_label]:
            final = FinalLabel.objects.create(
                image_id=result.image_id, method=FinalLabelMethod.ADJUDICATED, confidence=1.0
            )
            final.labels.set([labels[name]])
    return project


def open_models(page: Page, live_server, project: Project, username: str = "lena") -> None:
    login(page, live_server, username)
    page.goto(f"{live_server.url}/projects/{project.pk}/models/")
    page.wait_for_selector("#models[data-state=ready]", timeout=WAIT)


def test_a_lead_trains_and_sees_the_run_and_the_new_version(live_server, page):
    """Train: the run shows while it trains, then succeeds as version 1, current, with its
    figures on the held-out test images, per-label figures, confusion matrix and learning
    curve."""
    project = colour_project()
    open_models(page, live_server, project)
    expect(page.locator("#versions")).to_contain_text("No model yet")
    page.select_option("#architecture", "small-cnn")
    page.get_by_role("button", name="Train").click()
    expect(page.locator("#run-active")).to_be_visible()
    expect(page.locator("#run-live")).to_have_attribute("data-state", "succeeded", timeout=60_000)
    run = TrainingRun.objects.get(project=project)
    assert run.status == RunStatus.SUCCEEDED
    assert run.config["architecture"] == "small-cnn"
    expect(page.locator("#run-progress")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#run-epoch")).to_have_text(f"{run.epoch} of {run.epochs}")
    version = ModelVersion.objects.get(project=project)
    row = page.locator(f"#versions-table tr[data-version='{version.pk}']")
    expect(row.locator(".current-badge")).to_have_text("current")
    # The table shows the figures on the held-out test images (one image of each colour).
    test = version.metrics["test"]
    assert run.test_count == test["images"] == 3
    expect(row.locator("[data-metric=macro_f1] .value")).to_have_text(
        f"{test['macro_f1']['value']:.2f}"
    )
    expect(row.locator("[data-metric=macro_f1] .n")).to_have_text("n = 3")
    expect(page.locator("#test-confusion-table td.cell")).to_have_count(9)
    expect(page.locator("#version-card")).to_have_attribute("data-version", str(version.pk))
    expect(page.locator("#per-label-table tbody tr")).to_have_count(3)
    expect(page.locator("#confusion-table td.cell")).to_have_count(9)
    matrix = version.metrics["confusion"]["matrix"]
    shown = [int(c or 0) for c in page.locator("#confusion-table td.cell").all_inner_texts()]
    assert shown == [n for row in matrix for n in row]
    expect(page.locator("#learning-curve .series")).to_have_count(4)
    points = page.locator("#learning-curve [data-series=val_loss] circle")
    expect(points).to_have_count(len(run.history))
    expect(page.locator(f"#runs-table tr[data-run='{run.pk}']")).to_contain_text("succeeded")
    save_screenshot(page, "models-trained")


def test_the_progress_bar_follows_a_running_run(live_server, page):
    """A run in progress (as a worker reports it) moves the bar and the figures about every
    second; when it ends, its version appears and is selected."""
    project = colour_project()
    run = TrainingRun.objects.create(
        project=project,
        status=RunStatus.RUNNING,
        config={"architecture": "small-cnn"},
        epochs=10,
        label_count=18,
        train_count=15,
        validation_count=3,
        started_at=timezone.now(),
    )
    open_models(page, live_server, project)
    bar = page.locator("#run-progress")
    expect(page.locator("#run-status")).to_have_text("running")
    expect(bar).to_have_attribute("aria-valuenow", "0")
    expect(page.get_by_role("button", name="Training…")).to_be_disabled()
    history = []
    for epoch in (3, 7):
        history += [
            {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "val_accuracy": 0.5 + e / 25,
             "val_macro_f1": 0.45 + e / 25, "kept_epoch": e}
            for e in range(len(history) + 1, epoch + 1)
        ]  # fmt: skip
        TrainingRun.objects.filter(pk=run.pk).update(
            epoch=epoch, progress=epoch / 10, history=history
        )
        expect(bar).to_have_attribute("aria-valuenow", str(epoch * 10), timeout=5000)
        expect(page.locator("#run-epoch")).to_have_text(f"{epoch} of 10")
    expect(page.locator("#run-val-accuracy")).to_have_text("78%")
    expect(page.locator("#run-val-loss")).to_have_text(f"{1.2 / 7:.3f}")
    note = page.locator("#run-note")
    expect(note).to_contain_text("weights kept so far: epoch 7, the lowest validation loss")
    # Three validation images choose no epoch: the last is kept, though epoch 7 was lower;
    # after the epochs the worker says what it is doing.
    history.append({**history[-1], "epoch": 8, "val_loss": 0.5, "kept_epoch": 8})
    TrainingRun.objects.filter(pk=run.pk).update(
        epoch=8, progress=0.8, history=history, stage="Scoring the model on the 4 test images"
    )
    expect(note).to_contain_text(
        "weights kept: the last epoch's (too few validation images to choose an epoch by; "
        "the lowest validation loss was epoch 7)",
        timeout=5000,
    )
    expect(note).to_contain_text("now: scoring the model on the 4 test images…")
    save_screenshot(page, "models-running", full_page=False)
    version = ModelVersionFactory(
        project=project, version=1, run=run, metrics=metrics_for(project, 0.8)
    )
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, progress=1.0, finished_at=timezone.now()
    )
    expect(page.locator("#run-live")).to_have_attribute("data-state", "succeeded", timeout=5000)
    expect(page.locator("#version-card")).to_have_attribute("data-version", str(version.pk))
    expect(page.locator("#learning-curve [data-series=train_loss] circle")).to_have_count(8)
    expect(page.get_by_role("button", name="Train")).to_be_enabled()


def test_a_lead_cancels_a_running_run(live_server, page):
    """Cancel asks the worker to stop: the button says so until the run ends."""
    project = colour_project()
    now = timezone.now()  # a live worker's run: its heartbeat is fresh
    run = TrainingRun.objects.create(
        project=project, status=RunStatus.RUNNING, epochs=10, started_at=now, heartbeat_at=now
    )
    open_models(page, live_server, project)
    with page.expect_response(lambda response: "/cancel/" in response.url) as answer:
        page.get_by_role("button", name="Cancel").click()
    assert answer.value.status == 200
    expect(page.locator("#cancel-button")).to_have_text("Cancelling…")
    expect(page.locator("#cancel-button")).to_be_disabled()
    run.refresh_from_db()
    assert run.cancel_requested
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.CANCELLED, finished_at=timezone.now()
    )
    expect(page.locator("#run-live")).to_have_attribute("data-state", "cancelled", timeout=5000)
    expect(page.locator("#run-note")).to_contain_text("Cancelled")


def test_too_few_labels_is_a_readable_error(live_server, page):
    """Training without two labels of two images each is refused with the API's reason."""
    project = colour_project(per_label=1)
    open_models(page, live_server, project)
    page.get_by_role("button", name="Train").click()
    error = page.locator("#train-error")
    expect(error).to_be_visible(timeout=WAIT)
    assert "HTTP" not in error.inner_text()
    expect(page.get_by_role("button", name="Train")).to_be_enabled()
    assert not TrainingRun.objects.filter(project=project).exists()


def metrics_for(project: Project, macro_f1: float) -> dict[str, object]:
    """Validation metrics of a made-up version: per label, confusion, a baseline."""
    ids = list(project.labels.order_by("position").values_list("pk", flat=True))
    return {
        "accuracy": macro_f1 + 0.02,
        "macro_f1": macro_f1,
        "ece": 0.05,
        "loss": 0.4,
        "images": 9,
        "per_label": [
            {"label": i, "precision": macro_f1, "recall": macro_f1, "f1": macro_f1, "support": 3}
            for i in ids
        ],
        "confusion": {"labels": ids, "matrix": [[3, 0, 0], [0, 2, 1], [0, 1, 2]]},
        "baseline": None,
    }


def test_a_lead_promotes_an_older_version(live_server, page):
    """Promote makes another version current: its badge moves, the button goes."""
    project = colour_project()
    old = ModelVersionFactory(
        project=project, version=1, is_current=False, metrics=metrics_for(project, 0.7)
    )
    new = ModelVersionFactory(
        project=project, version=2, is_current=True, metrics=metrics_for(project, 0.9)
    )
    open_models(page, live_server, project)
    old_row = page.locator(f"#versions-table tr[data-version='{old.pk}']")
    expect(
        page.locator(f"#versions-table tr[data-version='{new.pk}'] .current-badge")
    ).to_be_visible()
    old_row.get_by_role("button", name="Promote").click()
    expect(old_row.locator(".current-badge")).to_have_text("current", timeout=WAIT)
    expect(
        page.locator(f"#versions-table tr[data-version='{new.pk}']").get_by_role(
            "button", name="Promote"
        )
    ).to_be_visible()
    old.refresh_from_db()
    assert old.is_current
    expect(page.locator("#version-card")).to_have_attribute("data-version", str(old.pk))


def test_reviewers_see_the_figures_without_the_controls(live_server, page):
    """A reviewer reads versions and runs; Train and Promote are not there."""
    project = colour_project()
    version = ModelVersionFactory(project=project, version=1, metrics=metrics_for(project, 0.8))
    ModelVersionFactory(
        project=project, version=2, is_current=False, metrics=metrics_for(project, 0.6)
    )
    open_models(page, live_server, project, "rita")
    expect(
        page.locator(f"#versions-table tr[data-version='{version.pk}'] .current-badge")
    ).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^(Train|Promote)$"))).to_have_count(0)
    expect(page.locator("#confusion-table td.cell")).to_have_count(9)


def test_the_confusion_matrix_heads_of_long_names_stay_apart(live_server, page, screenshot):
    """Column heads stand on end: names wider than a cell never run together."""
    project = ProjectFactory(name="Scenes", labels=["vehicle", "texture", "waterfront scene"])
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    ModelVersionFactory(project=project, version=1, metrics=metrics_for(project, 0.8))
    open_models(page, live_server, project)

    # Validation figures (no test set yet) say how many images they rest on, as test ones do.
    row = page.locator("#versions-table tbody tr").first
    expect(row.locator(".figure-cell .n")).to_have_text(["n = 9", "n = 9"])
    heads = page.locator("#confusion-table thead .label-chip-name")
    expect(heads).to_have_count(3)
    boxes = sorted(
        (box for box in (h.bounding_box() for h in heads.all()) if box), key=lambda b: b["x"]
    )
    assert len(boxes) == 3
    for left, right in itertools.pairwise(boxes):
        assert left["x"] + left["width"] <= right["x"], (left, right)
    assert [h.inner_text() for h in heads.all()] == ["vehicle", "texture", "waterfront scene"]
    page.locator("#confusion-table").scroll_into_view_if_needed()
    screenshot("models-confusion-long-names", full_page=False)


def test_multi_label_confusion_is_per_label_counts(live_server, page):
    """Multi-label versions show each label's true/false positives and negatives."""
    project = ProjectFactory(name="Tags", multi_label=True, labels=["sky", "sea"])
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    ids = list(project.labels.order_by("position").values_list("pk", flat=True))
    metrics = {
        "accuracy": 0.7,
        "macro_f1": 0.8,
        "ece": 0.1,
        "images": 10,
        "per_label": [
            {"label": i, "precision": 0.8, "recall": 0.8, "f1": 0.8, "support": 5} for i in ids
        ],
        "confusion": {"labels": ids, "per_label": [[4, 1, 1, 4], [5, 0, 2, 3]]},
    }
    ModelVersionFactory(project=project, version=1, metrics=metrics)
    open_models(page, live_server, project)
    rows = page.locator("#confusion-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1).locator("td")).to_have_text(["5", "0", "2", "3"])
