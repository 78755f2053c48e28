"""A project's near-duplicate groups, kept on its image rows.

An image's ``duplicate_group`` is the smallest image id of its group (null: none
found). A new image is checked against the project as soon as the worker has hashed it
(``image_duplicates_link``: one indexed query, milliseconds in a million images) and
joins, or merges, the groups of the images it is near. ``project_duplicates_regroup``
computes every group of a project again from its hashes: in the background after a
change of the project's distance (``flows.project_update``) or once its images hashed
by an older version of the hashing are hashed again (``labeler.images.duplicates.hash_upgrade``),
from ``manage.py images_find_duplicates`` after a change of the server's distance, or to
settle two uploads that raced each other.

The distance is the project's (``Project.duplicate_distance``) where it set one, the
server's ``LABELER_DUPLICATE_DISTANCE`` otherwise (``project_max_distance``).

A split that keeps each group on one side (a training's, its label check's folds, an
export's) first asks ``duplicate_groups_settled_check``: while the worker has images of
the project still to hash, their groups are not known, and a split made then would put
copies on both sides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from labeler.errors import Conflict
from labeler.images.duplicates.finding import (
    Zooms,
    distance,
    duplicate_groups,
    neighbour_bands,
)
from labeler.images.models import Image
from labeler.images.pixels.perceptual import CHECK_DISTANCE, check_distance, check_words
from labeler.projects.models import Project
from labeler.words import counted, noun

_BATCH = 1000
# An image the worker has not hashed this long after it was stored is taken as one whose
# preparation failed (it is logged there), not as one to wait for: a split waits for the
# hashes of a large import, never for good.
HASHING_WAIT = timedelta(hours=1)


@dataclass(frozen=True)
class NearImage:
    """An image near a given hash: its id, how many bits apart, its group if any."""

    id: int
    distance: int
    group: int | None


def max_distance_setting() -> int:
    """The server's distance (``LABELER_DUPLICATE_DISTANCE``), for projects that set none;
    below 0: no groups."""
    return int(settings.LABELER_DUPLICATE_DISTANCE)


def distance_or_setting(duplicate_distance: int | None) -> int:
    """A project's stored ``duplicate_distance``, or the server's where it is null."""
    return max_distance_setting() if duplicate_distance is None else duplicate_distance


def project_max_distance(project: Project) -> int:
    """The distance the project's groups use; below 0: no groups."""
    return distance_or_setting(project.duplicate_distance)


def _project_distance(project_id: int) -> int:
    stored = Project.objects.filter(pk=project_id).values_list("duplicate_distance", flat=True)
    return distance_or_setting(stored.first())


def near_images(
    *,
    project_id: int,
    phash: int,
    check: bytes | None = None,
    zoom: int | None = None,
    exclude_id: int | None = None,
    max_distance: int | None = None,
) -> list[NearImage]:
    """The project's images within ``max_distance`` bits of ``phash`` (by default the
    project's distance), nearest first; with a ``check`` (a framed subject), those whose
    checks are within ``CHECK_DISTANCE`` bits of it, without one, those without one. A
    photo is also near another when either one's hash is within the distance of the
    other's zoomed hash (``zoom``: this one's).

    One query: the rows with a band among its neighbours (``neighbour_bands``), each band
    through its own index (a photo's also its hash's bands among the zoomed hashes' bands,
    and its zoomed hash's among the hashes'), then the exact distances checked here.
    """
    limit = _project_distance(project_id) if max_distance is None else max_distance
    if limit < 0:
        return []  # grouping turned off
    rows = Image.objects.filter(_near_condition(phash, check, zoom, limit), project_id=project_id)
    rows = rows.filter(phash_check__isnull=check is None)
    if exclude_id is not None:
        rows = rows.exclude(pk=exclude_id)
    near = [
        NearImage(pk, _apart(phash, zoom, other, other_zoom), group)
        for pk, other, other_check, other_zoom, group in rows.values_list(
            "pk", "phash", "phash_check", "phash_zoom", "duplicate_group"
        ).order_by()
        if other is not None and _checks_near(check, other_check)
    ]
    return sorted((n for n in near if n.distance <= limit), key=lambda n: (n.distance, n.id))


def _near_condition(phash: int, check: bytes | None, zoom: int | None, limit: int) -> Q:
    condition = Q()
    for band, values in enumerate(neighbour_bands(phash, limit)):
        condition |= Q(**{f"phash_band{band}__in": values})
        if check is None:  # a photo: its hash near another's zoomed one
            condition |= Q(**{f"phash_zoom_band{band}__in": values})
    if zoom is not None:  # its zoomed hash near another's hash
        for band, values in enumerate(neighbour_bands(zoom, limit)):
            condition |= Q(**{f"phash_band{band}__in": values})
    return condition


def _apart(phash: int, zoom: int | None, other: int, other_zoom: int | None) -> int:
    """The fewest bits between two images' hashes, or one's and the other's zoomed one."""
    apart = distance(phash, other)
    if other_zoom is not None:
        apart = min(apart, distance(phash, other_zoom))
    if zoom is not None:
        apart = min(apart, distance(zoom, other))
    return apart


def _checks_near(check: bytes | None, other: bytes | memoryview | None) -> bool:
    """Whether two images' checks let them be near-duplicates (the query has already
    kept the rows with a check alike the image's: both or neither)."""
    if check is None or other is None:
        return check is None and other is None
    return check_distance(check, bytes(other)) <= CHECK_DISTANCE


def image_duplicates_link(*, image_id: int) -> int | None:
    """Put a hashed image in the group of the images near it (merging theirs); its group.

    The group keeps its smallest member's id, so joining groups is one update.
    """
    row = Image.objects.filter(pk=image_id, phash__isnull=False).values(
        "project_id", "phash", "phash_check", "phash_zoom", "project__duplicate_distance"
    )
    found = row.first()
    if found is None or found["phash"] is None:
        return None
    check = found["phash_check"]
    near = near_images(
        project_id=found["project_id"],
        phash=found["phash"],
        check=None if check is None else bytes(check),
        zoom=found["phash_zoom"],
        exclude_id=image_id,
        max_distance=distance_or_setting(found["project__duplicate_distance"]),
    )
    if not near:
        return None
    groups = {n.group for n in near if n.group is not None}
    members = {image_id, *(n.id for n in near)}
    target = min(members | groups)
    with transaction.atomic():
        Image.objects.filter(project_id=found["project_id"]).filter(
            Q(pk__in=members) | Q(duplicate_group__in=groups)
        ).update(duplicate_group=target)
    return target


def images_hashing(project: Project) -> QuerySet[Image]:
    """The project's images the worker is still to hash: stored within ``HASHING_WAIT``,
    with no thumbnail (it and the hash are stored together) and no decoding problem.
    None while the project groups nothing."""
    if project_max_distance(project) < 0:
        return Image.objects.none()
    return Image.objects.filter(
        project=project,
        phash__isnull=True,
        thumbnail="",
        problem="",
        created_at__gte=timezone.now() - HASHING_WAIT,
    )


def duplicate_groups_settled_check(*, project: Project) -> None:
    """Refuse (Conflict, with how many) while images of the project are still being hashed.

    Every split that keeps near-duplicate groups on one side goes through here first: an
    image not yet hashed is in no group, so its copies could land on the other side.
    """
    waiting = images_hashing(project).count()
    if waiting:
        raise Conflict(
            f"{counted(waiting, 'image')} of this project {noun(waiting, 'is', 'are')} still "
            "being hashed for near-duplicates, "
            "so their groups are not known yet and a split could put copies of one picture "
            "on both sides; try again once they are (usually seconds after an upload).",
            field="duplicates",
            hashing=waiting,
        )


@dataclass(frozen=True)
class Regrouped:
    """What a project's regrouping found and changed."""

    hashed: int
    groups: int
    grouped: int
    changed: int


def project_hashes(project: Project) -> tuple[np.ndarray, np.ndarray]:
    """The project's hashed images: ids and (signed) hashes, in id order."""
    rows = Image.objects.filter(project=project, phash__isnull=False).order_by("pk")
    pairs = np.array(list(rows.values_list("pk", "phash").iterator(chunk_size=20_000)), np.int64)
    if not len(pairs):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return pairs[:, 0], pairs[:, 1]


def project_checks(project: Project, ids: np.ndarray) -> np.ndarray | None:
    """The ``check_words`` of these hashed images of the project (in the order of ``ids``,
    as ``project_hashes`` gives them); None where none has a check (a project of photos),
    read without a row of them."""
    framed = Image.objects.filter(
        project=project, phash__isnull=False, phash_check__isnull=False
    ).order_by()
    found = dict(framed.values_list("pk", "phash_check").iterator(chunk_size=20_000))
    if not found:
        return None
    checks = [found.get(int(pk)) for pk in ids]
    return check_words([None if c is None else bytes(c) for c in checks])


def project_zooms(project: Project, ids: np.ndarray) -> Zooms | None:
    """The zoomed hashes of these hashed images of the project (``ids`` in id order, as
    ``project_hashes`` gives them); None where none has one (a project of framed
    subjects), read without a row of them."""
    zoomed = Image.objects.filter(project=project, phash__isnull=False, phash_zoom__isnull=False)
    rows = zoomed.order_by().values_list("pk", "phash_zoom").iterator(chunk_size=20_000)
    pairs = np.array(list(rows), np.int64).reshape(-1, 2)
    if not len(pairs):
        return None
    at = np.searchsorted(ids, pairs[:, 0])
    known = (at < len(ids)) & (ids[np.minimum(at, len(ids) - 1)] == pairs[:, 0])
    values = np.zeros(len(ids), np.uint64)
    values[at[known]] = pairs[known, 1].view(np.uint64)
    present = np.zeros(len(ids), bool)
    present[at[known]] = True
    return Zooms(values, present)


def project_duplicates_regroup(*, project: Project, max_distance: int | None = None) -> Regrouped:
    """Compute all of the project's groups from its hashes (within ``max_distance`` bits,
    by default the project's distance) and store what changed."""
    limit = project_max_distance(project) if max_distance is None else max_distance
    ids, hashes = project_hashes(project)
    wanted: dict[int, int] = {}
    if limit >= 0:
        checks, zooms = project_checks(project, ids), project_zooms(project, ids)
        wanted = duplicate_groups(ids, hashes.view(np.uint64), limit, checks, zooms)
    with transaction.atomic():
        stored = dict(
            Image.objects.filter(project=project, duplicate_group__isnull=False).values_list(
                "pk", "duplicate_group"
            )
        )
        changes: dict[int, int | None] = {pk: None for pk in stored if pk not in wanted}
        changes.update({pk: g for pk, g in wanted.items() if stored.get(pk) != g})
        _groups_store(changes)
    return Regrouped(
        hashed=len(ids), groups=len(set(wanted.values())), grouped=len(wanted), changed=len(changes)
    )


def _groups_store(changes: dict[int, int | None]) -> None:
    by_group: dict[int | None, list[int]] = {}
    for pk, group in changes.items():
        by_group.setdefault(group, []).append(pk)
    for group, pks in by_group.items():
        for start in range(0, len(pks), _BATCH):
            Image.objects.filter(pk__in=pks[start : start + _BATCH]).update(duplicate_group=group)


def duplicate_group_summaries(project: Project) -> QuerySet[Any, Any]:
    """The project's groups of two images or more, largest first, as dicts of ``group``
    and ``size``."""
    return (
        Image.objects.filter(project=project, duplicate_group__isnull=False)
        .values(group=F("duplicate_group"))
        .annotate(size=Count("pk"))
        .filter(size__gte=2)
        .order_by("-size", "group")
    )


def duplicate_groups_by_image(images: QuerySet[Image]) -> dict[int, int]:
    """Each of these images that has near-duplicates in the project mapped to its group."""
    rows = images.filter(duplicate_group__isnull=False).values_list("pk", "duplicate_group")
    return {pk: group for pk, group in rows.order_by().iterator(chunk_size=20_000) if group}


def group_members(project: Project, groups: Iterable[int]) -> QuerySet[Image]:
    """The images of these groups of the project, by group then id."""
    return Image.objects.filter(project=project, duplicate_group__in=list(groups)).order_by(
        "duplicate_group", "pk"
    )


__all__ = [
    "NearImage",
    "Regrouped",
    "duplicate_group_summaries",
    "duplicate_groups_by_image",
    "duplicate_groups_settled_check",
    "group_members",
    "image_duplicates_link",
    "images_hashing",
    "max_distance_setting",
    "near_images",
    "project_duplicates_regroup",
    "project_max_distance",
]
