"""Token login: POST a username and password, get the token to send as `Token <token>`."""

from __future__ import annotations

import logging
from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import Throttled
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from api.parsers import JSONParser
from labeler.audit.models import Action
from labeler.audit.services import audit_record
from labeler.http.login_throttle import CACHE_ERRORS, client_address, login_wait_seconds

logger = logging.getLogger(__name__)


class LoginRateThrottle(ScopedRateThrottle):
    """DRF's scoped rate throttle, letting requests through while the cache is unreachable.

    Its counts live in the cache; refusing every token login during a Redis outage would
    do more harm than the few extra guesses it lets through (the per-username lockout
    is off then as well).
    """

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS:
            logger.warning(
                "Login rate throttle unavailable: the cache cannot be reached", exc_info=True
            )
            return True


class TokenLoginView(ObtainAuthToken):
    """Exchange credentials for an API token (throttled against guessing)."""

    throttle_classes = [LoginRateThrottle]
    throttle_scope = "login"
    # ObtainAuthToken names DRF's parsers: its JSON one would fail on a bottomless body.
    parser_classes = [FormParser, MultiPartParser, JSONParser]

    @extend_schema(
        responses=inline_serializer("TokenResponse", {"token": serializers.CharField()}),
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        username = str(data.get("username", ""))
        wait = login_wait_seconds(username=username, address=client_address(request))
        if wait:
            raise Throttled(wait, detail="Too many failed login attempts for this username.")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        token, _ = Token.objects.get_or_create(user=user)
        # DRF sends no user_logged_in for a token: recorded here, a token's one way in.
        audit_record(action=Action.LOGIN, actor=user, details={"via": "token"})
        return Response({"token": token.key})
