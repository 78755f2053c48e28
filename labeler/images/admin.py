"""Images in the admin: their names, metadata and queue priority may be corrected here
(the priority through the queue state's one writer, ``queue_state``); an image deleted
here goes the one way images are deleted, with its files (``deletion.images_delete``).

What the lease gate reads (``labeler.annotations.queue_sql``: completeness, a decoding
problem, the annotators adaptive overlap asked for) and what the image's own services
write (its project, files and where they came from, near-duplicate hashes) are shown
only: an edit here would hand an image out past the gate or leave its labels in another
project. Images are added by uploads and imports, which check and decode them.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from labeler.errors import ValidationFailed
from labeler.images import queue_state
from labeler.images.deletion import images_delete
from labeler.images.models import Image
from labeler.images.priority import priority_parse
from labeler.projects.models import Project

# Written by their owners only (uploads, imports, the thumbnail worker, the submit and
# overlap services, the near-duplicate hashing).
OWNED_FIELDS = [
    "project",
    "file",
    "thumbnail",
    "display",
    "converted",
    "source",
    "source_key",
    "sha256",
    "width",
    "height",
    "format",
    "size_bytes",
    "problem",
    "annotation_count",
    "is_complete",
    "extra_annotations",
    "phash",
    "phash_band0",
    "phash_band1",
    "phash_band2",
    "phash_band3",
    "phash_check",
    "phash_version",
    "duplicate_group",
]


class ImageAdminForm(forms.ModelForm):
    """The priority is read as every other route reads it (``priority_parse``)."""

    priority = forms.CharField(
        required=False, help_text="Higher comes first in the annotation queue."
    )

    class Meta:
        model = Image
        fields = "__all__"  # noqa: DJ007 (the admin lists and orders the fields)

    def clean_priority(self) -> float:
        try:
            return priority_parse(self.cleaned_data["priority"])
        except ValidationFailed as refused:
            raise forms.ValidationError(refused.message) from refused


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    form = ImageAdminForm
    list_display = ["original_name", "project", "width", "height", "annotation_count", "priority"]
    list_filter = ["project", "is_complete"]
    search_fields = ["original_name", "sha256"]
    readonly_fields = OWNED_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Image, form: Any, change: bool) -> None:
        """The fields changed here are saved; a new priority goes through the queue
        state's writer (``queue_state.images_priority_set``)."""
        columns = {field.name for field in Image._meta.concrete_fields}
        changed = [name for name in form.changed_data if name in columns and name != "priority"]
        if changed:
            obj.save(update_fields=changed)
        if "priority" in form.changed_data:
            queue_state.images_priority_set(image_ids=[obj.pk], priority=obj.priority)

    def delete_model(self, request: HttpRequest, obj: Image) -> None:
        """Deleted the one way images are (``deletion.images_delete``): files too."""
        with transaction.atomic():
            images_delete(project=obj.project, image_ids=[obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Image]) -> None:
        """Each project's images deleted as ``delete_model`` deletes one."""
        by_project: dict[int, list[int]] = {}
        for pk, project_id in queryset.values_list("pk", "project_id"):
            by_project.setdefault(project_id, []).append(pk)
        with transaction.atomic():
            for project in Project.objects.filter(pk__in=by_project):
                images_delete(project=project, image_ids=by_project[project.pk])
