"""The data browser's ``test_split`` filter: the images of the held-out test set, those
used for development (training and validation), or those not assigned yet.

An image's side is stored once, when a training (or an export that asks for the
project's splits) first meets its final label (``labeler.predictions.test_split``); an
image labelled since the last training is not assigned yet.
"""

from __future__ import annotations

from django.db.models import QuerySet

from labeler.browse.image_filter import ImageFilter
from labeler.errors import ValidationFailed
from labeler.images.models import Image
from labeler.predictions.splitting import DEVELOPMENT, TEST
from labeler.predictions.test_split import side_condition
from labeler.projects.models import Project

NOT_ASSIGNED = "none"
CHOICES = (
    (TEST, "In the test set"),
    (DEVELOPMENT, "Development (training and validation)"),
    (NOT_ASSIGNED, "Not assigned yet"),
)


def _test_split(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    value = values[-1]
    if value not in dict(CHOICES):
        known = ", ".join(choice for choice, _ in CHOICES)
        raise ValidationFailed(f"test_split: {value!r} is none of {known}.", field="test_split")
    return images.filter(side_condition(None if value == NOT_ASSIGNED else value))


TEST_SPLIT = ImageFilter(
    "test_split",
    "Test split",
    "choice",
    _test_split,
    choices=CHOICES,
    many=False,
    group="model",
    help="test: held out, never trained on, every model is scored on it; development: "
    "trained or validated on; none: not assigned yet (no final label, or labelled since "
    "the last training).",
)

IMAGE_FILTERS = (TEST_SPLIT,)
