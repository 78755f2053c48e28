"""Invitations from the members page, and the join page they lead to.

A lead invites by e-mail or makes a link to share (``labeler.projects.invitations``
decides who may join which project as what); the link is shown once, right after it is
made. Whoever opens it joins: signed in, with one click; otherwise by choosing a
username and password, and lands in the project.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from labeler.errors import DomainError, NotFound, PermissionDenied
from labeler.http.join_throttle import (
    REFUSED_MESSAGE,
    join_misses_exceeded,
    join_post_allowed,
    join_token_missed,
)
from labeler.http.login_throttle import client_address
from labeler.projects import invitations, selectors, services
from labeler.projects.invitations import InvitationUnusable, Joined
from labeler.projects.models import Invitation, Project, Role
from labeler.projects.services import MemberRemoved
from labeler.site_address import site_url
from labeler.web.forms import DomainForm
from labeler.web.pages import page_user
from labeler.words import counted

INVITE_ACTIONS = ("invite-email", "invite-link", "revoke-invitation")
EXPIRY_CHOICES = [(days, counted(days, "day")) for days in invitations.EXPIRY_CHOICES]
_SESSION_LINK = "members_new_link"  # (project id, invitation id, link): shown once


class InviteEmailForm(DomainForm):
    """Invite one address into the project."""

    email = forms.EmailField(
        max_length=254, error_messages={"required": "Give the e-mail address to invite."}
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)
    days = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES, coerce=int, initial=invitations.DEFAULT_EXPIRY_DAYS
    )


class InviteLinkForm(DomainForm):
    """Make a link anyone who has it can join by."""

    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)
    days = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES, coerce=int, initial=invitations.DEFAULT_EXPIRY_DAYS
    )
    max_uses = forms.IntegerField(required=False, min_value=1, max_value=invitations.MAX_USES_LIMIT)


class JoinForm(DomainForm):
    """A new account from an invitation."""

    username = forms.CharField(max_length=150)
    email = forms.EmailField(max_length=254, required=False)
    password1 = forms.CharField(strip=False, widget=forms.PasswordInput)
    password2 = forms.CharField(strip=False, widget=forms.PasswordInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return data

    def add_domain_error(self, exc: DomainError) -> None:
        field = "password1" if exc.field == "password" else exc.field
        self.add_error(field if field in self.fields else None, exc.message)


def members_invite_action(
    request: HttpRequest, project: Project, action: str
) -> tuple[HttpResponse | None, dict[str, DomainForm]]:
    """Handle an invitation action of the members page: a redirect when done, else the
    forms with their errors (for the page to show again)."""
    by = page_user(request)
    email_form = InviteEmailForm(request.POST if action == "invite-email" else None, prefix="email")
    link_form = InviteLinkForm(request.POST if action == "invite-link" else None, prefix="link")
    forms_shown: dict[str, DomainForm] = {"email_form": email_form, "link_form": link_form}
    if action == "revoke-invitation":
        _revoke(request, project, by)
        return redirect("project-members", project.pk), forms_shown
    form = email_form if action == "invite-email" else link_form
    if not form.is_valid():
        return None, forms_shown
    data = form.cleaned_data
    try:
        made = invitations.invitation_create(
            project=project,
            by=by,
            role=data["role"],
            base_url=site_url(),
            email=data.get("email", ""),
            days=data["days"],
            max_uses=data.get("max_uses"),
        )
    except DomainError as exc:
        form.add_domain_error(exc)
        return None, forms_shown
    invitation = made.invitation
    if invitation.email:
        messages.success(request, f"Invitation sent to {invitation.email} as {invitation.role}.")
    else:
        messages.success(request, f"Link made: whoever opens it joins as {invitation.role}.")
    request.session[_SESSION_LINK] = [project.pk, invitation.pk, made.link]
    return redirect("project-members", project.pk), forms_shown


def _revoke(request: HttpRequest, project: Project, by: User) -> None:
    raw = request.POST.get("invitation", "")
    found = (
        selectors.project_invitation(project=project, invitation_id=int(raw))
        if raw.isascii() and raw.isdecimal() and len(raw) <= 18
        else None
    )
    if found is None:
        messages.error(request, "That invitation does not exist (any more).")
        return
    try:
        invitations.invitation_revoke(invitation=found, by=by)
    except DomainError as exc:
        messages.error(request, exc.message)
        return
    what = f"The invitation of {found.email}" if found.email else "The link"
    messages.success(request, f"{what} no longer works: it was revoked.")


def members_invite_context(request: HttpRequest, project: Project) -> dict[str, Any]:
    """What the members page shows of invitations: the live ones and a link just made."""
    new_link = request.session.pop(_SESSION_LINK, None)
    if not (isinstance(new_link, list) and len(new_link) == 3 and new_link[0] == project.pk):
        new_link = None
    live: list[Invitation] = list(selectors.project_invitations_live(project))
    return {
        "invitations": live,
        "new_link": new_link[2] if new_link else "",
        "new_link_id": new_link[1] if new_link else None,
        "expiry_choices": EXPIRY_CHOICES,
        "default_days": invitations.DEFAULT_EXPIRY_DAYS,
        "max_uses_limit": invitations.MAX_USES_LIMIT,
    }


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, token: str) -> HttpResponse:
    """Join a project by an invitation: one click when signed in, else a new account."""
    address = client_address(request)
    try:
        invitation = invitations.invitation_find(token)
    except NotFound as exc:
        if join_misses_exceeded(address=address):
            return _refused(request, REFUSED_MESSAGE, status=429)
        join_token_missed(address=address)
        return _refused(request, exc.message, status=404, reason="unknown")
    except InvitationUnusable as exc:
        return _refused(request, exc.message, status=410, reason=exc.details.get("reason", ""))
    if request.method == "POST" and not join_post_allowed(address=address):
        return _refused(request, REFUSED_MESSAGE, status=429)
    user = request.user
    if isinstance(user, User) and user.is_authenticated:
        return _join_signed_in(request, token, invitation, user)
    return _join_new_account(request, token, invitation)


def _join_signed_in(
    request: HttpRequest, token: str, invitation: Invitation, user: User
) -> HttpResponse:
    context = _join_context(invitation, user=user)
    try:
        if context["current_role"] is None:  # said before the click, not after
            services.membership_removal_check(
                project=invitation.project,
                user=user,
                via=services.INVITATION,
                invitation=invitation,
            )
        if request.method != "POST":
            return render(request, "projects/join.html", context)
        joined = invitations.invitation_accept(token=token, user=user)
    except MemberRemoved as exc:
        return _refused(request, exc.message, status=exc.status_code, reason="removed")
    except PermissionDenied as exc:
        context["error"] = exc.message
        return render(request, "projects/join.html", context, status=403)
    except DomainError as exc:
        return _refused(request, exc.message, status=exc.status_code)
    return _landed(request, joined)


def _join_new_account(request: HttpRequest, token: str, invitation: Invitation) -> HttpResponse:
    form = JoinForm(request.POST if request.method == "POST" else None)
    context = _join_context(invitation, user=None)
    holder = invitations.account_with_email(invitation.email) if invitation.email else None
    if holder is not None:  # sign in as that account instead of making a second one
        context["holder"] = holder
        return render(
            request, "projects/join.html", context, status=200 if holder.is_active else 403
        )
    status = 200
    if form.is_valid():
        data = form.cleaned_data
        try:
            joined = invitations.invitation_join(
                token=token,
                username=data["username"],
                email=data["email"],
                password=data["password1"],
                base_url=site_url(),
            )
        except MemberRemoved as exc:
            return _refused(request, exc.message, status=exc.status_code, reason="removed")
        except DomainError as exc:
            form.add_domain_error(exc)
            context["sign_in"] = bool(exc.details.get("sign_in"))
            status = exc.status_code
        else:
            # The one configured backend (labeler.http.backends) keeps the session.
            user = joined.membership.user
            login(request, user, settings.AUTHENTICATION_BACKENDS[0])
            if not invitation.email:
                messages.info(
                    request,
                    f"A link to confirm {user.email} was e-mailed to it: until it is "
                    "confirmed, nothing is matched to your account by that address.",
                )
            return _landed(request, joined)
    elif form.is_bound:
        status = 400
    context["form"] = form
    return render(request, "projects/join.html", context, status=status)


def _join_context(invitation: Invitation, *, user: User | None) -> dict[str, Any]:
    project = invitation.project
    current = (
        selectors.project_role(user=user, project=project, fresh=True) if user is not None else None
    )
    kept = invitations.role_kept(current=current, invited=invitation.role)
    return {
        "invitation": invitation,
        "project": project,
        "role": invitation.get_role_display().lower(),
        "current_role": current,
        "role_kept": kept,
        "login_url": reverse("login"),
    }


def _landed(request: HttpRequest, joined: Joined) -> HttpResponse:
    membership = joined.membership
    project = membership.project
    if joined.role_kept:
        messages.info(
            request,
            f"You are {membership.role} in {project.name} already: the invitation's weaker "
            "role does not replace it.",
        )
    elif joined.created:
        messages.success(request, f"Welcome to {project.name}: you joined as {membership.role}.")
    else:
        messages.success(request, f"You are now {membership.role} in {project.name}.")
    if membership.role == Role.ANNOTATOR:
        return redirect("label", project.pk)
    return redirect("project-detail", project.pk)


def _refused(request: HttpRequest, message: str, *, status: int, reason: str = "") -> HttpResponse:
    context = {"refusal": message, "reason": reason}
    response = render(request, "projects/join_refused.html", context, status=status)
    if status == 429:
        response["Retry-After"] = "3600"
    return response
