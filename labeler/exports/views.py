"""The export page: a lead starts background exports and downloads their files."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from labeler.agreement.final_labels import final_label_count
from labeler.annotations.models import Annotation
from labeler.images.models import Image
from labeler.projects.views import api_url, page_labels, page_project

# (format, title, what it is for), in the order the page offers them.
FORMAT_CHOICES = [
    ("json", "JSON", "One document: every image with its annotations and final label."),
    ("jsonl", "JSON Lines", "One image per line; easy to stream and to split."),
    ("csv", "CSV", "One row per annotation, labels joined with ';'."),
    ("coco", "COCO", "Categories, images and image-level labels; pycocotools reads it."),
    (
        "imagefolder",
        "ImageFolder zip",
        "split/label/file: torchvision.datasets.ImageFolder reads it as it is.",
    ),
    (
        "hf-imagefolder",
        "Hugging Face imagefolder zip",
        "split folders with metadata.csv, for datasets.load_dataset('imagefolder').",
    ),
    ("label-studio", "Label Studio JSON", "Tasks with annotations, to import into Label Studio."),
]


@login_required
@require_GET
def export_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """The export form and the project's exports; its script talks to the REST API."""
    project = page_project(request, project_id, manage=True)
    annotators = (
        Annotation.objects.filter(project=project)
        .order_by("annotator__username")
        .values_list("annotator__username", flat=True)
        .distinct()
    )
    context = {
        "project": project,
        "formats": FORMAT_CHOICES,
        "labels": page_labels(project),
        "annotators": list(annotators),
        "image_count": Image.objects.filter(project=project).count(),
        "final_count": final_label_count(project),
        "exports_url": api_url(project, "export-list"),
        # The address of export 0; the script puts each export's id in its place.
        "export_url_template": reverse("api:export-detail", kwargs={"pk": 0}),
    }
    return render(request, "exports/export.html", context)
