"""Training runs and model versions: train, follow, cancel, promote, pre-label.

Leads and admins start, cancel and promote; reviewers read; annotators get 403 and
non-members 404, whether the path names the project or the run/version.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.inputs import StrictInput
from api.model_figures import BaselineSerializer, TestSetFiguresSerializer
from api.parsers import JSONParser
from api.permissions import ProjectObjectView, ProjectScopedView
from labeler.errors import PermissionDenied
from labeler.predictions import runs, services
from labeler.predictions.models import ModelVersion, TrainingRun
from labeler.predictions.prelabel import prelabel_done_count
from labeler.predictions.selectors import model_versions_of, training_runs_of


class HistoryEntrySerializer(serializers.Serializer):
    epoch = serializers.IntegerField()
    train_loss = serializers.FloatField(allow_null=True)
    val_loss = serializers.FloatField(allow_null=True)
    val_accuracy = serializers.FloatField(allow_null=True)
    val_macro_f1 = serializers.FloatField(allow_null=True)
    kept_epoch = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Whose weights the run would keep had it ended after this epoch: the "
        "lowest validation loss's epoch, or this one where too few validation images "
        "choose none. Absent in runs trained before it was recorded.",
    )


class TrainingRunSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(
        source="requested_by.username", read_only=True, allow_null=True
    )
    history = HistoryEntrySerializer(many=True, read_only=True)
    config = serializers.DictField(read_only=True, help_text="The cleaned training config.")
    model_version = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = [
            "id", "project", "status", "reason", "requested_by", "config", "device", "epoch",
            "epochs", "progress", "history", "message", "stage", "cancel_requested", "label_count",
            "train_count", "validation_count", "test_count", "model_version", "created_at",
            "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_model_version(self, run: TrainingRun) -> int | None:
        version = getattr(run, "model_version", None)
        return version.pk if version is not None else None


class PrelabelSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    finished_at = serializers.DateTimeField(allow_null=True)


class PerLabelSerializer(serializers.Serializer):
    label = serializers.IntegerField()  # type: ignore[assignment]  # the JSON key, not Field.label
    name = serializers.CharField()
    precision = serializers.FloatField(allow_null=True)
    recall = serializers.FloatField(allow_null=True)
    f1 = serializers.FloatField(allow_null=True)
    support = serializers.IntegerField()


class MetricsSerializer(serializers.Serializer):
    """The top-level figures are on the validation images, which chose the kept epoch and
    the thresholds; ``test`` holds the figures on images no model trained on."""

    accuracy = serializers.FloatField(allow_null=True)
    macro_f1 = serializers.FloatField(allow_null=True)
    ece = serializers.FloatField(allow_null=True)
    loss = serializers.FloatField(allow_null=True)
    images = serializers.IntegerField()
    per_label = PerLabelSerializer(many=True)
    confusion = serializers.DictField(
        help_text='Single-label: {"labels": [ids], "matrix": [[n true i predicted j]]}; '
        'multi-label: {"labels": [ids], "per_label": [[tn, fp, fn, tp], ...]}.'
    )
    thresholds = serializers.DictField(
        child=serializers.FloatField(), required=False, help_text="Multi-label only."
    )
    baseline = BaselineSerializer(
        allow_null=True,
        help_text="The model current at training time and the new one, paired on the new "
        "one's test images that the current one never saw (versions trained before the "
        "project had a test set: on the new one's validation images).",
    )
    test = TestSetFiguresSerializer(
        allow_null=True,
        help_text="Every figure on the held-out test images, which no model of the project "
        "trains on; null for a version trained before the project had a test set, or "
        "without a test image.",
    )


class ModelVersionSerializer(serializers.ModelSerializer):
    metrics = serializers.SerializerMethodField()
    promoted_by = serializers.CharField(
        source="promoted_by.username", read_only=True, allow_null=True
    )
    prelabel = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id", "project", "version", "run", "architecture", "label_count", "metrics",
            "is_current", "promoted_at", "promoted_by", "promotion_note", "prelabel",
            "trained_on_erased", "erased_at", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(MetricsSerializer)
    def get_metrics(self, version: ModelVersion) -> dict[str, Any]:
        names: dict[int, str] = self.context.get("label_names", {})
        metrics = dict(version.metrics)
        metrics["per_label"] = [
            {**entry, "name": names.get(entry.get("label"), "")}
            for entry in metrics.get("per_label", [])
        ]
        metrics.setdefault("baseline", None)
        test = metrics.get("test")
        if test:
            rows = test.get("per_label", [])
            named = [{**row, "name": names.get(row.get("label"), "")} for row in rows]
            metrics["test"] = {**test, "per_label": named}
        else:
            metrics["test"] = None
        return metrics

    @extend_schema_field(PrelabelSerializer)
    def get_prelabel(self, version: ModelVersion) -> dict[str, Any]:
        return {
            "total": version.prelabel_total,
            "done": prelabel_done_count(version),
            "finished_at": version.prelabel_done_at,
        }


class TrainRequestSerializer(StrictInput, serializers.Serializer):
    config = serializers.DictField(
        required=False,
        help_text="Overrides of the project's training config for this run "
        '(e.g. {"architecture": "resnet18", "epochs": 10}).',
    )


class PromoteRequestSerializer(StrictInput, serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    run = serializers.IntegerField(allow_null=True, help_text="The active run.")


class ModelView(ProjectScopedView):
    """Base: reviewers read, leads and admins write; annotators are refused."""

    queryset: QuerySet[Any] = TrainingRun.objects.none()  # names the path's id type (schema)

    def require_overseer(self) -> None:
        if not self.sees_all_annotations:
            raise PermissionDenied("Only the project's reviewers, leads and admins see models.")

    def version_context(self) -> dict[str, Any]:
        return {"label_names": dict(self.project.labels.values_list("pk", "name"))}


class TrainView(ModelView):
    """Start training the project's model on its final labels."""

    @extend_schema(
        request=TrainRequestSerializer,
        responses={
            202: TrainingRunSerializer,
            400: OpenApiResponse(description="Too few final labels, or a bad config value."),
            409: ConflictSerializer,
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Queue a run: `{"config": {overrides}}` optional; 409 names the active run."""
        self.require_manager()
        data = TrainRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.training_start(
            project=self.project,
            requested_by=self.user,
            overrides=data.validated_data.get("config"),
        )
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class TrainingRunListView(ModelView):
    """The project's training runs, newest first."""

    pagination_class = None

    @extend_schema(responses={200: TrainingRunSerializer(many=True)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        return Response(TrainingRunSerializer(training_runs_of(self.project), many=True).data)


class ModelVersionListView(ModelView):
    """The project's trained model versions, newest first."""

    pagination_class = None

    @extend_schema(responses={200: ModelVersionSerializer(many=True)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        versions = model_versions_of(self.project)
        return Response(
            ModelVersionSerializer(versions, many=True, context=self.version_context()).data
        )


class PrelabelView(ModelView):
    """Run a pre-label pass with the current model (new images since the last one)."""

    @extend_schema(
        request=None,
        responses={202: ModelVersionSerializer, 409: OpenApiResponse(description="No model.")},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        version = services.prelabel_start(project=self.project)
        body = ModelVersionSerializer(version, context=self.version_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ObjectModelView(ProjectObjectView, ModelView):
    """Base of /training-runs/{pk}/ and /model-versions/{pk}/: the project is the object's."""

    model: type[TrainingRun] | type[ModelVersion] = TrainingRun
    noun = "Training run"


class TrainingRunDetailView(ObjectModelView):
    """One training run, for following its progress."""

    @extend_schema(responses={200: TrainingRunSerializer})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        return Response(TrainingRunSerializer(self.object).data)


class TrainingRunCancelView(ObjectModelView):
    """Cancel a run: a queued one at once, a running one after its current epoch."""

    @extend_schema(
        request=None,
        responses={200: TrainingRunSerializer, 409: OpenApiResponse(description="Ended.")},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        run = runs.training_run_cancel(run=self.object)
        return Response(TrainingRunSerializer(run).data)


class ModelVersionDetailView(ObjectModelView):
    """One model version: its metrics, promotion and pre-label progress."""

    model = ModelVersion
    noun = "Model version"
    queryset = ModelVersion.objects.none()

    @extend_schema(responses={200: ModelVersionSerializer})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        return Response(ModelVersionSerializer(self.object, context=self.version_context()).data)


class ModelVersionPromoteView(ObjectModelView):
    """Make a version the project's current model; a pre-label pass follows."""

    model = ModelVersion
    noun = "Model version"
    queryset = ModelVersion.objects.none()
    # An optional note in JSON, or no body: a form body that parsed to nothing (a malformed
    # one) would otherwise promote as if it were empty.
    parser_classes = [JSONParser]

    @extend_schema(request=PromoteRequestSerializer, responses={200: ModelVersionSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        data = PromoteRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.model_version_promote(
            model_version=self.object,
            promoted_by=self.user,
            note=data.validated_data.get("note", ""),
        )
        return Response(ModelVersionSerializer(version, context=self.version_context()).data)
