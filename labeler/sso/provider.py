"""The provider's endpoints: from the settings, or from its discovery document.

Single sign-on is on when ``OIDC_RP_CLIENT_ID`` and an issuer (``OIDC_OP_ISSUER``) or the
endpoints themselves are set. Endpoints not set are read from
``<issuer>/.well-known/openid-configuration`` on first use and kept in the cache for an
hour, so the web process starts even while the provider is down; a login then tells the
user the provider cannot be reached.
"""

from __future__ import annotations

from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache

from labeler.errors import Unavailable

ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}
DISCOVERY_SECONDS = 3600


class ProviderUnreachable(Unavailable):
    """The identity provider did not answer, or answered nonsense."""

    status_code = 502
    code = "sso_provider_unreachable"


def sso_enabled() -> bool:
    """Whether single sign-on is configured (a client id, and an issuer or endpoints)."""
    return bool(
        getattr(settings, "OIDC_RP_CLIENT_ID", "")
        and (issuer() or getattr(settings, "OIDC_OP_AUTHORIZATION_ENDPOINT", ""))
    )


def issuer() -> str:
    """The provider's issuer identifier, without a trailing slash."""
    return (getattr(settings, "OIDC_OP_ISSUER", "") or "").rstrip("/")


def endpoint(name: str) -> str:
    """One of the provider's endpoints (a key of ``ENDPOINTS``): set, or discovered."""
    value = getattr(settings, name, "") or ""
    if value:
        return value
    found = discovery().get(ENDPOINTS[name])
    if not isinstance(found, str) or not found.startswith(("https://", "http://")):
        raise ProviderUnreachable(f"The sign-in provider does not announce its {ENDPOINTS[name]}.")
    return found


def discovery() -> dict[str, Any]:
    """The provider's discovery document, cached; ProviderUnreachable when it cannot be read."""
    url = f"{issuer()}/.well-known/openid-configuration"
    key = f"sso:discovery:{url}"
    document = cache.get(key)
    if document is None:
        document = _fetch(url)
        if document.get("issuer", "").rstrip("/") != issuer():
            raise ProviderUnreachable(
                "The sign-in provider's discovery document names another issuer."
            )
        cache.set(key, document, DISCOVERY_SECONDS)
    return document


def _fetch(url: str) -> dict[str, Any]:
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnreachable(
            "The sign-in provider cannot be reached; try again in a few minutes, "
            "or ask an administrator."
        ) from exc
    if not isinstance(document, dict):
        raise ProviderUnreachable("The sign-in provider's discovery document is not an object.")
    return document
