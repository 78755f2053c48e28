"""The review queue: images whose label a person should decide, most uncertain first.

Which images: those rated by ``overlap`` annotators (eligible for a final label) whose
consensus is a tie, falls below the project's review threshold, or is not unanimous,
and that no person has decided yet (adjudicated or gold). An image still short of
``overlap`` ratings waits for its remaining annotators even when the first ones
disagree: the missing votes often settle the split, and a reviewer's time is the
scarcest in a project.

Speed: the candidates (ids, reasons, consensus) come from ``consensus_rows``, array work
over one query, and are cached as arrays under a watermark of the project's annotations
and quality settings. People's decisions are not part of that key: the decided image
ids are read live (one query), so deciding an image never throws the cache away.
Explicit requests (``labeler.agreement.review_requests``: a lead sent the image, the
model disagrees, ...) come first, oldest first, whether or not the consensus makes the
image a candidate; a decision resolves them. Each item lists its open requests.
Details (the image, every annotation, the final label) are loaded for the page shown
only, in a fixed number of queries whatever its size; ``labeler.predictions.review`` adds
the model's suggestion.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import overload

import numpy as np
import numpy.typing as npt
from django.db.models import Count, Max

from labeler import cache_keys
from labeler.agreement.final_labels import final_labels_fresh
from labeler.agreement.models import ReviewRequest
from labeler.agreement.review_requests import (
    REQUESTED,
    open_review_requests,
    review_requests_open_ordered,
)
from labeler.agreement.rows import SETTLED, consensus_rows
from labeler.annotations.models import Annotation, FinalLabel, FinalLabelMethod
from labeler.cached import cached
from labeler.errors import NotFound, ValidationFailed
from labeler.images.models import Image
from labeler.projects.models import Project

CACHE_SECONDS = 24 * 3600
RECENT_SECONDS = 60
TIE, LOW_CONFIDENCE, DISAGREEMENT = "tie", "low_confidence", "disagreement"
REASONS = (TIE, LOW_CONFIDENCE, DISAGREEMENT)  # in the order they are checked
# The queue's filters: the computed reasons and "requested", any open explicit request.
QUEUE_REASONS = (REQUESTED, *REASONS)

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Candidates:
    """Every eligible image a person should decide (decided or not), most uncertain first.

    Row ``i`` is image ``image_ids[i]``, for reason ``REASONS[reasons[i]]``, with consensus
    labels ``label_ids[label_offsets[i]:label_offsets[i + 1]]`` (none for a tie) and
    ``confidence[i]`` (nan where undefined).
    """

    image_ids: IntArray
    reasons: npt.NDArray[np.int8]
    confidence: npt.NDArray[np.float64]
    label_offsets: IntArray
    label_ids: IntArray
    method: str

    def row_of(self, image_id: int) -> int | None:
        """The row of an image, or None when it needs no review."""
        found = np.flatnonzero(self.image_ids == image_id)
        return int(found[0]) if len(found) else None


@dataclass(frozen=True)
class ConsensusLabel:
    """What the annotators' labels decide, by the project's consensus method."""

    label_ids: list[int]
    confidence: float | None
    method: str


@dataclass(frozen=True)
class ReviewEntry:
    """One image of the queue, before its details are loaded.

    ``reason`` is "requested" for an image with open explicit requests (their own
    reasons are in the item's ``requests``); ``consensus`` is None for such an image that
    is no candidate of the consensus.
    """

    image_id: int
    reason: str
    consensus: ConsensusLabel | None


@dataclass(frozen=True)
class ReviewAnnotation:
    """One annotator's labels of the image under review."""

    id: int
    annotator: int
    username: str
    label_ids: list[int]
    updated_at: datetime


@dataclass(frozen=True)
class ReviewItem:
    """Everything a reviewer decides an image from."""

    image: Image
    reason: str | None  # None: the image is not in the queue (agreed, decided or unrated)
    consensus: ConsensusLabel | None
    annotations: list[ReviewAnnotation]
    final_label: FinalLabel | None
    # The open explicit requests, oldest first (reason, detail, requested_by, created_at).
    requests: list[ReviewRequest] = field(default_factory=list)
    # The current model's suggestion: models are a layer above, which fills it in
    # (``labeler.predictions.review``).
    suggestion: object | None = None


class ReviewQueue(Sequence[ReviewEntry]):
    """The requested images, then the undecided candidates (of one reason, if asked).

    A sequence to page through: ``requested`` image ids first, then candidate ``rows``.
    """

    def __init__(
        self,
        candidates: Candidates,
        rows: IntArray,
        counts: dict[str, int],
        requested: IntArray | None = None,
    ) -> None:
        self.candidates = candidates
        self.rows = rows
        self.counts = counts  # per reason, over the whole queue whatever the filter
        self.requested = requested if requested is not None else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.requested) + len(self.rows)

    @overload
    def __getitem__(self, index: int) -> ReviewEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[ReviewEntry]: ...

    def __getitem__(self, index: int | slice) -> ReviewEntry | list[ReviewEntry]:
        if isinstance(index, slice):
            return [self._at(position) for position in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._at(index)

    def _at(self, position: int) -> ReviewEntry:
        if position < len(self.requested):
            return _requested_entry(self.candidates, int(self.requested[position]))
        return _entry(self.candidates, int(self.rows[position - len(self.requested)]))


def annotations_watermark(project: Project) -> str:
    """Changes whenever an annotation of the project is added, changed or removed."""
    mark = Annotation.objects.filter(project=project).aggregate(
        n=Count("id"), last=Max("updated_at"), top=Max("id")
    )
    return f"{mark['n']}:{mark['last']}:{mark['top']}"


def review_candidates(project: Project) -> Candidates:
    """The project's candidates for review, cached until its annotations or settings change."""
    mark = f"{_settings_mark(project)}:{annotations_watermark(project)}"
    key = cache_keys.review_candidates(project.pk, hashlib.sha256(mark.encode()).hexdigest())
    return cached(key, lambda: candidates_compute(project), CACHE_SECONDS)


def review_candidates_recent(project: Project) -> Candidates:
    """The candidates as computed within the last ``RECENT_SECONDS``, else as of now.

    For the data browser, which reads final labels as the background refresh left them
    too: a page skips the watermark's count of the project's annotations (120 ms at 1.35
    million) and may lag a new label by up to a minute.
    """
    digest = hashlib.sha256(_settings_mark(project).encode()).hexdigest()
    key = cache_keys.review_candidates_recent(project.pk, digest)
    return cached(key, lambda: review_candidates(project), RECENT_SECONDS)


def _settings_mark(project: Project) -> str:
    """The settings that change who is a candidate (adaptive overlap: who is eligible)."""
    return (
        f"{project.consensus_method}:{project.overlap}:{project.review_threshold}:"
        f"{project.overlap_mode}:{project.overlap_max}"
    )


def candidates_compute(project: Project) -> Candidates:
    """Find every eligible image needing review, from the consensus arrays."""
    rows = consensus_rows(project)
    confidence = rows.confidence
    decided = np.array([bool(labels) for labels in rows.labels], dtype=bool)
    tie = rows.needs_review
    with np.errstate(invalid="ignore"):
        low = ~tie & (np.isnan(confidence) | (confidence < project.review_threshold) | ~decided)
    split = ~tie & ~low & ~rows.unanimous
    chosen = rows.eligible & (tie | low | split)
    reasons = np.select([tie, low], [0, 1], 2).astype(np.int8)
    image_ids = rows.ratings.image_ids
    order = np.lexsort((image_ids, np.nan_to_num(confidence, nan=-1.0)))
    order = order[chosen[order]]
    label_ids = np.asarray(rows.ratings.label_ids, dtype=np.int64)
    consensus = [label_ids[rows.labels[row]] for row in order]
    sizes = np.array([len(labels) for labels in consensus], dtype=np.int64)
    return Candidates(
        image_ids=image_ids[order].astype(np.int64),
        reasons=reasons[order],
        confidence=confidence[order].astype(np.float64),
        label_offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        label_ids=np.concatenate([np.zeros(0, dtype=np.int64), *consensus]).astype(np.int64),
        method=project.consensus_method,
    )


def review_queue(project: Project, *, reason: str | None = None) -> ReviewQueue:
    """The images waiting for a person's decision, most uncertain first (then by id).

    Images with open explicit requests come first (oldest request first), counted under
    ``requested`` and not again under their computed reason. ``reason`` keeps those of
    one reason (``requested``, ``tie``, ``low_confidence``, ``disagreement``); the counts
    per reason are always over the whole queue.
    """
    if reason is not None and reason not in QUEUE_REASONS:
        known = ", ".join(QUEUE_REASONS)
        raise ValidationFailed(f"Unknown reason {reason!r}; use one of {known}.", field="reason")
    final_labels_fresh(project=project)  # its items show final labels
    candidates = review_candidates(project)
    requested = review_requests_open_ordered(project)
    open_ = ~np.isin(candidates.image_ids, decided_image_ids(project))
    open_ &= ~np.isin(candidates.image_ids, requested)
    counts = np.bincount(candidates.reasons[open_], minlength=len(REASONS))
    if reason is not None:
        open_ &= candidates.reasons == (REASONS.index(reason) if reason in REASONS else -1)
    return ReviewQueue(
        candidates,
        np.flatnonzero(open_).astype(np.int64),
        {
            REQUESTED: len(requested),
            **{name: int(count) for name, count in zip(REASONS, counts, strict=True)},
        },
        requested if reason in (None, REQUESTED) else None,
    )


def decided_image_ids(project: Project) -> IntArray:
    """Ids of the project's images whose final label a person settled."""
    ids = FinalLabel.objects.filter(image__project=project, method__in=SETTLED).values_list(
        "image_id", flat=True
    )
    return np.fromiter(ids, dtype=np.int64)


def review_items(project: Project, entries: Sequence[ReviewEntry]) -> list[ReviewItem]:
    """The details of a page of the queue, in its order, in a fixed number of queries."""
    by_image = {entry.image_id: entry for entry in entries}
    images = Image.objects.in_bulk(list(by_image))
    return _items(project, [images[i] for i in by_image if i in images], by_image)


def review_item(project: Project, image_id: int) -> ReviewItem:
    """One image's review item, whether it waits in the queue or not (decided, agreed)."""
    image = Image.objects.filter(pk=image_id, project=project).first()
    if image is None:
        raise NotFound(f"Image {image_id} is not an image of this project.")
    final_labels_fresh(project=project)
    candidates = review_candidates(project)
    row = candidates.row_of(image_id)
    entries = {image_id: _entry(candidates, row)} if row is not None else {}
    item = _items(project, [image], entries)[0]
    if item.requests:
        item = replace(item, reason=REQUESTED)
    return item


def _requested_entry(candidates: Candidates, image_id: int) -> ReviewEntry:
    """A requested image's entry: the consensus where the image is a candidate too."""
    row = candidates.row_of(image_id)
    consensus = _entry(candidates, row).consensus if row is not None else None
    return ReviewEntry(image_id=image_id, reason=REQUESTED, consensus=consensus)


def _entry(candidates: Candidates, row: int) -> ReviewEntry:
    start, end = candidates.label_offsets[row], candidates.label_offsets[row + 1]
    confidence = float(candidates.confidence[row])
    return ReviewEntry(
        image_id=int(candidates.image_ids[row]),
        reason=REASONS[int(candidates.reasons[row])],
        consensus=ConsensusLabel(
            label_ids=[int(i) for i in candidates.label_ids[start:end]],
            confidence=None if np.isnan(confidence) else confidence,
            method=candidates.method,
        ),
    )


def _items(
    project: Project, images: list[Image], entries: dict[int, ReviewEntry]
) -> list[ReviewItem]:
    ids = [image.pk for image in images]
    annotations = _annotations(ids)
    requests = open_review_requests(ids)
    finals = {
        final.image_id: final
        for final in FinalLabel.objects.filter(image_id__in=ids)
        .select_related("decided_by")
        .prefetch_related("labels")
    }
    items = []
    for image in images:
        entry = entries.get(image.pk)
        final = finals.get(image.pk)
        items.append(
            ReviewItem(
                image=image,
                reason=entry.reason if entry else None,
                consensus=(
                    entry.consensus if entry and entry.consensus else _consensus_of(project, final)
                ),
                annotations=annotations.get(image.pk, []),
                final_label=final,
                requests=requests.get(image.pk, []),
            )
        )
    return items


def _consensus_of(project: Project, final: FinalLabel | None) -> ConsensusLabel | None:
    """Outside the queue, the consensus is the consensus final label, where there is one."""
    if final is None or final.method != FinalLabelMethod.CONSENSUS:
        return None
    return ConsensusLabel(
        label_ids=sorted(label.pk for label in final.labels.all()),
        confidence=final.confidence,
        method=project.consensus_method,
    )


def _annotations(image_ids: Iterable[int]) -> dict[int, list[ReviewAnnotation]]:
    """Each image's annotations with their annotators' names and label ids, in one query."""
    rows = (
        Annotation.labels.through.objects.filter(annotation__image_id__in=list(image_ids))
        .order_by("annotation_id", "label_id")
        .values_list(
            "annotation_id",
            "annotation__image_id",
            "annotation__annotator_id",
            "annotation__annotator__username",
            "annotation__updated_at",
            "label_id",
        )
    )
    by_image: dict[int, list[ReviewAnnotation]] = {}
    current: ReviewAnnotation | None = None
    for annotation_id, image_id, annotator, username, updated_at, label_id in rows:
        if current is None or current.id != annotation_id:
            current = ReviewAnnotation(annotation_id, annotator, username, [], updated_at)
            by_image.setdefault(image_id, []).append(current)
        current.label_ids.append(label_id)
    return by_image
