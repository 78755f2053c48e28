from django.contrib import admin

from labeler.images.models import Image


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["original_name", "project", "width", "height", "annotation_count", "priority"]
    list_filter = ["project", "is_complete"]
    search_fields = ["original_name", "sha256"]
    readonly_fields = ["sha256", "width", "height", "format", "size_bytes", "annotation_count"]
