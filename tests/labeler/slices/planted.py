"""A project with planted slices, for the report's service, API and browser tests.

Three annotators label every image, each right 92% of the time, except on the camera
"BrokenCam", where two of them label at random: its labels are corrupted. "CleanCam" and
"OtherCam" are labelled alike. Image rows are written straight (no files: the report reads
none), the labels through the annotations' own recorder, the final labels by the consensus
refresh.
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
from labeler.projects.models import Project, Role
from tests.factories import ProjectFactory, UserFactory, add_member

CAMERAS = {"CleanCam": 60, "BrokenCam": 60, "OtherCam": 60}
LABELS = ["cat", "dog", "bird"]
ACCURACY = 0.92


@dataclass
class Planted:
    project: Project
    lead: User
    annotators: list[User]
    images: dict[str, list[Image]]  # by camera
    truth: dict[int, int]  # image id: label index


def planted_project(seed: int = 0, *, name: str = "Planted", tags: bool = True) -> Planted:
    """The project (see the module); half of each camera's images carry the tag "night",
    every image a capture month (March or April 2026)."""
    rng = np.random.default_rng(seed)
    project = ProjectFactory(name=name, overlap=3, labels=LABELS)
    lead = UserFactory(username=f"{name.lower()}-lead")
    add_member(project, lead, Role.LEAD)
    annotators = [UserFactory(username=f"{name.lower()}-ann{i}") for i in range(3)]
    for user in annotators:
        add_member(project, user)
    images = {camera: _images(project, camera, n) for camera, n in CAMERAS.items()}
    truth = {}
    for camera, rows in images.items():
        for image in rows:
            true = int(rng.integers(0, len(LABELS)))
            truth[image.pk] = true
            for index, user in enumerate(annotators):
                random = camera == "BrokenCam" and index > 0
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
        )
        for i in range(n)
    ]
    return Image.objects.bulk_create(rows)
