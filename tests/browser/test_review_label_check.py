"""The review page in Chromium: the model's view beside the annotators' labels for an image
the label check flagged."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.images.models import Image
from labeler.predictions.label_check import label_check_store
from labeler.predictions.models import TrainingRun
from labeler.projects.models import Role
from tests.browser.conftest import login
from tests.factories import (
    ProjectFactory,
    UserFactory,
    add_member,
    annotation_submit,
    image_bytes,
)

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 10_000


def test_the_review_page_shows_the_models_view(page, live_server):
    project = ProjectFactory(name="Pets", overlap=2, labels=["cat", "dog"])
    add_member(project, UserFactory(username="rita"), Role.REVIEWER)
    annotators = [UserFactory(username=name) for name in ("ann1", "ann2")]
    for user in annotators:
        add_member(project, user, Role.ANNOTATOR)
    files = [SimpleUploadedFile(f"pet-{i}.png", image_bytes(size=(64, 48))) for i in range(12)]
    flows.images_ingest(project=project, files=files)
    images = list(Image.objects.filter(project=project).order_by("pk"))
    cat, dog = (project.labels.get(name=n).pk for n in ("cat", "dog"))
    given = np.array([i % 2 for i in range(12)])
    for image, g in zip(images, given, strict=True):
        final = FinalLabel.objects.create(image=image, method=FinalLabelMethod.IMPORTED)
        final.labels.set([(cat, dog)[g]])
    for user in annotators:  # both said cat, as the final label does
        annotation_submit(project=project, annotator=user, image_id=images[4].pk, labels=["cat"])
    p = np.where(given[:, None] == np.arange(2), 0.95, 0.05)
    p[4] = [0.02, 0.98]  # labelled cat; a dog to a model that never saw it
    run = TrainingRun.objects.create(project=project, status="succeeded", config={})
    assert (
        label_check_store(
            run_id=run.pk,
            image_ids=[i.pk for i in images],
            label_ids=[cat, dog],
            given=given,
            probabilities=p,
        )
        == 1
    )

    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/projects/{project.pk}/review/")
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    assert int(page.locator("#stage").get_attribute("data-image-id")) == images[4].pk
    section = page.locator("#label-check")
    expect(section).to_be_visible(timeout=WAIT)
    expect(page.locator("#label-check-note")).to_contain_text("the model says dog")
    bars = page.locator("#label-check-bars li")
    expect(bars).to_have_count(2)
    expect(bars.first).to_contain_text("dog")
    expect(bars.first).to_contain_text("98%")
    expect(page.locator("#label-check-bars li[data-given=true]")).to_contain_text("cat")
    expect(page.locator("#reason")).to_contain_text("model disagrees")
    # The annotators' labels beside the model's view.
    votes = page.locator("#votes li")
    expect(votes).to_have_count(2)
    for name in ("ann1", "ann2"):
        expect(votes.filter(has_text=name)).to_contain_text("cat")


def test_a_multi_label_check_names_both_label_sets(page, live_server):
    project = ProjectFactory(name="Scenes", overlap=1, multi_label=True, labels=["cat", "dog"])
    add_member(project, UserFactory(username="rita"), Role.REVIEWER)
    files = [SimpleUploadedFile(f"s-{i}.png", image_bytes(size=(64, 48))) for i in range(12)]
    flows.images_ingest(project=project, files=files)
    images = list(Image.objects.filter(project=project).order_by("pk"))
    cat, dog = (project.labels.get(name=n).pk for n in ("cat", "dog"))
    given = np.array([[1, 0] if i % 2 else [0, 1] for i in range(12)])
    for image, row in zip(images, given, strict=True):
        final = FinalLabel.objects.create(image=image, method=FinalLabelMethod.IMPORTED)
        final.labels.set([(cat, dog)[k] for k in np.flatnonzero(row)])
    p = np.where(given == 1, 0.93, 0.06)
    p[3] = [0.04, 0.97]  # labelled {cat}; to the model, a dog and no cat
    run = TrainingRun.objects.create(project=project, status="succeeded", config={})
    stored = label_check_store(
        run_id=run.pk,
        image_ids=[i.pk for i in images],
        label_ids=[cat, dog],
        given=given,
        probabilities=p,
    )
    assert stored >= 1

    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/projects/{project.pk}/review/")
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    assert int(page.locator("#stage").get_attribute("data-image-id")) == images[3].pk
    expect(page.locator("#label-check-note")).to_contain_text(
        "Final labels: cat; the model gives dog."
    )
    expect(page.locator("#label-check-bars li[data-given=true]")).to_contain_text("cat")
    expect(page.locator("#label-check-bars li").first).to_contain_text("97%")
