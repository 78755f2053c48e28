"""The model's predictions: per image, per version (reviewers, leads, admins)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.pagination import IdCursorPagination
from api.training import ModelView
from labeler.errors import NotFound, ValidationFailed
from labeler.images.models import Image
from labeler.predictions.models import ModelVersion, Prediction
from labeler.predictions.selectors import current_model, suggested_labels

MAX_ID = 2**63 - 1


class PredictionSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="model_version.version", read_only=True)
    probabilities = serializers.DictField(
        child=serializers.FloatField(), read_only=True, help_text="{label id: probability}"
    )
    labels = serializers.SerializerMethodField(help_text="The suggested label ids.")

    class Meta:
        model = Prediction
        fields = [
            "image", "model_version", "version", "probabilities", "labels", "confidence",
            "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_labels(self, prediction: Prediction) -> list[int]:
        probabilities = {
            int(key): float(value)
            for key, value in prediction.probabilities.items()
            if str(key).isascii() and str(key).isdigit()
        }
        if not probabilities:
            return []
        labels, _ = suggested_labels(
            probabilities,
            multi_label=self.context["multi_label"],
            thresholds=prediction.model_version.metrics.get("thresholds") or {},
        )
        return labels


def id_param(request: Request, name: str) -> int | None:
    """The query parameter as an id, None when absent; 400 when it is no id."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19 and int(raw) <= MAX_ID):
        raise ValidationFailed(f"'{name}' must be an id.", field=name)
    return int(raw)


class PredictionListView(ModelView):
    """Predictions of one model version (the current one by default)."""

    pagination_class = IdCursorPagination

    @extend_schema(
        parameters=[
            OpenApiParameter("model_version", int, description="Default: the current model."),
            OpenApiParameter("image", int, description="Only this image's prediction."),
        ],
        responses={200: PredictionSerializer(many=True)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        version_id = id_param(request, "model_version")
        image_id = id_param(request, "image")
        if version_id is None:
            version = current_model(self.project)
        else:
            version = ModelVersion.objects.filter(pk=version_id, project=self.project).first()
            if version is None:
                raise ValidationFailed(
                    f"Model version {version_id} is not a version of this project.",
                    field="model_version",
                )
        predictions = Prediction.objects.filter(model_version=version).select_related(
            "model_version"
        )
        if image_id is not None:
            predictions = predictions.filter(image_id=image_id)
        page = self.paginate_queryset(predictions)
        context = {"multi_label": self.project.multi_label}
        return self.get_paginated_response(
            PredictionSerializer(page, many=True, context=context).data
        )


class ImagePredictionsView(ModelView):
    """Every version's prediction of one image, newest version first."""

    pagination_class = None

    @extend_schema(responses={200: PredictionSerializer(many=True)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        image_id = int(self.kwargs["image_id"])
        if not Image.objects.filter(pk=image_id, project=self.project).exists():
            raise NotFound(f"Image {image_id} is not an image of this project.")
        predictions = (
            Prediction.objects.filter(image_id=image_id, model_version__project=self.project)
            .select_related("model_version")
            .order_by("-model_version__version")
        )
        context = {"multi_label": self.project.multi_label}
        return Response(PredictionSerializer(predictions, many=True, context=context).data)
