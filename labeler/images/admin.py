"""Images in the admin: their names, metadata and queue priority may be corrected here.

What the lease gate reads (``labeler.annotations.queue_sql``: completeness, a decoding
problem, the annotators adaptive overlap asked for) and what the image's own services
write (its project, files and where they came from, near-duplicate hashes) are shown
only: an edit here would hand an image out past the gate or leave its labels in another
project. Images are added by uploads and imports, which check and decode them.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from labeler.errors import ValidationFailed
from labeler.images.models import Image
from labeler.images.priority import priority_parse

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
