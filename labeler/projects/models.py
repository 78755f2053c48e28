"""Projects, their ordered labels, who works on them in which role, and the addresses
people confirmed."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class ConsensusMethod(models.TextChoices):
    MAJORITY = "majority", "Majority vote"
    DAWID_SKENE = "dawid_skene", "Dawid-Skene"


class OverlapMode(models.TextChoices):
    FIXED = "fixed", "Fixed"
    ADAPTIVE = "adaptive", "Adaptive"


class GridMode(models.TextChoices):
    OFF = "off", "Off"
    CHOICE = "choice", "Annotator's choice"
    ALWAYS = "always", "Always"


class ActiveLearning(models.TextChoices):
    RANDOM = "random", "Random"
    LEAST_CONFIDENCE = "least_confidence", "Least confidence"
    MARGIN = "margin", "Margin"
    ENTROPY = "entropy", "Entropy"


class Project(models.Model):
    """A labelling job: a set of images, the labels to choose from and the rules."""

    name = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    multi_label = models.BooleanField(
        default=False, help_text="Whether an image may carry several labels at once."
    )
    # The settings of the layers above: each is declared (type, default, bounds, help, what
    # follows a change) in its layer's project_settings module; these columns only store it.
    overlap = models.PositiveSmallIntegerField(default=1)
    consensus_method = models.CharField(
        max_length=16, choices=ConsensusMethod.choices, default=ConsensusMethod.MAJORITY
    )
    review_threshold = models.FloatField(default=0.7)
    gold_rate = models.FloatField(default=0.05)
    active_learning = models.CharField(
        max_length=16, choices=ActiveLearning.choices, default=ActiveLearning.MARGIN
    )
    active_learning_random_share = models.FloatField(default=0.1)
    retrain_after = models.PositiveIntegerField(default=200)
    training = models.JSONField(default=dict, blank=True)
    machine_check_rate = models.FloatField(default=0.1)
    suggestion_holdback = models.FloatField(default=0.1)
    suggestion_preselect = models.FloatField(default=0.6)
    test_share = models.FloatField(default=0.1)
    served_log_days = models.PositiveIntegerField(default=30)
    export_keep_metadata = models.BooleanField(default=False)
    export_keep_days = models.PositiveSmallIntegerField(null=True, blank=True)
    strip_metadata_on_ingest = models.BooleanField(default=False)
    blur_faces = models.BooleanField(default=False, db_default=False)
    overlap_mode = models.CharField(
        max_length=8, choices=OverlapMode.choices, default=OverlapMode.FIXED
    )
    overlap_max = models.PositiveSmallIntegerField(default=5)
    adaptive_confidence = models.FloatField(default=0.95)
    qualification_gold_count = models.PositiveSmallIntegerField(default=0)
    qualification_pass_mark = models.FloatField(default=0.8)
    gold_pause_window = models.PositiveSmallIntegerField(default=20)
    gold_pause_below = models.FloatField(default=0.0)
    duplicate_distance = models.SmallIntegerField(null=True, blank=True)
    annotators_see_file_names = models.BooleanField(default=False)
    grid_mode = models.CharField(max_length=8, choices=GridMode.choices, default=GridMode.CHOICE)
    grid_size = models.PositiveSmallIntegerField(default=24)
    review_queue_alert_size = models.PositiveIntegerField(default=0)
    # The drift check's settings (declared in labeler/monitoring/project_settings.py).
    drift_window_hours = models.PositiveIntegerField(default=24)
    drift_minimum_count = models.PositiveIntegerField(default=100)
    drift_false_alarm_rate = models.FloatField(default=0.01)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when labels changed but the background refresh could not be scheduled (the cache
    # or the broker was down); a periodic task refreshes such projects and clears it.
    agreement_refresh_due = models.BooleanField(default=False, editable=False)
    # An import pushes this ahead as it stores files (LABELER_IMPORT_SETTLE_SECONDS past
    # its latest file): automatic retraining waits until it has passed, so a model is
    # never trained on the first classes of a dataset still coming in.
    import_settles_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Label(models.Model):
    """One class an annotator can choose, with its colour, keyboard shortcut and heading."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=100)
    color = models.CharField(max_length=7, help_text="#rrggbb")
    hotkey = models.CharField(
        max_length=2, blank=True, help_text="One key, or a two-key chord; prefix-free."
    )
    group = models.CharField(
        max_length=100, blank=True, default="", help_text="The heading the label sits under."
    )
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["project", "position"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="label_unique_name"),
            models.UniqueConstraint(
                fields=["project", "hotkey"],
                condition=~models.Q(hotkey=""),
                name="label_unique_hotkey",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    LEAD = "lead", "Lead"
    REVIEWER = "reviewer", "Reviewer"
    ANNOTATOR = "annotator", "Annotator"


class Membership(models.Model):
    """A user's role in one project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "user"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.project}"


class AccountLinks(models.Model):
    """When an account's password links were last revoked (its deactivation): a link made
    before then sets no password, even once the account is active again."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_links"
    )
    revoked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user}'s links revoked at {self.revoked_at:%Y-%m-%d %H:%M}"


class Invitation(models.Model):
    """A way into one project with one role: e-mailed to one address, or a link to share.

    Only the SHA-256 of its token is kept: the link is shown once, when it is made (and
    e-mailed, for an invitation by e-mail), and nothing stored can rebuild it.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    # The invited address; empty for a shareable link.
    email = models.EmailField(blank=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField()
    # How many people may join by it; None: any number until it expires (an e-mailed one: 1).
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "-created_at", "-id"]

    def __str__(self) -> str:
        to = self.email or "anyone with the link"
        return f"{to} as {self.role} in {self.project}"

    @property
    def is_link(self) -> bool:
        return not self.email


class MembershipRemoval(models.Model):
    """When a person was last removed from a project (``services.membership_remove``), and
    the address their account had then: an invitation made before it, an import or a
    provider's group brings them back no more; a lead's add or a newer invitation does,
    and clears it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="removals")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="removals"
    )
    email = models.EmailField(blank=True)
    removed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_removal_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} removed from {self.project} at {self.removed_at:%Y-%m-%d %H:%M}"


class AddressConfirmed(models.TextChoices):
    OWNER = "owner", "Confirmed by its owner's link"
    SSO = "sso", "Verified by the identity provider"
    ADMIN = "admin", "Set by an admin"


class VerifiedAddress(models.Model):
    """The e-mail address an account has confirmed (``labeler.projects.addresses`` is its
    only writer). It counts while it is the account's address: an account whose address
    changed since has no verified address until the new one is confirmed. One address is
    verified for one account at most."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="verified_address"
    )
    email = models.EmailField()
    how = models.CharField(max_length=16, choices=AddressConfirmed.choices)
    verified_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="verified_address_unique_email"),
        ]

    def __str__(self) -> str:
        return f"{self.email} of {self.user} ({self.how})"
