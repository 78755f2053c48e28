"""Which images a bulk action acts on: ``{"ids": [...]}`` or ``{"filter": "<query>"}``.

A filter selection is the Images page's query string, resolved by the data browser's
``labeler.browse.filters.images_filtered`` (the same filters as the images list: any other
key is a 400 naming it); ``exclude_ids`` takes images out of it (those unticked after
"select everything the filter matches").

``selection_resolve`` is the one way a selection becomes images, and it owns the rule of
destructive selections: a selection that destroys or withdraws data (a bulk delete,
relabel, gold, reserve; an erasure; anything added later that says ``destroys``) carries
the number of images its sender saw, and is refused when it matches another number now.
The routes that take a selection read it from their body only (``api/selections.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import QueryDict

from labeler.browse.budget import filter_budget
from labeler.browse.filters import images_filtered
from labeler.errors import Conflict, ValidationFailed
from labeler.images.models import Image
from labeler.projects.models import Project
from labeler.text_in import query_refuse_unsafe

IdArray = npt.NDArray[np.int64]
MAX_IDS = 1_000_000
BATCH = 5000
KEYS = ("ids", "filter", "exclude_ids")


def selection_resolve(
    project: Project,
    selection: Any,
    *,
    user: User,
    destroys: bool,
    expected_count: Any = None,
    action: str,
) -> IdArray:
    """The ids of the project's images a selection names, sorted; never empty.

    Raises ValidationFailed for a malformed selection, ids of images that are not the
    project's, a bad filter, a selection that matches no image, or no ``expected_count``
    (the number of images the sender saw) where the ``action`` ``destroys`` or withdraws
    data; Conflict, with both numbers, when ``expected_count`` is given and the selection
    matches another number now.
    """
    expected = _expected_count(action, expected_count, required=destroys)
    ids = _resolved(project, selection, user)
    if expected is not None and expected != len(ids):
        raise Conflict(
            f"The selection matches {len(ids)} images now, not the {expected} you saw: "
            "look at the selection again, then send its new count.",
            field="expected_count",
            expected_count=expected,
            matched_count=len(ids),
        )
    return ids


def _expected_count(action: str, raw: Any, *, required: bool) -> int | None:
    if raw is None:
        if required:
            raise ValidationFailed(
                f"expected_count: {action} destroys or withdraws data, so it carries the "
                "number of images you saw selected; send it.",
                field="expected_count",
            )
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise ValidationFailed(
            f"expected_count: a whole number of images from 0, not {raw!r}.",
            field="expected_count",
        )
    return raw


def _resolved(project: Project, selection: Any, user: User) -> IdArray:
    if not isinstance(selection, Mapping):
        raise ValidationFailed(
            'Send the selection as {"ids": [...]} or {"filter": "<query string>"}.',
            field="selection",
        )
    unknown = sorted(set(selection) - set(KEYS))
    if unknown:
        raise ValidationFailed(
            f"Unknown selection key {unknown[0]!r}; use ids, or filter with exclude_ids.",
            field="selection",
        )
    has_ids, has_filter = "ids" in selection, "filter" in selection
    if has_ids == has_filter:
        raise ValidationFailed(
            "A selection has either ids or a filter (one of them).", field="selection"
        )
    if has_ids:
        if "exclude_ids" in selection:
            raise ValidationFailed(
                "exclude_ids goes with a filter; leave the ids out instead.", field="selection"
            )
        ids = _ids(selection["ids"], "ids")
        if not len(ids):
            raise ValidationFailed(
                "The selection is empty: name at least one image.", field="selection"
            )
        _check_project(project, ids)
    else:
        ids = _filtered(project, selection["filter"], user)
        if "exclude_ids" in selection:
            ids = np.setdiff1d(ids, _ids(selection["exclude_ids"], "exclude_ids"))
        if not len(ids):
            raise ValidationFailed(
                "The selection is empty: the filter matches no image.", field="selection"
            )
    return ids


def selection_count(project: Project, query: Any, *, user: User) -> int:
    """How many of the project's images a filter (the Images page's query string) matches:
    what "everything the filter matches" acts on, before any image is unticked."""
    images = _matching(project, query, user).order_by()
    with filter_budget():
        return images.count()


def selection_summary(selection: Mapping[str, Any], count: int) -> dict[str, Any]:
    """What the audit row keeps of a selection: its filter (not a long id list) and size."""
    summary: dict[str, Any] = {"count": count}
    if "filter" in selection:
        summary["filter"] = selection["filter"]
        summary["excluded"] = len(selection.get("exclude_ids") or [])
    else:
        summary["ids"] = "listed"
    return summary


def in_batches(ids: IdArray, size: int | None = None) -> Iterable[list[int]]:
    """The ids as lists of at most ``size`` (``BATCH``), in order."""
    size = size or BATCH
    for start in range(0, len(ids), size):
        yield ids[start : start + size].tolist()


def _ids(raw: Any, name: str) -> IdArray:
    if not isinstance(raw, list):
        raise ValidationFailed(f"'{name}' must be a list of image ids.", field=name)
    if len(raw) > MAX_IDS:
        raise ValidationFailed(
            f"At most {MAX_IDS:,} ids; select with a filter instead.", field=name
        )
    if any(isinstance(value, bool) or not isinstance(value, int) for value in raw):
        raise ValidationFailed(f"'{name}' must hold whole-number image ids.", field=name)
    if any(value <= 0 or value >= 2**63 for value in raw):
        raise ValidationFailed(f"'{name}' holds an id out of range.", field=name)
    return np.unique(np.asarray(raw, dtype=np.int64))


def _check_project(project: Project, ids: IdArray) -> None:
    found = np.fromiter(
        (
            pk
            for batch in in_batches(ids)
            for pk in Image.objects.filter(project=project, pk__in=batch).values_list(
                "pk", flat=True
            )
        ),
        dtype=np.int64,
    )
    if len(found) != len(ids):
        missing = np.setdiff1d(ids, found)
        shown = ", ".join(str(i) for i in missing[:5].tolist())
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ValidationFailed(
            f"Images {shown}{more} are not images of this project.", field="selection"
        )


def _filtered(project: Project, query: Any, user: User) -> IdArray:
    images = _matching(project, query, user).order_by().values_list("pk", flat=True)
    with filter_budget():  # FilterTooSlow past it: nothing is written before the ids are read
        return np.unique(np.fromiter(images.iterator(), dtype=np.int64))


def _matching(project: Project, query: Any, user: User) -> QuerySet[Image]:
    if not isinstance(query, str):
        raise ValidationFailed(
            "'filter' is the Images page's query string, e.g. \"status=complete\".",
            field="filter",
        )
    # The data browser's one filter set: a key it does not know, or one a selection cannot
    # apply (a cursor, a page size), is a 400 naming it, never dropped (which once made a
    # delete of one tag's images delete every image). Read strictly, as the Images page's
    # own query string is: QueryDict would make U+FFFD of an escaped lone surrogate.
    query_refuse_unsafe(query.lstrip("?"), within="filter")
    return images_filtered(project, QueryDict(query.lstrip("?")), user=user, reads=("sort",))
