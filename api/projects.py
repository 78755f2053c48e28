"""Projects with their labels: create, read, update, delete."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from api.inputs import StrictInput
from api.permissions import request_user
from labeler import flows
from labeler.errors import PermissionDenied
from labeler.projects import selectors, services
from labeler.projects.models import (
    DUPLICATE_DISTANCE_MAX,
    ActiveLearning,
    ConsensusMethod,
    Label,
    OverlapMode,
    Project,
)


class LabelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ["id", "name", "color", "hotkey", "position"]


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "oneOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "color": {"type": "string", "example": "#1f77b4"},
                        "hotkey": {"type": "string", "maxLength": 1},
                    },
                    "required": ["name"],
                },
            ]
        },
    }
)
class LabelListField(serializers.JSONField):
    """Labels as plain names or objects (name, color, hotkey; id to keep an existing one)."""


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": True,
        "description": "Overrides of the training configuration (architecture, image_size, "
        "epochs, augment, label_check_folds (0: no label check after a training; default 5), "
        "label_check_epochs, ...); the rest keeps its defaults.",
        "example": {"architecture": "resnet18", "image_size": 224, "epochs": 20},
    }
)
class TrainingOverridesField(serializers.JSONField):
    """Training settings that differ from the defaults."""


class ProjectSerializer(serializers.ModelSerializer):
    training = TrainingOverridesField(read_only=True)

    labels = LabelSerializer(many=True, read_only=True)
    role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id", "name", "instructions", "multi_label", "overlap", "consensus_method",
            "review_threshold", "gold_rate", "active_learning", "active_learning_random_share",
            "retrain_after", "training", "machine_check_rate", "suggestion_holdback",
            "suggestion_preselect", "export_keep_metadata", "strip_metadata_on_ingest", "labels",
            "role", "created_at",
            "updated_at", "qualification_gold_count", "qualification_pass_mark",
            "gold_pause_window", "gold_pause_below", "overlap_mode", "overlap_max",
            "adaptive_confidence", "duplicate_distance",
        ]  # fmt: skip
        read_only_fields = fields

    def get_role(self, project: Project) -> str | None:
        roles: dict[int, str] = self.context.get("roles", {})
        return roles.get(project.pk)


DUPLICATE_DISTANCE_WORDS = (
    f"Must be a whole number of bits from 0 to {DUPLICATE_DISTANCE_MAX}, -1 (no grouping "
    "in this project) or null (the server's distance)."
)


class ProjectWriteSerializer(StrictInput, serializers.Serializer):
    """The fields a client may send; domain rules are checked by the services."""

    name = serializers.CharField(max_length=200)
    instructions = serializers.CharField(required=False, allow_blank=True, default="")
    multi_label = serializers.BooleanField(required=False, default=False)
    overlap = serializers.IntegerField(required=False, default=1, min_value=1, max_value=50)
    consensus_method = serializers.ChoiceField(
        choices=ConsensusMethod.choices, required=False, default=ConsensusMethod.MAJORITY
    )
    review_threshold = serializers.FloatField(
        required=False, default=0.7, min_value=0.0, max_value=1.0
    )
    gold_rate = serializers.FloatField(required=False, default=0.05, min_value=0.0, max_value=1.0)
    overlap_mode = serializers.ChoiceField(
        choices=OverlapMode.choices,
        required=False,
        default=OverlapMode.FIXED,
        help_text="fixed: every image gets `overlap` annotators; adaptive: `overlap` first, then "
        "one more at a time, up to `overlap_max`, while their labels disagree or the consensus "
        "confidence is below `adaptive_confidence`.",
    )
    overlap_max = serializers.IntegerField(
        required=False,
        default=5,
        min_value=1,
        max_value=50,
        help_text="Adaptive overlap: the most annotators an image gets (at least `overlap`).",
    )
    adaptive_confidence = serializers.FloatField(
        required=False,
        default=0.95,
        min_value=0.0,
        max_value=1.0,
        help_text="Adaptive overlap: an image gets another annotator while the probability of "
        "its leading label, each annotator weighed by their past accuracy, is below this.",
    )
    active_learning = serializers.ChoiceField(
        choices=ActiveLearning.choices, required=False, default=ActiveLearning.MARGIN
    )
    active_learning_random_share = serializers.FloatField(
        required=False, default=0.1, min_value=0.0, max_value=1.0
    )
    retrain_after = serializers.IntegerField(required=False, default=200, min_value=0)
    training = TrainingOverridesField(required=False, default=dict)
    machine_check_rate = serializers.FloatField(
        required=False, default=0.1, min_value=0.0, max_value=1.0
    )
    suggestion_holdback = serializers.FloatField(
        required=False,
        default=0.1,
        min_value=0.0,
        max_value=1.0,
        help_text="Share of images shown to annotators without the model's suggestion.",
    )
    suggestion_preselect = serializers.FloatField(
        required=False,
        default=0.6,
        min_value=0.0,
        max_value=1.0,
        help_text="The lowest confidence (0 to 1) at which the model's suggestion is "
        "pre-selected on the labelling page; below it the suggestion is shown, not selected.",
    )
    export_keep_metadata = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Keep photos' EXIF, XMP and IPTC (GPS, camera) in exported image files, "
        "and images' GPS positions in JSON, CSV and COCO exports.",
    )
    strip_metadata_on_ingest = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Store new photos without their GPS position and other identifying EXIF, "
        "XMP and IPTC (capture time and camera are still recorded); off: byte for byte.",
    )
    qualification_gold_count = serializers.IntegerField(
        required=False,
        default=0,
        min_value=0,
        max_value=500,
        help_text="How many gold images a new annotator labels as a test before the real "
        "queue opens to them; 0: no test.",
    )
    qualification_pass_mark = serializers.FloatField(
        required=False,
        default=0.8,
        min_value=0.0,
        max_value=1.0,
        help_text="The share (0 to 1) of the test's gold images an annotator must label right.",
    )
    gold_pause_window = serializers.IntegerField(
        required=False,
        default=20,
        min_value=1,
        max_value=1000,
        help_text="How many of an annotator's latest gold answers their rolling accuracy uses.",
    )
    gold_pause_below = serializers.FloatField(
        required=False,
        default=0.0,
        min_value=0.0,
        max_value=1.0,
        help_text="An annotator whose rolling gold accuracy falls below this share is paused "
        "until a lead lets them go on; 0: never paused.",
    )
    duplicate_distance = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=-1,
        max_value=DUPLICATE_DISTANCE_MAX,
        error_messages=dict.fromkeys(
            ("invalid", "min_value", "max_value"), DUPLICATE_DISTANCE_WORDS
        ),
        help_text="Most bits two images' perceptual hashes differ in for them to be "
        f"near-duplicates: 0 to {DUPLICATE_DISTANCE_MAX} (as far as the banded index reaches "
        "without scanning the project; lower it for small, alike images such as 8x8 "
        "digits), -1: no grouping in this project, null: the server's "
        "LABELER_DUPLICATE_DISTANCE (7 by default). A change regroups the project's images "
        "in the background.",
    )
    labels = LabelListField()


class ProjectViewSet(viewsets.ModelViewSet):
    """Projects the caller belongs to (all of them for admins)."""

    serializer_class = ProjectSerializer
    lookup_value_regex = r"\d+"
    filterset_fields = ["multi_label"]

    def get_queryset(self) -> QuerySet[Project]:
        return selectors.projects_visible_to(self.request.user).prefetch_related("labels")

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        user = self.request.user
        if user.is_authenticated:
            context["roles"] = dict(user.memberships.values_list("project_id", "role"))
        return context

    def get_object(self) -> Project:
        return selectors.project_get_visible(
            user=self.request.user, project_id=int(self.kwargs["pk"])
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not selectors.can_create_projects(request.user):
            raise PermissionDenied("Only admins and project creators can create projects.")
        data = ProjectWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_create(creator=request_user(request), **data.validated_data)
        return Response(self._read(project), status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        project = self._managed_project()
        data = ProjectWriteSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        changes = {k: v for k, v in data.validated_data.items() if k in request.data}
        project = flows.project_update(project=project, **changes)
        return Response(self._read(project))

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.project_delete(project=self._managed_project())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _managed_project(self) -> Project:
        project = self.get_object()
        role = selectors.project_role(user=self.request.user, project=project)
        if not selectors.can_manage(user=self.request.user, project=project, role=role):
            raise PermissionDenied("Only the project's leads and admins can change it.")
        return project

    def _read(self, project: Project) -> dict[str, Any]:
        project = Project.objects.prefetch_related("labels").get(pk=project.pk)
        return self.get_serializer(project).data
