from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from labeler.sso.models import GroupRoleMapping, OidcIdentity, RoleGrant


@admin.register(GroupRoleMapping)
class GroupRoleMappingAdmin(admin.ModelAdmin):
    """Which provider group gives which role; applied at each member's next SSO login."""

    list_display = ["group", "role", "project"]
    list_filter = ["role", "project"]
    search_fields = ["group"]


class ShownOnly(admin.ModelAdmin):
    """Shown and deletable, never edited: written by logins through the provider."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OidcIdentity)
class OidcIdentityAdmin(ShownOnly):
    """Deleting one unlinks the provider's account: its next login makes a new user."""

    list_display = ["user", "issuer", "subject", "created_at", "last_login_at"]
    search_fields = ["user__username", "subject"]


@admin.register(RoleGrant)
class RoleGrantAdmin(ShownOnly):
    list_display = ["user", "role", "project", "previous_role", "granted_at"]
    list_filter = ["role"]
    search_fields = ["user__username"]
