"""The upload page, and the stored files behind signed, per-user addresses."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from rest_framework.authentication import SessionAuthentication, TokenAuthentication

from labeler.audit.context import actor_bind
from labeler.images.counts import image_counts
from labeler.images.delivery.links import (
    FileReader,
    file_link_remaining,
    file_link_valid,
    file_project,
    file_reader,
    link_target,
)
from labeler.images.delivery.responses import stored_file_response
from labeler.images.delivery.served import FacesNotShown
from labeler.images.pixels.files import ALLOWED_FORMATS
from labeler.projects.selectors import MAX_ID
from labeler.web.pages import page_project

WRONG_OR_EXPIRED = "This image address is wrong or has expired; reload the page."
LOG_IN = (
    "This image address works only for the user it was made for, while logged in "
    "(a session, or their API token); log in and reload the page."
)


TOKEN_MAX = 40  # DRF's token keys


@login_required
@require_GET
def upload(request: HttpRequest, project_id: int) -> HttpResponse:
    """The upload page; its script sends each file to the REST API on its own."""
    project = page_project(request, project_id, manage=True)
    context = {
        "project": project,
        "image_count": image_counts(project.pk).images,
        "upload_url": reverse("api:image-list", kwargs={"project_pk": project.pk}),
        "formats": ", ".join(sorted(ALLOWED_FORMATS)),
        "max_image_mb": settings.LABELER_MAX_IMAGE_BYTES // (1024 * 1024),
    }
    return render(request, "projects/upload.html", context)


@require_GET
def file_link_serve(
    request: HttpRequest, issued: int, signature: str, name: str
) -> HttpResponse | FileResponse:
    """A stored image or thumbnail by its address, for the logged-in member it was made for.

    One query (the user and their role), and one more for an address by id (what it
    stands for: ``labeler.images.delivery.links.link_target``); the session comes from the cache.
    An original goes to the project's leads and admins only; others get its stripped copy
    (``labeler.images.delivery.served``).
    """
    project_id = file_project(name)
    if project_id is None:
        return _refused(404, WRONG_OR_EXPIRED)
    reader = _reader(request, project_id)
    if reader is None:
        return _refused(403, LOG_IN)
    if not file_link_valid(name=name, issued=issued, signature=signature, user_id=reader.user_id):
        return _refused(404, WRONG_OR_EXPIRED)
    # This route reads the token or the session itself: the trail is told who it is.
    actor_bind(pk=reader.user_id, name=reader.username)
    if not reader.may_read:
        return _refused(403, "You are not a member of this image's project.")
    target = link_target(name)
    try:
        response = (
            stored_file_response(
                target.name,
                originals=reader.originals,
                max_age=file_link_remaining(issued=issued),
                download_name=target.download_name,
                blurs_faces=reader.blurs_faces,  # read with the user: no query of its own
            )
            if target.name
            else None
        )
    except FacesNotShown as exc:  # fail closed: never the faces unblurred
        refused = _refused(409, exc.message)
        refused["Cache-Control"] = "no-store"  # shown once they are blurred
        return refused
    if response is None:
        return _refused(404, "The stored file is missing.")
    return response


# What the route accepts, as DRF names it (an API token, or the session a login made):
# read by the audit trail's test, which drives every route with each way it is entered.
file_link_serve.authentication_classes = [TokenAuthentication, SessionAuthentication]  # type: ignore[attr-defined]


def _reader(request: HttpRequest, project_id: int) -> FileReader | None:
    """Who asks: the holder of the API token sent (as DRF reads it), else the session's user.

    A session counts while it is live (logging out deletes it) and was made with the
    user's current password, as Django's own check of a session's user has it.
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "token":
        token = token.strip()
        if not token or len(token) > TOKEN_MAX or not token.isprintable():
            return None
        return file_reader(project_id=project_id, token=token)
    try:
        user_id = int(request.session.get(SESSION_KEY, ""))
    except (TypeError, ValueError):
        return None
    if not 0 < user_id <= MAX_ID:
        return None
    reader = file_reader(project_id=project_id, user_id=user_id)
    if reader is None or not reader.session_valid(request.session.get(HASH_SESSION_KEY)):
        return None
    return reader


def _refused(status: int, message: str) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
