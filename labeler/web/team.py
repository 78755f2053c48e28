"""The team page: admins create accounts, invite people, deactivate and reset them.

Setting a password from an invitation or a reset link, and asking for a reset link
("Forgot password?"), are Django's own auth views with our templates.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods

from labeler.errors import DomainError
from labeler.http.login_throttle import client_address, password_reset_allowed
from labeler.projects import accounts, addresses, selectors, services
from labeler.projects.mail import LinkSent
from labeler.projects.models import AddressConfirmed, Project, Role
from labeler.site_address import site_origin, site_url
from labeler.web.pages import page_user


class InviteForm(forms.Form):
    """An account to create and invite; optionally a project to add it to at once."""

    username = forms.CharField(max_length=150)
    email = forms.EmailField(max_length=254)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    is_staff = forms.BooleanField(required=False, label="Admin")
    project = forms.ModelChoiceField(queryset=Project.objects.order_by("name"), required=False)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR, required=False)

    def add_domain_error(self, exc: DomainError) -> None:
        self.add_error(exc.field if exc.field in self.fields else None, exc.message)


def _admin(request: HttpRequest) -> User:
    user = page_user(request)
    if not selectors.is_admin(user):
        raise PermissionDenied("Only admins manage accounts.")
    return user


@login_required
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest) -> HttpResponse:
    """Every account, the invitation form, and each account's actions."""
    admin = _admin(request)
    action = request.POST.get("action", "")
    form = InviteForm(request.POST if action == "invite" else None)
    if action == "invite" and form.is_valid():
        try:
            sent = _invite(request, form.cleaned_data)
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, f"Invitation sent to {sent.email}.")
            request.session["team_last_link"] = sent.link
            return redirect("team")
    elif action in ("resend", "reset", "deactivate", "activate"):
        _account_action(request, admin, action)
        return redirect("team")
    context = {
        "form": form,
        "accounts": User.objects.order_by("username").prefetch_related("memberships__project"),
        "last_link": request.session.pop("team_last_link", ""),
        "roles": Role.choices,
        "projects": Project.objects.order_by("name").only("pk", "name"),
    }
    return render(request, "team/team.html", context)


def _invite(request: HttpRequest, data: dict) -> LinkSent:
    """Create the account (and its membership) and send the invitation, all or nothing."""
    with transaction.atomic():
        user = accounts.account_create(
            username=data["username"],
            email=data["email"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            is_staff=data["is_staff"],
            confirmed=AddressConfirmed.ADMIN,
        )
        if data["project"] is not None:
            role = data["role"] or Role.ANNOTATOR
            services.membership_set(project=data["project"], user=user, role=role)
        return accounts.account_link_send(user=user, base_url=site_url())


def _account_action(request: HttpRequest, admin: User, action: str) -> None:
    raw = request.POST.get("user", "")
    user = User.objects.filter(pk=int(raw)).first() if raw.isdecimal() and len(raw) < 19 else None
    if user is None:
        messages.error(request, "That account does not exist (any more).")
        return
    try:
        if action in ("resend", "reset"):
            kind = accounts.INVITE if action == "resend" else accounts.RESET
            sent = accounts.account_link_send(user=user, base_url=site_url(), kind=kind)
            what = "Invitation" if action == "resend" else "Password-reset link"
            messages.success(request, f"{what} sent to {sent.email}.")
            request.session["team_last_link"] = sent.link
        else:
            accounts.account_set_active(user=user, active=action == "activate", by=admin)
            state = "reactivated" if action == "activate" else "deactivated"
            messages.success(request, f"{user.username} was {state}.")
    except DomainError as exc:
        messages.error(request, exc.message)


class PasswordResetView(auth_views.PasswordResetView):
    """ "Forgot password?": a reset link to the address, if an active account has it."""

    template_name = "team/password_reset_form.html"
    token_generator = accounts.password_link_tokens
    email_template_name = "team/email/forgot_body.txt"
    subject_template_name = "team/email/reset_subject.txt"
    success_url = reverse_lazy("password-reset-done")

    def form_valid(self, form: Any) -> HttpResponse:
        address = client_address(self.request)
        if not password_reset_allowed(email=form.cleaned_data["email"], address=address):
            form.add_error(
                "email",
                "Too many password-reset links were asked for this address or from here; "
                "try again in an hour.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        # The link starts with the site's address, never with the Host the request named.
        self.extra_email_context = {"site": site_origin()}
        self.domain_override = urlsplit(site_origin()).netloc
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "team/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Choose a password from an invitation or a reset link; a dead link is a 400 that
    says why it may have died (used, expired, the account deactivated)."""

    template_name = "team/password_set.html"
    token_generator = accounts.password_link_tokens
    success_url = reverse_lazy("password-reset-complete")

    def dispatch(self, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = super().dispatch(*args, **kwargs)
        if not self.validlink and response.status_code == 200:
            response.status_code = 400
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "team/password_set_done.html"


@login_required
@require_http_methods(["GET", "POST"])
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Confirm an address by the link e-mailed to it, signed in as its account: the page
    asks, naming the account, and a POST confirms (so that a mail scanner opening the
    link confirms nothing)."""
    context: dict[str, Any] = {"token": token}
    if request.method == "POST":
        try:
            context["confirmed"] = addresses.email_confirm(token=token, by=page_user(request))
        except DomainError as exc:
            context["error"] = exc.message
            return render(request, "team/email_confirmed.html", context, status=exc.status_code)
        return render(request, "team/email_confirmed.html", context)
    return render(request, "team/email_confirm.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def email_address(request: HttpRequest) -> HttpResponse:
    """The signed-in person's address and whether it is confirmed; a POST e-mails it a
    link that confirms it."""
    user = page_user(request)
    if request.method == "POST":
        try:
            sent = addresses.email_verify_send(user=user, base_url=site_url())
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"A link to confirm your address was sent to {sent.email}.")
        return redirect("email-address")
    context = {"verified": addresses.email_verified(user)}
    return render(request, "team/email_address.html", context)
