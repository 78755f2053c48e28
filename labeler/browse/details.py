"""What the browser shows about images: a page's rows, and one image in full.

A page's rows read their final labels, the current model's suggestion and whether they
are skipped or waiting for review in a fixed number of queries whatever the page size.
One image's details add every annotation (who, when, which labels), every model
version's probabilities, its label history, its review requests, and who it is reserved
for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import F

from labeler.agreement.models import ReviewRequest
from labeler.annotations.models import (
    Annotation,
    FinalLabel,
    ImageReservation,
    LabelChange,
    Skip,
)
from labeler.browse import facts as conditions
from labeler.browse.sorts import SORT_KEY, sort_apply, sort_read, sorted_walk
from labeler.errors import NotFound
from labeler.images.models import Image
from labeler.predictions.models import Prediction
from labeler.predictions.selectors import suggestions_for
from labeler.projects.models import Project


@dataclass(frozen=True)
class FinalFacts:
    label_ids: list[int]
    method: str
    confidence: float | None
    decided_by: str | None
    updated_at: dt.datetime


@dataclass(frozen=True)
class RowFacts:
    """What a page's grid and table show beside an image."""

    final: FinalFacts | None
    predicted: list[int]
    model_confidence: float | None
    skipped: bool = False
    in_review: bool = False


def rows_facts(project: Project, images: Sequence[Image]) -> dict[int, RowFacts]:
    """Each image's final label, current model's suggestion, and whether it is skipped or
    in review (as the status filter reads them), in five queries."""
    ids = [image.pk for image in images]
    finals = _finals(ids)
    suggestions = suggestions_for(project=project, image_ids=ids)
    skipped = set(Skip.objects.filter(image_id__in=ids).values_list("image_id", flat=True))
    in_review = _in_review(project, ids)
    facts = {}
    for image_id in ids:
        suggestion = suggestions.get(image_id)
        facts[image_id] = RowFacts(
            final=finals.get(image_id),
            predicted=suggestion.label_ids if suggestion else [],
            model_confidence=suggestion.confidence if suggestion else None,
            skipped=image_id in skipped,
            in_review=image_id in in_review,
        )
    return facts


def _in_review(project: Project, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    waiting = Image.objects.filter(pk__in=ids).filter(conditions.review_condition(project))
    return set(waiting.values_list("pk", flat=True))


def _finals(ids: list[int]) -> dict[int, FinalFacts]:
    rows = FinalLabel.objects.filter(image_id__in=ids).select_related("decided_by")
    return {
        final.image_id: FinalFacts(
            label_ids=sorted(label.pk for label in final.labels.all()),
            method=final.method,
            confidence=final.confidence,
            decided_by=final.decided_by.username if final.decided_by else None,
            updated_at=final.updated_at,
        )
        for final in rows.prefetch_related("labels")
    }


@dataclass(frozen=True)
class AnnotationFacts:
    annotator: str
    label_ids: list[int]
    created_at: dt.datetime
    updated_at: dt.datetime
    time_spent_ms: int | None
    suggestion_shown: bool
    suggestion_accepted: bool


@dataclass(frozen=True)
class PredictionFacts:
    version: int
    is_current: bool
    created_at: dt.datetime
    confidence: float | None
    probabilities: list[tuple[int, float]]  # most probable first


@dataclass(frozen=True)
class ChangeFacts:
    kind: str
    kind_label: str
    who: str | None
    annotator: str | None
    method: str
    from_label_ids: list[int]
    to_label_ids: list[int]
    created_at: dt.datetime


@dataclass(frozen=True)
class ReviewFacts:
    """A review request on the image: why, who asked, when, and when a person decided."""

    reason: str
    note: str
    requested_by: str | None
    created_at: dt.datetime
    resolved_at: dt.datetime | None


@dataclass(frozen=True)
class ImageDetails:
    image: Image
    annotations: list[AnnotationFacts]
    skipped_by: list[str]
    final: FinalFacts | None
    predictions: list[PredictionFacts]
    history: list[ChangeFacts]
    reviews: list[ReviewFacts]
    reserved_for: list[str]


def image_details(project: Project, image_id: int) -> ImageDetails:
    """Everything a lead reads about one image of the project."""
    image = Image.objects.filter(project=project, pk=image_id).first()
    if image is None:
        raise NotFound(f"Image {image_id} is not an image of this project.")
    annotations = (
        Annotation.objects.filter(image=image)
        .select_related("annotator")
        .prefetch_related("labels")
        .order_by("created_at", "id")
    )
    return ImageDetails(
        image=image,
        annotations=[
            AnnotationFacts(
                annotator=a.annotator.username,
                label_ids=sorted(label.pk for label in a.labels.all()),
                created_at=a.created_at,
                updated_at=a.updated_at,
                time_spent_ms=a.time_spent_ms,
                suggestion_shown=a.suggestion_shown,
                suggestion_accepted=a.suggestion_accepted,
            )
            for a in annotations
        ],
        skipped_by=list(
            Skip.objects.filter(image=image)
            .order_by("id")
            .values_list("annotator__username", flat=True)
        ),
        final=_finals([image.pk]).get(image.pk),
        predictions=_predictions(image),
        history=_history(image),
        reviews=_reviews(image),
        reserved_for=list(
            ImageReservation.objects.filter(image=image)
            .order_by("annotator__username")
            .values_list("annotator__username", flat=True)
        ),
    )


def _predictions(image: Image) -> list[PredictionFacts]:
    rows = (
        Prediction.objects.filter(image=image)
        .select_related("model_version")
        .order_by("-model_version__version")
    )
    return [
        PredictionFacts(
            version=row.model_version.version,
            is_current=row.model_version.is_current,
            created_at=row.created_at,
            confidence=row.confidence,
            probabilities=sorted(_probabilities(row.probabilities), key=lambda p: -p[1]),
        )
        for row in rows
    ]


def _probabilities(stored: Mapping[str, Any]) -> list[tuple[int, float]]:
    return [
        (int(key), float(value))
        for key, value in stored.items()
        if str(key).isascii() and str(key).isdigit()
    ]


def _history(image: Image) -> list[ChangeFacts]:
    changes = list(LabelChange.objects.filter(image=image).order_by("id"))
    user_ids = {c.changed_by_id for c in changes} | {c.annotator_id for c in changes}
    known = [pk for pk in user_ids if pk is not None]
    names = dict(get_user_model().objects.filter(pk__in=known).values_list("pk", "username"))
    return [
        ChangeFacts(
            kind=change.kind,
            kind_label=change.get_kind_display(),
            who=names.get(change.changed_by_id) if change.changed_by_id else None,
            annotator=names.get(change.annotator_id) if change.annotator_id else None,
            method=change.method,
            from_label_ids=list(change.from_label_ids or []),
            to_label_ids=list(change.to_label_ids or []),
            created_at=change.created_at,
        )
        for change in changes
    ]


def _reviews(image: Image) -> list[ReviewFacts]:
    rows = ReviewRequest.objects.filter(image=image).select_related("requested_by")
    return [
        ReviewFacts(
            reason=row.reason,
            note=str(row.detail.get("note", "")) if isinstance(row.detail, dict) else "",
            requested_by=row.requested_by.username if row.requested_by else None,
            created_at=row.created_at,
            resolved_at=row.resolved_at,
        )
        for row in rows.order_by("created_at", "id")
    ]


def image_neighbours(
    images: Any, *, sort: str, image_id: int, project: Project
) -> tuple[int | None, int | None]:
    """The images before and after this one among ``images`` (filtered, in ``sort`` order).

    The image itself need not match the filter any more (a label changed since): its place
    in the order is taken from its own key.
    """
    sorted_by, descending = sort_read(sort)
    one = sort_apply(Image.objects.filter(project=project, pk=image_id), sort, project)
    if sorted_by.name == "id":
        key: Any = image_id
    else:
        key = (
            one.annotate(**{f"{SORT_KEY}_value": F(SORT_KEY)})
            .values_list(f"{SORT_KEY}_value", flat=True)
            .first()
        )
    position = (key, image_id)
    walked = [
        sorted_walk(images, sorted_by, ascending=ascending, position=position, limit=1)
        for ascending in (descending, not descending)
    ]
    preceding, following = (rows[0].pk if rows else None for rows in walked)
    return preceding, following
