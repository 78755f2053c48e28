"""Prediction tokens on the wire: ``Authorization: Bearer lbp_...``.

Only the prediction routes (``api/serving.py``) name ``PredictTokenAuthentication``;
every other route authenticates with the site's defaults, which do not know the
``Bearer`` keyword, so a prediction token is refused there as no credentials at all
(401). A test walks every route to keep it so.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from labeler.serving.models import PredictToken
from labeler.serving.tokens import TokenEnded, predict_token_authenticate

KEYWORD = b"bearer"


class PredictTokenAuthentication(BaseAuthentication):
    """A live prediction token: the request is the token's (no user), scoped to its project."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, PredictToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Send the token as 'Authorization: Bearer <token>'.")
        try:
            token = predict_token_authenticate(key=parts[1].decode("latin-1"))
        except TokenEnded as ended:
            raise AuthenticationFailed(f"{ended} Issue a new token.") from ended
        if token is None:
            raise AuthenticationFailed("Unknown or revoked prediction token.")
        return AnonymousUser(), token

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class PredictTokenScheme(OpenApiAuthenticationExtension):
    """How the API schema names a prediction token: HTTP bearer (registered on import)."""

    target_class = PredictTokenAuthentication
    name = "predictToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A prediction token (lbp_...): its project's prediction routes only.",
        }
