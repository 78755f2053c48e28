"""The OpenID Connect authentication backend: mozilla-django-oidc's code flow, with the
provider's endpoints discovered, the ID token's issuer and audience checked, and accounts
found by ``sub`` (``labeler.sso.identities``).

Listed in ``AUTHENTICATION_BACKENDS`` beside the local one; it answers nothing while
single sign-on is not configured. A login through it is Django's ``login``, so
``user_logged_in`` is sent; a callback that authenticates nobody gets Django's
``user_login_failed`` (and the callback page sends it for what fails before).
"""

from __future__ import annotations

from typing import Any

import jwt
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from labeler.http.backends import UserBackend
from labeler.sso import provider
from labeler.sso.identities import identity_login


class OidcBackend(OIDCAuthenticationBackend):
    """Logs in the user whose provider account the callback's code names."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The library reads its settings here; ours are read at the login instead, so that
        # the backend can be listed while single sign-on is off or its provider is down.
        self.UserModel = get_user_model()

    @staticmethod
    def get_settings(attr: str, *args: Any) -> Any:
        """The library's settings, with the provider's endpoints discovered when not set."""
        if attr in provider.ENDPOINTS:
            return provider.endpoint(attr)
        return import_from_settings(attr, *args)

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> Any:
        """The user of the callback's code, or None (not a callback, or SSO off)."""
        if request is None or not provider.sso_enabled() or "code" not in request.GET:
            return None
        self.OIDC_OP_TOKEN_ENDPOINT = self.get_settings("OIDC_OP_TOKEN_ENDPOINT")
        self.OIDC_OP_USER_ENDPOINT = self.get_settings("OIDC_OP_USER_ENDPOINT")
        self.OIDC_OP_JWKS_ENDPOINT = self.get_settings("OIDC_OP_JWKS_ENDPOINT")
        self.OIDC_RP_CLIENT_ID = self.get_settings("OIDC_RP_CLIENT_ID")
        self.OIDC_RP_CLIENT_SECRET = self.get_settings("OIDC_RP_CLIENT_SECRET")
        self.OIDC_RP_SIGN_ALGO = self.get_settings("OIDC_RP_SIGN_ALGO", "RS256")
        self.OIDC_RP_IDP_SIGN_KEY = self.get_settings("OIDC_RP_IDP_SIGN_KEY", None)
        return super().authenticate(request, **kwargs)

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        """The ID token's claims once its signature, nonce, issuer and audience are right."""
        try:
            payload = super().verify_token(token, **kwargs)
        except jwt.PyJWTError as exc:  # expired, malformed: a refusal, not a crash
            raise SuspiciousOperation(f"The ID token is not valid: {exc}.") from exc
        if provider.issuer() and str(payload.get("iss", "")).rstrip("/") != provider.issuer():
            raise SuspiciousOperation("The ID token was issued by another provider.")
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The ID token was issued to another client.")
        return payload

    def get_userinfo(self, access_token: str, id_token: str, payload: dict) -> dict[str, Any]:
        """The userinfo claims, over the ID token's, refused unless both name the same subject."""
        claims = super().get_userinfo(access_token, id_token, payload)
        if not isinstance(claims, dict) or claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The provider's userinfo names another subject.")
        return {**payload, **claims}

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict) -> Any:
        """The user the claims name, made on first login, roles brought up to date."""
        claims = self.get_userinfo(access_token, id_token, payload)
        iss = provider.issuer() or str(payload.get("iss", ""))
        return identity_login(issuer=iss, claims=claims)

    def get_user(self, user_id: Any) -> Any:
        """The session's user, read as the local backend reads it."""
        return UserBackend().get_user(user_id)
