"""The framework's floor: the annotator loop as two bare Django views on the same server.

The load benchmark starts gunicorn with ``bench.load_floor_settings``, whose URLconf puts
these two views beside the application's own, behind the same middleware, sessions and
database. ``next/`` leases the best open image the caller has not labelled and no one
else holds, and answers its id and the file's signed address (the one the application
serves the image at); ``annotations/`` stores the label, counts it on the image and ends
the lease. Each is one transaction of the least SQL the loop needs, with no
serializer, no framework view and no rule beyond that SQL: what any Django site doing
this loop pays. The load benchmark runs its annotators against it and prints the
server's CPU per loop for both.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from bench.load_client import FLOOR_ROOT
from labeler.images.delivery.links import file_link
from labeler.site_address import site_url
from labeler.urls import handler404, handler500  # noqa: F401 - the site's, read from here
from labeler.urls import urlpatterns as site_urlpatterns

# The best open image that this annotator has not labelled and that no one else holds.
_PICK = """
    SELECT i.id, i.file FROM images_image i
    WHERE i.project_id = %(project)s AND NOT i.is_complete
      AND NOT EXISTS (SELECT 1 FROM annotations_assignment s
                      WHERE s.image_id = i.id AND s.annotator_id <> %(user)s
                        AND s.expires_at > now())
      AND NOT EXISTS (SELECT 1 FROM annotations_annotation a
                      WHERE a.image_id = i.id AND a.annotator_id = %(user)s)
    ORDER BY i.priority DESC, i.id LIMIT 1 FOR UPDATE SKIP LOCKED
"""
# The pick's view of the leases is as of its start: a lease committed while it waited for
# the image's row lock is seen only by this next statement, which then leases nothing.
_LEASE = """
    INSERT INTO annotations_assignment (project_id, image_id, annotator_id, expires_at,
        created_at, suggestion_withheld, grid)
    SELECT %(project)s, %(image)s, %(user)s, now() + interval '10 minutes', now(), false, false
    WHERE NOT EXISTS (SELECT 1 FROM annotations_assignment s
                      WHERE s.image_id = %(image)s AND s.annotator_id <> %(user)s
                        AND s.expires_at > now())
    ON CONFLICT (image_id, annotator_id) DO UPDATE SET expires_at = EXCLUDED.expires_at
"""
PICKS = 10  # an image taken meanwhile: pick again, this many times at most
_ANNOTATE = """
    INSERT INTO annotations_annotation (project_id, image_id, annotator_id, time_spent_ms,
        suggestion_accepted, suggestion_shown, suggestion_withheld, grid, created_at,
        updated_at)
    SELECT %(project)s, l.image_id, %(user)s, %(spent)s, false, false, false, false, now(),
        now()
    FROM annotations_assignment l
    WHERE l.image_id = %(image)s AND l.annotator_id = %(user)s AND l.project_id = %(project)s
    RETURNING id
"""
_LABEL = """
    INSERT INTO annotations_annotation_labels (annotation_id, label_id)
    SELECT %(annotation)s, id FROM projects_label
    WHERE project_id = %(project)s AND name = %(label)s
"""
_COUNT = """
    UPDATE images_image SET annotation_count = annotation_count + 1,
        is_complete = annotation_count + 1 >= (SELECT overlap FROM projects_project
                                               WHERE id = %(project)s)
    WHERE id = %(image)s
"""
_RELEASE = """
    DELETE FROM annotations_assignment WHERE image_id = %(image)s AND annotator_id = %(user)s
"""


def _refused(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def floor_next(request: HttpRequest, project: int) -> HttpResponse:
    if not request.user.is_authenticated:
        return _refused(401, "Log in first.")
    values: dict[str, int | str] = {"project": project, "user": request.user.pk}
    with transaction.atomic(), connection.cursor() as cursor:
        for _ in range(PICKS):
            cursor.execute(_PICK, values)
            row = cursor.fetchone()
            if row is None:
                return HttpResponse(status=204)
            values["image"] = row[0]
            cursor.execute(_LEASE, values)
            if cursor.rowcount:
                break
        else:
            return _refused(503, "Every image picked was taken meanwhile: try again.")
    link = site_url(file_link(row[1], user_id=request.user.pk))
    return JsonResponse({"image": {"id": row[0], "file_url": link}})


def floor_submit(request: HttpRequest, project: int) -> HttpResponse:
    if not request.user.is_authenticated:
        return _refused(401, "Log in first.")
    try:
        body: dict[str, Any] = json.loads(request.body)
        values: dict[str, int | str] = {
            "project": project,
            "user": request.user.pk,
            "image": int(body["image"]),
            "label": str(body["labels"][0]),
            "spent": int(body.get("time_spent_ms") or 0),
        }
    except (ValueError, KeyError, IndexError, TypeError):
        return _refused(400, "Send image, labels and time_spent_ms as JSON.")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_ANNOTATE, values)
        row = cursor.fetchone()
        if row is None:
            return _refused(409, "You hold no lease on this image.")
        values["annotation"] = row[0]
        cursor.execute(_LABEL, values)
        cursor.execute(_COUNT, values)
        cursor.execute(_RELEASE, values)
    return JsonResponse({"id": values["annotation"]}, status=201)


PREFIX = FLOOR_ROOT[1:] + "/projects/<int:project>/"
urlpatterns = [
    path(PREFIX + "next/", floor_next),
    path(PREFIX + "annotations/", floor_submit),
    *site_urlpatterns,
]
