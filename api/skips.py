"""Skips: an annotator passes on an image, with an optional reason, and may take it back."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from api.annotations import UNDO_RESPONSES
from api.filters import FilterSet
from api.idempotency import IDEMPOTENCY_KEY, idempotent
from api.inputs import StrictInput
from api.permissions import ProjectScopedView
from labeler.annotations import services
from labeler.annotations.models import Skip
from labeler.errors import NotFound


class SkipSerializer(serializers.ModelSerializer):
    annotator = serializers.PrimaryKeyRelatedField[User](read_only=True)

    class Meta:
        model = Skip
        fields = ["id", "image", "annotator", "reason", "created_at"]
        read_only_fields = fields


class SkipCreateSerializer(StrictInput, serializers.Serializer):
    image = serializers.IntegerField(help_text="Id of an image of this project.")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class SkipFilter(FilterSet):
    class Meta:
        model = Skip
        fields = {"image": ["exact"], "annotator": ["exact"]}


class SkipViewSet(
    ProjectScopedView,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Annotators skip images and see their own skips; leads and reviewers see all."""

    lookup_value_regex = r"\d+"
    serializer_class = SkipSerializer
    filterset_class = SkipFilter

    def get_queryset(self) -> QuerySet[Skip]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Skip.objects.none()
        queryset = Skip.objects.filter(project=self.project)
        if not self.sees_all_annotations:
            queryset = queryset.filter(annotator=self.user)
        return queryset

    def get_object(self) -> Skip:
        skip = self.get_queryset().filter(pk=int(self.kwargs["pk"])).first()
        if skip is None:
            raise NotFound(f"Skip {self.kwargs['pk']} does not exist or is not yours.")
        return skip

    @extend_schema(
        request=SkipCreateSerializer,
        responses={
            201: SkipSerializer,
            403: OpenApiResponse(
                description="The caller failed the qualification test or is paused."
            ),
            409: OpenApiResponse(
                description="The caller takes the qualification test: its images are not "
                "skipped (`test_not_skippable`)."
            ),
        },
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Skip an image: `{"image": id, "reason": "blurry"}`; it leaves your queue."""
        self.require_member()
        data = SkipCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        skip = services.skip_create(
            project=self.project,
            annotator=self.user,
            image_id=data.validated_data["image"],
            reason=data.validated_data["reason"],
        )
        return Response(SkipSerializer(skip).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[IDEMPOTENCY_KEY], responses=UNDO_RESPONSES)
    @idempotent
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Take back one's own skip (undo): the image is held for you again."""
        self.require_member()
        services.skip_withdraw(
            project=self.project, annotator=self.user, skip_id=int(self.kwargs["pk"])
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
