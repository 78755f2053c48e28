from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from labeler.exports.models import Export
from labeler.exports.services import export_delete


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "project",
        "format",
        "status",
        "done",
        "total",
        "size_bytes",
        "created_at",
    ]
    list_filter = ["status", "format", "project"]
    raw_id_fields = ["created_by"]
    readonly_fields = [
        "status",
        "done",
        "total",
        "file",
        "size_bytes",
        "error",
        "started_at",
        "finished_at",
    ]

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        export_delete(export=obj)  # its file goes too

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Export]) -> None:
        for export in queryset:
            export_delete(export=export)
