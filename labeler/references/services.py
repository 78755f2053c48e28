"""Registering a bucket prefix or a folder, and scanning it into images read in place.

``reference_register`` checks the place and queues its scan; each step of the scan
(``reference_scan_step``, a task each: ``labeler.flows.reference_scan``) lists the next
``STEP`` image files after the cursor, reads each new one once, checks it as an upload
is checked (``image_check``), and adds it as an image whose ``file`` names it where it
lies (``labeler.images.stored.references``): the bytes are never copied. Files registered
before are passed over unread; a file whose content the project already has is a
duplicate, as for uploads.

Each file's outcome, its image and the cursor past it are written in one transaction
that first checks the cursor is still where this step found it: a step delivered twice
(a worker lost) never counts a file twice, and the later one stops where the other went on.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from labeler import jobs
from labeler.errors import ValidationFailed
from labeler.images import services as image_services
from labeler.images.catalogue.exif import exif_read
from labeler.images.models import Image
from labeler.images.pixels.files import CheckedImage, RejectedFile, image_check
from labeler.images.stored import buckets, references
from labeler.projects.models import Project
from labeler.references.claims import place_claim_check
from labeler.references.listing import Entry, Page, folder_page, s3_page
from labeler.references.models import Reference, ReferenceKind, ReferenceStatus
from labeler.task_names import Task

logger = logging.getLogger(__name__)

STEP = 100  # image files per scan step
PROBLEMS_KEPT = 50
# S3's rules for bucket names (3 to 63 lower-case letters, digits, dots and hyphens).
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
LOCATION_MAX = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@transaction.atomic
def reference_register(
    *,
    project: Project,
    user: User | None,
    kind: str,
    bucket: str = "",
    prefix: str = "",
    path: str = "",
) -> Reference:
    """Record a bucket prefix or a folder of the project's images and queue its scan.

    Raises ValidationFailed for an unknown kind, a bucket this server may not read or
    whose name S3 would refuse, and a folder that is not one inside
    ``LABELER_REFERENCE_ROOTS`` (after resolving its links); PermissionDenied for a place
    another project registered, for all but its leads and admins (``claims``). Whether
    the bucket exists and answers is the scan's to find out: the answer comes at once.
    """
    if project.strip_metadata_on_ingest:
        raise ValidationFailed(
            "This project strips private metadata from originals as they are stored "
            "(strip_metadata_on_ingest); images read in place cannot be stripped. Turn it "
            "off, or upload the images.",
            field="kind",
        )
    if kind == ReferenceKind.S3:
        where = {"bucket": _bucket_checked(bucket), "prefix": _prefix_checked(prefix)}
    elif kind == ReferenceKind.FOLDER:
        where = {"path": _folder_checked(path)}
    else:
        raise ValidationFailed(f"kind must be 's3' or 'folder', not {kind!r}.", field="kind")
    place_claim_check(project=project, user=user, kind=kind, where=where)
    reference = Reference.objects.create(project=project, created_by=user, kind=kind, **where)
    jobs.enqueue(Task.REFERENCE_SCAN, reference.pk)
    return reference


def _bucket_checked(bucket: str) -> str:
    allowed = settings.LABELER_REFERENCE_BUCKETS
    if not allowed:
        raise ValidationFailed(
            "Bucket references are off on this server: LABELER_REFERENCE_BUCKETS names none.",
            field="bucket",
        )
    if not buckets.s3_available():
        raise ValidationFailed(
            "Reading buckets needs boto3: install the server with the s3 extra.", field="bucket"
        )
    if not isinstance(bucket, str) or not BUCKET_NAME.match(bucket) or ".." in bucket:
        raise ValidationFailed(
            f"{bucket!r} is not a bucket name: 3 to 63 lower-case letters, digits, dots and "
            "hyphens.",
            field="bucket",
        )
    if "*" not in allowed and bucket not in allowed:
        raise ValidationFailed(
            f"Bucket {bucket!r} is not one this server may read (LABELER_REFERENCE_BUCKETS).",
            field="bucket",
        )
    return bucket


def _prefix_checked(prefix: str) -> str:
    if not isinstance(prefix, str) or len(prefix) > LOCATION_MAX or _CONTROL.search(prefix):
        raise ValidationFailed(
            f"prefix must be text of at most {LOCATION_MAX} characters, without control "
            "characters.",
            field="prefix",
        )
    return prefix


def _folder_checked(path: str) -> str:
    """The folder's real path, refused unless it is a folder inside an allowed root.

    A path outside gets the same answer whether it exists or not.
    """
    if not settings.LABELER_REFERENCE_ROOTS:
        raise ValidationFailed(
            "Folder references are off on this server: LABELER_REFERENCE_ROOTS names none.",
            field="path",
        )
    if not isinstance(path, str) or not path or _CONTROL.search(path) or len(path) > 900:
        raise ValidationFailed("path must be a folder's absolute path.", field="path")
    if not os.path.isabs(path) or ".." in path.split("/"):
        raise ValidationFailed(f"path must be absolute and without '..': {path!r}.", field="path")
    resolved = os.path.realpath(path)
    if references.root_of(resolved) is None:
        roots = ", ".join(settings.LABELER_REFERENCE_ROOTS)
        raise ValidationFailed(
            f"{path} is not inside a folder this server may read ({roots}).", field="path"
        )
    if not os.path.isdir(resolved):
        raise ValidationFailed(f"{path} is not a folder (or does not exist).", field="path")
    return resolved


# Scanning.


@dataclass
class Tally:
    """What a stretch of files came to, added to the reference's counts at once."""

    found: int = 0
    created: int = 0
    duplicates: int = 0
    known: int = 0
    rejected: int = 0
    ignored: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)

    def reject(self, key: str, reason: str) -> None:
        self.found += 1
        self.rejected += 1
        self.problems.append({"key": key, "reason": reason})


@dataclass(frozen=True)
class ScanStep:
    """What a step did: the reference as it left it, and whether another step must follow."""

    reference: Reference | None
    more: bool = False


def reference_scan_step(*, reference_id: int, on_created: Callable[[int], object]) -> ScanStep:
    """Scan the next page of a queued or scanning reference; a finished one is left alone.

    ``on_created`` is given each new image's id inside the transaction that adds it (the
    flow enqueues its thumbnail, sent on commit). A bucket or folder that cannot be read
    (missing, unreachable, refused) fails the reference with the reason.
    """
    reference = _claim(reference_id)
    if reference is None:
        return ScanStep(None)
    try:
        page = _page(reference)
        more = _scan_page(reference, page, on_created)
    except OSError as exc:
        logger.warning("Reference %s failed: %s", reference_id, exc)
        Reference.objects.filter(pk=reference_id).update(
            status=ReferenceStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        more = False
    return ScanStep(Reference.objects.filter(pk=reference_id).first(), more)


@transaction.atomic
def _claim(reference_id: int) -> Reference | None:
    reference = (
        Reference.objects.select_for_update()
        .select_related("project")
        .filter(pk=reference_id)
        .first()
    )
    if reference is None or reference.status in (ReferenceStatus.DONE, ReferenceStatus.FAILED):
        return None
    if reference.status == ReferenceStatus.QUEUED:
        reference.status = ReferenceStatus.SCANNING
        reference.started_at = timezone.now()
        reference.save(update_fields=["status", "started_at"])
    return reference


def _page(reference: Reference) -> Page:
    if reference.kind == ReferenceKind.S3:
        return s3_page(reference.bucket, reference.prefix, after=reference.cursor, size=STEP)
    return folder_page(reference.path, after=reference.cursor, size=STEP)


def _scan_page(reference: Reference, page: Page, on_created: Callable[[int], object]) -> bool:
    """Handle the page's files in order; whether more pages follow (False once overtaken)."""
    names = {entry.key: _name(reference, entry.key) for entry in page.entries}
    known = set(
        Image.objects.filter(project=reference.project_id, file__in=names.values())
        .values_list("file", flat=True)
        .iterator()
    )
    cursor, tally = reference.cursor, Tally(ignored=page.ignored)
    for entry in page.entries:
        if names[entry.key] in known:
            tally.found += 1
            tally.known += 1
            continue
        checked = _checked(reference, entry, names[entry.key], tally)
        if not _commit(reference, cursor, entry.key, tally, checked, on_created):
            return False
        cursor, tally = entry.key, Tally()
    if not _commit(reference, cursor, page.last, tally, None, on_created, done=not page.more):
        return False
    return page.more


def _name(reference: Reference, key: str) -> str:
    if reference.kind == ReferenceKind.S3:
        return references.s3_name(reference.project_id, reference.bucket, key)
    return references.folder_name(reference.project_id, f"{reference.path}/{key}")


def _checked(reference: Reference, entry: Entry, name: str, tally: Tally) -> CheckedImage | None:
    """The file read once and checked, or None with the reason in the tally."""
    try:
        if entry.problem:
            raise RejectedFile(entry.problem)
        if len(name) > references.NAME_MAX:
            room = references.NAME_MAX - len(name) + len(entry.key)
            raise RejectedFile(f"The path is too long to register here: at most {room} characters.")
        if _unsafe(entry.key):
            raise RejectedFile("The path has empty, '.' or '..' parts or control characters.")
        return image_check(_read(reference, entry, name))
    except (RejectedFile, ValueError, buckets.ObjectMissing, buckets.ObjectUnreadable) as exc:
        tally.reject(entry.key, str(exc))
    except OSError as exc:
        if reference.kind == ReferenceKind.S3 or not os.path.isdir(reference.path):
            raise  # the bucket or the whole folder: the scan fails
        tally.reject(entry.key, f"The file cannot be read: {exc.strerror or exc}")
    return None


def _unsafe(key: str) -> bool:
    parts = key.split("/")
    return bool(_CONTROL.search(key)) or any(part in ("", ".", "..") for part in parts)


def _read(reference: Reference, entry: Entry, name: str) -> bytes:
    limit = settings.LABELER_MAX_IMAGE_BYTES
    if entry.size > limit:
        raise RejectedFile(f"File is {entry.size:,} bytes; the limit is {limit:,}.")
    if reference.kind == ReferenceKind.S3:
        return buckets.object_read(reference.bucket, entry.key, limit=limit)
    with references.file_open(name) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise RejectedFile(f"File is over {limit:,} bytes.")
    return data


def _commit(
    reference: Reference,
    cursor: str,
    new_cursor: str,
    tally: Tally,
    checked: CheckedImage | None,
    on_created: Callable[[int], object],
    *,
    done: bool = False,
) -> bool:
    """Write one file's image (if any), the counts and the cursor; False when overtaken."""
    with transaction.atomic():
        row = Reference.objects.select_for_update().filter(pk=reference.pk).first()
        if row is None or row.cursor != cursor or row.status != ReferenceStatus.SCANNING:
            return False
        if checked is not None:
            tally.found += 1
            image, created = _image_store(reference, new_cursor, checked)
            if created:
                tally.created += 1
                on_created(image.pk)
            else:
                tally.duplicates += 1
        _add(row, tally)
        row.cursor = new_cursor
        fields = ["cursor", *_COUNTS, "problems"]
        if done:
            row.status, row.finished_at = ReferenceStatus.DONE, timezone.now()
            fields += ["status", "finished_at"]
        row.save(update_fields=fields)
    return True


_COUNTS = ("found", "created", "duplicates", "known", "rejected", "ignored")


def _add(row: Reference, tally: Tally) -> None:
    for name in _COUNTS:
        setattr(row, name, getattr(row, name) + getattr(tally, name))
    room = PROBLEMS_KEPT - len(row.problems)
    if room > 0 and tally.problems:
        row.problems = [*row.problems, *tally.problems[:room]]


def _image_store(reference: Reference, key: str, checked: CheckedImage) -> tuple[Image, bool]:
    """The project's image with this content: the one it has, or a new one read in place."""
    project = reference.project
    existing = Image.objects.filter(project=project, sha256=checked.sha256).first()
    if existing is not None:
        return existing, False
    facts = exif_read(checked.content, naive_zone=timezone.get_default_timezone())
    if project.strip_metadata_on_ingest:  # turned on since the registration
        facts = replace(facts, latitude=None, longitude=None)
    try:
        image = image_services.image_row_create(
            project,
            _name(reference, key),
            key.rsplit("/", 1)[-1][:255],
            checked,
            facts=facts,
            source=reference.kind,
            source_key=_source_key(reference, key),
        )
    except IntegrityError:
        twin = Image.objects.filter(project=project, sha256=checked.sha256).first()
        if twin is None:
            raise
        return twin, False
    return image, True


def _source_key(reference: Reference, key: str) -> str:
    """The bucket's key, or the file's path under the allowed root that holds it."""
    if reference.kind == ReferenceKind.S3:
        return key[:1024]
    path = f"{reference.path}/{key}"
    root = references.root_of(reference.path) or "/"
    return os.path.relpath(path, root)[:1024]
