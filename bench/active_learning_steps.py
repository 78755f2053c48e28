"""The active-learning benchmark's steps: data, one simulated labelling run, scoring.

Imported by ``bench.active_learning`` once Django is configured.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from labeler.annotations.queue import queue_next_image
from labeler.annotations.submit import annotation_submit
from labeler.demo.services import digit_png
from labeler.errors import ValidationFailed
from labeler.flows import images_ingest
from labeler.images.models import Image
from labeler.predictions.models import ModelVersion, RunStatus
from labeler.predictions.selectors import current_model
from labeler.predictions.services import training_start
from labeler.projects.models import Project, Role
from labeler.projects.services import membership_set, project_create
from worker.ml import data, inference, jobs, weights

UPLOAD_BATCH = 500


class CurveLike(Protocol):
    strategy: str
    seed: int
    points: list[tuple[int, float]]
    reached: int | None


@dataclass
class Digits:
    """scikit-learn's digits as PNG files: a pool to label and a fixed held-out set."""

    pool: list[bytes]
    pool_digits: list[int]
    holdout: list[bytes]
    holdout_digits: np.ndarray

    @classmethod
    def load(cls, *, holdout: int) -> Digits:
        bunch = load_digits()
        indices = np.arange(len(bunch.target))
        pool, held = train_test_split(
            indices, test_size=holdout, stratify=bunch.target, random_state=12345
        )
        png = [digit_png(image) for image in bunch.images]
        return cls(
            pool=[png[i] for i in pool],
            pool_digits=[int(bunch.target[i]) for i in pool],
            holdout=[png[i] for i in held],
            holdout_digits=bunch.target[held],
        )


# The demo's augmentation (the defaults, flips and colour jitter off), or none at all.
AUGMENT = {
    "default": {"hflip": False, "color_jitter": 0.0},
    "off": {"hflip": False, "vflip": False, "rotation": 0.0, "crop": 0.0, "color_jitter": 0.0},
}


def run_curve(
    curve: CurveLike,
    digits: Digits,
    *,
    start: int = 20,
    step: int,
    target: float,
    budget: int,
    augment: str = "default",
    training: dict[str, Any] | None = None,
) -> None:
    """Label ``start`` images, then ``step`` at a time from the queue, retrain, score;
    until ``target``.

    ``training``: settings over the demo's training configuration (both strategies).
    """
    lead, annotator = _users()
    # No label check after each training: it would cost four more trainings, none of them
    # counted here (bench/label_errors.py measures it).
    config = {
        "seed": curve.seed,
        "label_check_folds": 0,
        **(training or {}),
        "augment": AUGMENT[augment],
    }
    project, truth = _project(curve, digits, lead, annotator, config)
    scorer = _Scorer(digits)
    labelled = 0
    while labelled < budget:
        labelled += _label(project, annotator, truth, step if labelled else start)
        try:
            run = training_start(project=project, requested_by=lead)
        except ValidationFailed:
            # A small random start can miss a digit; as a lead would, label on and retry.
            continue
        run.refresh_from_db()
        if run.status != RunStatus.SUCCEEDED:
            raise RuntimeError(f"training run {run.pk} ended {run.status}: {run.message}")
        model = current_model(project)
        if model is None:
            raise RuntimeError(f"no current model after run {run.pk}: {run.message}")
        accuracy = scorer.accuracy(model)
        curve.points.append((labelled, accuracy))
        if accuracy >= target:
            curve.reached = labelled
            return


def _users() -> tuple[User, User]:
    lead, _ = User.objects.get_or_create(username="bench-lead")
    annotator, _ = User.objects.get_or_create(username="bench-annotator")
    return lead, annotator


def _project(
    curve: CurveLike, digits: Digits, lead: User, annotator: User, training: dict[str, Any]
) -> tuple[Project, dict[int, int]]:
    """A digits project with the curve's strategy; the same random start for every strategy."""
    project = project_create(
        creator=lead,
        name=f"Active learning, {curve.strategy}, seed {curve.seed}",
        labels=[{"name": str(d), "hotkey": str(d)} for d in range(10)],
        overlap=1,
        gold_rate=0.0,
        active_learning=curve.strategy,
        active_learning_random_share=0.0,
        retrain_after=0,
        training=training,
    )
    membership_set(project=project, user=annotator, role=Role.ANNOTATOR)
    truth: dict[int, int] = {}
    for start in range(0, len(digits.pool), UPLOAD_BATCH):
        files = [
            SimpleUploadedFile(f"digit-{i:04d}.png", digits.pool[i])
            for i in range(start, min(start + UPLOAD_BATCH, len(digits.pool)))
        ]
        for result, upload in zip(images_ingest(project=project, files=files), files, strict=True):
            if result.image_id is None:
                raise RuntimeError(f"{upload.name} was not stored: {result.reason}")
            truth[result.image_id] = digits.pool_digits[int(upload.name[6:10])]
    _shuffle_start(project, curve.seed)
    return project, truth


def _shuffle_start(project: Project, seed: int) -> None:
    """Random priorities, the same for every strategy at this seed: the common start."""
    ids = sorted(Image.objects.filter(project=project).values_list("pk", flat=True))
    order = np.random.default_rng(seed).permutation(len(ids))
    Image.objects.bulk_update(
        [Image(pk=pk, priority=float(rank)) for pk, rank in zip(ids, order, strict=True)],
        ["priority"],
        batch_size=500,
    )


def _label(project: Project, annotator: User, truth: dict[int, int], n: int) -> int:
    """The simulated annotator labels the next ``n`` images of the queue with the truth."""
    names = dict(project.labels.values_list("name", "pk"))
    done = 0
    for _ in range(n):
        lease = queue_next_image(project=project, annotator=annotator)
        if lease is None:
            break
        digit = truth[lease.image_id]
        annotation_submit(
            project=project,
            annotator=annotator,
            image_id=lease.image_id,
            labels=[names[str(digit)]],
        )
        done += 1
    return done


class _Scorer:
    """Held-out accuracy of a model version, its weights loaded as the worker loads them."""

    def __init__(self, digits: Digits) -> None:
        self.digits = digits
        self.tensors: dict[tuple[int, bool], Any] = {}

    def accuracy(self, model: ModelVersion) -> float:
        loaded = weights.load(jobs.weights_path(model.weights), "cpu")
        x = self._inputs(loaded.meta["image_size"], loaded.meta["grayscale"])
        probabilities = inference.predict_tensor(loaded, x)
        digit_of = {pk: int(name) for pk, name in model.project.labels.values_list("pk", "name")}
        predicted = np.array(
            [digit_of[loaded.meta["label_ids"][i]] for i in probabilities.argmax(1)]
        )
        return float((predicted == self.digits.holdout_digits).mean())

    def _inputs(self, image_size: int, grayscale: bool) -> Any:
        key = (image_size, grayscale)
        if key not in self.tensors:
            files = {f"{i}.png": png for i, png in enumerate(self.digits.holdout)}
            self.tensors[key] = data.load_images(
                list(files),
                lambda name: io.BytesIO(files[name]),
                image_size=image_size,
                grayscale=grayscale,
            )
        return self.tensors[key]
