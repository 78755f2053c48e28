"""Project members and their roles, managed by the project's leads and admins.

``link`` gives a member the labels of an account an import made for someone who
labelled elsewhere (``labeler.imports.applying.accounts.imported_account_link``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.inputs import StrictInput
from api.permissions import ProjectScopedView
from labeler.errors import NotFound, ValidationFailed
from labeler.imports.applying.accounts import imported_account_link
from labeler.projects import services
from labeler.projects.models import Membership, Role

User = get_user_model()


class MembershipSerializer(StrictInput, serializers.ModelSerializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    username = serializers.CharField(source="user.username", read_only=True)
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = Membership
        fields = ["user", "username", "role", "created_at"]
        read_only_fields = ["created_at"]


class RoleSerializer(StrictInput, serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class LinkSerializer(StrictInput, serializers.Serializer):
    to = serializers.CharField(
        max_length=150, help_text="The username of the member whose labels these are."
    )


class MoveConflictSerializer(serializers.Serializer):
    image = serializers.IntegerField(source="image_id")
    account_labels = serializers.ListField(
        child=serializers.CharField(), source="source_labels", help_text="The imported label."
    )
    member_labels = serializers.ListField(
        child=serializers.CharField(), source="target_labels", help_text="The member's own."
    )


class LinkReportSerializer(serializers.Serializer):
    account = serializers.CharField(source="source", help_text="The imported account.")
    member = serializers.CharField(source="target", help_text="The member who now has its labels.")
    moved = serializers.IntegerField(help_text="Annotations moved to the member.")
    conflicts = MoveConflictSerializer(
        many=True,
        help_text="Images both labelled: their annotation stays with the imported account.",
    )
    decisions_moved = serializers.IntegerField(
        help_text="Final labels the imported account decided, now credited to the member."
    )
    membership_removed = serializers.BooleanField(
        help_text="Whether the imported account left the project (nothing of it was left)."
    )


class MembershipViewSet(
    ProjectScopedView,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """POST {user, role} adds a member (or changes the role); PATCH changes it; DELETE removes."""

    serializer_class = MembershipSerializer
    lookup_field = "user"
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Membership]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Membership.objects.none()
        self.require_manager()
        return Membership.objects.filter(project=self.project).select_related("user")

    def get_object(self) -> Membership:
        # user__pk, not user_id: a pk lookup answers "none" for ids out of the column's range.
        membership = self.get_queryset().filter(user__pk=int(self.kwargs["user"])).first()
        if membership is None:
            raise NotFound(f"User {self.kwargs['user']} is not a member of this project.")
        return membership

    @extend_schema(
        responses={201: MembershipSerializer, 200: MembershipSerializer},
        description="Add a member (201), or set the role of one already in (200).",
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership, created = services.membership_set(
            project=self.project, user=data.validated_data["user"], role=data.validated_data["role"]
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(self.get_serializer(membership).data, status=code)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        membership = self.get_object()
        data = RoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership, _ = services.membership_set(
            project=self.project, user=membership.user, role=data.validated_data["role"]
        )
        return Response(self.get_serializer(membership).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "keep_links",
                bool,
                description="true keeps the project's open share links; by default the "
                "removal revokes them, since the person removed may have one and a link "
                "takes any new account.",
            )
        ],
        responses={204: None},
        description="Remove the member. The removal sticks: an invitation made before it "
        "no longer brings them back, and the project's open share links are revoked unless "
        "`keep_links=true`.",
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        membership = self.get_object()
        raw = request.query_params.get("keep_links", "false")
        if raw not in ("true", "false"):
            raise ValidationFailed("keep_links must be true or false.", field="keep_links")
        services.membership_remove(membership=membership, by=self.user, keep_links=raw == "true")
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=LinkSerializer,
        responses={200: LinkReportSerializer},
        description="Give the member named `to` the annotations and decisions of this "
        "imported account (one that cannot log in). Images both labelled stay with the "
        "imported account and are listed in `conflicts`.",
    )
    @action(detail=True, methods=["post"])
    def link(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        membership = self.get_object()
        data = LinkSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = imported_account_link(
            project=self.project,
            source=membership.user,
            to=data.validated_data["to"],
            by=self.user,
        )
        return Response(LinkReportSerializer(report).data)
