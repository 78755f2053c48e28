"""The review queue's details with the current model's suggestion beside the people's labels.

The queue itself (``labeler.agreement.review``) knows nothing of models; this adds, for
the page shown only, what the current model suggests for each image, in one more query.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from labeler.agreement import review
from labeler.predictions.selectors import suggestions_for
from labeler.projects.models import Project


def review_items(
    project: Project, entries: Sequence[review.ReviewEntry]
) -> list[review.ReviewItem]:
    """The details of a page of the queue, in its order, each with the model's suggestion."""
    return _suggested(project, review.review_items(project, entries))


def review_item(project: Project, image_id: int) -> review.ReviewItem:
    """One image's review item (queued or not), with the model's suggestion."""
    return _suggested(project, [review.review_item(project, image_id)])[0]


def _suggested(project: Project, items: list[review.ReviewItem]) -> list[review.ReviewItem]:
    suggestions = suggestions_for(project=project, image_ids=[item.image.pk for item in items])
    return [dataclasses.replace(item, suggestion=suggestions.get(item.image.pk)) for item in items]
