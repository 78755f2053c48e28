"""The demo project: real handwritten digits, a lead, annotators and simulated labels."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from PIL import Image as PILImage
from sklearn.datasets import load_digits

from labeler.annotations.services import annotation_submit
from labeler.images.services import images_ingest
from labeler.projects.models import Project, Role
from labeler.projects.services import membership_set, project_create

DEMO_PROJECT = "Handwritten digits (demo)"
DEMO_PASSWORD = "demo-password"
LEAD = "lead"
ANNOTATORS = ("annotator1", "annotator2", "annotator3")
# Simulated annotators and how often each gives the true digit.
SIMULATED = {"sim-careful": 0.97, "sim-average": 0.85, "sim-sloppy": 0.65}
IMAGE_SIZE = 64


@dataclass
class DemoSummary:
    project: Project
    created: bool
    images: int
    simulated_annotations: int


def digit_png(pixels: np.ndarray, size: int = IMAGE_SIZE) -> bytes:
    """An 8x8 digit (values 0-16) as a size x size grayscale PNG, dark ink on white."""
    gray = (255 - pixels * 255 / 16).clip(0, 255).astype(np.uint8)
    image = PILImage.fromarray(gray, mode="L").resize((size, size), PILImage.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def demo_users(password: str = DEMO_PASSWORD) -> dict[str, User]:
    """The demo's lead, annotators and simulated annotators (created once)."""

    users = {}
    for username in (LEAD, *ANNOTATORS, *SIMULATED):
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_password(password)
            user.save()
        users[username] = user
    users[LEAD].user_permissions.add(Permission.objects.get(codename="add_project"))
    return users


def demo_load(*, n_images: int, simulate_fraction: float, seed: int = 0) -> DemoSummary:
    """Create the demo project once; later calls only report what is there."""
    users = demo_users()
    existing = Project.objects.filter(name=DEMO_PROJECT).first()
    if existing is not None:
        return DemoSummary(existing, False, existing.images.count(), existing.annotations.count())
    digits = load_digits()
    n_images = min(n_images, len(digits.target))
    with transaction.atomic():
        project = project_create(
            creator=users[LEAD],
            name=DEMO_PROJECT,
            labels=[{"name": str(d), "hotkey": str(d)} for d in range(10)],
            overlap=3,
            instructions=(
                "Label the handwritten digit you see: press its key (0-9).\n"
                "If you cannot tell which digit it is, skip the image (Space) and say why."
            ),
        )
        for username in (*ANNOTATORS, *SIMULATED):
            membership_set(project=project, user=users[username], role=Role.ANNOTATOR)
    files = (
        SimpleUploadedFile(f"digit-{i:04d}.png", digit_png(digits.images[i]))
        for i in range(n_images)
    )
    results = images_ingest(project=project, files=list(files))
    truth = {r.image_id: int(digits.target[i]) for i, r in enumerate(results) if r.image_id}
    count = _simulate(project, users, truth, simulate_fraction, np.random.default_rng(seed))
    return DemoSummary(project, True, len(truth), count)


def _simulate(
    project: Project,
    users: dict[str, User],
    truth: dict[int, int],
    fraction: float,
    rng: np.random.Generator,
) -> int:
    image_ids = sorted(truth)[: int(len(truth) * fraction)]
    count = 0
    for username, accuracy in SIMULATED.items():
        for image_id, label in _noisy_labels(image_ids, truth, accuracy, rng):
            annotation_submit(
                project=project,
                annotator=users[username],
                image_id=image_id,
                labels=[str(label)],
                time_spent_ms=int(rng.gamma(4.0, 600.0)),
            )
            count += 1
    return count


def _noisy_labels(
    image_ids: list[int], truth: dict[int, int], accuracy: float, rng: np.random.Generator
) -> Iterator[tuple[int, int]]:
    for image_id in image_ids:
        label = truth[image_id]
        if rng.random() > accuracy:
            label = int(rng.choice([d for d in range(10) if d != label]))
        yield image_id, label
