"""The queue's statements, in SQL that PostgreSQL and SQLite both run.

Parameters are named: ``project``, ``me`` (the annotator), ``overlap``, ``now`` and
``expires`` (datetimes as the connection stores them), ``image`` and ``lease`` (ids),
``cap`` (the most live leases the annotator may hold), ``grid`` (the lease is handed
out on a grid page) and ``blur_faces`` (the project blurs faces).
Only the candidate's row lock differs between the two: PostgreSQL locks the row
(``FOR UPDATE OF i``, ``SKIP LOCKED`` unless told to wait); SQLite has no row locks and
serialises writers instead (see settings).

With ``queue``, whose gate runs them, this module is the one writer of leases
(``Assignment``): every statement that writes one is here, the submit's release of the
annotator's lease included (``LEASE_RELEASE_SQL``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from django.db import connection

from labeler.annotations.models import (
    Annotation,
    Assignment,
    FinalLabel,
    ImageReservation,
    Skip,
)
from labeler.images.models import Image

# Whether image i has a slot for the annotator: not labelled nor skipped by them, and
# fewer annotations plus other annotators' live leases than the overlap, plus the
# annotators adaptive overlap asked for beyond it (raised under the row lock, as the
# count is).
_UNSEEN = """
    NOT EXISTS (SELECT 1 FROM {annotation} a WHERE a.image_id = i.id AND a.annotator_id = %(me)s)
    AND NOT EXISTS (SELECT 1 FROM {skip} s WHERE s.image_id = i.id AND s.annotator_id = %(me)s)
"""
_SLOT = """
    i.annotation_count + (
        SELECT COUNT(*) FROM {lease} o
        WHERE o.image_id = i.id AND o.expires_at > %(now)s AND o.annotator_id <> %(me)s
    ) < %(overlap)s + i.extra_annotations
"""
_OPEN_TO_ME = _UNSEEN + " AND " + _SLOT

# An image kept for named annotators (``ImageReservation``) is open to them only.
_NOT_KEPT_FOR_OTHERS = """
    AND (NOT EXISTS (SELECT 1 FROM {reservation} r WHERE r.image_id = i.id)
        OR EXISTS (
            SELECT 1 FROM {reservation} r WHERE r.image_id = i.id AND r.annotator_id = %(me)s
        ))
"""

# In a project that blurs faces, an image is shown to annotators only once its faces are
# found and its copies blurred (``labeler.images.face_regions``): before, its files answer
# 409, so the queue does not hand it out.
_SHOWN = " (NOT %(blur_faces)s OR i.faces_state = 'done') "

# The gate's half on the image (the caller holds its row lock): image i may be leased to
# the annotator, or their lease on it renewed, when it is not flagged as a problem, not
# labelled nor skipped by them, not kept for others, and either gold (which every
# annotator gets whatever its slots) or, off the qualification test (``test_only``), not
# complete (an imported label completes an image whatever its count) and with a slot.
_GRANTABLE = (
    "i.problem = '' AND "
    + _SHOWN
    + " AND "
    + _UNSEEN
    + _NOT_KEPT_FOR_OTHERS
    + """
    AND (EXISTS (SELECT 1 FROM {final} f WHERE f.image_id = i.id AND f.method = 'gold')
        OR (NOT %(test_only)s AND NOT i.is_complete AND """
    + _SLOT
    + """))
"""
)

# Fewer live leases of the annotator's on other images of the project than one may hold.
_UNDER_CAP = """
    AND (SELECT COUNT(*) FROM {lease} h
        WHERE h.project_id = %(project)s AND h.annotator_id = %(me)s
            AND h.expires_at > %(now)s AND h.image_id <> i.id) < %(cap)s
"""

# A lease handed out again starts with no suggestion (the queue records the one it shows),
# on the surface that hands it out now.
_UPSERT = """
    ON CONFLICT (image_id, annotator_id) DO UPDATE SET
        project_id = excluded.project_id,
        expires_at = excluded.expires_at,
        created_at = excluded.created_at,
        grid = excluded.grid,
        suggested_by_id = NULL,
        suggested_label_ids = NULL,
        suggestion_withheld = FALSE
    RETURNING id
"""

# The annotator's lease of the image ends (they labelled it: ``submit_sql``, whose
# PostgreSQL statement embeds it, adding a condition).
LEASE_RELEASE_SQL = "DELETE FROM {lease} WHERE image_id = %(image)s AND annotator_id = %(me)s"
# Several annotators' leases end at once (PostgreSQL): ``{released}`` is a relation of
# (image_id, annotator_id) rows that the statement embedding it names.
LEASES_RELEASE_SQL = """
    DELETE FROM {lease} l USING {released} r
    WHERE l.image_id = r.image_id AND l.annotator_id = r.annotator_id
"""

_STATEMENTS = {
    # The annotator's live leases in the project, oldest first.
    "held": """
        SELECT l.id, l.image_id FROM {lease} l
        WHERE l.project_id = %(project)s AND l.annotator_id = %(me)s AND l.expires_at > %(now)s
        ORDER BY l.created_at, l.id
    """,
    # Renew a held lease if the gate still lets its image be leased (renewing takes no
    # new slot, so the cap does not count), on the surface that hands it out now.
    "renew": """
        UPDATE {lease} SET expires_at = %(expires)s, grid = %(grid)s, suggested_by_id = NULL,
            suggested_label_ids = NULL, suggestion_withheld = FALSE
        WHERE id = %(lease)s AND EXISTS (
            SELECT 1 FROM {image} i WHERE i.id = {lease}.image_id AND """
    + _GRANTABLE
    + """)
    """,
    "drop": "DELETE FROM {lease} WHERE id = %(lease)s",
    # The annotator's live leases in the project on images other than this one, as the
    # cap counts them (``_UNDER_CAP``).
    "live": """
        SELECT COUNT(*) FROM {lease} h
        WHERE h.project_id = %(project)s AND h.annotator_id = %(me)s
            AND h.expires_at > %(now)s AND h.image_id <> %(image)s
    """,
    # The suggestion handed out with a leased image (or that one was held back).
    "suggestion": """
        UPDATE {lease} SET suggested_by_id = %(model_version)s,
            suggested_label_ids = %(label_ids)s, suggestion_withheld = %(withheld)s
        WHERE id = %(lease)s
    """,
    # The only statement that writes a lease: the image's part of the gate and the cap,
    # its slots counted in this fresh statement (the caller holds the image's row lock,
    # so no other writer of its slots can commit meanwhile).
    "lease": """
        INSERT INTO {lease} (project_id, image_id, annotator_id, expires_at, created_at, grid)
        SELECT %(project)s, i.id, %(me)s, %(expires)s, %(now)s, %(grid)s FROM {image} i
        WHERE i.id = %(image)s AND i.project_id = %(project)s AND """
    + _GRANTABLE
    + _UNDER_CAP
    + _UPSERT,
}

_CANDIDATE = (
    """
    SELECT i.* FROM {image} i
    WHERE i.project_id = %(project)s AND NOT i.is_complete AND i.problem = ''
        {excluded} AND """
    + _SHOWN
    + " AND "
    + _OPEN_TO_ME
    + _NOT_KEPT_FOR_OTHERS
    + """
    ORDER BY i.priority DESC, i.id
    LIMIT 1 {lock}
"""
)


@functools.cache
def _tables(vendor: str) -> dict[str, str]:
    del vendor  # a key of the cache: quoting depends on the connection's vendor
    quote = connection.ops.quote_name
    return {
        "image": quote(Image._meta.db_table),
        "annotation": quote(Annotation._meta.db_table),
        "skip": quote(Skip._meta.db_table),
        "lease": quote(Assignment._meta.db_table),
        "reservation": quote(ImageReservation._meta.db_table),
        "final": quote(FinalLabel._meta.db_table),
    }


@functools.cache
def _rendered(name: str, vendor: str) -> str:
    return _STATEMENTS[name].format(**_tables(vendor))


def statement(name: str) -> str:
    """One of the fixed statements, for the current connection."""
    return _rendered(name, connection.vendor)


def candidate(
    params: dict[str, Any], excluded: Iterable[int], *, wait: bool
) -> tuple[str, dict[str, Any]]:
    """The best open image for the annotator, locked; its SQL and parameters."""
    ids = sorted(excluded)
    marks = ", ".join(f"%(x{n})s" for n in range(len(ids)))
    lock = ""
    if connection.vendor == "postgresql":
        lock = "FOR UPDATE OF i" if wait else "FOR UPDATE OF i SKIP LOCKED"
    sql = _CANDIDATE.format(
        excluded=f"AND i.id NOT IN ({marks})" if ids else "",
        lock=lock,
        **_tables(connection.vendor),
    )
    return sql, {**params, **{f"x{n}": image_id for n, image_id in enumerate(ids)}}
