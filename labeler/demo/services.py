"""The demo project: real handwritten digits, a lead, annotators and simulated labels."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image as PILImage
from sklearn.datasets import load_digits

from labeler.agreement.services import final_labels_refresh, image_decide
from labeler.annotations.models import (
    FinalLabel,
    FinalLabelMethod,
)
from labeler.annotations.services import annotation_backdate
from labeler.annotations.submit import annotation_record
from labeler.flows import images_ingest
from labeler.projects.models import Project, Role
from labeler.projects.services import membership_set, project_create

DEMO_PROJECT = "Handwritten digits (demo)"
DEMO_PASSWORD = "demo-password"
ADMIN = "admin"
LEAD = "lead"
ANNOTATORS = ("annotator1", "annotator2", "annotator3")
# Simulated annotators and how often each gives the true digit (after the instructions
# were revised; before, each erred twice as often).
SIMULATED = {
    "sim-careful": 0.97,
    "sim-steady": 0.93,
    "sim-average": 0.87,
    "sim-hasty": 0.8,
    "sim-sloppy": 0.62,
}
# The digit people mistake each digit for most often.
LOOK_ALIKE = {0: 6, 1: 7, 2: 7, 3: 8, 4: 9, 5: 6, 6: 5, 7: 1, 8: 3, 9: 4}
HISTORY_DAYS = 21
REVISED_AFTER_DAYS = 9
GOLD_IMAGES = 20
IMAGE_SIZE = 64


@dataclass
class DemoSummary:
    project: Project
    created: bool
    images: int
    simulated_annotations: int
    gold_images: int = 0


def digit_png(pixels: np.ndarray, size: int = IMAGE_SIZE) -> bytes:
    """An 8x8 digit (values 0-16) as a size x size grayscale PNG, dark ink on white."""
    gray = (255 - pixels * 255 / 16).clip(0, 255).astype(np.uint8)
    image = PILImage.fromarray(gray, mode="L").resize((size, size), PILImage.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def demo_users(password: str = DEMO_PASSWORD) -> dict[str, User]:
    """The demo's admin, lead, annotators and simulated annotators (created once).

    The admin opens the team page and every project: someone trying the demo can invite
    people and make accounts without a terminal.
    """

    users = {}
    for username in (ADMIN, LEAD, *ANNOTATORS, *SIMULATED):
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_password(password)
            user.is_staff = user.is_superuser = username == ADMIN
            user.save()
        users[username] = user
    users[LEAD].user_permissions.add(Permission.objects.get(codename="add_project"))
    return users


def demo_load(*, n_images: int, simulate_fraction: float, seed: int = 0) -> DemoSummary:
    """Create the demo project once; later calls only report what is there."""
    users = demo_users()
    existing = Project.objects.filter(name=DEMO_PROJECT).first()
    if existing is not None:
        gold_images = FinalLabel.objects.filter(
            image__project=existing, method=FinalLabelMethod.GOLD
        ).count()
        images, annotations = existing.images.count(), existing.annotations.count()
        return DemoSummary(existing, False, images, annotations, gold_images)
    digits = load_digits()
    n_images = min(n_images, len(digits.target))
    with transaction.atomic():
        project = project_create(
            creator=users[LEAD],
            name=DEMO_PROJECT,
            labels=[{"name": str(d), "hotkey": str(d)} for d in range(10)],
            overlap=3,
            review_threshold=0.6,  # a 2-of-3 majority decides; ties go to review
            # Digits are not mirror images of each other: no flips. Retraining by itself is
            # left to the lead (the settings page), so loading the demo trains nothing.
            training={"augment": {"hflip": False}},
            retrain_after=0,
            instructions=(
                "Label the handwritten digit you see: press its key (0-9).\n"
                "A 1 has no crossbar and at most a short flag; a 7 has a clear top bar.\n"
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
    rng = np.random.default_rng(seed)
    count = _simulate(project, users, truth, simulate_fraction, rng)
    gold = _gold(project, users[LEAD], truth, rng) if truth else 0
    final_labels_refresh(project=project)
    return DemoSummary(project, True, len(truth), count, gold)


def _simulate(
    project: Project,
    users: dict[str, User],
    truth: dict[int, int],
    fraction: float,
    rng: np.random.Generator,
) -> int:
    """Label a share of the images by ``overlap`` simulated annotators each, over past weeks.

    Each image goes to ``overlap`` of the simulated annotators, chosen at random; their
    labels carry the days they were given, spread over the last ``HISTORY_DAYS`` days, so
    the dashboard has agreement over time. Before the instructions were revised
    (``REVISED_AFTER_DAYS`` in) everyone erred twice as often. A wrong label is usually the
    digit's look-alike (1 and 7, 3 and 8, ...), as people's mistakes are.
    """
    image_ids = sorted(truth)[: int(len(truth) * fraction)]
    names = list(SIMULATED)
    per_image = min(project.overlap, len(names))
    now = timezone.now()
    stamps: list[tuple[int, datetime]] = []
    for order, image_id in enumerate(image_ids):
        day = HISTORY_DAYS * order / max(len(image_ids), 1)
        revised = day >= REVISED_AFTER_DAYS
        for username in rng.choice(names, size=per_image, replace=False):
            error = 1 - SIMULATED[str(username)]
            label = _noisy_label(truth[image_id], error if revised else 2 * error, rng)
            annotation, _, _ = annotation_record(
                project=project,
                annotator=users[str(username)],
                image_id=image_id,
                labels=[str(label)],
                time_spent_ms=int(rng.gamma(4.0, 300.0 + 600.0 * (1 - error))),
            )
            offset = timedelta(days=HISTORY_DAYS - day, minutes=float(rng.uniform(0, 600)))
            stamps.append((annotation.pk, now - offset))
    _backdate(stamps)
    return len(stamps)


def _noisy_label(label: int, error: float, rng: np.random.Generator) -> int:
    if rng.random() >= error:
        return label
    if rng.random() < 0.7:
        return LOOK_ALIKE[label]
    return int(rng.choice([d for d in range(10) if d != label]))


def _backdate(stamps: list[tuple[int, datetime]]) -> None:
    """Give simulated labels the times they were (notionally) given."""
    for annotation_id, at in stamps:
        annotation_backdate(annotation_id=annotation_id, at=at)


def _gold(project: Project, lead: User, truth: dict[int, int], rng: np.random.Generator) -> int:
    """Mark a few images of every digit as gold, with their true digit."""
    image_ids = sorted(truth)
    chosen = rng.choice(image_ids, size=min(GOLD_IMAGES, len(image_ids)), replace=False)
    for image_id in chosen:
        image_decide(
            project=project,
            image_id=int(image_id),
            labels=[str(truth[int(image_id)])],
            decided_by=lead,
            method=FinalLabelMethod.GOLD,
        )
    return len(chosen)
