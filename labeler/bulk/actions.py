"""What each bulk action does to a batch of images, inside the caller's transaction.

Each action has a parameter check (``check``: raw JSON to checked, JSON-ready values,
raising ValidationFailed before anything is written) and a body run over the selection in
batches (``apply``), reporting progress after each batch. The caller
(``labeler.bulk.services``) holds one transaction around the whole run: a failure anywhere
leaves nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Max

from labeler.agreement.final_writes import final_labels_lock, final_labels_written
from labeler.agreement.review_requests import (
    REQUESTED,
    review_requests_add,
    review_requests_resolve,
)
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.annotations.reservations import reservation_annotators, reservations_replace
from labeler.annotations.services import annotations_withdraw, labels_resolve
from labeler.audit.models import Action as AuditAction
from labeler.audit.services import IDS_KEPT, audit_record
from labeler.bulk.selection import IdArray, in_batches
from labeler.errors import ValidationFailed
from labeler.exports import services as export_services
from labeler.exports.options import export_options_parse
from labeler.images import queue_state
from labeler.images.deletion import images_delete
from labeler.images.models import Image
from labeler.images.priority import priority_parse
from labeler.projects.models import Project
from labeler.projects.selectors import members_named

Progress = Callable[[int], None]
MAX_NOTE = 500
GOLD = FinalLabelMethod.GOLD


@dataclass(frozen=True)
class Outcome:
    """How many images the action changed, whether labels changed without a writer of
    labels to say so (images deleted: consensus refreshes then), and what it made (an
    export's id, ...). Writers of labels schedule the refresh themselves."""

    changed: int
    labels_changed: bool = False
    result: Mapping[str, Any] | None = None
    files_to_delete: tuple[str, ...] = ()


@dataclass(frozen=True)
class Action:
    name: str
    description: str
    check: Callable[[Project, Mapping[str, Any]], dict[str, Any]]
    apply: Callable[[Project, IdArray, dict[str, Any], User, Progress], Outcome]
    background: bool = True  # large selections run as a job
    # Destroys or withdraws what was stored (images, labels, gold answers, reservations):
    # the request must carry the count its sender saw (``expected_count``).
    destroys: bool = False


def _only(params: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        known = ", ".join(allowed) if allowed else "none"
        raise ValidationFailed(
            f"Unknown parameter {unknown[0]!r} for this action; it takes: {known}.",
            field=unknown[0],
        )


def _annotators(project: Project, raw: Any, *, field: str = "annotators") -> list[int]:
    """Usernames of the project's members, as user ids."""
    members = members_named(project=project, usernames=raw, field=field)
    return sorted(user_id for user_id, _ in members.values())


# ---- send to review ----------------------------------------------------------------------
def _review_check(project: Project, params: Mapping[str, Any]) -> dict[str, Any]:
    _only(params, ("note",))
    note = params.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise ValidationFailed(f"'note' is text of at most {MAX_NOTE} characters.", field="note")
    return {"note": note.strip()} if note.strip() else {}


def _review(
    project: Project, ids: IdArray, params: dict[str, Any], user: User, progress: Progress
) -> Outcome:
    detail = {"note": params["note"]} if params.get("note") else {}
    added = 0
    for batch in in_batches(ids):
        added += review_requests_add(
            project,
            batch,
            reason=REQUESTED,
            detail_by_image={image_id: detail for image_id in batch} if detail else None,
            requested_by=user,
        )
        progress(len(batch))
    return Outcome(changed=added)


# ---- send back for relabelling -----------------------------------------------------------
def _relabel_check(project: Project, params: Mapping[str, Any]) -> dict[str, Any]:
    _only(params, ("annotators",))
    if params.get("annotators") is None:
        return {"annotators": None}
    if not params["annotators"]:
        raise ValidationFailed(
            "'annotators' names whose labels to withdraw; leave it out for everyone's.",
            field="annotators",
        )
    _annotators(project, params["annotators"])
    return {"annotators": sorted(set(params["annotators"]))}


def _relabel(
    project: Project, ids: IdArray, params: dict[str, Any], user: User, progress: Progress
) -> Outcome:
    """Withdraw the chosen annotators' labels (kept in the history), clear the final label
    (gold images keep theirs) and put the images first in the queue."""
    who = None if params["annotators"] is None else _annotators(project, params["annotators"])
    # The documented order (docs/architecture.md, "Locks: one order"): the project's
    # final-label lock before any row, then the image rows; a second relabel of the same
    # images waits here, then reads what the first left, so each withdrawal is recorded once.
    final_labels_lock(project.pk)
    top = Image.objects.filter(project=project).aggregate(top=Max("priority"))["top"] or 0.0
    first = max(top, 0.0) + 1.0
    changed = 0
    for batch in in_batches(ids):
        changed += annotations_withdraw(
            project=project, image_ids=batch, annotator_ids=who, withdrawn_by=user, priority=first
        )
        with final_labels_written(project=project, image_ids=batch, changed_by=user) as write:
            write.clear(batch, keep=[FinalLabelMethod.GOLD])
        progress(len(batch))
    return Outcome(changed=changed, result={"priority": first})


# ---- gold --------------------------------------------------------------------------------
def _gold_check(project: Project, params: Mapping[str, Any]) -> dict[str, Any]:
    _only(params, ("gold", "labels"))
    gold = params.get("gold", True)
    if not isinstance(gold, bool):
        raise ValidationFailed("'gold' is true (mark) or false (unmark).", field="gold")
    checked: dict[str, Any] = {"gold": gold}
    if "labels" in params:
        if not gold:
            raise ValidationFailed("'labels' goes with marking gold only.", field="labels")
        chosen = labels_resolve(project=project, raw_labels=params["labels"])
        if not chosen:
            raise ValidationFailed("A gold image needs at least one label.", field="labels")
        checked["labels"] = sorted(label.pk for label in chosen)
    return checked


def _gold(
    project: Project, ids: IdArray, params: dict[str, Any], user: User, progress: Progress
) -> Outcome:
    """Mark gold (with the given labels, or each image's final label as it is) or unmark."""
    if params["gold"] and "labels" not in params:
        unlabelled = sum(
            len(batch) - FinalLabel.objects.filter(image_id__in=batch).count()
            for batch in in_batches(ids)
        )
        if unlabelled:
            raise ValidationFailed(
                f"{unlabelled} of the selected images have no final label to keep as gold: "
                "give 'labels', or leave them out.",
                field="labels",
            )
    changed = 0
    for batch in in_batches(ids):
        with final_labels_written(project=project, image_ids=batch, changed_by=user) as write:
            if not params["gold"]:
                changed += write.clear(batch, methods=[FinalLabelMethod.GOLD])
            elif "labels" in params:
                changed += write.set_many(
                    batch, params["labels"], method=GOLD, confidence=1.0, decided_by=user
                )
            else:  # each image's final label as it is, now gold
                changed += write.method_set(batch, method=GOLD, confidence=1.0, decided_by=user)
        if params["gold"]:
            review_requests_resolve(project, batch)  # a person decided these images
        progress(len(batch))
    return Outcome(changed=changed)


# ---- priority ----------------------------------------------------------------------------
def _priority_check(project: Project, params: Mapping[str, Any]) -> dict[str, Any]:
    _only(params, ("priority",))
    return {"priority": priority_parse(params.get("priority"))}


def _priority(
    project: Project, ids: IdArray, params: dict[str, Any], user: User, progress: Progress
) -> Outcome:
    changed = 0
    for batch in in_batches(ids):
        changed += queue_state.images_priority_set(image_ids=batch, priority=params["priority"])
        progress(len(batch))
    return Outcome(changed=changed)


# ---- reserve -----------------------------------------------------------------------------
def _reserve_check(project: Project, params: Mapping[str, Any]) -> dict[str, Any]:
    _only(params, ("annotators",))
    if "annotators" not in params:
        raise ValidationFailed(
            "'annotators' names who the images are kept for ([] releases them).",
            field="annotators",
        )
    reservation_annotators(project=project, usernames=params["annotators"])
    return {"annotators": sorted(set(params["annotators"]))}


def _reserve(
    project: Project, ids: IdArray, params: dict[str, Any], user: User, progress: Progress
) -> Outcome:
    """Keep the images for these annotators only (replacing any earlier reservation);
    an empty list releases them to everyone."""
    who = reservation_annotators(project=project, usernames=params["annotators"])
    for batch in in_batches(ids):
        reservations_replace(project=project, image_ids=batch, annotator_ids=who, by=user)
        progress(len(batch))
    return Outcome(changed=len(ids))


# ---- delete ------------------------------------------------------------------------------


def _delete_check(project: Project, params: Mapping[str, Any]) -> dict[str, Any]:
    _only(params, ())
    return {}


def _delete(
    project: Project, ids: IdArray, params: dict[str, Any], user: User, progress: Progress
) -> Outcome:
    """Delete the images with their labels (``images.deletion.images_delete``); their files
    and kept model inputs go once the deletion commits."""
    deleted = 0
    for batch in in_batches(ids):
        deleted += images_delete(project=project, image_ids=batch).images
        progress(len(batch))
    audit_record(
        action=AuditAction.IMAGES_DELETED,
        actor=user,
        project=project,
        target=("images", len(ids), f"{deleted} images"),
        details={"deleted": deleted, "image_ids": [int(i) for i in ids[:IDS_KEPT]]},
    )
    return Outcome(changed=deleted, labels_changed=True)


# ---- export ------------------------------------------------------------------------------
def _export_check(project: Project, params: Mapping[str, Any]) -> dict[str, Any]:
    """The export options, checked; ``base_url`` (this site's address, for signed image
    links) is kept beside them."""
    if "image_ids" in params:
        raise ValidationFailed(
            "An export of a selection takes its images from it.", field="image_ids"
        )
    options_given = {name: value for name, value in params.items() if name != "base_url"}
    options = export_options_parse(options_given)  # every export option, checked
    data = options.as_dict()
    checked = {name: value for name, value in data.items() if name in params or name == "format"}
    base_url = params.get("base_url")
    if isinstance(base_url, str) and 0 < len(base_url) <= 2048:
        checked["base_url"] = base_url
    return checked


def _export(
    project: Project, ids: IdArray, params: dict[str, Any], user: User, progress: Progress
) -> Outcome:
    options_given = {name: value for name, value in params.items() if name != "base_url"}
    options = export_options_parse({**options_given, "image_ids": ids.tolist()})
    export = export_services.export_start(
        project=project, user=user, options=options, base_url=params.get("base_url", "")
    )
    progress(len(ids))
    return Outcome(changed=len(ids), result={"export": export.pk})


ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action("review", "Send to review", _review_check, _review),
        Action("relabel", "Send back for relabelling", _relabel_check, _relabel, destroys=True),
        # Marking replaces final labels; unmarking withdraws gold answers.
        Action("gold", "Mark or unmark gold", _gold_check, _gold, destroys=True),
        Action("priority", "Set the queue priority", _priority_check, _priority),
        # Replaces (or, with [], withdraws) the images' earlier reservations.
        Action("reserve", "Reserve for named annotators", _reserve_check, _reserve, destroys=True),
        Action("delete", "Delete", _delete_check, _delete, destroys=True),
        # The export runs as an export job of its own (with its progress): never a bulk job.
        Action("export", "Export exactly this selection", _export_check, _export, False),
    )
}

__all__ = ["ACTIONS", "Action", "Outcome"]
