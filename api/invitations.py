"""Invitations into a project, for its leads and admins: list the open ones, invite by
e-mail or make a link to share, revoke one.

The link (its token) is in the answer to the POST that makes it, and nowhere after:
only a hash of the token is stored (``labeler.projects.invitations``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from api.inputs import StrictInput
from api.permissions import ProjectScopedView
from labeler.errors import NotFound
from labeler.projects import invitations, selectors
from labeler.projects.models import Invitation, Role
from labeler.site_address import site_url


class InvitationSerializer(serializers.ModelSerializer):
    kind = serializers.SerializerMethodField(help_text="`email` or `link`.")
    email = serializers.CharField(
        read_only=True, help_text="The invited address; empty for a link to share."
    )
    created_by = serializers.CharField(
        source="created_by.username",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="Who made it (null once that account is deleted).",
    )

    class Meta:
        model = Invitation
        fields = [
            "id",
            "kind",
            "email",
            "role",
            "expires_at",
            "max_uses",
            "uses",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_kind(self, invitation: Invitation) -> str:
        return "email" if invitation.email else "link"


class InvitationMadeSerializer(InvitationSerializer):
    link = serializers.CharField(
        read_only=True, help_text="The join link: given only in this answer, never again."
    )

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "link"]
        read_only_fields = fields


class InvitationCreateSerializer(StrictInput, serializers.Serializer):
    role = serializers.ChoiceField(
        choices=Role.choices, help_text="The role whoever joins by it gets in the project."
    )
    email = serializers.EmailField(
        required=False,
        allow_blank=True,
        max_length=254,
        help_text="Invite this address (an e-mail with the link is sent, usable once); "
        "left out or empty, a link to share is made.",
    )
    expires_in_days = serializers.IntegerField(
        min_value=1,
        max_value=invitations.MAX_EXPIRY_DAYS,
        default=invitations.DEFAULT_EXPIRY_DAYS,
        help_text="How many days the link works.",
    )
    max_uses = serializers.IntegerField(
        min_value=1,
        max_value=invitations.MAX_USES_LIMIT,
        required=False,
        allow_null=True,
        help_text="For a link: how many people may join by it (null or left out: no limit).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A misspelt field would otherwise be dropped, and its default taken unsaid.
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {
                    name: [f"Not a field of an invitation ({', '.join(self.fields)})."]
                    for name in unknown
                }
            )
        return attrs


class InvitationViewSet(
    ProjectScopedView,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """The project's open invitations (not used up, expired or revoked); POST makes one,
    DELETE revokes one."""

    serializer_class = InvitationSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Invitation]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Invitation.objects.none()
        self.require_manager()
        return selectors.project_invitations_live(self.project)

    @extend_schema(
        request=InvitationCreateSerializer,
        responses={201: InvitationMadeSerializer},
        description="Invite an e-mail address (the mail is sent now; 503 if the mail "
        "server refuses, and nothing is kept) or, without `email`, make a link to share. "
        "The answer's `link` is the only time the link is given.",
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        data = InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        made = invitations.invitation_create(
            project=self.project,
            by=self.user,
            role=values["role"],
            base_url=site_url(),
            email=values.get("email", ""),
            days=values["expires_in_days"],
            max_uses=values.get("max_uses"),
        )
        body = {**InvitationSerializer(made.invitation).data, "link": made.link}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None}, description="Revoke: its link stops working at once.")
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        found = selectors.project_invitation(project=self.project, invitation_id=int(kwargs["pk"]))
        if found is None:
            raise NotFound(f"Invitation {kwargs['pk']} is not one of this project's.")
        invitations.invitation_revoke(invitation=found, by=self.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
