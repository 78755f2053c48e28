"""Images to label, stored under content-addressed names."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models.functions import Upper

from labeler.images.pixels.formats import CONVERTED_FORMATS
from labeler.projects.models import Project

# An image's files in storage, each named by its row, with what a report calls each: the
# one list of them. Every route that deletes an image goes through
# ``deletion.images_delete`` (a project's deletion too), which deletes them all
# (``file_deletes.storage_delete_files``).
STORED_FILES = {
    "file": "original",
    "thumbnail": "thumbnail",
    "display": "display copy",
    "converted": "converted copy",
}
STORED_FILE_FIELDS = tuple(STORED_FILES)

FACES_STATES = [
    ("pending", "Faces being found"),
    ("deriving", "Copies being made with the faces blurred"),
    ("done", "Faces found and blurred"),
    ("failed", "Faces could not be found"),
]
FACE_SOURCES = [("detected", "Detected"), ("lead", "Added by a lead")]

SOURCES = [
    ("upload", "Uploaded"),
    ("import", "Imported from a folder"),
    ("folder", "Read in place from a mounted folder"),
    ("s3", "Read in place from an S3 bucket"),
]


class Image(models.Model):
    """One image of a project, with what the annotation queue needs to pick it fast."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(max_length=255)
    thumbnail = models.FileField(max_length=255, blank=True)
    # What the labelling page shows: an upright copy at most LABELER_DISPLAY_SIZE a side,
    # without EXIF, made by the worker when the original is larger, carries a GPS
    # position or is a format browsers do not show. Blank: the original is shown.
    # A database default too: rows loaded by COPY or plain INSERT (benchmarks, bulk loads)
    # that name no display get none.
    display = models.FileField(max_length=255, blank=True, db_default="")
    # A HEIC, AVIF or GIF original as JPEG or PNG at full size, upright, without private
    # metadata: what the ImageFolder and Hugging Face exports write for it, made once by
    # the worker (``labeler.images.delivery.converted``). Blank: none (another format, not made
    # yet, or it could not be made): an export converts the original itself.
    converted = models.FileField(max_length=255, blank=True, db_default="")
    original_name = models.CharField(max_length=255)
    # Where the file came from. A reference ("folder", "s3") is read in place: ``file``
    # then names it in its own storage (``labeler.images.stored.references``), never copied.
    source = models.CharField(max_length=16, choices=SOURCES, default="upload", db_default="upload")
    source_key = models.CharField(
        max_length=1024, blank=True, db_default="", help_text="Import path or bucket key."
    )
    # Where the image comes from, in words: a dataset, a site, a provider or a URL (free
    # text, set by an import or a lead; ``source`` says how the file came in).
    origin = models.CharField(max_length=512, blank=True, db_default="")
    # From the file's EXIF when it is stored, or from an import's columns or a lead's
    # change (``labeler.images.catalogue.services``); blank or null where nothing says.
    captured_at = models.DateTimeField(null=True, blank=True)
    camera = models.CharField(max_length=128, blank=True, db_default="")
    gps_latitude = models.FloatField(null=True, blank=True)
    gps_longitude = models.FloatField(null=True, blank=True)
    licence = models.CharField(max_length=255, blank=True, db_default="")
    # Set by the worker when the pixels cannot be decoded (the upload checks the header
    # only): such an image leaves the annotation queue.
    problem = models.CharField(max_length=255, blank=True, db_default="")
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=10)
    size_bytes = models.PositiveBigIntegerField()
    priority = models.FloatField(
        default=0.0, help_text="Higher comes first in the annotation queue."
    )
    annotation_count = models.PositiveIntegerField(default=0)
    is_complete = models.BooleanField(
        default=False, help_text="Whether annotation_count has reached the project's overlap."
    )
    # Adaptive overlap: annotators asked for beyond the project's overlap because the
    # labels so far leave doubt (``labeler.annotations.adaptive``); raised by the submit
    # under the image's row lock; complete once annotation_count reaches overlap plus it.
    # A database default: rows loaded by COPY get 0.
    extra_annotations = models.PositiveSmallIntegerField(default=0, db_default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # The 64-bit pHash of the thumbnail's pixels (imagehash), stored signed, and its four
    # 16-bit bands, each indexed: near-duplicates share a band within a bit or two
    # (``labeler.images.duplicates.finding``). Null until the worker has decoded the image.
    phash = models.BigIntegerField(null=True, blank=True)
    phash_band0 = models.IntegerField(null=True, blank=True)
    phash_band1 = models.IntegerField(null=True, blank=True)
    phash_band2 = models.IntegerField(null=True, blank=True)
    phash_band3 = models.IntegerField(null=True, blank=True)
    # A picture of one subject on a plain background is hashed framed on its subject, and
    # carries a 256-bit check a near-duplicate must also pass (32 bytes; null: a photo,
    # hashed as it is) (``labeler.images.pixels.perceptual``).
    phash_check = models.BinaryField(null=True, blank=True, max_length=32)
    # A photo's zoomed hash (the pHash of its central view, ``perceptual.zoom_phash_of``),
    # stored as ``phash``, its bands indexed where present: a copy cropped a little is
    # near it (null: a framed subject, or hashed before version 3).
    phash_zoom = models.BigIntegerField(null=True, blank=True)
    phash_zoom_band0 = models.IntegerField(null=True, blank=True)
    phash_zoom_band1 = models.IntegerField(null=True, blank=True)
    phash_zoom_band2 = models.IntegerField(null=True, blank=True)
    phash_zoom_band3 = models.IntegerField(null=True, blank=True)
    # The hashing's version (``perceptual.HASH_VERSION``); null: hashed before subjects
    # were framed. Older versions are hashed again from the thumbnail in the background
    # (``labeler.images.duplicates.hash_upgrade``).
    phash_version = models.SmallIntegerField(null=True, blank=True)
    # The smallest image id of the image's near-duplicate group; null: none found.
    duplicate_group = models.BigIntegerField(null=True, blank=True)
    # Where the search for faces stands (``labeler.images.face_regions``): blank, never
    # asked (the project does not blur faces); pending (to find), deriving (found or
    # changed by a lead, copies being made again), done, or failed. While the project
    # blurs faces, copies are served to those who see no originals only once done.
    faces_state = models.CharField(
        max_length=8, choices=FACES_STATES, blank=True, default="", db_default=""
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "sha256"], name="image_unique_content"),
        ]
        indexes = [
            # The data browser's sort orders (labeler.browse.sorts): a first page reads its
            # rows in order instead of sorting a million.
            models.Index(fields=["project", "created_at", "id"], name="image_browse_created_idx"),
            models.Index(fields=["project", "original_name", "id"], name="image_browse_name_idx"),
            models.Index(fields=["project", "priority", "id"], name="image_browse_priority_idx"),
            # The queue: open images of a project, best first.
            models.Index(
                fields=["project", "-priority", "id"],
                condition=models.Q(is_complete=False),
                name="image_queue_idx",
            ),
            *[
                models.Index(
                    fields=["project", f"phash_band{band}"], name=f"image_phash_band{band}_idx"
                )
                for band in range(4)
            ],
            *[
                models.Index(
                    fields=["project", f"phash_zoom_band{band}"],
                    condition=models.Q(**{f"phash_zoom_band{band}__isnull": False}),
                    name=f"image_phash_zoom_band{band}_idx",
                )
                for band in range(4)
            ],
            models.Index(
                fields=["project", "duplicate_group"],
                condition=models.Q(duplicate_group__isnull=False),
                name="image_duplicate_group_idx",
            ),
            # The metadata filters (labeler.browse.metadata_filters): a range of capture
            # times, an origin or a box on the map that few of a million images match is
            # read from these instead of walking the project.
            models.Index(
                fields=["project", "captured_at"],
                condition=models.Q(captured_at__isnull=False),
                name="image_captured_idx",
            ),
            models.Index(models.F("project"), Upper("origin"), name="image_origin_idx"),
            models.Index(
                fields=["project", "gps_latitude", "gps_longitude"],
                condition=models.Q(gps_latitude__isnull=False),
                name="image_position_idx",
            ),
            # The images whose converted copy is still to be made: the background backfill
            # (``backfill.images_converted_backfill``) reads its next few from here, not
            # from a walk of every image, and the index empties as it goes.
            models.Index(
                fields=["id"],
                condition=models.Q(converted="", format__in=sorted(CONVERTED_FORMATS)),
                name="image_unconverted_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.original_name


class FaceRegion(models.Model):
    """A face's box on an image, in the upright original's pixels, blurred in every copy
    of it people other than leads see or export (``labeler.images.pixels.faces``)."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="face_regions")
    left = models.PositiveIntegerField()
    top = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    source = models.CharField(max_length=8, choices=FACE_SOURCES)
    score = models.FloatField(null=True, blank=True)  # the detector's; null: drawn by a lead
    # A lead deleted it (a false detection): kept, so a new detection finding the same box
    # leaves it deleted. Never blurred.
    removed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["image", "removed"], name="face_region_image_idx")]

    def __str__(self) -> str:
        return f"face {self.left},{self.top} {self.width}x{self.height} on image {self.image_id}"


class ImageCounter(models.Model):
    """One share of a project's image counts, kept by database triggers (migration 0002).

    Triggers on the image table add every insert, delete and change of ``is_complete``
    or ``annotation_count`` to the share picked by the image's id, whichever code path
    (or bulk statement, or COPY) made it; Python only adds up the triggers' own deltas
    where a long transaction held them back (``counts.counts_held``, migration 0015). A
    project's counts are the sum of its shares, read in one small query however many
    images it has; spreading them over ``SHARDS`` rows lets concurrent submits update
    them without queueing behind one row lock. ``project_id`` is a plain column, not a
    foreign key: deleting a project deletes its images after or before its counters,
    and the triggers must never trip over either order.
    """

    SHARDS = 8

    project_id = models.BigIntegerField()
    shard = models.PositiveSmallIntegerField()
    images = models.BigIntegerField(default=0)
    complete = models.BigIntegerField(default=0)
    started = models.BigIntegerField(
        default=0, help_text="Images not complete that have at least one annotation."
    )
    annotations = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project_id", "shard"], name="image_counter_unique"),
        ]

    def __str__(self) -> str:
        return f"image counts of project {self.project_id}, share {self.shard}"


class ImageTag(models.Model):
    """A free tag on an image ("night", "batch-7"): images are filtered by them."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "name"], name="image_tag_unique"),
        ]
        indexes = [models.Index(fields=["name", "image"], name="image_tag_name_idx")]

    def __str__(self) -> str:
        return self.name


FIELD_KINDS = [
    ("text", "Text"),
    ("number", "Number"),
    ("date", "Date"),
    ("choice", "Choice"),
]


class MetadataField(models.Model):
    """A field a project's lead declares for its images ("site", "patient age band"), typed.

    Its values are ``FieldValue`` rows, one per image that has one. Declared, renamed and
    removed through ``labeler.images.catalogue.metadata_fields``.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="metadata_fields")
    name = models.CharField(max_length=40)
    kind = models.CharField(max_length=8, choices=FIELD_KINDS)
    # A choice field's values, in the order a form offers them; empty for other kinds.
    choices = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="metadata_field_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def value_column(self) -> str:
        """The ``FieldValue`` column its values are stored in: its kind's, text for a choice."""
        return self.kind if self.kind in ("number", "date") else "text"


class FieldValue(models.Model):
    """One image's value of one project field, in the column of the field's kind.

    Typed columns rather than text: a number or date range is an index range, and the
    indexes below lead with the field, so a value that few of a million images hold is
    found without walking them (docs/benchmarks.md, the data browser).
    """

    # Indexed by the unique constraint, which leads with it.
    field = models.ForeignKey(
        MetadataField, on_delete=models.CASCADE, related_name="values", db_index=False
    )
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="field_values")
    # Text and choice fields' values; null in a number's or a date's row (never blank: a
    # blank value clears the field), so each kind's index holds its own rows only.
    text = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    number = models.FloatField(null=True, blank=True)
    date = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["field", "image"], name="field_value_unique"),
        ]
        indexes = [
            models.Index(
                fields=["field", "number", "image"],
                condition=models.Q(number__isnull=False),
                name="field_value_number_idx",
            ),
            models.Index(
                fields=["field", "date", "image"],
                condition=models.Q(date__isnull=False),
                name="field_value_date_idx",
            ),
            models.Index(
                models.F("field"),
                Upper("text"),
                models.F("image"),
                condition=models.Q(text__isnull=False),
                name="field_value_text_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.field_id}={self.value}"

    @property
    def value(self) -> str | float | dt.date | None:
        """The value in the column of its field's kind."""
        for value in (self.text, self.number, self.date):
            if value is not None:
                return value
        return None
