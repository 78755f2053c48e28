from django.contrib import admin

from labeler.predictions.models import ModelVersion, Prediction


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["project", "version", "status", "architecture", "is_current", "created_at"]
    list_filter = ["status", "project"]


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ["image", "model_version", "created_at"]
    raw_id_fields = ["image", "model_version"]
