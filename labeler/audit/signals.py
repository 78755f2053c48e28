"""Logins, failed logins and logouts, recorded from Django's authentication signals.

Django's ``login``, ``logout`` and ``authenticate`` are the one place each of these
happens for the pages and the admin; the API's ``authenticate`` (token login) sends
``user_login_failed`` through the same path, and its success is recorded by the token
login view (``api/auth.py``), since DRF sends no signal for it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from labeler.audit.models import Action
from labeler.audit.services import audit_record


def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # login() names the backend that authenticated the user: single sign-on's or a password.
    via = "sso" if "sso" in str(getattr(user, "backend", "")) else "session"
    audit_record(action=Action.LOGIN, actor=user, details={"via": via})


def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(action=Action.LOGOUT, actor=user)


def _login_failed(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
    # Django hides the password in credentials already; only the username is kept. A
    # single sign-on callback that fails names the provider and the reason instead.
    if "sso" in credentials:
        details = {"via": "sso", "issuer": str(credentials["sso"])[:200]}
        details["reason"] = str(credentials.get("reason", ""))[:200]
        audit_record(action=Action.LOGIN_FAILED, details=details)
        return
    username = str(credentials.get("username", ""))
    audit_record(
        action=Action.LOGIN_FAILED,
        actor_name=username,
        details={"username": username[:150]},
    )


def connect() -> None:
    """Connect the receivers (once: ``dispatch_uid``)."""
    user_logged_in.connect(_logged_in, dispatch_uid="labeler.audit.login")
    user_logged_out.connect(_logged_out, dispatch_uid="labeler.audit.logout")
    user_login_failed.connect(_login_failed, dispatch_uid="labeler.audit.login_failed")
