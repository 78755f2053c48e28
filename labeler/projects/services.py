"""Writes to projects, labels and memberships."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import CharField, Count, F, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from labeler import jobs
from labeler.audit.models import Action
from labeler.audit.services import audit_record
from labeler.errors import Conflict, DomainError, ValidationFailed
from labeler.projects.labels import LabelSpec, labels_parse
from labeler.projects.models import (
    Invitation,
    Label,
    Membership,
    MembershipRemoval,
    Project,
    Role,
)
from labeler.projects.settings_registry import setting_names, settings_check
from labeler.task_names import Task


def _check_name(name: str | None) -> None:
    if name is not None and not name.strip():
        raise ValidationFailed("The project needs a name.", field="name")
    if name is not None and len(name.strip()) > 200:
        raise ValidationFailed("A project name has at most 200 characters.", field="name")


@transaction.atomic
def project_create(
    *,
    creator: User,
    name: str,
    labels: Any,
    multi_label: bool = False,
    instructions: str = "",
    **project_settings: Any,
) -> Project:
    """Create a project with its labels; the creator becomes its lead.

    ``project_settings`` are settings by name (``labeler.projects.settings_registry``);
    the others keep their declared defaults.
    """
    _check_name(name)
    unknown = set(project_settings) - set(setting_names())
    if unknown:
        raise TypeError(f"project_create() got unexpected fields {sorted(unknown)}")
    cleaned = settings_check(project_settings)
    specs = labels_parse(labels, multi_label=multi_label)
    if any(spec.id is not None for spec in specs):
        raise ValidationFailed("New labels cannot carry an id.", field="labels")
    project = Project.objects.create(
        name=name.strip(),
        instructions=instructions,
        multi_label=multi_label,
        created_by=creator,
        **cleaned,
    )
    Label.objects.bulk_create(
        Label(
            project=project,
            name=s.name,
            color=s.color or "",
            hotkey=s.hotkey or "",
            group=s.group or "",
            position=i,
        )
        for i, s in enumerate(specs)
    )
    Membership.objects.create(project=project, user=creator, role=Role.LEAD)
    audit_record(
        action=Action.PROJECT_CREATED,
        actor=creator,
        project=project,
        target=("project", project.pk, project.name),
        details={"after": {"name": project.name, "multi_label": multi_label, **cleaned}},
    )
    return project


@transaction.atomic
def project_update(*, project: Project, **changes: Any) -> Project:
    """Change a project's settings and labels, refusing changes that would orphan labels."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    _check_name(changes.get("name"))
    cleaned = settings_check(changes, project)
    before = _audited_values(project, changes, cleaned)
    multi_label = changes.get("multi_label", project.multi_label)
    if multi_label is False and project.multi_label:
        _check_can_become_single_label(project)
    if "labels" in changes:
        _labels_sync(project, _labels_parse_update(project, changes["labels"], multi_label))
    elif multi_label is False and project.labels.count() < 2:
        raise ValidationFailed("A single-label project needs at least 2 labels.", field="labels")
    for field in ("name", "instructions", "multi_label"):
        if field in changes:
            value = changes[field]
            setattr(project, field, value.strip() if field == "name" else value)
    for field, value in cleaned.items():
        setattr(project, field, value)
    project.save()
    _settings_change_record(project, before, _audited_values(project, changes, cleaned))
    return project


def _audited_values(project: Project, changes: dict[str, Any], cleaned: dict[str, Any]) -> dict:
    """The project's values of the fields a change names (labels as their names)."""
    names = [f for f in ("name", "instructions", "multi_label") if f in changes] + list(cleaned)
    values: dict[str, Any] = {name: getattr(project, name) for name in names}
    if "labels" in changes:
        values["labels"] = list(project.labels.order_by("position").values_list("name", flat=True))
    return values


def _settings_change_record(project: Project, before: dict, after: dict) -> None:
    """One audit entry naming each changed value before and after (none if nothing changed)."""
    changed = [name for name in after if before.get(name) != after[name]]
    if not changed:
        return
    audit_record(
        action=Action.PROJECT_SETTINGS_CHANGED,
        project=project,
        target=("project", project.pk, project.name),
        details={
            "before": {name: before.get(name) for name in changed},
            "after": {name: after[name] for name in changed},
        },
    )


def _check_can_become_single_label(project: Project) -> None:
    # Through the reverse relation: annotations are a layer above projects.
    annotations = project.annotations.annotate(label_count=Count("labels"))
    crowded = annotations.filter(label_count__gt=1)
    if crowded.exists():
        raise Conflict(
            "Some annotations carry several labels; the project cannot become single-label.",
            field="multi_label",
        )


def _labels_parse_update(project: Project, raw_labels: Any, multi_label: bool) -> list[LabelSpec]:
    current = [
        LabelSpec(
            name=label.name, color=label.color, hotkey=label.hotkey, id=label.pk, group=label.group
        )
        for label in project.labels.all()
    ]
    return labels_parse(raw_labels, multi_label=multi_label, current=current)


def _labels_sync(project: Project, specs: list[LabelSpec]) -> None:
    existing = {label.pk: label for label in project.labels.all()}
    unknown = [s.id for s in specs if s.id is not None and s.id not in existing]
    if unknown:
        raise ValidationFailed(
            f"Label ids {unknown} are not labels of this project.", field="labels"
        )
    keep = {s.id for s in specs if s.id is not None}
    removed = [label for pk, label in existing.items() if pk not in keep]
    used = [label.name for label in removed if _label_in_use(label)]
    if used:
        raise Conflict(
            f"Labels in use cannot be removed: {', '.join(used)}. Rename them instead.",
            field="labels",
        )
    Label.objects.filter(pk__in=[label.pk for label in removed]).delete()
    # Clear names and hotkeys first so that swaps do not trip the unique constraints.
    Label.objects.filter(pk__in=keep).update(
        hotkey="", name=Concat(Value("~"), Cast(F("id"), CharField()))
    )
    # One statement each for the kept and the new labels, however many there are.
    kept: list[Label] = []
    fresh: list[Label] = []
    for position, spec in enumerate(specs):
        label = existing[spec.id] if spec.id is not None else Label(project=project)
        label.name, label.color, label.hotkey = spec.name, spec.color or "", spec.hotkey or ""
        label.group, label.position = spec.group or "", position
        (kept if spec.id is not None else fresh).append(label)
    Label.objects.bulk_update(kept, ["name", "color", "hotkey", "group", "position"])
    Label.objects.bulk_create(fresh)


def _label_in_use(label: Label) -> bool:
    return label.annotations.exists() or label.final_labels.exists()


def project_delete(*, project: Project, images: int) -> None:
    """Delete a project with everything in it, then its exports' stored files.

    Its images are deleted first, in the same transaction, by the one way images are
    deleted (``images.deletion.project_images_delete``, a layer above: ``flows.project_delete``
    calls both); ``images`` is how many went, for the audit entry.
    """
    with transaction.atomic():
        # Through the reverse relation: exports are a layer above projects.
        names = list(project.exports.values_list("file", flat=True))
        gone = SimpleNamespace(pk=project.pk, name=project.name, images=images)
        project.delete()
        # Recorded after the cascade, in its transaction: the audit chain's lock is held
        # for a moment, not for the whole delete.
        audit_record(
            action=Action.PROJECT_DELETED,
            project=gone,
            target=("project", gone.pk, gone.name),
            details={"images": gone.images},
        )
    files = [name for name in names if name]
    for start in range(0, len(files), 1000):
        jobs.enqueue(Task.STORAGE_DELETE_FILES, files[start : start + 1000])


class MemberRemoved(DomainError):
    """The person was removed from the project after the way back they tried was made."""

    status_code = 403
    code = "member_removed"


# Who adds or removes a member. A removal by hand sticks: an invitation made before it,
# an import or a provider's group does not bring the person back; a lead's add (by hand)
# or an invitation made after it does, and clears it.
BY_HAND, INVITATION, IMPORT, SSO = "hand", "invitation", "import", "sso"
ROUTES = (BY_HAND, INVITATION, IMPORT, SSO)


@transaction.atomic
def membership_set(
    *,
    project: Project,
    user: User,
    role: str,
    invitation: Invitation | None = None,
    via: str = BY_HAND,
) -> tuple[Membership, bool]:
    """Add a user to a project, or change their role there; returns (membership, created).

    ``invitation``: the invitation the user took, so the audit entry names it, and the
    user as its actor (who joins by a link is the one acting, signed in or not yet).
    ``via``: the route (``ROUTES``; ``INVITATION`` when an invitation is given).

    Raises MemberRemoved when the person was removed from the project and ``via`` may not
    bring them back (``membership_removal_check``).
    """
    if role not in Role.values:
        raise ValidationFailed(
            f"Role must be one of {', '.join(Role.values)}, not {role!r}.", field="role"
        )
    if invitation is not None:
        via = INVITATION
    if via not in ROUTES:
        raise ValueError(f"via must be one of {ROUTES}, not {via!r}")
    _lock_memberships(project)
    if not Membership.objects.filter(project=project, user=user).exists():
        membership_removal_check(project=project, user=user, via=via, invitation=invitation)
        MembershipRemoval.objects.filter(project=project, user=user).delete()
    membership, created = Membership.objects.get_or_create(
        project=project, user=user, defaults={"role": role}
    )
    before = None if created else membership.role
    if not created and membership.role != role:
        if membership.role == Role.LEAD:
            _check_not_last_lead(project, membership)
        membership.role = role
        membership.save(update_fields=["role"])
    if before != role:
        details: dict[str, object] = {"before": before, "after": role}
        if invitation is not None:
            details["invitation"] = invitation.pk
        audit_record(
            action=Action.ROLE_SET,
            actor=user if invitation is not None else None,
            project=project,
            target=("user", user.pk, user.get_username()),
            details=details,
        )
    return membership, created


def membership_removal_check(
    *,
    project: Project,
    user: User | None,
    via: str,
    invitation: Invitation | None = None,
    email: str = "",
) -> None:
    """Refuse (MemberRemoved) a way back into ``project`` for a person removed from it: by
    hand always brings them back; an invitation only if made after the removal; an import
    or a provider's group never. ``user`` None: an account about to be made with ``email``
    (an address a removed person's account had is refused by an earlier invitation too).
    """
    if via == BY_HAND:
        return
    removals = MembershipRemoval.objects.filter(project=project)
    mine = removals.filter(user=user) if user is not None else removals.none()
    address = email or (user.email if user is not None else "")
    if invitation is not None:
        mine = mine.filter(removed_at__gte=invitation.created_at)
        if address:
            same = removals.filter(email__iexact=address, removed_at__gte=invitation.created_at)
            mine = mine | same
    removal = mine.order_by("-removed_at").first()
    if removal is None:
        return
    if invitation is not None:
        raise MemberRemoved(
            f"You were removed from {project.name} on {removal.removed_at:%d %b %Y, %H:%M} "
            "UTC, after this invitation was made: ask one of its leads to invite you again.",
            reason="removed",
        )
    raise MemberRemoved(
        f"{removal.user.get_username()} was removed from {project.name} by hand: only a "
        "lead's add or a new invitation brings them back.",
        reason="removed",
    )


@transaction.atomic
def membership_remove(
    *, membership: Membership, via: str = BY_HAND, by: User | None = None, keep_links: bool = False
) -> int:
    """Remove a member; a project always keeps at least one lead. Returns how many share
    links the removal revoked.

    A removal by hand (``via``) is recorded: the person comes back only by a lead's add or
    an invitation made after it (``membership_set``). A share link (an invitation to
    anyone who has it) made before it may have reached them and takes any new account, so
    the removal revokes the project's open ones too, each in the trail with ``by`` as its
    actor, unless the lead chose ``keep_links``. A provider's group taking back what it
    gave, or an imported account merged into a member, is not such a removal.
    """
    _lock_memberships(membership.project)
    current = Membership.objects.filter(pk=membership.pk).first()  # its role may have changed
    if current is None:
        return 0
    if current.role == Role.LEAD:
        _check_not_last_lead(membership.project, current)
    current.delete()
    revoked = 0
    if via == BY_HAND:
        removed_at = timezone.now()
        MembershipRemoval.objects.update_or_create(
            project=membership.project,
            user=current.user,
            defaults={"removed_at": removed_at, "email": current.user.email or ""},
        )
        if not keep_links:
            revoked = invitations_revoke(
                share_links_open(membership.project).filter(created_at__lte=removed_at),
                by=by,
                because="member removed",
                at=removed_at,
            )
    audit_record(
        action=Action.ROLE_REMOVED,
        project=membership.project,
        target=("user", current.user_id, current.user.get_username()),
        details={"before": current.role, "after": None}
        | ({"share_links_revoked": revoked} if revoked else {}),
    )
    return revoked


def share_links_open(project: Project) -> QuerySet[Invitation]:
    """The project's share links (invitations to anyone with the link) that still let
    people in: not revoked, expired or used up. What a removal revokes."""
    return project.invitations.filter(
        Q(max_uses=None) | Q(uses__lt=F("max_uses")),
        email="",
        revoked_at=None,
        expires_at__gt=timezone.now(),
    )


@transaction.atomic
def invitations_revoke(
    invitations: QuerySet[Invitation],
    *,
    by: User | None,
    because: str = "",
    at: datetime | None = None,
) -> int:
    """Revoke the invitations not revoked yet: their links stop working at once. The one
    writer of an invitation's ``revoked_at``; each revocation goes in the trail, with ``by``
    as its actor and ``because`` when the revocation follows from something else (a
    member's removal, a new invitation to the same address). Returns how many it revoked.
    """
    at = at or timezone.now()
    revoking = list(
        invitations.filter(revoked_at=None)
        .select_related("project")
        .select_for_update(of=("self",))
    )
    Invitation.objects.filter(pk__in=[each.pk for each in revoking]).update(revoked_at=at)
    for invitation in revoking:
        invitation.revoked_at = at
        audit_record(
            action=Action.INVITATION_REVOKED,
            actor=by,
            project=invitation.project,
            target=("invitation", invitation.pk, invitation.email or "link"),
            details={"role": invitation.role} | ({"because": because} if because else {}),
        )
    return len(revoking)


def _lock_memberships(project: Project) -> None:
    # Each change to a project's members locks the project row first: two leads stepping
    # down at once then run one after the other instead of deadlocking on member rows.
    Project.objects.select_for_update().filter(pk=project.pk).values_list("pk").first()


def _check_not_last_lead(project: Project, membership: Membership) -> None:
    leads = Membership.objects.filter(project=project, role=Role.LEAD)
    if not leads.exclude(pk=membership.pk).exists():
        raise Conflict("A project must keep at least one lead.", field="role")


def agreement_refresh_due_ids() -> list[int]:
    """Projects whose agreement refresh could not be scheduled (see ``labeler.flows``)."""
    due = Project.objects.filter(agreement_refresh_due=True).order_by("pk")
    return list(due.values_list("pk", flat=True))


def agreement_refresh_due_take(*, project_id: int) -> bool:
    """Take the project off the due list; False if it is not on it (another run took it)."""
    due = Project.objects.filter(pk=project_id, agreement_refresh_due=True)
    return due.update(agreement_refresh_due=False) == 1


def agreement_refresh_due_mark(*, project_id: int) -> None:
    """Put the project on the due list: beat's next ``agreement_refresh_overdue`` runs it.

    A project already on it is not written again (every submit of an outage lands here).
    """
    Project.objects.filter(pk=project_id, agreement_refresh_due=False).update(
        agreement_refresh_due=True
    )


def project_import_mark(*, project_id: int) -> None:
    """An import of the project is storing files: retraining waits until it settles."""
    settles = timezone.now() + timedelta(seconds=settings.LABELER_IMPORT_SETTLE_SECONDS)
    Project.objects.filter(pk=project_id).update(import_settles_at=settles)
