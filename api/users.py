"""User accounts: admins create, invite, deactivate and reset them; everyone reads their own."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.validators import UniqueValidator

from api.inputs import StrictInput
from api.parsers import JSONParser
from labeler.projects import accounts, addresses
from labeler.projects.models import AddressConfirmed
from labeler.site_address import site_url

User = get_user_model()


@extend_schema_field(
    {
        "type": "string",
        "maxLength": 150,
        "description": f"Unique; {accounts.USERNAME_CHARS}, letters of any script.",
    }
)
class UsernameField(serializers.CharField):
    """A username as Django's validator takes it: letters of any script, which a JSON
    Schema pattern's ASCII-only ``\\w`` would document as refused."""


def _username_check(value: str) -> None:
    # Called, not listed: a listed RegexValidator becomes that pattern in the schema.
    User.username_validator(value)


class UserSerializer(StrictInput, serializers.ModelSerializer):
    """A user as clients see it; the password is write-only and validated."""

    username = UsernameField(
        max_length=150,
        validators=[_username_check, UniqueValidator(queryset=User.objects.all())],
    )
    password = serializers.CharField(write_only=True, style={"input_type": "password"})

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "is_staff",
            "is_active",
            "password",
        ]
        read_only_fields = ["id", "is_active"]

    def validate(self, attrs: dict) -> dict:
        candidate = User(**{k: v for k, v in attrs.items() if k != "password"})
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs

    def create(self, validated_data: dict) -> object:
        return accounts.account_create_with_password(**validated_data)


class MeSerializer(UserSerializer):
    """The caller's own account, with whether its address is confirmed."""

    email_confirmed = serializers.SerializerMethodField(
        help_text="Whether the address is confirmed (by its owner's link, single sign-on or an "
        "admin): imports match people by confirmed addresses only. "
        "`POST me/send-confirmation/` e-mails the link."
    )

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "email_confirmed"]

    def get_email_confirmed(self, user: Any) -> bool:
        return addresses.email_verified(user)


class InviteSerializer(StrictInput, serializers.Serializer):
    """An account to create without a password, and the address its invitation goes to."""

    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    is_staff = serializers.BooleanField(default=False)

    def to_internal_value(self, data: Any) -> Any:
        # JSON only (the view's parser): true or false, not DRF's 0, 1, "yes" or "off".
        staff = data.get("is_staff") if isinstance(data, dict) else None
        if staff is not None and not isinstance(staff, bool):
            raise serializers.ValidationError({"is_staff": ["Must be true or false."]})
        return super().to_internal_value(data)


class LinkSentSerializer(serializers.Serializer):
    sent_to = serializers.EmailField(help_text="Where the link was e-mailed.")


class UserViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Admins create and list accounts; `me/` is the caller's own."""

    serializer_class = UserSerializer
    queryset = User.objects.order_by("id")
    permission_classes = [permissions.IsAdminUser]
    filterset_fields = ["username", "is_staff", "is_active"]
    lookup_value_regex = r"\d{1,18}"

    @extend_schema(responses={200: MeSerializer})
    @action(detail=False, methods=["get"], permission_classes=[permissions.IsAuthenticated])
    def me(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(MeSerializer(request.user, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses={202: LinkSentSerializer})
    @action(
        detail=False,
        methods=["post"],
        url_path="me/send-confirmation",
        permission_classes=[permissions.IsAuthenticated],
    )
    def send_confirmation(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """E-mail the caller's own address a link that confirms it, as the address page
        does (400 when the account has no address)."""
        sent = addresses.email_verify_send(user=request.user, base_url=site_url())  # type: ignore[arg-type]
        return Response({"sent_to": sent.email}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=InviteSerializer, responses={201: UserSerializer})
    @action(detail=False, methods=["post"], parser_classes=[JSONParser])
    def invite(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Create an account without a password and e-mail it a link to choose one."""
        data = InviteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            user = accounts.account_create(**data.validated_data, confirmed=AddressConfirmed.ADMIN)
            accounts.account_link_send(user=user, base_url=site_url())
        return Response(self.get_serializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={202: LinkSentSerializer})
    @action(detail=True, methods=["post"], url_path="send-invitation")
    def send_invitation(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """E-mail the account a new invitation link (the earlier ones keep working until used)."""
        return self._send(request, accounts.INVITE)

    @extend_schema(request=None, responses={202: LinkSentSerializer})
    @action(detail=True, methods=["post"], url_path="send-password-reset")
    def send_password_reset(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """E-mail the account a link to choose a new password (the current one stays until then)."""
        return self._send(request, accounts.RESET)

    @extend_schema(request=None, responses={200: UserSerializer})
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """No more logins, sessions or API tokens for the account; its labels stay."""
        return self._set_active(request, active=False)

    @extend_schema(request=None, responses={200: UserSerializer})
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Give a deactivated account its access back."""
        return self._set_active(request, active=True)

    def _send(self, request: Request, kind: str) -> Response:
        sent = accounts.account_link_send(user=self.get_object(), base_url=site_url(), kind=kind)
        return Response({"sent_to": sent.email}, status=status.HTTP_202_ACCEPTED)

    def _set_active(self, request: Request, *, active: bool) -> Response:
        user = accounts.account_set_active(
            user=self.get_object(),
            active=active,
            by=request.user,  # type: ignore[arg-type]
        )
        return Response(self.get_serializer(user).data)
