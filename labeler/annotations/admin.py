from django.contrib import admin

from labeler.annotations.models import Annotation, AnnotationRevision, Assignment, FinalLabel


class RevisionInline(admin.TabularInline):
    model = AnnotationRevision
    extra = 0
    readonly_fields = ["label_ids", "time_spent_ms", "created_at"]


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "image", "annotator", "updated_at"]
    list_filter = ["project"]
    raw_id_fields = ["image", "annotator"]
    inlines = [RevisionInline]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["image", "annotator", "expires_at"]
    raw_id_fields = ["image", "annotator"]


@admin.register(FinalLabel)
class FinalLabelAdmin(admin.ModelAdmin):
    list_display = ["image", "method", "confidence", "decided_by"]
    raw_id_fields = ["image", "decided_by"]
