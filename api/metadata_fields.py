"""A project's own metadata fields: listed for its leads, reviewers and admins; declared,
renamed, their choices changed and removed by its leads and admins.

The rules are the images layer's (``labeler.images.catalogue.metadata_fields``); the values are set
with the images' metadata (``PATCH /projects/{id}/images/{id}/``, ``fields``) and filtered
with ``field``, ``field_min``, ``field_max`` and ``field_contains``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from api.image_metadata import body_read
from api.inputs import StrictInput
from api.permissions import ProjectScopedView
from labeler.errors import PermissionDenied
from labeler.images.catalogue import metadata_fields
from labeler.images.catalogue.metadata_keys import FIELD_NAME_RULE
from labeler.images.catalogue.selectors import fields_counted, metadata_field_get
from labeler.images.models import FIELD_KINDS, MetadataField

_NAME = f"The field's name: {FIELD_NAME_RULE}; not a built-in field's."
_CHOICES = "A choice field's choices, in the order forms offer them (distinct texts)."


class MetadataFieldSerializer(serializers.ModelSerializer):
    images = serializers.IntegerField(
        source="image_count", read_only=True, help_text="Images that have a value of it."
    )

    class Meta:
        model = MetadataField
        fields = ["id", "name", "kind", "choices", "images", "created_at"]
        read_only_fields = fields
        extra_kwargs = {"name": {"help_text": _NAME}, "choices": {"help_text": _CHOICES}}


class FieldCreateSerializer(StrictInput, serializers.Serializer):
    name = serializers.CharField(max_length=40, help_text=_NAME)
    kind = serializers.ChoiceField(choices=FIELD_KINDS)
    choices = serializers.ListField(
        child=serializers.CharField(), required=False, help_text=_CHOICES
    )


class FieldUpdateSerializer(StrictInput, serializers.Serializer):
    name = serializers.CharField(max_length=40, required=False, help_text=_NAME)
    choices = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text=f"{_CHOICES} A choice some image holds cannot be taken away.",
    )


class MetadataFieldViewSet(
    ProjectScopedView,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """GET lists the fields; POST {name, kind, choices} declares one; PATCH {name,
    choices} renames it or changes its choices; DELETE removes it with its values."""

    serializer_class = MetadataFieldSerializer
    lookup_value_regex = r"\d+"
    pagination_class = None  # a project has at most FIELDS_PER_PROJECT: one list, by name

    def get_queryset(self) -> QuerySet[MetadataField]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return MetadataField.objects.none()
        if not self.sees_all_annotations:
            raise PermissionDenied(
                "Annotators label blind: only leads, reviewers and admins see the fields."
            )
        return fields_counted(self.project)

    def get_object(self) -> MetadataField:
        self.get_queryset()  # who may see them
        found = metadata_field_get(self.project, int(self.kwargs["pk"]))
        return self.get_queryset().get(pk=found.pk)

    @extend_schema(request=FieldCreateSerializer, responses={201: MetadataFieldSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        data = body_read(FieldCreateSerializer, request.data)
        field = metadata_fields.field_create(
            project=self.project,
            name=data["name"],
            kind=data["kind"],
            choices=data.get("choices"),
        )
        return Response(
            self.get_serializer(self.get_queryset().get(pk=field.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=FieldUpdateSerializer, responses={200: MetadataFieldSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        field = self.get_object()
        data = body_read(FieldUpdateSerializer, request.data)
        metadata_fields.field_update(
            field=field, name=data.get("name"), choices=data.get("choices")
        )
        return Response(self.get_serializer(self.get_object()).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        metadata_fields.field_delete(field=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
