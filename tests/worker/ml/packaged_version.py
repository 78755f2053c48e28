"""A model version with weights, final labels and test figures, for packaging's tests.

People and files are named so that a search of the package's bytes cannot miss them.
"""

from __future__ import annotations

import numpy as np
import torch
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.images.models import Image
from labeler.predictions.models import ModelVersion
from labeler.predictions.scorecard import scorecard
from labeler.projects.models import Project, Role
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.worker.ml_project import colour_png
from worker.ml import architectures, weights
from worker.model_files import weights_path

SIZE = 16
PEOPLE = {
    "lena.lindqvist": "lena.lindqvist@example.org",
    "arvid.holmberg": "arvid.holmberg@example.net",
    "rita.reviewsson": "rita.reviewsson@example.com",
}


def people() -> dict[str, User]:
    """A lead, an annotator and a reviewer, each with an e-mail address."""
    return {name: UserFactory(username=name, email=email) for name, email in PEOPLE.items()}


def packaged_project(users: dict[str, User], *, images: int = 12) -> tuple[Project, list[Image]]:
    """Red and green images with final labels, in a project the users belong to."""
    project = ProjectFactory(name="Colours", labels=["red", "green"])
    add_member(project, users["lena.lindqvist"], Role.LEAD)
    add_member(project, users["arvid.holmberg"], Role.ANNOTATOR)
    add_member(project, users["rita.reviewsson"], Role.REVIEWER)
    files = [
        SimpleUploadedFile(
            f"holiday-IMG_47{i:02d}-secret.png", colour_png((1.0, 0, 0) if i % 2 else (0, 1, 0), i)
        )
        for i in range(images)
    ]
    results = flows.images_ingest(project=project, files=files)
    stored = list(Image.objects.filter(pk__in=[r.image_id for r in results]).order_by("pk"))
    labels = {label.name: label for label in project.labels.all()}
    for i, image in enumerate(stored):
        final = FinalLabel.objects.create(
            image=image,
            method=FinalLabelMethod.ADJUDICATED,
            confidence=1.0,
            decided_by=users["arvid.holmberg"],
        )
        colour = "red" if i % 2 else "green"
        final.labels.set([labels[colour]])
    return project, stored


def packaged_version(
    project: Project, stored: list[Image], *, architecture: str = "small-cnn", test: bool = True
) -> ModelVersion:
    """A version with a weights file (trained on most images, validated on two) and, with
    ``test``, figures on four test images."""
    torch.manual_seed(0)
    label_ids = list(project.labels.order_by("position").values_list("pk", flat=True))
    meta = {
        "architecture": architecture,
        "label_ids": label_ids,
        "thresholds": None,
        "image_size": SIZE,
        "grayscale": False,
        "channels": 3,
        "normalisation": architectures.normalisation_for(architecture, 3),
        "multi_label": False,
    }
    name = f"project-{project.pk}/run-{architecture}.pt"
    trained = [image.pk for image in stored[:-6]]
    sha = weights.save(
        weights_path(name),
        model=architectures.build(architecture, len(label_ids), 3, SIZE),
        meta=meta,
        trained_on=trained,
    )
    metrics = {}
    if test:
        probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
        metrics["test"] = scorecard(
            y_true=[0, 1, 1, 1],
            probabilities=probabilities,
            label_ids=label_ids,
            multi_label=False,
            n_boot=50,
        )
    return ModelVersion.objects.create(
        project=project,
        version=ModelVersion.objects.filter(project=project).count() + 1,
        architecture=architecture,
        label_count=len(stored) - 4,
        weights=name,
        weights_sha256=sha,
        metrics=metrics,
        validation_image_ids=[image.pk for image in stored[-6:-4]],
    )
