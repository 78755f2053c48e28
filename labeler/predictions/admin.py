from django.contrib import admin

from labeler.predictions.models import MachineLabel, ModelVersion, Prediction, TrainingRun


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["project", "id", "status", "reason", "epoch", "epochs", "created_at"]
    list_filter = ["status", "project"]
    raw_id_fields = ["requested_by"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["project", "version", "architecture", "label_count", "is_current", "created_at"]
    list_filter = ["is_current", "project"]
    raw_id_fields = ["run", "promoted_by"]


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ["image", "model_version", "confidence", "created_at"]
    raw_id_fields = ["image", "model_version"]


@admin.register(MachineLabel)
class MachineLabelAdmin(admin.ModelAdmin):
    list_display = ["image", "model_version", "status", "spot_check", "confidence", "created_at"]
    list_filter = ["status", "spot_check", "project"]
    raw_id_fields = ["image", "model_version", "reviewed_by"]
