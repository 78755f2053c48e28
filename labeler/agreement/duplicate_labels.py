"""Near-duplicate groups with their final labels; groups that disagree go to review.

The groups themselves are the images layer's (``labeler.images.duplicates.groups``). Two
copies of one picture should carry one label: a group whose images' final labels differ
is sent to the review queue with the reason ``duplicate_labels_differ`` and the group's
labels in the request's detail, after every refresh of the final labels.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import QuerySet

from labeler.agreement.review_requests import review_requests_add
from labeler.annotations.models import FinalLabel
from labeler.images.duplicates.groups import duplicate_group_summaries, group_members
from labeler.images.models import Image
from labeler.projects.models import Project

REASON = "duplicate_labels_differ"


@dataclass
class GroupMember:
    """One image of a group, with its final labels (None: not decided yet)."""

    id: int
    original_name: str
    thumbnail: str  # storage name, blank until rendered
    final_labels: list[str] | None


@dataclass
class DuplicateGroupView:
    """A near-duplicate group: its id (smallest image id), members, whether labels differ."""

    group: int
    size: int
    images: list[GroupMember] = field(default_factory=list)

    @property
    def labels_differ(self) -> bool:
        """Whether two of its images carry different final labels."""
        decided = {tuple(m.final_labels) for m in self.images if m.final_labels is not None}
        return len(decided) > 1


def _final_labels(images: QuerySet[Image]) -> dict[int, list[str]]:
    """Each decided image's final label names, sorted (an empty list: decided, no label)."""
    decided = FinalLabel.objects.filter(image__in=images.values("pk"))
    labels: dict[int, list[str]] = {pk: [] for pk in decided.values_list("image_id", flat=True)}
    through = FinalLabel.labels.through.objects.filter(finallabel__image__in=images.values("pk"))
    for image_id, name in through.values_list("finallabel__image_id", "label__name"):
        labels.setdefault(image_id, []).append(name)
    return {pk: sorted(names) for pk, names in labels.items()}


def duplicate_groups_page(
    project: Project, *, offset: int = 0, limit: int = 50
) -> tuple[int, list[DuplicateGroupView]]:
    """How many groups the project has, and a page of them (largest first) with members."""
    summaries = duplicate_group_summaries(project)
    total = summaries.count()
    page = list(summaries[offset : offset + limit])
    views = {row["group"]: DuplicateGroupView(row["group"], row["size"]) for row in page}
    images = group_members(project, views)
    members = list(images.values_list("pk", "duplicate_group", "original_name", "thumbnail"))
    finals = _final_labels(images)
    for pk, group, name, thumbnail in members:
        views[group].images.append(GroupMember(pk, name, thumbnail or "", finals.get(pk)))
    return total, list(views.values())


def duplicate_label_conflicts(project: Project) -> dict[int, dict[int, list[str]]]:
    """The groups whose decided images carry different final labels: group id -> each
    decided member's labels.

    The groups are read once and the final labels after: the worker hashes and groups
    images meanwhile, so an image grouped between the two reads is left to the next
    refresh (as are images not hashed yet, in no group).
    """
    grouped = Image.objects.filter(project=project, duplicate_group__isnull=False)
    group_of = {
        pk: group for pk, group in grouped.values_list("pk", "duplicate_group").order_by() if group
    }
    finals = _final_labels(grouped)
    by_group: dict[int, dict[int, list[str]]] = defaultdict(dict)
    for pk, labels in finals.items():
        if pk in group_of:
            by_group[group_of[pk]][pk] = labels
    return {
        group: members
        for group, members in by_group.items()
        if len({tuple(labels) for labels in members.values()}) > 1
    }


def duplicate_reviews_request(*, project: Project) -> int:
    """Send each image of a group whose final labels differ to review; how many were added
    (an image already waiting for this reason keeps its request)."""
    conflicts = duplicate_label_conflicts(project)
    detail = {
        pk: {"group": group, "labels": {str(other): names for other, names in members.items()}}
        for group, members in conflicts.items()
        for pk in members
    }
    if not detail:
        return 0
    return review_requests_add(project, list(detail), reason=REASON, detail_by_image=detail)
