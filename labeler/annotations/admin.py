"""Annotations and final labels in the admin: to look at only.

Labels change through the labelling and review pages and the API, whose services keep
the label history, the counts and the queue right; an edit here would skip all of them.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from labeler.annotations.models import Annotation, AnnotationRevision, Assignment, FinalLabel


class ViewOnly:
    """No adding, changing or deleting through the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RevisionInline(ViewOnly, admin.TabularInline):
    model = AnnotationRevision
    extra = 0
    readonly_fields = ["label_ids", "time_spent_ms", "created_at"]


@admin.register(Annotation)
class AnnotationAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["id", "project", "image", "annotator", "updated_at"]
    list_filter = ["project"]
    raw_id_fields = ["image", "annotator"]
    inlines = [RevisionInline]


@admin.register(Assignment)
class AssignmentAdmin(ViewOnly, admin.ModelAdmin):
    """Leases are written by the queue's gate only (``labeler.annotations.queue``); one
    added or changed here would hand an image out past it. Deleting one frees its slot."""

    list_display = ["image", "annotator", "expires_at"]
    raw_id_fields = ["image", "annotator"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True


@admin.register(FinalLabel)
class FinalLabelAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["image", "method", "confidence", "decided_by"]
    raw_id_fields = ["image", "decided_by"]
