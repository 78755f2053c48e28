"""The single sign-on pages: off to the provider, and back from it (mozilla-django-oidc's
views, answering every failure with a page that says what went wrong, never a 500)."""

from __future__ import annotations

import logging
from typing import Any

import requests
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from mozilla_django_oidc import views as oidc_views

from labeler.errors import DomainError
from labeler.sso import provider
from labeler.sso.backend import OidcBackend

logger = logging.getLogger(__name__)

REFUSED = (
    "The sign-in could not be verified, so you are not logged in. Try again from the login page."
)
UNREACHABLE = (
    "The sign-in provider cannot be reached or answered with an error; try again in a few "
    "minutes, or ask an administrator."
)


def sso_failed(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    """The page that says why single sign-on did not log the user in."""
    return render(request, "registration/sso_failed.html", {"message": message}, status=status)


class SsoLoginView(oidc_views.OIDCAuthenticationRequestView):
    """Sends the browser to the provider's sign-in page (404 while SSO is not configured)."""

    get_settings = staticmethod(OidcBackend.get_settings)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The library reads the endpoints here; they are read (and discovered) per request.
        oidc_views.View.__init__(self, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not provider.sso_enabled():
            raise Http404("Single sign-on is not configured.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = self.get_settings("OIDC_OP_AUTHORIZATION_ENDPOINT")
            self.OIDC_RP_CLIENT_ID = self.get_settings("OIDC_RP_CLIENT_ID")
        except provider.ProviderUnreachable as exc:
            logger.warning("SSO provider unreachable: %s", exc.__cause__ or exc)
            return sso_failed(request, exc.message, status=exc.status_code)
        return super().get(request)


class SsoCallbackView(oidc_views.OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back: logs the user in, or says why not."""

    get_settings = staticmethod(OidcBackend.get_settings)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not provider.sso_enabled():
            raise Http404("Single sign-on is not configured.")
        try:
            return super().get(request)
        except SuspiciousOperation as exc:  # wrong state, nonce, signature, issuer...
            return self._failed(str(exc), REFUSED, status=400)
        except provider.ProviderUnreachable as exc:
            return self._failed(str(exc.__cause__ or exc), exc.message, status=502)
        except requests.RequestException as exc:  # token or userinfo endpoint down or refusing
            return self._failed(str(exc), UNREACHABLE, status=502)
        except DomainError as exc:
            return self._failed(exc.message, exc.message, status=exc.status_code)

    def login_failure(self) -> HttpResponse:
        user = getattr(self, "user", False)
        if user is None:  # Django's authenticate found nobody and said so itself
            return sso_failed(self.request, REFUSED, status=400)
        if self.request.GET.get("error"):  # the provider's refusal (or the user's)
            reason = str(self.request.GET.get("error_description") or self.request.GET["error"])
            return self._failed(reason, f"The sign-in provider refused: {reason[:200]}", status=400)
        if user:
            return self._failed("account inactive", "This account is deactivated.", status=403)
        return self._failed("no sign-in in progress", REFUSED, status=400)

    def _failed(self, reason: str, message: str, *, status: int) -> HttpResponse:
        logger.warning("SSO login failed: %s", reason)
        user_login_failed.send(
            sender=OidcBackend,
            credentials={"sso": provider.issuer(), "reason": reason[:200]},
            request=self.request,
        )
        return sso_failed(self.request, message, status=status)
