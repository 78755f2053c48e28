"""Pre-label passes without torch: planning, idempotent storing, completion, queue order."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from django.db import connections

from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.images.models import Image
from labeler.predictions import prelabel
from labeler.predictions.models import Prediction
from labeler.predictions.promotion import model_version_promote
from tests.factories import ModelVersionFactory, ProjectFactory

# SQL, triggers or task running that differ on the embedded default: run there too.
pytestmark = pytest.mark.embedded


@pytest.fixture
def project(db):
    return ProjectFactory(name="Pets", active_learning_random_share=0.0)


@pytest.fixture
def label_ids(project):
    return list(project.labels.order_by("position").values_list("pk", flat=True))


def test_the_plan_covers_unlabelled_unpredicted_images_in_chunks(project, make_images, settings):
    settings.LABELER_PRELABEL_CHUNK = 2
    images = make_images(project, 6)
    FinalLabel.objects.create(image=images[0], method=FinalLabelMethod.GOLD)
    model = ModelVersionFactory(project=project)
    Prediction.objects.create(image=images[1], model_version=model, probabilities={})
    chunks = prelabel.prelabel_plan(model_version_id=model.pk)
    assert sorted(i for chunk in chunks for i in chunk) == [i.pk for i in images[2:]]
    assert [len(chunk) for chunk in chunks] == [2, 2]
    model.refresh_from_db()
    assert model.prelabel_total == 4 and model.prelabel_done_at is None


def test_a_version_that_is_not_current_plans_nothing(project, make_images):
    make_images(project, 2)
    model = ModelVersionFactory(project=project, is_current=False)
    assert prelabel.prelabel_plan(model_version_id=model.pk) == []


def test_storing_is_idempotent_and_the_last_chunk_completes_the_pass(
    project, label_ids, make_images, django_capture_on_commit_callbacks
):
    images = make_images(project, 3)
    model = ModelVersionFactory(project=project)
    prelabel.prelabel_plan(model_version_id=model.pk)
    ids = [image.pk for image in images]
    p = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    for _ in range(2):  # a redelivered chunk
        prelabel.predictions_store(
            model_version_id=model.pk, image_ids=ids[:2], probabilities=p, label_ids=label_ids
        )
    model.refresh_from_db()
    assert Prediction.objects.count() == 2 and model.prelabel_done_at is None
    assert prelabel.prelabel_done_count(model) == 2
    stored = Prediction.objects.get(image_id=ids[0])
    assert stored.confidence == pytest.approx(0.7)
    assert stored.probabilities == {str(label_ids[0]): 0.7, str(label_ids[1]): 0.2,
                                    str(label_ids[2]): pytest.approx(0.1)}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        prelabel.predictions_store(
            model_version_id=model.pk,
            image_ids=[],
            probabilities=np.empty((0, 3)),
            label_ids=label_ids,
            undecodable_ids=[ids[2]],
        )
    model.refresh_from_db()
    assert model.prelabel_done_at is not None
    empty = Prediction.objects.get(image_id=ids[2])
    assert (empty.probabilities, empty.confidence) == ({}, None)
    priorities = dict(Image.objects.values_list("pk", "priority"))
    assert priorities == {ids[1]: 2.0, ids[0]: 1.0, ids[2]: 0.0}  # undecodable: unranked


def test_deleted_images_do_not_hold_the_pass_open(project, label_ids, make_images):
    images = make_images(project, 2)
    model = ModelVersionFactory(project=project)
    prelabel.prelabel_plan(model_version_id=model.pk)
    gone = images[1].pk
    images[1].delete()
    prelabel.predictions_store(
        model_version_id=model.pk,
        image_ids=[images[0].pk, gone],
        probabilities=np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]),
        label_ids=label_ids,
    )
    model.refresh_from_db()
    assert model.prelabel_total == 1 and model.prelabel_done_at is not None


def test_queue_order_puts_unpredicted_images_last(project, label_ids, make_images):
    a, b, c = make_images(project, 3)
    model = ModelVersionFactory(project=project)
    for image, p in ((a, 0.9), (b, 0.5)):
        probabilities = {str(label_ids[0]): p, str(label_ids[1]): 1 - p, str(label_ids[2]): 0}
        Prediction.objects.create(image=image, model_version=model, probabilities=probabilities)
    assert prelabel.queue_order_refresh(project=project) == 2
    order = list(Image.objects.order_by("-priority", "id").values_list("pk", flat=True))
    assert order == [b.pk, a.pk, c.pk]


def test_promotion_switches_the_current_version_and_starts_a_pass(
    project, make_images, django_capture_on_commit_callbacks, settings
):
    make_images(project, 2)
    old = ModelVersionFactory(project=project, version=1)
    new = ModelVersionFactory(project=project, version=2, is_current=False)
    with django_capture_on_commit_callbacks() as callbacks:
        model_version_promote(model_version=new, note="better")
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.is_current, new.is_current, new.promotion_note) == (False, True, "better")
    assert len(callbacks) == 1  # the pre-label dispatch


def test_a_broken_models_nan_is_stored_as_zero(project, label_ids, make_images):
    """JSON (and PostgreSQL's jsonb) has no NaN or infinity: they never fail a chunk."""
    [image] = make_images(project, 1)
    model = ModelVersionFactory(project=project)
    prelabel.prelabel_plan(model_version_id=model.pk)
    prelabel.predictions_store(
        model_version_id=model.pk,
        image_ids=[image.pk],
        probabilities=np.array([[np.nan, np.inf, 0.25]]),
        label_ids=label_ids,
    )
    stored = Prediction.objects.get()
    assert list(stored.probabilities.values()) == [0.0, 1.0, 0.25]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_chunks_stored_at_once_count_each_image_once(needs_postgres, make_images):
    """Workers storing overlapping chunks at the same instant (a redelivery racing the
    first delivery) leave each image counted once, and the pass done exactly once."""
    project = ProjectFactory(name="Race", active_learning_random_share=0.0)
    label_ids = list(project.labels.order_by("position").values_list("pk", flat=True))
    images = make_images(project, 6)
    ids = [image.pk for image in images]
    model = ModelVersionFactory(project=project)
    prelabel.prelabel_plan(model_version_id=model.pk)
    chunks = [ids[:4], ids[2:], ids[:4], ids[2:]]
    barrier = threading.Barrier(len(chunks))

    def store(chunk: list[int]) -> int:
        try:
            barrier.wait()
            return prelabel.predictions_store(
                model_version_id=model.pk,
                image_ids=chunk,
                probabilities=np.full((len(chunk), 3), 1 / 3),
                label_ids=label_ids,
            )
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        assert list(pool.map(store, chunks)) == [4, 4, 4, 4]
    model.refresh_from_db()
    assert (model.prelabel_done, model.prelabel_total) == (6, 6)
    assert model.prelabel_done_at is not None
    assert Prediction.objects.filter(model_version=model).count() == 6


def test_a_pass_planned_again_while_under_way_goes_on_counting_what_it_stored(
    project, label_ids, make_images
):
    """Its dispatch delivered again (the worker died while sending the chunks): the new plan
    holds the images not predicted yet, and the pass ends with one prediction per image
    and its counts equal to its rows (it restarted at the remaining count before)."""
    images = make_images(project, 3)
    ids = [image.pk for image in images]
    model = ModelVersionFactory(project=project)
    prelabel.prelabel_plan(model_version_id=model.pk)
    p = np.array([[0.7, 0.2, 0.1]])
    prelabel.predictions_store(
        model_version_id=model.pk, image_ids=ids[:1], probabilities=p, label_ids=label_ids
    )

    [again] = prelabel.prelabel_plan(model_version_id=model.pk)

    assert again == ids[1:]
    model.refresh_from_db()
    assert (model.prelabel_total, model.prelabel_done) == (3, 1)
    prelabel.predictions_store(
        model_version_id=model.pk, image_ids=ids[1:], probabilities=np.vstack([p, p]),
        label_ids=label_ids,
    )  # fmt: skip
    model.refresh_from_db()
    assert model.prelabel_done_at is not None
    assert Prediction.objects.count() == model.prelabel_total == model.prelabel_done == 3
