"""The models page in Chromium: a version's figures on the held-out test images, with their
intervals and n, ROC and precision-recall curves, the reliability diagram, the confusion
matrix, a null figure with its reason, and the comparison in words.

The figures are a real classifier's: logistic regressions fitted on scikit-learn's
handwritten digits (fast, no torch), scored by the worker's own scorecard on held-out
digits where no 9 was kept, so that the 9's figures are null with their reason."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from labeler.predictions.comparison import paired_comparison
from labeler.predictions.models import RunStatus, TrainingRun
from labeler.predictions.promotion import p_text
from labeler.predictions.scorecard import scorecard
from labeler.projects.models import Label, Role
from tests.browser.test_models import metrics_for, open_models
from tests.factories import ModelVersionFactory, ProjectFactory, UserFactory, add_member

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
DASH = "\u2013"
# Tableau's ten colours: the curves of ten digits told apart.
COLOURS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac"]  # fmt: skip


def digits_project():
    """A project of the ten digits, each its own colour and hotkey."""
    project = ProjectFactory(name="Digits", labels=[])
    for digit, colour in enumerate(COLOURS):
        Label.objects.create(
            project=project, name=str(digit), color=colour, hotkey=str(digit), position=digit
        )
    return project


def digits_outputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Held-out digits (no 9 among them) and two models' probabilities on them: one fitted
    on 60 images, one on 1,200."""
    digits = load_digits()
    x, y = digits.data / 16.0, digits.target
    held = np.arange(1300, len(y))
    held = held[y[held] != 9][:300]
    weak = LogisticRegression(max_iter=200).fit(x[:60], y[:60])
    strong = LogisticRegression(max_iter=500).fit(x[:1200], y[:1200])
    return y[held], weak.predict_proba(x[held]), strong.predict_proba(x[held])


def test_a_versions_test_figures_curves_calibration_and_verdict(live_server, page, screenshot):
    page.set_viewport_size({"width": 1024, "height": 900})
    project = digits_project()
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    label_ids = list(project.labels.order_by("position").values_list("pk", flat=True))
    y, weak, strong = digits_outputs()
    card = scorecard(y_true=y, probabilities=strong, label_ids=label_ids, multi_label=False)
    paired = paired_comparison(
        y_true=y, current=(weak, None), candidate=(strong, None), multi_label=False
    )
    baseline = {"version": 1, "images": len(y), "seen": 0, "split": "test", **paired}
    old = ModelVersionFactory(
        project=project, version=1, is_current=False, metrics=metrics_for(project, 0.7)
    )
    run = TrainingRun.objects.create(
        project=project, status=RunStatus.SUCCEEDED, train_count=1080, validation_count=120,
        test_count=len(y), history=[],
    )  # fmt: skip
    new = ModelVersionFactory(
        project=project,
        version=2,
        run=run,
        metrics={**metrics_for(project, 0.95), "test": card, "baseline": baseline},
        promotion_note="Promoted: better beyond noise than v1.",
    )
    open_models(page, live_server, project)

    row = page.locator(f"#versions-table tr[data-version='{new.pk}']")
    accuracy = card["accuracy"]
    expect(row.locator("[data-metric=accuracy] .value")).to_have_text(
        f"{round(accuracy['value'] * 100)}%"
    )
    expect(row.locator("[data-metric=accuracy] .n")).to_have_text(f"n = {len(y)}")
    expect(row.locator(".verdict")).to_have_text("better beyond noise vs v1")
    assert paired["verdict"] == "better"

    test_set = page.locator("#test-set")
    expect(test_set).to_have_attribute("data-state", "scored")
    expect(page.locator("#test-note")).to_contain_text(f"Scored on {len(y)} held-out test images")
    verdict = page.locator("#test-verdict .verdict-text")
    expect(verdict).to_contain_text(
        f"Better beyond noise than v1 on {len(y)} test images neither was trained on: v1 alone "
        f"right on {paired['only_current_right']}, this one alone on "
        f"{paired['only_candidate_right']} (exact McNemar test, {p_text(paired['p_value'])})."
    )
    low, high = (round(v * 100) for v in accuracy["interval"])
    figure = page.locator("#test-figures-list [data-figure=accuracy]")
    expect(figure.locator(".interval")).to_have_text(f"95% CI {low}%{DASH}{high}%")
    expect(figure.locator(".n")).to_have_text(f"n = {len(y)}")
    macro = card["roc_auc"]["macro"]["value"]
    expect(page.locator("[data-figure=roc_auc_macro] .value")).to_have_text(f"{macro:.2f}")

    # Curves: nine digits (no 9 to rank) and the averages; areas in the legend.
    expect(page.locator("#roc-chart path.curve")).to_have_count(9 + 2)
    expect(page.locator("#pr-chart path.curve")).to_have_count(9 + 1)
    seven = card["per_label"][7]["roc_auc"]["value"]
    legend = page.locator(f"#roc-curves .curve-legend li[data-series='{label_ids[7]}']")
    expect(legend).to_have_text(f"7 AUC {seven:.2f}")
    for curve in card["curves"]["roc"]:
        assert len(curve["fpr"]) <= card["curves"]["max_points"]
    bins = [b for b in card["calibration"]["bins"] if b["count"]]
    expect(page.locator("#reliability-chart .reliability-bin")).to_have_count(len(bins))

    # The test confusion matrix, cell by cell; the 9 has no test image: null, with why.
    cells = page.locator("#test-confusion-table td.cell")
    expect(cells).to_have_count(100)
    shown = [int(c or 0) for c in cells.all_inner_texts()]
    assert shown == [n for line in card["confusion"]["matrix"] for n in line]
    nine = page.locator(f"#test-per-label-table tr[data-label='{label_ids[9]}']")
    expect(nine.locator("[data-metric=recall] .value")).to_have_text("—")
    expect(nine.locator("[data-metric=recall] .figure-reason")).to_have_text(
        "No test image has this label."
    )
    expect(nine.locator("[data-metric=roc_auc] .figure-reason")).to_have_text(
        "No test image has this label."
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    screenshot("models-test-set")

    expect(page.locator("#test-note")).not_to_contain_text("Only")

    # A version scored on a handful of test images says its figures are rough.
    tiny = ModelVersionFactory(
        project=project,
        version=3,
        is_current=False,
        run=TrainingRun.objects.create(
            project=project,
            status=RunStatus.SUCCEEDED,
            train_count=40,
            validation_count=5,
            test_count=12,
            history=[],
        ),
        metrics={
            **metrics_for(project, 0.9),
            "test": scorecard(
                y_true=y[:12], probabilities=strong[:12], label_ids=label_ids, multi_label=False
            ),
        },
    )
    page.reload()
    page.wait_for_selector("#models[data-state=ready]")
    page.locator(f"#versions-table tr[data-version='{tiny.pk}'] .version-link").click()
    expect(page.locator("#test-note")).to_contain_text(
        "Only 12 test images: one image more or less right moves accuracy by 8 points"
    )

    # A version trained before the project had a test set says so, and shows no figures.
    page.locator(f"#versions-table tr[data-version='{old.pk}'] .version-link").click()
    expect(page.locator("#test-set")).to_have_attribute("data-state", "none")
    expect(page.locator("#test-note")).to_contain_text("before the project had a test set")
    expect(page.locator("#test-body")).to_be_hidden()
