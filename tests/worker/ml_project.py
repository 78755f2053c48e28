"""A tiny project a model learns in seconds: three colours, labelled through the services."""

from __future__ import annotations

import io

import numpy as np
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from labeler.flows import images_ingest
from labeler.images.models import Image
from labeler.projects.models import Project, Role
from tests.factories import ProjectFactory, add_member, annotation_submit

CLASSES = ("red", "green", "blue")
FAST_TRAINING = {
    "image_size": 8,
    "epochs": 8,
    "patience": 8,
    "batch_size": 8,
    "learning_rate": 0.01,
    "validation_share": 0.25,
    "label_check_folds": 0,  # the label check's own tests turn it on
    "augment": {"hflip": False, "vflip": False, "rotation": 0, "crop": 0, "color_jitter": 0},
}


def colour_png(weights: tuple[float, float, float], seed: int, size: int = 12) -> bytes:
    """A noisy image whose colour channels are lit by ``weights`` (0..1 each)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 40, (size, size, 3)) + (np.array(weights) * 200).astype(int)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def ingest(project: Project, contents: list[bytes], prefix: str) -> list[Image]:
    files = [SimpleUploadedFile(f"{prefix}{i}.png", data) for i, data in enumerate(contents)]
    results = images_ingest(project=project, files=files)
    assert all(r.status == "created" for r in results), results
    return [Image.objects.get(pk=r.image_id) for r in results]


def ml_project(
    lead: User,
    annotator: User,
    *,
    per_class: int = 8,
    clear: int = 6,
    duplicate_distance: int | None = -1,
) -> tuple[Project, list[Image], Image]:
    """Overlap 1, labels red/green/blue; ``per_class`` labelled images of each colour.

    The noisy images of one colour are near-duplicates of each other: grouped (the
    server's distance, ``duplicate_distance=None``), a whole colour goes to one side of
    the test split, and whether it does depends on when the background grouping ends.
    The models' tests leave grouping off (-1); the split's own tests turn it on.

    Unlabelled: ``clear`` images of pure colours and one half red, half green (the one
    the model is least sure of). Returns (project, unlabelled images, the ambiguous one).
    """
    project = ProjectFactory(
        name="Colours",
        labels=list(CLASSES),
        training=FAST_TRAINING,
        retrain_after=0,
        gold_rate=0.0,
        active_learning="margin",
        active_learning_random_share=0.0,
        duplicate_distance=duplicate_distance,
    )
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator)
    pure = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]
    for k, name in enumerate(CLASSES):
        images = ingest(project, [colour_png(pure[k], 100 * k + i) for i in range(per_class)], name)
        for image in images:
            annotation_submit(
                project=project, annotator=annotator, image_id=image.pk, labels=[name]
            )
    clear_images = ingest(
        project, [colour_png(pure[i % 3], 5000 + i) for i in range(clear)], "clear"
    )
    [ambiguous] = ingest(project, [colour_png((0.5, 0.5, 0.0), 9999)], "mixed")
    return project, [*clear_images, ambiguous], ambiguous
