"""The upload page, and the stored files behind signed addresses."""

from __future__ import annotations

import mimetypes

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
    """The stored file, to be kept by the browser for good (its name is its content's hash)."""
    try:
        handle = default_storage.open(name, "rb")
    except (FileNotFoundError, IsADirectoryError):
        return None
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response
