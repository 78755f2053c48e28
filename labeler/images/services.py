"""Writes to images: ingesting uploads, thumbnails and file clean-up."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from PIL import Image as PILImage

from labeler.errors import ValidationFailed
from labeler.images.archives import ArchiveMember, archive_members, is_archive
from labeler.images.catalogue.exif import PhotoFacts, exif_read
from labeler.images.delivery.converted import converted_keep, converted_make, converts
from labeler.images.duplicates.finding import hash_columns
from labeler.images.face_regions import faces_blurred, image_face_boxes
from labeler.images.file_deletes import storage_delete_files
from labeler.images.models import Image
from labeler.images.pixels.faces import faces_blur
from labeler.images.pixels.files import (
    BROWSER_FORMATS,
    DECODE_ERRORS,
    CheckedImage,
    Previews,
    RejectedFile,
    image_check,
    previews_render,
)
from labeler.images.pixels.model_inputs import (
    InputSpec,
    input_cache,
    inputs_keep,
    inputs_keep_decoded,
)
from labeler.images.pixels.perceptual import HASH_VERSION
from labeler.images.pixels.private_metadata import metadata_strip_checked
from labeler.images.stored.references import file_open
from labeler.projects.models import Project

logger = logging.getLogger(__name__)


@dataclass
class IngestResult:
    """What became of one uploaded file (or one archive entry)."""

    name: str
    status: str  # "created", "duplicate" or "rejected"
    image_id: int | None = None
    reason: str = ""
    archive: str | None = None


def images_ingest(*, project: Project, files: Iterable[UploadedFile]) -> list[IngestResult]:
    """Store every acceptable image among the uploads; report each file's fate, in the
    order the files were sent.

    A bad file never stops the others, and a file whose row cannot be written is removed
    again, so nothing is left half-stored.
    """
    uploads = list(files)
    if not uploads:
        raise ValidationFailed("No files: send them in the multipart field 'files'.", field="files")
    if len(uploads) > settings.LABELER_MAX_FILES_PER_REQUEST:
        raise ValidationFailed(
            f"At most {settings.LABELER_MAX_FILES_PER_REQUEST} files per request.", field="files"
        )
    results: list[IngestResult | None] = []
    # Files held in memory (within LABELER_UPLOAD_MEMORY_BYTES together) are checked first
    # and their hashes looked up in one query; the new ones among them are stored together
    # (``_images_store_new``: their rows in one insert). The others are read one at a time.
    held = [upload for upload in uploads if _in_memory(upload)]
    checked = {id(upload): _checked(upload_read(upload)) for upload in held}
    known = _stored_hashes(project, [c for c in checked.values() if isinstance(c, CheckedImage)])
    new: dict[str, tuple[int, str, CheckedImage]] = {}  # by content: (place, name, file)
    twins: list[tuple[int, str, str]] = []  # (place, name, content) of a new one's twins

    def new_store() -> None:
        """Store the new ones gathered so far, in their places (and their twins')."""
        stored = _images_store_new(project, [(name, found) for _, name, found in new.values()])
        by_hash = {}
        for (place, name, found), outcome in zip(new.values(), stored, strict=True):
            results[place] = by_hash[found.sha256] = _ingest_result(name, outcome)
        for place, name, sha256 in twins:
            first = by_hash[sha256]
            status = "rejected" if first.status == "rejected" else "duplicate"
            results[place] = IngestResult(
                name, status, image_id=first.image_id, reason=first.reason
            )
        new.clear()
        twins.clear()

    for upload in uploads:
        name = upload.name or "upload"
        found = checked.get(id(upload))
        # Not among the stored contents a moment ago: stored with the others (a twin stored
        # since by another request is caught by the unique constraint).
        if (
            isinstance(found, CheckedImage)
            and found.sha256 not in known
            and not project.strip_metadata_on_ingest
        ):
            if found.sha256 in new:
                twins.append((len(results), name, found.sha256))
            else:
                new[found.sha256] = (len(results), name, found)
            results.append(None)
            continue
        if new:  # stored first: images are stored in the order they were sent
            new_store()
        if is_archive(name):
            results.extend(_ingest_archive(project, upload, name))
        elif found is None:
            results.append(_ingest_checked(project, name, _checked(upload_read(upload))))
        else:
            results.append(_ingest_checked(project, name, found))
    if new:
        new_store()
    return [result for result in results if result is not None]


def _in_memory(upload: UploadedFile) -> bool:
    """An image file (not an archive) whose bytes are in memory already."""
    return isinstance(getattr(upload, "file", None), io.BytesIO) and not is_archive(
        upload.name or "upload"
    )


def _checked(data: bytes | RejectedFile) -> CheckedImage | RejectedFile:
    if isinstance(data, RejectedFile):
        return data
    try:
        return image_check(data)
    except RejectedFile as exc:
        return exc


def _stored_hashes(project: Project, checked: list[CheckedImage]) -> set[str]:
    """Which of these contents the project has already (stripped too: see image_store)."""
    if not checked:
        return set()
    hashes = {c.sha256 for c in checked}
    found = Image.objects.filter(project=project, sha256__in=hashes)
    return set(found.values_list("sha256", flat=True))


def _ingest_result(name: str, outcome: tuple[Image, bool] | RejectedFile) -> IngestResult:
    if isinstance(outcome, RejectedFile):
        return IngestResult(name, "rejected", reason=str(outcome))
    image, created = outcome
    return IngestResult(name, "created" if created else "duplicate", image_id=image.pk)


def _ingest_checked(
    project: Project, name: str, checked: CheckedImage | RejectedFile
) -> IngestResult:
    """One checked file stored, or found a duplicate."""
    if isinstance(checked, RejectedFile):
        return IngestResult(name, "rejected", reason=str(checked))
    try:
        image, created = image_store(project=project, name=name, checked=checked)
    except RejectedFile as exc:
        return IngestResult(name, "rejected", reason=str(exc))
    return IngestResult(name, "created" if created else "duplicate", image_id=image.pk)


def upload_read(upload: UploadedFile) -> bytes | RejectedFile:
    """An upload's bytes, or why it is refused (over the size cap) before reading it."""
    limit = settings.LABELER_MAX_IMAGE_BYTES
    if upload.size is not None and upload.size > limit:
        return RejectedFile(f"File is {upload.size:,} bytes; the limit is {limit:,}.")
    upload.seek(0)
    return upload.read()


def _ingest_archive(project: Project, upload: UploadedFile, name: str) -> Iterator[IngestResult]:
    limit = settings.LABELER_MAX_ARCHIVE_BYTES
    if upload.size is not None and upload.size > limit:
        yield IngestResult(name, "rejected", reason=f"Archive is over {limit:,} bytes.")
        return
    upload.seek(0)
    # One member in memory at a time. archive_members raises RejectedFile only before
    # its first member, when the archive as a whole is unreadable or too big.
    try:
        for member in archive_members(upload):
            yield _ingest_member(project, name, member)
    except RejectedFile as exc:
        yield IngestResult(name, "rejected", reason=str(exc))


def _ingest_member(project: Project, archive: str, member: ArchiveMember) -> IngestResult:
    if member.data is None:
        return IngestResult(member.name, "rejected", reason=member.reason, archive=archive)
    result = _ingest_checked(project, member.name, _checked(member.data))
    result.archive = archive
    return result


def image_store(
    *,
    project: Project,
    name: str,
    checked: CheckedImage,
    source: str = "upload",
    source_key: str = "",
) -> tuple[Image, bool]:
    """The project's image with this content, stored now if new; returns (image, created).

    The new image gets what its EXIF says (capture time, camera, GPS position:
    ``labeler.images.catalogue.exif``; a time naming no offset is read in ``TIME_ZONE``) and
    where it came from (``source``; ``source_key``, an import's path). A project that keeps no
    position in its originals (``strip_metadata_on_ingest``) stores the file without its
    metadata (``metadata_strip_checked``), hashed as stored, and no position; the capture
    time and camera are recorded all the same. A file whose row cannot be written is
    removed again. Inside a transaction, the caller deletes ``image.file`` of a created
    image if it rolls back. Its thumbnail is the caller's follow-up
    (``labeler.flows.images_prepare_later`` or ``image_added``), sent once the image is
    committed.
    """
    original = checked
    if project.strip_metadata_on_ingest:
        checked = metadata_strip_checked(checked)
    # Stripped: the same photo stored whole before the project chose to strip is found too.
    hashes = {checked.sha256, original.sha256}
    existing = Image.objects.filter(project=project, sha256__in=hashes).first()
    if existing is not None:
        return existing, False
    facts = _facts(project, original)
    stored = default_storage.save(_stored_path(project, checked), WholeContent(checked.content))
    return _row_or_twin(
        project,
        stored,
        checked,
        short_name=_short_name(name),
        facts=facts,
        source=source,
        source_key=source_key,
    )


def images_store(
    *, project: Project, files: Sequence[tuple[str, CheckedImage, str]], source: str
) -> list[tuple[Image, bool] | RejectedFile]:
    """What ``image_store`` gives for each of these checked files (name, file, source
    key), in their order, the new ones stored together: their contents looked up in one
    statement and their rows written in one (``_images_store_new``), where ``image_store``
    takes a savepoint, a look-up and an insert a file. A file of the content of one before
    it here is that image's duplicate. RejectedFile for a file stored and removed by
    someone else at the same moment. A project that strips metadata on ingest stores
    them one by one."""
    if project.strip_metadata_on_ingest:
        return [
            _stored_or_refused(project, name, checked, source=source, source_key=key)
            for name, checked, key in files
        ]
    known = _stored_images(project, {checked.sha256 for _, checked, _ in files})
    first: dict[str, int] = {}  # content -> its first new file's place among the new ones
    new: list[tuple[str, CheckedImage]] = []
    keys: list[str] = []
    for name, checked, key in files:
        if checked.sha256 not in known and checked.sha256 not in first:
            first[checked.sha256] = len(new)
            new.append((name, checked))
            keys.append(key)
    stored = _images_store_new(project, new, source=source, source_keys=keys) if new else []
    outcomes: list[tuple[Image, bool] | RejectedFile] = []
    told: set[str] = set()  # contents whose first new file has had its outcome
    for _, checked, _ in files:
        if checked.sha256 in known:
            outcomes.append((known[checked.sha256], False))
            continue
        outcome = stored[first[checked.sha256]]
        if checked.sha256 in told and not isinstance(outcome, RejectedFile):
            outcome = (outcome[0], False)
        told.add(checked.sha256)
        outcomes.append(outcome)
    return outcomes


def _stored_images(project: Project, hashes: Collection[str]) -> dict[str, Image]:
    """The project's images of these contents, by content."""
    return {
        image.sha256: image for image in Image.objects.filter(project=project, sha256__in=hashes)
    }


def _stored_or_refused(
    project: Project, name: str, checked: CheckedImage, *, source: str, source_key: str
) -> tuple[Image, bool] | RejectedFile:
    try:
        return image_store(
            project=project, name=name, checked=checked, source=source, source_key=source_key
        )
    except RejectedFile as exc:
        return exc


def _images_store_new(
    project: Project,
    items: list[tuple[str, CheckedImage]],
    *,
    source: str = "upload",
    source_keys: Sequence[str] | None = None,
) -> list[tuple[Image, bool] | RejectedFile]:
    """Images the project had none of a moment ago, stored together: each one's file, then
    their rows in one insert (a savepoint, a statement and the counters' trigger once, not
    once an image); (image, created) for each, or RejectedFile. Where the insert fails
    (another request stored one of them meanwhile), each row is written on its own
    (``_row_or_twin``). A file whose row is not written is removed again."""
    keys = list(source_keys) if source_keys is not None else [""] * len(items)
    facts = [_facts(project, checked) for _, checked in items]
    stored: list[str] = []
    try:
        for _, checked in items:
            stored.append(
                default_storage.save(_stored_path(project, checked), WholeContent(checked.content))
            )
        rows = [
            _row(
                project, path, _short_name(name), checked, facts=fact, source=source, source_key=key
            )
            for (name, checked), path, fact, key in zip(items, stored, facts, keys, strict=True)
        ]
        with transaction.atomic():
            Image.objects.bulk_create(rows)
    except IntegrityError:
        pass  # below, one at a time
    except BaseException:
        storage_delete_files(names=stored)
        raise
    else:
        return [(row, True) for row in rows]
    results: list[tuple[Image, bool] | RejectedFile] = []
    try:
        for (name, checked), path, fact, key in zip(items, stored, facts, keys, strict=True):
            try:
                results.append(
                    _row_or_twin(
                        project,
                        path,
                        checked,
                        short_name=_short_name(name),
                        facts=fact,
                        source=source,
                        source_key=key,
                    )
                )
            except RejectedFile as exc:
                results.append(exc)
    except BaseException:
        storage_delete_files(names=stored[len(results) + 1 :])  # those not reached
        raise
    return results


class WholeContent(ContentFile):
    """Bytes that a storage writes in one piece: FileSystemStorage writes a file in the
    pieces its ``chunks()`` give, 64 KB by default, each one copied first (a photo's 55
    writes cost 0.7 ms more than one)."""

    DEFAULT_CHUNK_SIZE = 1 << 30


def _short_name(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1][:255] or "image"


def _stored_path(project: Project, checked: CheckedImage) -> str:
    return f"images/{project.pk}/{checked.sha256[:2]}/{checked.sha256}.{checked.extension}"


def _facts(project: Project, original: CheckedImage) -> PhotoFacts:
    """What the file's EXIF says; no position where the project strips it on ingest."""
    facts = exif_read(original.content, naive_zone=timezone.get_default_timezone())
    if project.strip_metadata_on_ingest:
        facts = replace(facts, latitude=None, longitude=None)
    return facts


def image_lookup_statistics_refresh() -> None:
    """Let PostgreSQL's planner see the images this transaction stored (``ANALYZE`` counts
    a transaction's own rows), for a transaction that goes on storing many more.

    ``image_store`` finds a file among the project's images by ``(project, sha256)``. For
    a project the statistics have not seen (new, or created since the table was last
    analysed) the planner expects one image, takes the narrowest index on ``project``
    and filters every image of the project: an import into a new project went from 0.7 ms
    a look-up over its first tenth to 7 ms over its last. Once analysed, the look-up takes
    the unique index. ``SKIP_LOCKED``: where another transaction is analysing the table,
    this one goes on without. The table's analysis lock is then held to the end of the
    transaction, which only keeps autovacuum and other analyses off the table meanwhile.
    SQLite: nothing to do.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE (SKIP_LOCKED) {Image._meta.db_table}")


def _row_or_twin(
    project: Project,
    stored: str,
    checked: CheckedImage,
    *,
    short_name: str,
    facts: PhotoFacts,
    source: str = "upload",
    source_key: str = "",
) -> tuple[Image, bool]:
    """The new image's row for its file ``stored``, or the twin another request stored a
    moment ago (this file removed); (image, created)."""
    try:
        image = image_row_create(
            project,
            stored,
            short_name,
            checked,
            facts=facts,
            source=source,
            source_key=source_key,
        )
    except IntegrityError:
        # Someone stored the same content a moment ago: keep theirs.
        default_storage.delete(stored)
        twin = Image.objects.filter(project=project, sha256=checked.sha256).first()
        if twin is None:
            raise RejectedFile(
                "The same image was stored and removed at once; send it again."
            ) from None
        return twin, False
    except BaseException:
        default_storage.delete(stored)
        raise
    return image, True


def image_row_create(
    project: Project,
    stored: str,
    short_name: str,
    checked: CheckedImage,
    *,
    facts: PhotoFacts,
    source: str,
    source_key: str,
) -> Image:
    """The image's row, its file ``stored`` already (or read in place: a reference).

    Raises IntegrityError when the project has this content already.
    """
    # The trigger images_counts_insert (migration 0002) adds the row to the project's
    # counters (ImageCounter) in the same statement.
    # A savepoint, so a duplicate caught by the constraint leaves an outer transaction usable.
    row = _row(
        project, stored, short_name, checked, facts=facts, source=source, source_key=source_key
    )
    with transaction.atomic():
        row.save(force_insert=True)
    return row


def _row(
    project: Project,
    stored: str,
    short_name: str,
    checked: CheckedImage,
    *,
    facts: PhotoFacts,
    source: str,
    source_key: str = "",
) -> Image:
    """The (unsaved) row of a new image whose file is ``stored``. Every column is given
    its value, those the database would default too: the ORM writes a column left to its
    database default as an expression (``DEFAULT``) compiled for each row, and asks the
    row's value back."""
    return Image(
        project=project,
        file=stored,
        original_name=short_name,
        source=source,
        source_key=source_key.replace("\\", "/")[:1024],
        origin="",
        licence="",
        problem="",
        captured_at=facts.captured_at,
        camera=facts.camera,
        gps_latitude=facts.latitude,
        gps_longitude=facts.longitude,
        sha256=checked.sha256,
        width=checked.width,
        height=checked.height,
        format=checked.format,
        size_bytes=len(checked.content),
    )


def image_prepare(
    *, image_id: int, input_specs: Collection[InputSpec], again: bool = False
) -> None:
    """Prepare a stored image: decode it once for its previews, and keep its model inputs.

    The upload checked a photo's header only (``files.PIXELS_LATER``): decoding it for the
    thumbnail and display copy (``previews_render``) is its pixels' check, and an image
    that fails it is noted in ``Image.problem`` and leaves the annotation queue. The
    original stays as it was sent, byte for byte: the previews are turned upright as its
    EXIF says, and so are the model inputs (``labeler.images.pixels.model_inputs``), kept for the
    sizes the project's models take (``input_specs``: models are a layer above, which
    hands them down, ``labeler.flows.image_prepare``) so that
    pre-labelling the new image reads a few kilobytes of pixels instead of decoding the
    file again. One read of the file and, for a photo, one decode: the model inputs are
    made from the previews' reduced decode (``inputs_keep_decoded``; a 12-megapixel
    JPEG's 1/8-scale decode of their own cost 28 ms more). A HEIC, AVIF or GIF, which
    the previews decode whole, gets its converted copy for the exports from that same
    decode (``labeler.images.delivery.converted``). ``again``: the previews (and converted copy)
    are made anew and replace those made before (``manage.py images_render_previews``).
    """
    image = Image.objects.filter(pk=image_id).first()
    if image is None or image.problem:
        return
    cache = input_cache()
    missing = cache.missing(image.sha256, input_specs) if cache else set()
    if image.thumbnail and not missing and not again:
        return
    with file_open(str(image.file.name)) as handle:
        data = handle.read()
    previews = None

    def keep_inputs(upright: PILImage.Image) -> None:
        """The model inputs from the previews' own decode (no decode of their own)."""
        nonlocal missing
        if cache is not None and missing:
            missing = inputs_keep_decoded(cache, image.sha256, upright, missing)

    if not image.thumbnail or again:
        # A HEIC, AVIF or GIF is decoded whole for its previews anyway: that decode makes
        # its converted copy first (``labeler.images.delivery.converted``), then the previews.
        conversion = None
        if converts(image.format):
            conversion = converted_make(data, image.format, image_id=image.pk)
        try:
            previews = previews_render(
                data,
                display_size=settings.LABELER_DISPLAY_SIZE,
                thumbnail_size=settings.LABELER_THUMBNAIL_SIZE,
                with_pixels=keep_inputs,
                upright=conversion.upright if conversion is not None else None,
                blur=_faces_blur_for(image),
            )
        except DECODE_ERRORS as exc:
            problem = f"The image cannot be decoded: {exc}"[:255]
            logger.warning("image %s: %s", image_id, problem)
            Image.objects.filter(pk=image_id).update(problem=problem)
            return
        if conversion is not None and not converted_keep(image=image, content=conversion.content):
            return  # deleted meanwhile
    if cache is not None and missing:
        inputs_keep(cache, image.sha256, data, missing)
    if previews is not None:  # last: an image with a thumbnail has all ready
        _previews_store(image, previews, anew=again)


def _faces_blur_for(image: Image) -> Callable[[PILImage.Image], PILImage.Image] | None:
    """What blurs the faces of the image's previews: its boxes, where its project blurs
    faces and they were found (until then its copies are not served to those who see no
    originals: ``labeler.images.delivery.served``)."""
    if image.faces_state not in ("deriving", "done") or not faces_blurred(image):
        return None
    boxes = image_face_boxes(image)
    return lambda rgb: faces_blur(rgb, boxes, scale=rgb.width / image.width)


def _previews_store(image: Image, previews: Previews, *, anew: bool) -> None:
    where = f"{image.project_id}/{image.sha256}.jpg"
    names = {
        "thumbnail": default_storage.save(f"thumbnails/{where}", WholeContent(previews.thumbnail))
    }
    if previews.display is not None:
        names["display"] = default_storage.save(f"displays/{where}", WholeContent(previews.display))
    hashes = previews.hashes
    hashed = hash_columns(hashes, HASH_VERSION) if hashes is not None else {}
    if not anew:
        if not Image.objects.filter(pk=image.pk, thumbnail="").update(**names, **hashed):
            storage_delete_files(names=names.values())  # another run made them first
        return
    names.setdefault("display", "")
    if not Image.objects.filter(pk=image.pk).update(**names, **hashed):
        storage_delete_files(names=names.values())  # the image was deleted meanwhile
        return
    old = {str(image.thumbnail.name), str(image.display.name)} - {"", *names.values()}
    storage_delete_files(names=old)


def images_needing_display(images: QuerySet[Image]) -> QuerySet[Image]:
    """The images among these shown as they are that now get a display copy: larger than
    LABELER_DISPLAY_SIZE, with a GPS position, or of a format browsers do not show
    (stored before display copies were made, or before the size was lowered)."""
    size = settings.LABELER_DISPLAY_SIZE
    return images.filter(display="", problem="").filter(
        Q(width__gt=size)
        | Q(height__gt=size)
        | Q(gps_latitude__isnull=False)
        | ~Q(format__in=BROWSER_FORMATS)
    )
