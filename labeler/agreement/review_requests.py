"""Explicit review requests: images a person should decide, beside the computed queue.

The review queue (``labeler.agreement.review``) computes its candidates from the
consensus (tie, low confidence, disagreement). A request is filed by hand instead: a
lead sends images to review ("requested"), other features file theirs with a reason of
their own ("model_disagrees", "duplicate_labels_differ", ...) and what the reviewer
should know in ``detail``. A person's decision on the image resolves its open requests
(``review_requests_resolve``, called by ``services.image_decide``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from labeler.agreement.models import ReviewRequest
from labeler.annotations.models import FinalLabel
from labeler.errors import ValidationFailed
from labeler.images.models import Image
from labeler.projects.models import Project

REQUESTED = ReviewRequest.REQUESTED
REASON_MAX_LENGTH = 40
BATCH = 5000

__all__ = [
    "REQUESTED",
    "GroupImage",
    "open_review_image_ids",
    "open_review_requests",
    "requests_group_images",
    "review_requests_add",
    "review_requests_open_ordered",
    "review_requests_resolve",
]


@dataclass(frozen=True)
class GroupImage:
    """An image of a near-duplicate group a request names, with its final labels now."""

    id: int
    original_name: str
    thumbnail: str  # storage name, blank until rendered
    final_label_ids: list[int] | None  # None: not decided yet


@transaction.atomic
def review_requests_add(
    project: Project,
    image_ids: Iterable[int],
    *,
    reason: str,
    detail_by_image: Mapping[int, dict[str, Any]] | None = None,
    requested_by: User | None = None,
) -> int:
    """File a request that a person review each image; returns how many were added.

    Idempotent: an image that already has an open request for ``reason`` keeps it (its
    detail is left as it was). Every id must be an image of ``project``, else nothing is
    added (``ValidationFailed``). Works in batches, so 100,000 ids are a few queries.
    """
    if not isinstance(reason, str) or not reason.strip() or len(reason) > REASON_MAX_LENGTH:
        raise ValidationFailed(
            f"A review reason is a name of 1 to {REASON_MAX_LENGTH} characters.", field="reason"
        )
    wanted = _ids(image_ids)
    if not len(wanted):
        return 0
    found = _project_image_ids(project, wanted)
    if len(found) != len(wanted):
        missing = np.setdiff1d(wanted, found)[:5].tolist()
        raise ValidationFailed(
            f"Images {missing} are not images of this project.", field="image_ids"
        )
    already = np.fromiter(
        _in_batches(
            wanted,
            lambda batch: ReviewRequest.objects.filter(
                image_id__in=batch, reason=reason, resolved_at__isnull=True
            ).values_list("image_id", flat=True),
        ),
        dtype=np.int64,
    )
    new = np.setdiff1d(wanted, already)
    details = detail_by_image or {}
    now = timezone.now()
    ReviewRequest.objects.bulk_create(
        (
            ReviewRequest(
                project=project,
                image_id=int(image_id),
                reason=reason,
                detail=dict(details.get(int(image_id), {})),
                requested_by=requested_by,
                created_at=now,
            )
            for image_id in new
        ),
        batch_size=BATCH,
    )
    return len(new)


def review_requests_resolve(
    project: Project, image_ids: Collection[int], *, reason: str | None = None
) -> int:
    """Mark the open requests of these images resolved (all reasons, or one); returns how many."""
    requests = ReviewRequest.objects.filter(
        project=project, image_id__in=list(image_ids), resolved_at__isnull=True
    )
    if reason is not None:
        requests = requests.filter(reason=reason)
    return requests.update(resolved_at=timezone.now())


def open_review_image_ids(project: Project) -> QuerySet[ReviewRequest, int]:
    """Ids of the project's images with an open review request (for filters: ``id__in``)."""
    return (
        ReviewRequest.objects.filter(project=project, resolved_at__isnull=True)
        .values_list("image_id", flat=True)
        .distinct()
    )


def review_requests_open_ordered(project: Project) -> npt.NDArray[np.int64]:
    """Ids of the images with open requests, the oldest request first, each once."""
    ids = np.fromiter(
        ReviewRequest.objects.filter(project=project, resolved_at__isnull=True)
        .order_by("created_at", "id")
        .values_list("image_id", flat=True),
        dtype=np.int64,
    )
    _, first = np.unique(ids, return_index=True)
    return ids[np.sort(first)]


def open_review_requests(image_ids: Collection[int]) -> dict[int, list[ReviewRequest]]:
    """Each image's open requests, oldest first, in one query."""
    by_image: dict[int, list[ReviewRequest]] = {}
    requests = (
        ReviewRequest.objects.filter(image_id__in=list(image_ids), resolved_at__isnull=True)
        .select_related("requested_by")
        .order_by("created_at", "id")
    )
    for request in requests:
        by_image.setdefault(request.image_id, []).append(request)
    return by_image


def requests_group_images(
    project: Project, requests: Iterable[ReviewRequest]
) -> dict[int, list[GroupImage]]:
    """For each request that names a near-duplicate group (``detail["group"]``, as
    ``duplicate_labels_differ`` files it), keyed by the request's id: the images of the
    group that image is in now, by id, with their final labels as they are now.

    The group is read from the request's image at read time, not from the id the request
    was filed with: groups merge as images are hashed (a merged group keeps the smaller
    id), and a request follows its image into the merged group. Three queries for a whole
    page of requests.
    """
    named = {request.pk: request.image_id for request in requests if _group_of(request) is not None}
    if not named:
        return {}
    grouped = Image.objects.filter(project=project, pk__in=set(named.values()))
    group_of = {
        pk: group
        for pk, group in grouped.order_by().values_list("pk", "duplicate_group")
        if group is not None
    }
    members = list(
        Image.objects.filter(project=project, duplicate_group__in=set(group_of.values()))
        .order_by("duplicate_group", "pk")
        .values_list("pk", "duplicate_group", "original_name", "thumbnail")
    )
    finals: dict[int, list[int]] = {}
    decided = FinalLabel.objects.filter(image_id__in=[row[0] for row in members])
    for image_id, label_id in decided.values_list("image_id", "labels").order_by("labels"):
        finals.setdefault(image_id, [])
        if label_id is not None:
            finals[image_id].append(label_id)
    by_group: dict[int, list[GroupImage]] = {}
    for pk, group, name, thumbnail in members:
        if group is None:  # not possible (filtered on it); mypy cannot tell
            continue
        by_group.setdefault(group, []).append(GroupImage(pk, name, thumbnail or "", finals.get(pk)))
    return {
        request_id: by_group[group_of[image_id]]
        for request_id, image_id in named.items()
        if image_id in group_of
    }


def _group_of(request: ReviewRequest) -> int | None:
    group = request.detail.get("group") if isinstance(request.detail, dict) else None
    return group if isinstance(group, int) and not isinstance(group, bool) else None


def _ids(image_ids: Iterable[Any]) -> npt.NDArray[np.int64]:
    values = list(image_ids)
    if any(isinstance(value, bool) or not isinstance(value, int | np.integer) for value in values):
        raise ValidationFailed("Image ids are whole numbers.", field="image_ids")
    return np.unique(np.asarray(values, dtype=np.int64))


def _project_image_ids(project: Project, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return np.fromiter(
        _in_batches(
            ids,
            lambda batch: Image.objects.filter(project=project, pk__in=batch).values_list(
                "pk", flat=True
            ),
        ),
        dtype=np.int64,
    )


def _in_batches(ids: npt.NDArray[np.int64], query: Any) -> Iterable[int]:
    for start in range(0, len(ids), BATCH):
        yield from query(ids[start : start + BATCH].tolist())
