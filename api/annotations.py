"""Annotations: each caller writes their own; leads, reviewers and admins read everyone's."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from api.filters import FilterSet
from api.idempotency import IDEMPOTENCY_KEY, idempotent
from api.images import DATETIME
from api.inputs import StrictInput
from api.permissions import ProjectScopedView
from labeler.annotations import services as annotation_services
from labeler.annotations.models import Annotation
from labeler.annotations.submit import annotation_submit
from labeler.errors import NotFound
from labeler.projects.models import Label


class AnnotationSerializer(serializers.ModelSerializer):
    labels = serializers.SlugRelatedField[Label](slug_field="name", many=True, read_only=True)
    label_ids = serializers.PrimaryKeyRelatedField[Label](
        source="labels", many=True, read_only=True
    )
    annotator = serializers.PrimaryKeyRelatedField[User](read_only=True)
    annotator_username = serializers.CharField(source="annotator.username", read_only=True)

    class Meta:
        model = Annotation
        fields = [
            "id", "image", "annotator", "annotator_username", "labels", "label_ids",
            "time_spent_ms", "suggested_by", "suggestion_shown", "suggestion_accepted",
            "grid", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def to_representation(self, instance: Annotation) -> dict[str, Any]:
        """The fields above, read directly (a submit answers with one, lists with many).

        A submit's answer takes the labels the service just wrote (``submitted_labels``)
        rather than reading them back.
        """
        labels = getattr(instance, "submitted_labels", None) or list(instance.labels.all())
        return {
            "id": instance.pk,
            "image": instance.image_id,
            "annotator": instance.annotator_id,
            "annotator_username": instance.annotator.username,
            "labels": [label.name for label in labels],
            "label_ids": [label.pk for label in labels],
            "time_spent_ms": instance.time_spent_ms,
            "suggested_by": instance.suggested_by_id,
            "suggestion_shown": instance.suggestion_shown,
            "suggestion_accepted": instance.suggestion_accepted,
            "grid": instance.grid,
            "created_at": DATETIME.to_representation(instance.created_at),
            "updated_at": DATETIME.to_representation(instance.updated_at),
        }


class AnnotationSubmitSerializer(StrictInput, serializers.Serializer):
    image = serializers.IntegerField(help_text="Id of an image of this project.")
    labels = serializers.ListField(
        child=serializers.JSONField(), help_text="Label names or ids.", allow_empty=True
    )
    time_spent_ms = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    suggested_by = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Id of the model version whose suggestion was shown with the image.",
    )
    suggestion_accepted = serializers.BooleanField(
        required=False, default=False, help_text="Whether the labels are that suggestion as shown."
    )


class AnnotationFilter(FilterSet):
    class Meta:
        model = Annotation
        fields = {"image": ["exact"], "annotator": ["exact"], "updated_at": ["gte", "lte"]}


# An undo leases the image back through the queue's gate: what it refuses the caller
# refuses the undo, and nothing changes.
UNDO_RESPONSES = {
    204: None,
    403: OpenApiResponse(description="The caller failed the qualification test or is paused."),
    409: OpenApiResponse(
        description="The caller holds as many images as one may, or takes the "
        "qualification test and the image is not one of its images."
    ),
}


class AnnotationViewSet(
    ProjectScopedView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """POST creates or updates the caller's own annotation of an image; DELETE takes it back."""

    lookup_value_regex = r"\d+"
    serializer_class = AnnotationSerializer
    filterset_class = AnnotationFilter

    def get_queryset(self) -> QuerySet[Annotation]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Annotation.objects.none()
        queryset = Annotation.objects.filter(project=self.project)
        if not self.sees_all_annotations:
            queryset = queryset.filter(annotator=self.user)
        return queryset.select_related("annotator").prefetch_related("labels")

    def get_object(self) -> Annotation:
        annotation = self.get_queryset().filter(pk=int(self.kwargs["pk"])).first()
        if annotation is None:
            raise NotFound(f"Annotation {self.kwargs['pk']} does not exist or is not yours.")
        return annotation

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action == "create":
            return AnnotationSubmitSerializer
        return AnnotationSerializer

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: AnnotationSerializer,
            200: AnnotationSerializer,
            403: OpenApiResponse(
                description="The caller failed the qualification test or is paused."
            ),
            409: OpenApiResponse(
                description="Not handed out by the queue, or refused by its lease gate: no "
                "room left, complete, flagged as a problem, kept for others, the lease cap, "
                "or not a test image while qualifying (the code says which)."
            ),
        },
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Label an image: `{"image": id, "labels": [...], "time_spent_ms": 1200}`.

        A new label is for an image the queue (next/) handed to the caller, while it has
        room under the overlap: anything else is a 409 that says why. Changing one's own
        label is always allowed. Whether the model's suggestion was shown and accepted is
        recorded from what next/ handed out.
        """
        self.require_member()
        data = AnnotationSubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        annotation, created, _ = annotation_submit(
            project=self.project,
            annotator=self.user,
            image_id=data.validated_data["image"],
            labels=data.validated_data["labels"],
            time_spent_ms=data.validated_data.get("time_spent_ms"),
        )
        # The caller's own annotation, as written: no need to read it back.
        annotation.annotator = self.user
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(AnnotationSerializer(annotation).data, status=code)

    @extend_schema(parameters=[IDEMPOTENCY_KEY], responses=UNDO_RESPONSES)
    @idempotent
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Take back one's own annotation (undo): the image is open again and held for you."""
        self.require_member()
        annotation_services.annotation_withdraw(
            project=self.project, annotator=self.user, annotation_id=int(self.kwargs["pk"])
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
