"""Projects, their ordered labels and who works on them in which role."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

# The largest near-duplicate distance a project may set. The banded index
# (labeler.images.duplicates) finds hashes within d bits among those sharing a 16-bit
# band within d // 4 bits: up to 11 bits that is 1 + 16 + 120 = 137 values a band, 8 times
# the candidates of the default 7 bits; from 12 bits 697 values a band (and 560 sorts a
# band to regroup), a few percent of a project's rows for every check, close to a scan,
# and unrelated pictures (16 bits or more apart) come within reach.
DUPLICATE_DISTANCE_MAX = 11


class ConsensusMethod(models.TextChoices):
    MAJORITY = "majority", "Majority vote"
    DAWID_SKENE = "dawid_skene", "Dawid-Skene"


class OverlapMode(models.TextChoices):
    FIXED = "fixed", "Fixed"
    ADAPTIVE = "adaptive", "Adaptive"


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
    overlap = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="How many distinct annotators label each image.",
    )
    consensus_method = models.CharField(
        max_length=16,
        choices=ConsensusMethod.choices,
        default=ConsensusMethod.MAJORITY,
        help_text="How an image's final label is decided from its annotations.",
    )
    review_threshold = models.FloatField(
        default=0.7,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Consensus below this confidence goes to the review queue.",
    )
    gold_rate = models.FloatField(
        default=0.05,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of queue images that are gold images, mixed in unannounced.",
    )
    active_learning = models.CharField(
        max_length=16,
        choices=ActiveLearning.choices,
        default=ActiveLearning.MARGIN,
        help_text="How the model's uncertainty orders the annotation queue.",
    )
    active_learning_random_share = models.FloatField(
        default=0.1,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of queue positions given to random images.",
    )
    retrain_after = models.PositiveIntegerField(
        default=200,
        help_text="Retrain once this many final labels were added since the last run; 0: never.",
    )
    training = models.JSONField(
        default=dict, blank=True, help_text="Overrides of the default training configuration."
    )
    machine_check_rate = models.FloatField(
        default=0.1,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of confirmed machine labels still sent to annotators blind.",
    )
    suggestion_holdback = models.FloatField(
        default=0.1,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=(
            "Share of images shown without the model's suggestion, so that spot checks look "
            "like any other image and the suggestions' sway on annotators can be measured."
        ),
    )
    suggestion_preselect = models.FloatField(
        default=0.6,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=(
            "The lowest confidence at which the model's suggestion is pre-selected on the "
            "labelling page (Enter accepts it); below it the suggestion is shown, not selected."
        ),
    )
    export_keep_metadata = models.BooleanField(
        default=False,
        help_text=(
            "Keep photos' EXIF, XMP and IPTC metadata (GPS position, camera, owner) in "
            "exported image files, and images' GPS positions in JSON, CSV and COCO exports; "
            "by default they are left out."
        ),
    )
    strip_metadata_on_ingest = models.BooleanField(
        default=False,
        help_text=(
            "Remove photos' GPS position and other identifying EXIF, XMP and IPTC from the "
            "stored originals as they are uploaded or imported (capture time and camera are "
            "still recorded); by default originals are stored byte for byte."
        ),
    )
    overlap_mode = models.CharField(
        max_length=8,
        choices=OverlapMode.choices,
        default=OverlapMode.FIXED,
        help_text=(
            "Fixed: every image gets overlap annotators. Adaptive: overlap annotators first, "
            "then one more at a time, up to overlap_max, while their labels disagree or the "
            "consensus confidence is below adaptive_confidence."
        ),
    )
    overlap_max = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="Adaptive overlap: the most annotators an image gets.",
    )
    adaptive_confidence = models.FloatField(
        default=0.95,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=(
            "Adaptive overlap: an image gets another annotator while the probability of its "
            "leading label, weighing each annotator by their past accuracy, is below this."
        ),
    )
    qualification_gold_count = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(500)],
        help_text=(
            "How many gold images a new annotator labels as a test before the real queue "
            "opens to them; 0: no test."
        ),
    )
    qualification_pass_mark = models.FloatField(
        default=0.8,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="The share of the test's gold images an annotator must label right to pass.",
    )
    gold_pause_window = models.PositiveSmallIntegerField(
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="How many of an annotator's latest gold answers their rolling accuracy uses.",
    )
    gold_pause_below = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=(
            "An annotator whose rolling gold accuracy falls below this is paused until a "
            "lead lets them go on; 0: never paused."
        ),
    )
    duplicate_distance = models.SmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(-1), MaxValueValidator(DUPLICATE_DISTANCE_MAX)],
        help_text=(
            "Most bits two images' perceptual hashes differ in for them to be near-duplicates: "
            "0 to 11 (11 is as far as the banded index reaches without scanning the project; "
            "lower it for small, alike images such as 8x8 digits); -1: no grouping in this "
            "project; empty: the server's LABELER_DUPLICATE_DISTANCE (default 7)."
        ),
    )
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
    """One class an annotator can choose, with its colour and keyboard shortcut."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=100)
    color = models.CharField(max_length=7, help_text="#rrggbb")
    hotkey = models.CharField(max_length=1, blank=True)
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
