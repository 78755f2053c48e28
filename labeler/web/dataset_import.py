"""The import page: a labelled dataset as a zip, with each file's fate reported."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from labeler.errors import DomainError
from labeler.flows import images_import
from labeler.imports.archive import LABEL_FORMATS, archive_items, archive_plan
from labeler.imports.labels import LABELS_AS
from labeler.web.pages import page_project, page_user

LABELS_AS_NAMES = {
    "final": "Final labels (the images are done)",
    "gold": "Gold labels (to check annotators against)",
    "annotation": "One more annotator's labels",
}


class ArchiveImportForm(forms.Form):
    """What the page sends; the archive and the labels are judged by the import itself."""

    archive = forms.FileField()
    labels_format = forms.ChoiceField(choices=list(LABEL_FORMATS.items()))
    labels_file = forms.FileField(required=False)
    labels_as = forms.ChoiceField(choices=[(k, LABELS_AS_NAMES[k]) for k in LABELS_AS])
    annotator = forms.CharField(max_length=150, required=False)
    create_labels = forms.BooleanField(required=False)

    def clean_archive(self) -> Any:
        archive = self.cleaned_data["archive"]
        limit = settings.LABELER_MAX_ARCHIVE_BYTES
        if archive.size is not None and archive.size > limit:
            raise forms.ValidationError(f"The archive is over {limit:,} bytes.")
        return archive

    def add_domain_error(self, exc: DomainError) -> None:
        self.add_error(exc.field if exc.field in self.fields else None, exc.message)


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """Upload a zip of images and its labels; the page answers with the import's report."""
    project = page_project(request, project_id, manage=True)
    form = ArchiveImportForm(
        request.POST or None, request.FILES or None, initial={"labels_as": "final"}
    )
    summary = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        sent = data["labels_file"]
        try:
            plan = archive_plan(
                data["archive"],
                labels_format=data["labels_format"],
                labels_file=sent,
            )
            summary = images_import(
                project=project,
                items=archive_items(data["archive"], plan),
                labels_as=data["labels_as"],
                annotator_name=data["annotator"] or None,
                create_labels=data["create_labels"],
                user=page_user(request),
            )
        except DomainError as exc:
            form.add_domain_error(exc)
    context = {"project": project, "form": form, "summary": summary}
    status = 400 if request.method == "POST" and summary is None else 200
    return render(request, "projects/import.html", context, status=status)
