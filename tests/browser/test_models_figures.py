"""The models page in Chromium: intervals beside the figures, comparisons that chance could
explain, "nothing changed", and the learning curve marking the weights that were kept."""

from __future__ import annotations

import pytest
from django.utils import timezone

from labeler.predictions.models import RunStatus, TrainingRun
from labeler.projects.models import Role
from tests.browser.test_models import metrics_for, open_models
from tests.factories import ModelVersionFactory, ProjectFactory, UserFactory, add_member

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
DASH = "\u2013"  # an en dash, as the page writes a range


def history(epochs: int, lowest: int) -> list[dict]:
    """Per epoch figures whose validation loss is lowest at epoch ``lowest``."""
    return [
        {
            "epoch": e,
            "train_loss": 1.5 / e,
            "val_loss": 0.3 + abs(e - lowest) * 0.02,
            "val_accuracy": min(0.95, 0.5 + e * 0.03),
            "val_macro_f1": min(0.93, 0.45 + e * 0.03),
        }
        for e in range(1, epochs + 1)
    ]


def three_versions():
    """v1; v2 trained 20 epochs on 20 validation images (lowest validation loss at epoch
    12, last epoch's weights kept), a gain within chance; v3 a retraining that changed
    nothing."""
    project = ProjectFactory(name="Colours", labels=["red", "green", "blue"])
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    ModelVersionFactory(
        project=project,
        version=1,
        is_current=False,
        label_count=160,
        metrics=metrics_for(project, 0.9),
    )
    run = TrainingRun.objects.create(
        project=project,
        status=RunStatus.SUCCEEDED,
        epoch=20,
        epochs=20,
        progress=1.0,
        history=history(20, lowest=12),
        train_count=180,
        validation_count=20,
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    metrics = {
        **metrics_for(project, 0.93),
        "accuracy": 0.95,
        "images": 20,
        "best_epoch": 20,
        "kept_epoch": 20,
        "accuracy_ci": [0.7639, 0.9911],
        "macro_f1_ci": [0.7937, 1.0],
        "baseline": {
            "version": 1,
            "images": 20,
            "seen": 0,
            "macro_f1": 0.9,
            "candidate_macro_f1": 0.93,
            "accuracy": 0.92,
            "candidate_accuracy": 0.95,
            "only_current_right": 1,
            "only_candidate_right": 2,
        },
    }
    v2 = ModelVersionFactory(
        project=project,
        version=2,
        run=run,
        is_current=True,
        label_count=200,
        metrics=metrics,
        promotion_note="Promoted: macro-F1 0.930 vs 0.900 of v1 on 20 validation images.",
    )
    v3 = ModelVersionFactory(
        project=project,
        version=3,
        is_current=False,
        label_count=200,
        metrics={
            **metrics,
            "baseline": {
                **metrics["baseline"],
                "version": 2,
                "macro_f1": 0.93,
                "accuracy": 0.95,
                "only_current_right": 0,
                "only_candidate_right": 0,
            },
        },
        promotion_note="Nothing changed: no new labels since v2, and the same figures; v2 "
        "stays current.",
    )
    return project, v2, v3


def test_figures_show_their_intervals_and_the_kept_epoch(live_server, page, screenshot):
    page.set_viewport_size({"width": 1024, "height": 900})
    project, v2, v3 = three_versions()
    open_models(page, live_server, project)
    row = page.locator(f"#versions-table tr[data-version='{v2.pk}']")
    expect(row.locator("[data-metric=accuracy]")).to_have_text("95%")
    expect(row.locator("[data-interval=accuracy]")).to_have_text(f"76%{DASH}99%")
    expect(row.locator("[data-interval=macro_f1]")).to_have_text(f"0.79{DASH}1.00")
    assert "20 validation images" in row.locator("[data-interval=accuracy]").get_attribute("title")
    expect(row.locator(".too-close")).to_contain_text(
        "too few validation images to tell the two apart (p = 1.00)"
    )
    changed = page.locator(f"#versions-table tr[data-version='{v3.pk}']")
    expect(changed.locator(".note")).to_contain_text("Nothing changed")
    expect(changed.locator(".delta")).to_have_text("±0.000 vs v2")
    expect(changed.locator(".too-close")).to_have_count(0)  # right on the same images
    expect(page.locator("#version-meta")).to_contain_text(f"accuracy 95% (95% CI 76%{DASH}99%)")

    page.locator(f"#versions-table tr[data-version='{v2.pk}'] .version-link").click()
    expect(page.locator("#version-card")).to_have_attribute("data-version", str(v2.pk))
    kept = page.locator("#learning-curve line.kept-epoch")
    expect(kept).to_have_attribute("data-epoch", "20")
    expect(page.locator(".epoch-mark")).to_have_text("Weights kept: epoch 20")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    screenshot("models-1024")


def test_an_older_version_gets_its_accuracy_interval_from_its_figures(live_server, page):
    """Versions trained before intervals were stored: Wilson from accuracy and n."""
    project = ProjectFactory(name="Colours", labels=["red", "green", "blue"])
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    old = ModelVersionFactory(project=project, version=1, metrics=metrics_for(project, 0.8))
    open_models(page, live_server, project)
    row = page.locator(f"#versions-table tr[data-version='{old.pk}']")
    expect(row.locator("[data-metric=accuracy]")).to_have_text("82%")
    expect(row.locator("[data-interval=accuracy]")).to_have_text(f"49%{DASH}96%")  # 0.82 of 9
    expect(row.locator("[data-interval=macro_f1]")).to_have_count(0)
