from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest

from labeler import flows
from labeler.errors import DomainError
from labeler.projects import accounts, addresses
from labeler.projects.models import Invitation, Label, Membership, Project


class ReadOnlyInline(admin.TabularInline):
    """Shown, not changed: labels and members change through their services (the project's
    pages and the API), which keep a lead in every project and the labels' images whole."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LabelInline(ReadOnlyInline):
    model = Label


class MembershipInline(ReadOnlyInline):
    model = Membership


class InvitationInline(ReadOnlyInline):
    """Invitations made (a token's hash only: no link can be read back from here)."""

    model = Invitation
    fields = ["email", "role", "expires_at", "max_uses", "uses", "created_by", "revoked_at"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    """Projects to look at: their settings change on the project's settings page or over
    the API, where what follows a change happens too (a new overlap sets every image's
    completeness again, a new near-duplicate distance regroups the images)."""

    list_display = ["name", "multi_label", "overlap", "created_at"]
    search_fields = ["name"]
    inlines = [LabelInline, MembershipInline, InvitationInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Project) -> None:
        """Deleted as the project's page and the API delete it (``flows.project_delete``:
        its images the one way images are deleted, with their files)."""
        flows.project_delete(project=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        for project in queryset:
            flows.project_delete(project=project)


admin.site.unregister(User)


@admin.register(User)
class AccountAdmin(UserAdmin):
    """Django's user admin, deactivating through ``account_set_active`` like every other
    path, so that the account's password links die with it; accounts added and flags
    changed here are recorded in the audit trail by ``accounts``. An address an admin sets
    here is confirmed by them (``addresses.email_set_by_admin``, audited); one another
    account confirmed is refused and the address left as it was."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        active, by = obj.is_active, request.user
        email_changed = change and "email" in form.changed_data and bool(obj.email)
        if email_changed:
            holder = addresses.person_by_verified_email(obj.email)
            if holder is not None and holder.pk != obj.pk:
                self.message_user(
                    request,
                    f"{obj.email} is the confirmed address of {holder.username}: the address "
                    "was left as it was.",
                    level=messages.ERROR,
                )
                obj.email, email_changed = form.initial.get("email", ""), False
        if change and "is_active" in form.changed_data and isinstance(by, User):
            obj.is_active = not active  # the service makes the change and what follows it
            try:
                accounts.account_set_active(user=obj, active=active, by=by)
            except DomainError as refused:
                self.message_user(request, str(refused), level=messages.ERROR)
        if not change:  # an account added here is created and recorded like any other
            accounts.account_add(user=obj)
            return
        flags = [name for name in ("is_staff", "is_superuser") if name in form.changed_data]
        super().save_model(request, obj, form, change)
        if flags:  # the admin's change form is one transaction
            accounts.account_flags_changed(
                user=obj, before={name: form.initial.get(name, False) for name in flags}
            )
        if email_changed:
            addresses.email_set_by_admin(user=obj)
