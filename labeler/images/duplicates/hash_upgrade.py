"""Hashes of an older version of the hashing taken again, in the background, in batches.

An image hashed before the hashing changed (``Image.phash_version`` null or below
``perceptual.HASH_VERSION``) keeps its old hash, and is compared with newer ones on
what both have, until it is hashed again from its thumbnail (the pixels the worker
hashes at ingest, JPEG-encoded once: within a bit or two). Nobody has to run anything
for that after an upgrade:

- ``hashes_upgrade`` finds the projects holding such images and starts a chain of
  ``project_hashes_upgrade`` tasks for each (one at a time per project: a chain holds
  ``cache_keys.hashes_upgrading`` while it runs). Beat sends it every
  ``LABELER_HASH_UPGRADE_SECONDS``; a server with no broker, which runs no beat, sends it
  as it starts (``labeler.wsgi``): an upgrade is a restart.
- Each link hashes ``LABELER_HASH_UPGRADE_BATCH`` of the project's images again, in id
  order after the last one the chain did, and sends the next link; the last link
  computes the project's groups again (``project_duplicates_regroup``) if the chain
  hashed any. A batch takes seconds, so the other tasks of a worker (or of the server's
  one thread) pass between two links.

A thumbnail that cannot be read or decoded is logged and passed over: the chain goes on
after it, and the next chain tries it again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, QuerySet

from labeler import cache_keys, jobs
from labeler.images.duplicates.finding import hash_columns
from labeler.images.duplicates.groups import project_duplicates_regroup
from labeler.images.models import Image
from labeler.images.pixels.decoding import image_decode
from labeler.images.pixels.perceptual import HASH_VERSION, image_hashes
from labeler.images.stored.references import file_open
from labeler.projects.models import Project
from labeler.task_names import Task

logger = logging.getLogger(__name__)
# How long a chain keeps its project to itself without a link running: longer than a
# link waits in a busy queue, short enough that a chain whose worker died is started
# again by a later beat.
CHAIN_LEASE_SECONDS = 30 * 60


def images_to_hash(images: QuerySet[Image]) -> QuerySet[Image]:
    """The images among these with a thumbnail and no hash, or a hash of an older version
    of the hashing (``HASH_VERSION``)."""
    stale = Q(phash__isnull=True) | Q(phash_version__isnull=True)
    stale |= Q(phash_version__lt=HASH_VERSION)
    return images.filter(stale).exclude(thumbnail="").filter(problem="")


def image_hash_again(*, image_id: int, thumbnail: str) -> bool:
    """Hash one image again from its thumbnail (read through ``file_open``, decoded by
    ``decoding``); whether its row took the new hashes (not if it was hashed meanwhile,
    or its thumbnail cannot be read)."""
    try:
        with file_open(thumbnail) as handle:
            hashes = image_hashes(image_decode(handle.read(), mode="RGB"))
    except (OSError, ValueError) as exc:
        logger.warning("image %s: its thumbnail cannot be hashed: %s", image_id, exc)
        return False
    columns = hash_columns(hashes, HASH_VERSION)
    return bool(images_to_hash(Image.objects.filter(pk=image_id)).update(**columns))


def images_hash_backfill(*, images: QuerySet[Image]) -> int:
    """Hash the images among these that have no hash yet, or one of an older version,
    from their thumbnails, all at once; returns how many (``manage.py
    images_find_duplicates``, and a project's regrouping after a change of distance)."""
    pending = images_to_hash(images).values_list("pk", "thumbnail")
    return sum(
        image_hash_again(image_id=pk, thumbnail=name)
        for pk, name in pending.iterator(chunk_size=1000)
    )


def hashes_upgrade() -> int:
    """Start hashing again the images of an older version, a chain per project holding
    any, where no chain runs yet; returns how many chains were started."""
    outdated = images_to_hash(Image.objects.all()).order_by("project_id")
    started = 0
    for project_id in outdated.values_list("project_id", flat=True).distinct():
        if cache.add(cache_keys.hashes_upgrading(project_id), True, CHAIN_LEASE_SECONDS):
            jobs.enqueue(Task.PROJECT_HASHES_UPGRADE, project_id, 0, 0)
            started += 1
    return started


@dataclass(frozen=True)
class UpgradeStep:
    """What one link of a project's chain did: images hashed, the last id it reached, and
    whether another link follows (else whether the project was regrouped)."""

    hashed: int
    last_id: int
    more: bool
    regrouped: bool = False


def project_hashes_upgrade(*, project_id: int, after_id: int, hashed: int) -> UpgradeStep:
    """One link of a project's chain: hash again up to ``LABELER_HASH_UPGRADE_BATCH`` of its
    images of an older version after ``after_id``, then send the next link, or, at the
    end, regroup the project if the chain (``hashed`` so far) hashed any."""
    key = cache_keys.hashes_upgrading(project_id)
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        cache.delete(key)
        return UpgradeStep(hashed=0, last_id=after_id, more=False)
    cache.set(key, True, CHAIN_LEASE_SECONDS)
    batch = settings.LABELER_HASH_UPGRADE_BATCH
    outdated = images_to_hash(Image.objects.filter(project=project, pk__gt=after_id))
    rows = list(outdated.order_by("pk").values_list("pk", "thumbnail")[:batch])
    done = sum(image_hash_again(image_id=pk, thumbnail=name) for pk, name in rows)
    last_id = rows[-1][0] if rows else after_id
    if len(rows) == batch:
        jobs.enqueue(Task.PROJECT_HASHES_UPGRADE, project_id, last_id, hashed + done)
        return UpgradeStep(hashed=done, last_id=last_id, more=True)
    regrouped = hashed + done > 0
    if regrouped:
        project_duplicates_regroup(project=project)
    cache.delete(key)
    return UpgradeStep(hashed=done, last_id=last_id, more=False, regrouped=regrouped)
