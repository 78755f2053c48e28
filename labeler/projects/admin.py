from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.http import HttpRequest

from labeler.errors import DomainError
from labeler.projects import accounts
from labeler.projects.models import Label, Membership, Project


class LabelInline(admin.TabularInline):
    model = Label
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "multi_label", "overlap", "created_at"]
    search_fields = ["name"]
    inlines = [LabelInline, MembershipInline]


admin.site.unregister(User)


@admin.register(User)
class AccountAdmin(UserAdmin):
    """Django's user admin, deactivating through ``account_set_active`` like every other
    path, so that the account's password links die with it."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        active, by = obj.is_active, request.user
        if change and "is_active" in form.changed_data and isinstance(by, User):
            obj.is_active = not active  # the service makes the change and what follows it
            try:
                accounts.account_set_active(user=obj, active=active, by=by)
            except DomainError as refused:
                self.message_user(request, str(refused), level=messages.ERROR)
        super().save_model(request, obj, form, change)
