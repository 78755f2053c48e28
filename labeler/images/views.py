"""The upload page: drag and drop files or zip archives into a project."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from labeler.images.files import ALLOWED_FORMATS
from labeler.images.models import Image
from labeler.projects.views import page_project


@login_required
@require_GET
def upload(request: HttpRequest, project_id: int) -> HttpResponse:
    """The upload page; its script sends each file to the REST API on its own."""
    project = page_project(request, project_id, manage=True)
    context = {
        "project": project,
        "image_count": Image.objects.filter(project=project).count(),
        "upload_url": reverse("api:image-list", kwargs={"project_pk": project.pk}),
        "formats": ", ".join(sorted(ALLOWED_FORMATS)),
        "max_image_mb": settings.LABELER_MAX_IMAGE_BYTES // (1024 * 1024),
    }
    return render(request, "projects/upload.html", context)
