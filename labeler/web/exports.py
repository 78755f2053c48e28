"""The export page: a lead starts background exports and downloads their files."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from labeler.agreement.final_labels import final_label_count
from labeler.annotations.selectors import annotator_usernames
from labeler.exports.options import DEFAULT_FINAL_FORMATS, LINK_DAYS_DEFAULT, LINK_DAYS_MAX
from labeler.images.counts import image_count_exact
from labeler.web.pages import api_url, page_labels, page_project

# (format, title, what it is for), in the order the page offers them.
FORMAT_CHOICES = [
    ("json", "JSON", "One document: every image with its annotations and final label."),
    ("jsonl", "JSON Lines", "One image per line; easy to stream and to split."),
    ("csv", "CSV", "One row per annotation, labels joined with ';'."),
    (
        "coco",
        "COCO",
        "Categories, images and one annotation per image from its final label (every "
        "annotator's too if you ask); pycocotools reads it.",
    ),
    (
        "imagefolder",
        "ImageFolder zip",
        "split/label/file, every class folder in every split and a classes.txt: "
        "torchvision.datasets.ImageFolder(split, allow_empty=True) numbers the classes "
        "alike in each.",
    ),
    (
        "hf-imagefolder",
        "Hugging Face imagefolder zip",
        "split folders with metadata.csv and a classes.txt for ClassLabel, for "
        "datasets.load_dataset('imagefolder').",
    ),
    (
        "label-studio",
        "Label Studio JSON",
        "Tasks with every annotation by its annotator's e-mail and the final labels; "
        "images at signed addresses Label Studio loads.",
    ),
    (
        "label-studio-zip",
        "Label Studio zip (local files)",
        "The same tasks with the images, for Label Studio's local files storage.",
    ),
]


@login_required
@require_GET
def export_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """The export form and the project's exports; its script talks to the REST API."""
    project = page_project(request, project_id, manage=True)
    context = {
        "project": project,
        "formats": FORMAT_CHOICES,
        # Which formats take the final labels unless asked otherwise, as the API does.
        "final_formats": DEFAULT_FINAL_FORMATS,
        # The project's own days, else the server's (``exports.retention``).
        "keep_days": project.export_keep_days or settings.LABELER_EXPORT_KEEP_DAYS,
        "keep_last": settings.LABELER_EXPORT_KEEP_LAST,
        "labels": page_labels(project),
        "annotators": annotator_usernames(project),
        "image_count": image_count_exact(project.pk),
        "final_count": final_label_count(project),
        "exports_url": api_url(project, "export-list"),
        # The address of export 0; the script puts each export's id in its place.
        "export_url_template": reverse("api:export-detail", kwargs={"pk": 0}),
        "link_days_default": LINK_DAYS_DEFAULT,
        "link_days_max": LINK_DAYS_MAX,
    }
    return render(request, "exports/export.html", context)
