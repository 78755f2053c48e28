"""A provider's account tied to a user here, the group-to-role mapping an admin edits, and
the roles that mapping granted (so that a login can take back what it gave, and only that)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from labeler.projects.models import Project, Role

STAFF = "staff"
ROLE_CHOICES = [(STAFF, "Server admin"), *Role.choices]


class OidcIdentity(models.Model):
    """One account at one provider (its issuer and ``sub`` claim), which is this user here."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identities"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OpenID Connect identity"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="oidc_identity_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} as {self.subject} at {self.issuer}"


class GroupRoleMapping(models.Model):
    """Members of the provider's ``group`` get ``role``: in ``project``, or server admin."""

    group = models.CharField(max_length=255, help_text="The group's name as the provider sends it.")
    project = models.ForeignKey(
        Project,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="group_role_mappings",
        help_text="Empty for the server admin role only.",
    )
    role = models.CharField(max_length=16, choices=ROLE_CHOICES)

    class Meta:
        ordering = ["group", "project", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "project", "role"], name="group_role_mapping_unique"
            ),
            models.UniqueConstraint(
                fields=["group", "role"],
                condition=Q(project__isnull=True),
                name="group_role_mapping_unique_staff",
            ),
            # Server admin is the one role without a project; every project role has one.
            models.CheckConstraint(
                condition=(Q(role=STAFF) & Q(project__isnull=True))
                | (~Q(role=STAFF) & Q(project__isnull=False)),
                name="group_role_mapping_project_iff_project_role",
            ),
        ]

    def __str__(self) -> str:
        where = f" in {self.project}" if self.project_id else ""
        return f"{self.group} -> {self.get_role_display()}{where}"


class RoleGrant(models.Model):
    """A role the mapping gave this user (``project`` empty: server admin).

    ``previous_role`` is the role given by hand that the mapping raised, restored when the
    groups stop giving it; empty when the mapping made the membership.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_role_grants"
    )
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    role = models.CharField(max_length=16, choices=ROLE_CHOICES)
    previous_role = models.CharField(max_length=16, choices=Role.choices, blank=True)
    granted_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="oidc_role_grant_unique"),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(project__isnull=True),
                name="oidc_role_grant_unique_staff",
            ),
        ]

    def __str__(self) -> str:
        where = f" in {self.project}" if self.project_id else ""
        return f"{self.user}: {self.role}{where} (from groups)"
