"""The held-out test split as stored: assigned once, kept as the project grows, what a
training leaves out, and its share's bounds over REST and on the settings page."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.images.models import Image
from labeler.predictions import runs, test_split
from labeler.predictions.dataset import TrainingSet, training_set, training_split
from labeler.predictions.models import SplitAssignment
from labeler.predictions.selectors import project_splits, version_test_outputs
from labeler.predictions.splitting import DEVELOPMENT, TEST
from labeler.predictions.test_outputs import TestOutputs, outputs_row
from labeler.predictions.training_config import training_config_clean
from labeler.projects.models import Role
from tests.conftest import client_for
from tests.factories import ModelVersionFactory, ProjectFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db


def labelled(project, names: list[str], start: int = 0) -> list[Image]:
    """Image rows with adjudicated final labels (no files: nothing here reads them)."""
    labels = {label.name: label for label in project.labels.all()}
    images = []
    for offset, name in enumerate(names):
        index = start + offset
        image = Image.objects.create(
            project=project, file=f"{index}.png", original_name=f"{index}.png",
            sha256=f"{index:064d}", width=8, height=8, format="PNG", size_bytes=1,
            thumbnail=f"thumbnails/{index}.jpg",
        )  # fmt: skip
        final = FinalLabel.objects.create(image=image, method=FinalLabelMethod.ADJUDICATED)
        final.labels.set([labels[name]])
        images.append(image)
    return images


@pytest.fixture
def project():
    return ProjectFactory(name="Pets", labels=["cat", "dog"], retrain_after=0, test_share=0.2)


def per_label_in_test(project, sides: dict[int, str]) -> Counter[str]:
    names = dict(
        FinalLabel.labels.through.objects.filter(finallabel__image__project=project).values_list(
            "finallabel__image_id", "label__name"
        )
    )
    return Counter(names[i] for i, side in sides.items() if side == TEST)


def test_sides_are_kept_as_images_and_labels_come_in(project):
    """Test images stay test and development images stay development; the new ones bring
    each label back to its share."""
    labelled(project, ["cat"] * 30 + ["dog"] * 10)
    first = test_split.test_split_assign(project=project)
    assert per_label_in_test(project, first) == {"cat": 6, "dog": 2}
    labelled(project, ["cat"] * 20 + ["dog"] * 30, start=100)
    second = test_split.test_split_assign(project=project)
    assert {i: second[i] for i in first} == first
    assert per_label_in_test(project, second) == {"cat": 10, "dog": 8}
    assert SplitAssignment.objects.filter(project=project).count() == 90
    # Calling it again stores nothing more and changes nothing.
    assert test_split.test_split_assign(project=project) == second


def test_a_changed_share_applies_to_the_images_assigned_after_it(project):
    labelled(project, ["cat"] * 20 + ["dog"] * 20)
    first = test_split.test_split_assign(project=project)
    project.test_share = 0.5
    project.save()
    labelled(project, ["cat"] * 20, start=100)
    second = test_split.test_split_assign(project=project)
    assert {i: second[i] for i in first} == first
    assert per_label_in_test(project, second) == {"cat": 20, "dog": 4}


def test_the_splits_are_what_the_next_training_uses_and_it_stores_them(project):
    """Before the training nothing is stored and the selector plans; the claimed run
    assigns exactly those sides, and trains and validates on development images only."""
    labelled(project, ["cat"] * 25 + ["dog"] * 15)
    planned = project_splits(project)
    assert Counter(planned.values()) == {"train": 29, "validation": 3, "test": 8}
    assert not SplitAssignment.objects.exists()
    run = runs.training_run_create(
        project=project, config=training_config_clean({"epochs": 1}), label_count=40
    )
    plan = runs.training_run_begin(run_id=run.pk, device="cpu")
    assert plan is not None
    assert plan.split.sides(plan.data) == planned == project_splits(project)
    stored = dict(SplitAssignment.objects.values_list("image_id", "side"))
    assert {i for i, side in stored.items() if side == TEST} == {
        i for i, part in planned.items() if part == "test"
    }
    run.refresh_from_db()
    assert (run.train_count, run.validation_count, run.test_count) == (29, 3, 8)


def test_a_development_copy_of_a_test_image_is_left_out_of_training():
    """A group that straddles the test split (the duplicate distance changed after both
    were assigned) keeps its development images out of training and validation."""
    ids = list(range(1, 21))
    data = TrainingSet(
        label_ids=[1, 2],
        image_ids=ids,
        files=[f"{i}.png" for i in ids],
        targets=[[1 + i % 2] for i in ids],
        sha256s=[str(i) for i in ids],
        groups={3: 3, 4: 3, 5: 3},
    )
    sides = dict.fromkeys(ids, DEVELOPMENT) | {3: TEST, 10: TEST}
    split = training_split(data, share=0.25, seed=0, multi_label=False, sides=sides)
    parts = split.sides(data)
    assert {i for i, part in parts.items() if part == "test"} == {3, 10}
    assert [data.image_ids[r] for r in split.excluded] == [4, 5] and 4 not in parts
    assert len(split.train) + len(split.validation) == 16


@pytest.mark.parametrize("value", [0.01, 0.9, "a lot", None])
def test_a_test_share_out_of_bounds_is_a_400_naming_it(project, value):
    lead = UserFactory()
    add_member(project, lead, Role.LEAD)
    url = f"/api/v1/projects/{project.pk}/"
    response = client_for(lead).patch(url, {"test_share": value}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["test_share"]
    assert response.json()["detail"].startswith("test_share: ")
    project.refresh_from_db()
    assert project.test_share == 0.2
    response = client_for(lead).patch(url, {"test_share": 0.3}, format="json")
    assert response.status_code == 200 and response.json()["test_share"] == 0.3


def test_the_settings_page_asks_for_the_test_share_as_a_percentage(project):
    lead = UserFactory()
    add_member(project, lead, Role.LEAD)
    client = Client()
    client.force_login(lead)
    url = reverse("project-edit", args=[project.pk])
    html = client.get(url).content.decode()
    assert 'name="test_percent"' in html and 'value="20.0"' in html
    form = _settings_form(project, test_percent="90")
    response = client.post(url, form)
    assert response.status_code == 400
    page = response.content.decode()
    start = page.index('id="test-error"')
    assert "The test set&#x27;s share is a percentage from 5 to 50." in page[start : start + 200]
    project.refresh_from_db()
    assert project.test_share == 0.2
    assert client.post(url, _settings_form(project, test_percent="15")).status_code == 302
    project.refresh_from_db()
    assert project.test_share == pytest.approx(0.15)
    assert training_set(project).label_ids  # the project is whole


def _settings_form(project, **overrides: str) -> dict:
    labels = list(project.labels.all())
    return {
        "name": project.name,
        "instructions": "",
        "multi_label": "0",
        "overlap": str(project.overlap),
        "labels-id": [str(label.pk) for label in labels],
        "labels-name": [label.name for label in labels],
        "labels-color": [label.color for label in labels],
        "labels-hotkey": [label.hotkey for label in labels],
        **overrides,
    }


@pytest.mark.parametrize("multi_label", [False, True])
def test_a_versions_test_outputs_read_back_as_stored(project, multi_label):
    """The arrays and labels go in and come back bit for bit; slices take rows of them."""
    rng = np.random.default_rng(5)
    label_ids = list(project.labels.values_list("pk", flat=True))
    probabilities = rng.random((7, 2))
    y = (rng.random((7, 2)) > 0.5).astype(np.int64) if multi_label else rng.integers(0, 2, 7)
    outputs = TestOutputs(
        image_ids=[11, 12, 13, 14, 15, 16, 17],
        y_true=y,
        probabilities=probabilities,
        label_ids=label_ids,
        multi_label=multi_label,
        thresholds=[0.4, 0.6] if multi_label else None,
    )
    version = ModelVersionFactory(project=project)
    assert version_test_outputs(version) is None
    outputs_row(version, outputs).save()
    read = version_test_outputs(version)
    assert read is not None and read.image_ids == outputs.image_ids
    assert np.array_equal(read.y_true, y) and np.array_equal(read.probabilities, probabilities)
    assert (read.label_ids, read.multi_label, read.thresholds) == (
        label_ids, multi_label, outputs.thresholds,
    )  # fmt: skip
    part = read.rows([1, 3])
    assert part.image_ids == [12, 14] and np.array_equal(part.probabilities, probabilities[[1, 3]])
