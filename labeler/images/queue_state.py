"""An image's queue state: the one writer of the columns the annotation queue reads.

The queue (``labeler.annotations.queue_sql``) hands images out by ``priority`` (higher
first) among those not ``is_complete``, with a slot while ``annotation_count`` is under
the project's overlap plus the ``extra_annotations`` adaptive overlap asked for. Every
write of these four columns goes through a function here: the bulk actions, imports,
pre-labelling, machine labels, the submit and its undo, the overlap's follow-up and the
admin site call down into this module (the images layer owns the table; the layers
above decide when and why). A new image starts at the columns' defaults (open, nothing
counted, priority 0) and is not a write of its queue state.

Two more columns the gate reads have their own writers in this layer: ``problem`` (the
decoding check, ``services.image_prepare``) and ``faces_state`` (``face_regions``).

The submit's statements are raw SQL that PostgreSQL and SQLite both run (the submit
runs as often as the queue, ``annotations.submit_sql``): they are kept here and the
submit's own statement embeds ``COUNT_ONE_MORE_SQL``. The database's trigger
``images_counts_update`` (migrations images 0002 and 0008) follows every change of
``annotation_count`` or ``is_complete`` into the project's image counters; it is the
database's, not a writer here.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping

from django.db import connection
from django.db.models import Expression, F, Q

from labeler.images.models import Image

WRITE_BATCH = 1000

# The columns this module writes, and no other module does (``tests/labeler/test_one_writer``).
QUEUE_STATE_FIELDS = ("priority", "annotation_count", "is_complete", "extra_annotations")

# The submit's count (the caller holds the image's row lock): one more annotation, and
# complete once the count reaches ``overlap`` (the project's plus the extra asked for).
# It ends in its WHERE so that PostgreSQL's one-statement submit can embed it, adding a
# condition (``annotations.submit_sql``). ``{image}`` is the quoted table name.
COUNT_ONE_MORE_SQL = """
    UPDATE {image} SET annotation_count = annotation_count + 1,
        is_complete = CASE WHEN is_complete OR annotation_count + 1 >= %(overlap)s
            THEN TRUE ELSE FALSE END
    WHERE id = %(image)s
"""
# Several new annotations counted at once (PostgreSQL; the caller holds the images' row
# locks): ``{added}`` is a relation of (image_id, added, overlap) rows, one an image, that
# the statement embedding it names. As many counts of one more, in one update an image.
COUNT_MANY_MORE_SQL = """
    UPDATE {image} AS i SET annotation_count = i.annotation_count + c.added,
        is_complete = CASE WHEN i.is_complete OR i.annotation_count + c.added >= c.overlap
            THEN TRUE ELSE FALSE END
    FROM {added} c WHERE i.id = c.image_id
"""
# Adaptive overlap asks for more annotators of the image, which leaves it open.
_EXTRA_SQL = """
    UPDATE {image} SET extra_annotations = %(extra)s, is_complete = FALSE
    WHERE id = %(image)s
"""


@functools.cache
def _rendered(statement: str) -> str:
    return statement.format(image=connection.ops.quote_name(Image._meta.db_table))


def image_count_one_more(*, image_id: int, overlap: int) -> None:
    """Count a new annotation of the image (``COUNT_ONE_MORE_SQL``)."""
    with connection.cursor() as cursor:
        cursor.execute(_rendered(COUNT_ONE_MORE_SQL), {"image": image_id, "overlap": overlap})


def image_extra_annotations_set(*, image_id: int, extra: int) -> None:
    """Ask for ``extra`` annotators of the image beyond the project's overlap, which leaves
    it open in the queue; the caller holds the image's row lock."""
    with connection.cursor() as cursor:
        cursor.execute(_rendered(_EXTRA_SQL), {"image": image_id, "extra": extra})


def image_count_one_less(*, image: Image, overlap: int, kept_complete: Q) -> None:
    """Count one annotation of ``image`` fewer (one was withdrawn), and open it again when
    it is under ``overlap`` (the project's plus the extra asked for), unless it matches
    ``kept_complete`` (its final label was imported). ``image``'s count is read back."""
    image.annotation_count = F("annotation_count") - 1
    image.save(update_fields=["annotation_count"])
    image.refresh_from_db(fields=["annotation_count"])
    if (
        image.is_complete
        and image.annotation_count < overlap
        and not Image.objects.filter(kept_complete, pk=image.pk).exists()
    ):
        image.is_complete = False
        image.save(update_fields=["is_complete"])


def images_reopen(
    *, image_ids: Collection[int], annotation_count: Expression, priority: float
) -> None:
    """Open these images again at ``priority`` after annotations of theirs were withdrawn,
    with ``annotation_count`` (an expression over each image: what remains)."""
    Image.objects.filter(pk__in=image_ids).update(
        annotation_count=annotation_count, is_complete=False, priority=priority
    )


def images_complete_mark(*, image_ids: Iterable[int]) -> None:
    """Mark these images complete whatever their count (a final label was imported or a
    machine label accepted): the queue hands them out no more."""
    Image.objects.filter(pk__in=list(image_ids)).update(is_complete=True)


def images_completeness_set(
    *, project_id: int, overlap: int, extra_cap: int, kept_complete: Q
) -> None:
    """Mark each of the project's images complete or not again for a new ``overlap``:
    extra annotators asked for stay asked for, up to ``extra_cap``; images matching
    ``kept_complete`` (imported final labels) stay complete whatever their count."""
    images = Image.objects.filter(project_id=project_id)
    images.filter(extra_annotations__gt=extra_cap).update(extra_annotations=extra_cap)
    needed = F("extra_annotations") + overlap
    images.filter(annotation_count__gte=needed).update(is_complete=True)
    images.filter(annotation_count__lt=needed).exclude(kept_complete).update(is_complete=False)


def images_priority_set(*, image_ids: Collection[int], priority: float) -> int:
    """Put these images at ``priority`` in the queue; returns how many changed."""
    return (
        Image.objects.filter(pk__in=image_ids).exclude(priority=priority).update(priority=priority)
    )


def images_priorities_set(*, priorities: Mapping[int, float]) -> None:
    """Give each image its own priority (``{image id: priority}``), in batches."""
    images = [Image(pk=pk, priority=priority) for pk, priority in priorities.items()]
    Image.objects.bulk_update(images, ["priority"], batch_size=WRITE_BATCH)
