"""Projects with their labels: create, read, update, delete."""

from __future__ import annotations

import copy
from functools import partial
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
from labeler.projects.models import Label, Project
from labeler.projects.settings_registry import ProjectSetting, project_settings, setting_names


class LabelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ["id", "name", "color", "hotkey", "group", "position"]


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
                        "hotkey": {
                            "type": "string",
                            "maxLength": 2,
                            "description": "One letter or digit, or a two-key chord; the "
                            "project's hotkeys are prefix-free. Left out: 1-9 up to nine "
                            "labels, else a chord from the name; empty: none.",
                        },
                        "group": {
                            "type": "string",
                            "maxLength": 100,
                            "description": "The heading the label is shown under.",
                        },
                    },
                    "required": ["name"],
                },
            ]
        },
    }
)
class LabelListField(serializers.JSONField):
    """Labels as plain names or objects (name, color, hotkey, group; id to keep an existing
    one)."""


def setting_object_field(setting: ProjectSetting, **options: Any) -> serializers.JSONField:
    """An object-valued setting (``training``), documented from its declaration."""
    field = serializers.JSONField(help_text=setting.help, **options)
    schema = {"type": "object", "additionalProperties": True, "description": setting.help}
    if setting.example is not None:
        schema["example"] = setting.example
    # drf-spectacular reads the schema from the field itself, instance or class.
    return extend_schema_field(schema)(field)  # type: ignore[type-var]


def setting_field(setting: ProjectSetting) -> serializers.Field:
    """The REST field of a project setting, from its declaration: optional, its default
    when left out, its bounds or choices, and its words as the message where declared."""
    options: dict[str, Any] = {"required": False, "help_text": setting.help}
    if setting.nullable:
        options["allow_null"] = True
    if setting.words is not None:
        words = f"Must be {setting.words}."
        options["error_messages"] = dict.fromkeys(("invalid", "min_value", "max_value"), words)
    if setting.kind == "json":
        return setting_object_field(setting, default=partial(copy.deepcopy, setting.default))
    options["default"] = setting.default
    if setting.kind == "bool":
        return serializers.BooleanField(**options)
    if setting.kind == "choice":
        return serializers.ChoiceField(choices=setting.choice_pairs, **options)
    options.update(min_value=setting.minimum, max_value=setting.maximum)
    if setting.kind == "int":
        return serializers.IntegerField(**options)
    return serializers.FloatField(**options)


class ProjectSerializer(serializers.ModelSerializer):
    labels = LabelSerializer(many=True, read_only=True)
    role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        # The order of a project's keys; settings declared after these come at the end.
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

    def get_field_names(self, declared_fields: Any, info: Any) -> list[str]:
        names = list(super().get_field_names(declared_fields, info))
        return names + [name for name in setting_names() if name not in names]

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for setting in project_settings():
            if setting.kind == "json":
                fields[setting.name] = setting_object_field(setting, read_only=True)
            else:
                fields[setting.name].help_text = setting.help
        return fields

    def get_role(self, project: Project) -> str | None:
        roles: dict[int, str] = self.context.get("roles", {})
        return roles.get(project.pk)


class ProjectWriteSerializer(StrictInput, serializers.Serializer):
    """The fields a client may send; the settings' fields come from their declarations
    (``labeler.projects.settings_registry``); domain rules are checked by the services."""

    name = serializers.CharField(max_length=200)
    instructions = serializers.CharField(required=False, allow_blank=True, default="")
    multi_label = serializers.BooleanField(required=False, default=False)
    labels = LabelListField()

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        labels = fields.pop("labels")
        fields.update({setting.name: setting_field(setting) for setting in project_settings()})
        fields["labels"] = labels
        return fields


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
        flows.project_delete(project=self._managed_project())
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
