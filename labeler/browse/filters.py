"""The data browser's image filters: a registry, and the filtered, sorted images.

Each filter is a query parameter (``?status=complete&agreement=split``). Filters combine
(every one given must match); a filter given several values matches any of them
(``?status=gold&status=in_review``), except ``annotator`` with ``label``, which must hold
for one annotation. The Images page and ``GET /api/v1/projects/{id}/images/`` read the same
parameters. Each filter module lists its filters (``IMAGE_FILTERS``); ``FILTER_MODULES``
names those modules, and the registry is filled from them once, here. Parameters that are
not filters (``sort``, ``cursor``, ``page_size``...) are left to the caller; an empty value
is no filter. Final labels are read as the latest consensus refresh left them (the background
refresh follows new labels within seconds): checking that they are current counts every
label change of the project, a quarter of a second on a million images, too dear for
every page.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from typing import Any

from django.db.models import QuerySet

from labeler.browse import (
    core_filters,
    duplicate_filters,
    label_check_filters,
    metadata_filters,
    split_filters,
)
from labeler.browse.image_filter import ImageFilter
from labeler.browse.sorts import SORTS, sort_apply
from labeler.browse.values import MAX_VALUES, label_ids, param_values, user_ids
from labeler.errors import PermissionDenied, ValidationFailed
from labeler.images.models import Image
from labeler.projects.models import Project
from labeler.projects.selectors import can_manage, can_see_all_annotations, project_role
from labeler.text_in import text_unsafe_find

# Every module of filters, in the order the Images page's form and the API schema list them.
FILTER_MODULES = (
    core_filters,
    duplicate_filters,
    label_check_filters,
    split_filters,
    metadata_filters,
)

FILTERS: dict[str, ImageFilter] = {}


def register_filter(image_filter: ImageFilter) -> ImageFilter:
    """Add a filter to the registry; names are unique (``FILTER_MODULES`` fill it)."""
    if image_filter.name in FILTERS or image_filter.name in RESERVED:
        raise ValueError(f"A filter or parameter named {image_filter.name!r} exists already.")
    FILTERS[image_filter.name] = image_filter
    return image_filter


# Given together, these hold for one annotation (an annotator gave that label).
JOINT = frozenset({"annotator", "label"})
# Parameters that are not filters, read by the routes that take them (see ``reads``).
RESERVED = ("sort", "cursor", "page_size", "view", "format", "page")


def images_filtered(
    project: Project,
    params: Mapping[str, Any],
    *,
    user: Any,
    reads: Collection[str] = ("sort",),
    empty_is_none: bool = False,
) -> QuerySet[Image]:
    """The project's images that match every filter in ``params``, in its ``sort`` order.

    The one reader of image filters: the images list, the Images page, the bulk count
    and every bulk action's selection call it. ``reads`` names the other parameters the
    caller reads itself (``sort`` is read here); any other key, unknown or one the caller
    cannot apply (a cursor in a selection), is a 400 naming it, as is an empty value
    unless ``empty_is_none`` (a page's form sends its empty fields). Raises
    ValidationFailed naming the parameter for a value it cannot read, and
    PermissionDenied when a filter is not for the caller's role (annotators label blind).
    """
    given = _given(params, reads=reads, empty_is_none=empty_is_none)
    sort = _sort_given(params, empty_is_none=empty_is_none)
    _check_audience(project, user, given, sorted_by=sort)
    images = Image.objects.filter(project=project)
    for name, values in given.items():
        image_filter = FILTERS[name]
        if len(values) > MAX_VALUES:
            raise ValidationFailed(f"At most {MAX_VALUES} values, not {len(values)}.", field=name)
        if not image_filter.many and len(values) > 1:
            raise ValidationFailed(f"{name} is given once, not {len(values)} times.", field=name)
        if name not in JOINT or not JOINT.issubset(given):
            images = image_filter.apply(images, values, project)
    if JOINT.issubset(given):  # one annotation by one of these annotators with one of the labels
        images = core_filters.annotated(
            images,
            {
                "annotator": user_ids("annotator", given["annotator"], project),
                "label": label_ids("label", given["label"], project),
            },
        )
    return sort_apply(images, sort, project)


def filter_keys_check(params: Mapping[str, Any], *, reads: Collection[str] = ("sort",)) -> None:
    """Refuse (ValidationFailed naming it) a key that is neither a filter nor in ``reads``."""
    for key in params:
        if key in FILTERS or key in reads or key == "sort":
            continue
        if key in RESERVED:
            raise ValidationFailed(
                f"{key}: not taken here; this takes the image filters and sort only.", field=key
            )
        close = difflib.get_close_matches(key, [*FILTERS, *reads, "sort"], n=1)
        hint = f"did you mean {close[0]!r}?" if close else "see the filters in the API schema."
        # A key no text can hold (NUL, a lone surrogate) is named as written in Python.
        named = str(key) if text_unsafe_find(str(key)) is None else ascii(key)
        raise ValidationFailed(f"Unknown filter {key!r}; {hint}", field=named)


def _given(
    params: Mapping[str, Any], *, reads: Collection[str], empty_is_none: bool
) -> dict[str, list[str]]:
    filter_keys_check(params, reads=reads)
    given = {}
    for name in FILTERS:
        values = param_values(params, name)
        # Every empty value is refused, one beside others too (status=gold&status=): a
        # selection is exactly what its query string says, or a 400 naming what it cannot.
        if not empty_is_none and name in params and len(values) < _sent_count(params, name):
            raise ValidationFailed(f"{name} is empty: give a value or leave it out.", field=name)
        if values:
            given[name] = values
    return given


def _sort_given(params: Mapping[str, Any], *, empty_is_none: bool) -> str:
    """The one ``sort`` asked for (``id`` when none): given twice or empty, where no page's
    form sends it so, is a 400 rather than a quiet choice of one order."""
    values = param_values(params, "sort")
    if empty_is_none:  # a page: its forms keep the order they were opened with
        return values[-1] if values else "id"
    if "sort" in params and _sent_count(params, "sort") > 1:
        raise ValidationFailed(
            f"sort is given once, not {_sent_count(params, 'sort')} times.", field="sort"
        )
    if "sort" in params and not values:
        raise ValidationFailed("sort is empty: give an order or leave it out.", field="sort")
    return values[-1] if values else "id"


def _sent_count(params: Mapping[str, Any], name: str) -> int:
    """How many values of ``name`` were sent, empty ones included."""
    raw = params.getlist(name) if hasattr(params, "getlist") else params.get(name, [])
    return 1 if isinstance(raw, str) else len(list(raw or [""]))


def _check_audience(project: Project, user: Any, given: Mapping[str, Any], sorted_by: str) -> None:
    role = project_role(user=user, project=project)
    audiences = {FILTERS[name].audience for name in given}
    if "managers" in audiences and not can_manage(user=user, project=project, role=role):
        raise PermissionDenied(
            "Only the project's leads and admins see where photos were taken (has_gps)."
        )
    overseen = audiences - {"members"} or sorted_by != "id"
    if overseen and not can_see_all_annotations(user=user, role=role):
        raise PermissionDenied(
            "Annotators label blind: only leads, reviewers and admins filter images by their "
            "metadata, labels, status or predictions, or sort them."
        )


def _registry_fill() -> None:
    for module in FILTER_MODULES:
        for image_filter in module.IMAGE_FILTERS:
            register_filter(image_filter)


_registry_fill()

__all__ = [
    "FILTERS",
    "FILTER_MODULES",
    "SORTS",
    "ImageFilter",
    "filter_keys_check",
    "images_filtered",
    "param_values",
    "register_filter",
]
