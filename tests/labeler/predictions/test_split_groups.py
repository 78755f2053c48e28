"""The training's split and near-duplicate groups: a group stays on one side, and where
the groups leave no such split the run still trains and says so."""

from __future__ import annotations

import pytest

from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.images.duplicates.finding import phash_columns
from labeler.images.duplicates.groups import image_duplicates_link, project_duplicates_regroup
from labeler.images.models import Image
from labeler.predictions import runs
from labeler.predictions.dataset import TrainingSet, training_split
from labeler.predictions.models import RunStatus, TrainingRun
from labeler.predictions.training_config import training_config_clean
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory
from tests.worker.ml_project import ml_project

CATS_AND_DOGS = ["cat", "dog"] * 6


def training_set(groups: dict[int, int]) -> TrainingSet:
    ids = list(range(1, 13))
    return TrainingSet(
        label_ids=[1, 2],
        image_ids=ids,
        files=[f"{i}.png" for i in ids],
        targets=[[1 + i % 2] for i in ids],
        sha256s=[str(i) for i in ids],
        groups=groups,
    )


def sides(data: TrainingSet, rows: list[int]) -> set[int]:
    return {data.image_ids[r] for r in rows}


def test_each_group_falls_on_one_side():
    data = training_set({1: 1, 2: 1, 3: 1, 7: 7, 8: 7})
    split = training_split(data, share=0.25, seed=0, multi_label=False)
    train, validation = sides(data, split.train), sides(data, split.validation)
    assert train and validation and split.note == ""
    for group in ({1, 2, 3}, {7, 8}):
        assert group <= train or group <= validation


def test_one_group_of_every_image_is_split_within_it_and_the_note_says_so():
    """Keeping the group together would leave a side empty (the run then failed with "No
    training or validation image could be decoded"): the images are split as if
    ungrouped, and the note says why the validation figures are optimistic."""
    data = training_set(dict.fromkeys(range(1, 13), 1))
    split = training_split(data, share=0.25, seed=0, multi_label=False)
    assert len(split.train) == 8 and len(split.validation) == 4
    assert "12 of the 12 labelled images fall in 1 near-duplicate group" in split.note
    assert "optimistic" in split.note


@pytest.fixture
def one_group(db, settings):
    """Twelve final-labelled images, every one a near copy of the first, grouped."""
    settings.LABELER_DUPLICATE_DISTANCE = 7
    project = ProjectFactory(name="Copies", retrain_after=0)
    labels = {label.name: label for label in project.labels.all()}
    images = []
    for index, name in enumerate(CATS_AND_DOGS):
        image = Image.objects.create(
            project=project, file=f"{index}.png", original_name=f"{index}.png",
            sha256=f"{index:064d}", width=8, height=8, format="PNG", size_bytes=1,
            thumbnail=f"thumbnails/{index}.jpg", **phash_columns(1 << (index % 4)),
        )  # fmt: skip
        image_duplicates_link(image_id=image.pk)
        final = FinalLabel.objects.create(image=image, method=FinalLabelMethod.ADJUDICATED)
        final.labels.set([labels[name]])
        images.append(image)
    assert len({image.duplicate_group for image in Image.objects.filter(project=project)}) == 1
    return project


def test_a_project_of_one_group_trains_and_its_run_says_how(one_group):
    """The claimed run has images on both sides, keeps the note as its message through
    to the end, and its label check's folds ignore the groups too."""
    run = runs.training_run_create(
        project=one_group, config=training_config_clean({"epochs": 1}), label_count=12
    )
    plan = runs.training_run_begin(run_id=run.pk, device="cpu")
    assert plan is not None and plan.split.train and plan.split.validation
    assert plan.data.groups == {}
    run.refresh_from_db()
    assert run.message == plan.split.note and "near-duplicate group" in run.message
    runs.training_run_finish(
        run_id=run.pk,
        weights=f"project-{one_group.pk}/run-{run.pk}.pt",
        weights_sha256="0" * 64,
        metrics={"macro_f1": 0.8, "accuracy": 0.9, "images": 4},
        validation_image_ids=[],
    )
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert run.message.startswith(plan.split.note) and len(run.message) > len(plan.split.note)


@pytest.mark.slow
@pytest.mark.django_db
def test_a_project_of_one_group_trains_end_to_end(settings, django_capture_on_commit_callbacks):
    """Through the worker: every image one picture's copy, the run succeeds (it failed
    with "No training or validation image could be decoded") and says why its split
    could not keep the group together."""
    settings.LABELER_DUPLICATE_DISTANCE = 7
    lead = UserFactory(username="lead")
    project, _, _ = ml_project(lead, UserFactory(username="ann"), duplicate_distance=None)
    Image.objects.filter(project=project).update(**phash_columns(12345))
    assert project_duplicates_regroup(project=project).groups == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {})
    assert response.status_code == 202, response.content
    run = TrainingRun.objects.get(pk=response.json()["id"])
    assert run.status == RunStatus.SUCCEEDED, run.message
    assert "near-duplicate group" in run.message and run.validation_count > 0
