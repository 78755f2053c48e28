"""The data browser's ``likely_wrong`` filter: final labels the latest label check flagged.

The check (``labeler.predictions.label_check``) runs after a training: a model that never
trained on an image disagrees with its final label, by confident learning. An image stops
matching once its final label changes or a person decides it after the check.
"""

from __future__ import annotations

from django.db.models import QuerySet

from labeler.browse.image_filter import ImageFilter
from labeler.errors import ValidationFailed
from labeler.images.models import Image
from labeler.predictions.label_check import likely_wrong_image_ids
from labeler.projects.models import Project


def _likely_wrong(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    value = values[-1]
    if value not in ("true", "false"):
        raise ValidationFailed(
            f"likely_wrong: {value!r} is neither true nor false.", field="likely_wrong"
        )
    flagged = likely_wrong_image_ids(project)
    if value == "true":
        return images.filter(pk__in=flagged)
    return images.exclude(pk__in=flagged)


LIKELY_WRONG = ImageFilter(
    "likely_wrong",
    "Likely wrong label",
    "choice",
    _likely_wrong,
    choices=(("true", "Yes"), ("false", "No")),
    many=False,
    help="true: after the latest training, a model that never saw the image disagrees "
    "with its final label (confident learning).",
)

IMAGE_FILTERS = (LIKELY_WRONG,)
