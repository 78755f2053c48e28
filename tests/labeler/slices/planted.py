"""A project with planted slices, for the report's service, API and browser tests.

Three annotators label every image, each right 92% of the time, except on the camera
"BrokenCam", where two of them label at random: its labels are corrupted. "CleanCam" and
"OtherCam" are labelled alike. Image rows are written straight (no files: the report reads
none), the labels through the annotations' own recorder, the final labels by the consensus
refresh. ``planted_model`` adds a model version scored on half of the images, which fails
on one camera.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from django.contrib.auth.models import User

from labeler.agreement.final_labels import final_labels_current
from labeler.annotations.submit import annotation_record
from labeler.images.models import Image, ImageTag
from labeler.predictions.models import ModelVersion
from labeler.predictions.test_outputs import TestOutputs, outputs_row
from labeler.projects.models import Project, Role
from tests.factories import ProjectFactory, UserFactory, add_member

CAMERAS = {"CleanCam": 60, "BrokenCam": 60, "OtherCam": 60}
LABELS = ["cat", "dog", "bird"]
COLOURS = ["#2458d6", "#d9480f", "#2b8a3e"]
ACCURACY = 0.92
LICENCES = ("CC BY 4.0", "CC BY 4.0", "CC0 1.0")


@dataclass
class Planted:
    project: Project
    lead: User
    annotators: list[User]
    images: dict[str, list[Image]]  # by camera
    truth: dict[int, int]  # image id: label index


def planted_project(
    seed: int = 0,
    *,
    name: str = "Planted",
    tags: bool = True,
    cameras: tuple[str, str, str] = tuple(CAMERAS),
) -> Planted:
    """The project (see the module); half of each camera's images carry the tag "night",
    every image a capture month (March or April 2026) and a licence. ``cameras`` names the
    clean camera, the corrupted one and the other one."""
    rng = np.random.default_rng(seed)
    broken = cameras[1]
    # A 2-of-3 majority decides (as in the demo); ties go to review.
    project = ProjectFactory(name=name, overlap=3, labels=LABELS, review_threshold=0.6)
    for label, colour in zip(project.labels.order_by("position"), COLOURS, strict=True):
        label.color = colour
        label.save(update_fields=["color"])
    lead = UserFactory(username=f"{name.lower()}-lead")
    add_member(project, lead, Role.LEAD)
    annotators = [UserFactory(username=f"{name.lower()}-ann{i}") for i in range(3)]
    for user in annotators:
        add_member(project, user)
    images = {
        camera: _images(project, camera, n)
        for camera, n in zip(cameras, CAMERAS.values(), strict=True)
    }
    truth = {}
    for camera, rows in images.items():
        for image in rows:
            true = int(rng.integers(0, len(LABELS)))
            truth[image.pk] = true
            for index, user in enumerate(annotators):
                random = camera == broken and index > 0
                label = (
                    int(rng.integers(0, len(LABELS))) if random or rng.random() > ACCURACY else true
                )
                annotation_record(
                    project=project, annotator=user, image_id=image.pk, labels=[LABELS[label]]
                )
    if tags:
        ImageTag.objects.bulk_create(
            ImageTag(image=image, name="night") for rows in images.values() for image in rows[::2]
        )
    final_labels_current(project=project)
    return Planted(project, lead, annotators, images, truth)


def _images(project: Project, camera: str, n: int) -> list[Image]:
    months = [datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 4, 10, tzinfo=UTC)]
    rows = [
        Image(
            project=project,
            file=f"planted/{camera}-{i}.png",
            original_name=f"{camera}-{i}.png",
            sha256=hashlib.sha256(f"{camera}-{i}".encode()).hexdigest(),
            width=32,
            height=24,
            format="PNG",
            size_bytes=100,
            camera=camera,
            captured_at=months[i % 2],
            licence=LICENCES[i % len(LICENCES)],
        )
        for i in range(n)
    ]
    return Image.objects.bulk_create(rows)


def planted_model(
    planted: Planted, *, fails_on: str = "OtherCam", seed: int = 0, current: bool = True
) -> ModelVersion:
    """A model version scored on every other image of each camera (30 test images each):
    right on 95% of them, but on 45% of ``fails_on``'s."""
    rng = np.random.default_rng(seed)
    project = planted.project
    label_ids = list(project.labels.order_by("position", "id").values_list("pk", flat=True))
    image_ids, y_true, probabilities = [], [], []
    for camera, rows in planted.images.items():
        accuracy = 0.45 if camera == fails_on else 0.95
        for image in rows[1::2]:
            true = planted.truth[image.pk]
            guess = true if rng.random() < accuracy else (true + 1 + int(rng.integers(0, 2))) % 3
            row = np.full(len(label_ids), 0.1)
            row[guess] = 0.8
            image_ids.append(image.pk)
            y_true.append(true)
            probabilities.append(row)
    number = project.model_versions.count() + 1
    version = ModelVersion.objects.create(project=project, version=number, is_current=current)
    outputs = TestOutputs(
        image_ids=image_ids,
        y_true=np.array(y_true),
        probabilities=np.array(probabilities),
        label_ids=label_ids,
        multi_label=False,
        thresholds=None,
    )
    outputs_row(version, outputs).save()
    return version
