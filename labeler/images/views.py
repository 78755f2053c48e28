"""The upload page, and the stored files behind signed addresses."""

from __future__ import annotations

import posixpath
import re

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from labeler.images.counts import image_counts
from labeler.images.files import ALLOWED_FORMATS
from labeler.images.links import file_link_valid
from labeler.projects.views import page_project

SAFE_NAME = re.compile(r"[^\w.-]")
# The extensions image_check gives each accepted format, and thumbnails' (JPEG).
STORED_CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "tif": "image/tiff",
    "webp": "image/webp",
}


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
def file_link_serve(request: HttpRequest, day: int, signature: str, name: str) -> FileResponse:
    """A stored image or thumbnail by its signed address: no session, no database query."""
    if not file_link_valid(name=name, day=day, signature=signature):
        raise Http404("This image address is wrong or has expired; reload the page.")
    response = stored_file_response(name)
    if response is None:
        raise Http404("The stored file is missing.")
    return response


def stored_file_response(name: str) -> FileResponse | None:
    """The stored file, to be kept by the browser for good (its name is its content's hash).

    Stored names end in the extension of the format the upload was validated as, so the
    content type comes from that and never from the bytes: a polyglot (an image with HTML
    or a zip appended) is served as the image it passed for. The browser may not sniff
    another type, and were the file opened as a page it would run nothing (sandbox).
    """
    try:
        handle = default_storage.open(name, "rb")
    except (FileNotFoundError, IsADirectoryError):
        return None
    extension = posixpath.splitext(name)[1].lstrip(".").lower()
    content_type = STORED_CONTENT_TYPES.get(extension)
    response = FileResponse(handle, content_type=content_type or "application/octet-stream")
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    disposition = "inline" if content_type else "attachment"
    response["Content-Disposition"] = (
        f'{disposition}; filename="{SAFE_NAME.sub("_", posixpath.basename(name))}"'
    )
    return response
