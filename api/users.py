"""User accounts: admins create them; everyone can read their own."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.inputs import StrictInput

User = get_user_model()


class UserSerializer(StrictInput, serializers.ModelSerializer):
    """A user as clients see it; the password is write-only and validated."""

    password = serializers.CharField(write_only=True, style={"input_type": "password"})

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "is_staff", "password"]
        read_only_fields = ["id"]

    def validate(self, attrs: dict) -> dict:
        candidate = User(**{k: v for k, v in attrs.items() if k != "password"})
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs

    def create(self, validated_data: dict) -> object:
        return User.objects.create_user(**validated_data)


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
    filterset_fields = ["username", "is_staff"]

    @action(detail=False, methods=["get"], permission_classes=[permissions.IsAuthenticated])
    def me(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(request.user).data)
