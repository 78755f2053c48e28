"""Bulk actions on a selection of a project's images: one call each, atomic, audited.

``bulk_action(project=..., user=..., action=..., selection=..., params=...)`` checks
everything first (the action, its parameters, the selection), then either runs the action
at once in one transaction, or, for a selection above ``LABELER_BULK_BACKGROUND_OVER``
images, records it as a queued job and runs it in the background (``bulk_action_run``),
still in one transaction, with its progress readable while it runs. Either way a
``BulkAction`` row keeps who did what to how many images, with which parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from labeler import cache_keys, flows, jobs
from labeler.audit.models import Action
from labeler.audit.services import audit_record
from labeler.bulk.actions import ACTIONS, Outcome
from labeler.bulk.models import BulkAction, BulkStatus
from labeler.bulk.selection import selection_resolve, selection_summary
from labeler.errors import DomainError, PermissionDenied, ValidationFailed
from labeler.projects.models import Project
from labeler.projects.selectors import can_manage, project_role
from labeler.task_names import Task

logger = logging.getLogger(__name__)
PROGRESS_SECONDS = 24 * 3600


def background_threshold() -> int:
    """Selections of more images than this run in the background."""
    return int(settings.LABELER_BULK_BACKGROUND_OVER)


def bulk_action(
    *,
    project: Project,
    user: User,
    action: Any,
    selection: Any,
    params: Mapping[str, Any] | None = None,
    expected_count: Any = None,
) -> BulkAction:
    """Run a bulk action on a selection, or queue it when the selection is large.

    Returns its record: ``status`` is "done" (ran at once) or "queued" (a background
    job; follow ``done``/``total``). Raises ValidationFailed, before any write, for an
    unknown action, bad parameters or a bad or empty selection, and Conflict when
    ``expected_count`` (the number of images its sender saw, required by an action that
    destroys or withdraws data) is not the number the selection matches now.
    """
    bulk_authority_check(project=project, user=user)
    if not isinstance(action, str) or action not in ACTIONS:
        raise ValidationFailed(
            f"Unknown action {action!r}; use one of {', '.join(ACTIONS)}.", field="action"
        )
    spec = ACTIONS[action]
    checked = spec.check(project, dict(params or {}))
    ids = selection_resolve(
        project,
        selection,
        user=user,
        destroys=spec.destroys,
        expected_count=expected_count,
        action=action,
    )
    summary = selection_summary(selection, len(ids))
    if spec.background and len(ids) > background_threshold():
        record = BulkAction.objects.create(
            project=project,
            action=action,
            params=checked,
            selection=summary,
            image_ids=ids.tolist(),
            created_by=user,
            total=len(ids),
        )
        _bulk_record(record)
        jobs.enqueue(Task.BULK_RUN, record.pk)  # once this transaction commits
        return record
    with transaction.atomic():
        outcome = spec.apply(project, ids, checked, user, lambda n: None)
        record = BulkAction.objects.create(
            project=project,
            action=action,
            params=checked,
            selection=summary,
            created_by=user,
            status=BulkStatus.DONE,
            total=len(ids),
            done=len(ids),
            changed=outcome.changed,
            result=dict(outcome.result or {}),
            finished_at=timezone.now(),
        )
        _bulk_record(record)
        _after_commit(project, outcome)
    return record


def _bulk_record(record: BulkAction) -> None:
    """The bulk action's audit entry: what, on how many images, with which parameters."""
    audit_record(
        action=Action.BULK_ACTION,
        actor=record.created_by,
        project=record.project,
        target=("bulk_action", record.pk, record.action),
        details={
            "action": record.action,
            "params": record.params,
            "selection": record.selection,
            "images": record.total,
            "status": record.status,
        },
    )


def bulk_authority_check(*, project: Project, user: User | None) -> User:
    """The asker, if an active lead of the project or an admin; else PermissionDenied.
    Checked when a bulk action is asked for, and again when a queued one runs, since its
    asker may have lost the role (or the account) meanwhile."""
    if user is None:
        raise PermissionDenied("The person who asked for the action no longer exists.")
    role = project_role(user=user, project=project, fresh=True)
    if not user.is_active or not can_manage(user=user, project=project, role=role):
        raise PermissionDenied(
            f"Only the project's leads and admins run bulk actions, and {user.username} "
            "is neither (any more)."
        )
    return user


def bulk_action_run(*, action_id: int) -> BulkAction | None:
    """Run a queued bulk action (the background job); a finished one is left alone.

    The action runs in one transaction: a failure rolls all of it back and the record
    says why (status "failed", ``error``).
    """
    record = _claim(action_id)
    if record is None:
        return None
    key = cache_keys.bulk_action_progress(record.pk)
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        cache.set(key, done, PROGRESS_SECONDS)

    ids = np.asarray(record.image_ids or [], dtype=np.int64)
    try:
        with transaction.atomic():
            project = Project.objects.get(pk=record.project_id)
            user = bulk_authority_check(project=project, user=record.created_by)
            outcome = ACTIONS[record.action].apply(
                project, ids, dict(record.params), user, progress
            )
            BulkAction.objects.filter(pk=record.pk).update(
                status=BulkStatus.DONE,
                done=len(ids),
                changed=outcome.changed,
                result=dict(outcome.result or {}),
                image_ids=None,
                finished_at=timezone.now(),
            )
            _after_commit(project, outcome)
    except Exception as exc:  # recorded for the person waiting on the progress
        logger.exception("bulk action %s failed", record.pk)
        BulkAction.objects.filter(pk=record.pk).update(
            status=BulkStatus.FAILED,
            error=_reason(exc),
            image_ids=None,
            finished_at=timezone.now(),
        )
    finally:
        cache.delete(key)
    return BulkAction.objects.get(pk=record.pk)


def bulk_action_progress(record: BulkAction) -> int:
    """Images acted on so far: live from the running job, else as recorded."""
    if record.status == BulkStatus.RUNNING:
        return int(cache.get(cache_keys.bulk_action_progress(record.pk), 0))
    return record.done


def _claim(action_id: int) -> BulkAction | None:
    claimed = BulkAction.objects.filter(pk=action_id, status=BulkStatus.QUEUED).update(
        status=BulkStatus.RUNNING
    )
    return BulkAction.objects.select_related("created_by").get(pk=action_id) if claimed else None


def _after_commit(project: Project, outcome: Outcome) -> None:
    """Once the action commits: consensus follows changed labels, deleted files go."""
    if outcome.labels_changed:
        transaction.on_commit(lambda: flows.labels_changed(project_id=project.pk))
    files = list(outcome.files_to_delete)
    for start in range(0, len(files), 1000):
        jobs.enqueue(Task.STORAGE_DELETE_FILES, files[start : start + 1000])


def _reason(exc: Exception) -> str:
    if isinstance(exc, DomainError):
        return str(exc)
    return f"The action failed ({type(exc).__name__}); nothing was changed."
