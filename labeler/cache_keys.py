"""Every key the domain keeps in the shared cache, in one place.

The cache is shared by every web process and worker (Redis in production), so a key
names its project and, for cached results, the state they were computed from: a key
that changes with that state needs no invalidation.
"""

from __future__ import annotations


def agreement_refresh_scheduled(project_id: int) -> str:
    """Present while a refresh of the project's final labels is scheduled (``labeler.flows``)."""
    return f"agreement-refresh:{project_id}"


def retraining_after_hashing(project_id: int) -> str:
    """Present while a refresh is scheduled to try a retraining that waited for the
    worker's near-duplicate hashes (``labeler.predictions.runs``)."""
    return f"retraining-after-hashing:{project_id}"


def hashes_upgrading(project_id: int) -> str:
    """Present while a chain hashes again the project's images of an older version of the
    near-duplicate hashing (``labeler.images.duplicates.hash_upgrade``)."""
    return f"hashes-upgrading:{project_id}"


def agreement_report(project_id: int, mark: str) -> str:
    """The project's agreement report, as of ``mark`` (its labels' and settings' state)."""
    return f"agreement:{project_id}:{mark}"


def slice_report(project_id: int, mark: str) -> str:
    """The project's slice report, as of ``mark`` (its labels', images' and model's state)."""
    return f"slices:{project_id}:{mark}"


def slice_report_recent(project_id: int, digest: str) -> str:
    """The project's slice report as last computed, under ``digest`` of what was asked."""
    return f"slices-recent:{project_id}:{digest}"


def review_candidates(project_id: int, digest: str) -> str:
    """The project's review queue, as of ``digest`` (its labels' and settings' state)."""
    return f"review:{project_id}:{digest}"


def review_candidates_recent(project_id: int, digest: str) -> str:
    """The project's review queue as last computed, under ``digest`` of its settings."""
    return f"review-recent:{project_id}:{digest}"


def login_throttle(scope: str, kind: str, who: str) -> str:
    """A login throttle's counter (``kind`` "count") or lockout end ("until") for ``who``
    (a user at an address, or an address), in ``scope`` ("user" or "address")."""
    return f"labeler:login:{scope}:{kind}:{who}"


def bulk_action_progress(action_id: int) -> str:
    """How many images a running bulk action has done so far (``labeler.bulk.services``)."""
    return f"labeler:bulk:{action_id}:done"


def converted_backfill_after() -> str:
    """The last image id the background backfill of converted copies reached
    (``labeler.images.catalogue.backfill``): its next run goes on after it."""
    return "labeler:converted-backfill:after"


def explanation_pending(version_id: int, image_id: int, label_id: int | None) -> str:
    """Present while the worker makes the heat map of a label (None: the top one) for an
    image by a model version (``labeler.predictions.explanations``)."""
    return f"explanation-pending:{version_id}:{image_id}:{label_id or 'top'}"


def audit_refusals(actor: str, minute: int) -> str:
    """How many refusals of ``actor`` the trail saw in ``minute`` (``labeler.audit.refusals``)."""
    return f"audit-refusals:{actor}:{minute}"


def audit_refusals_unrecorded(actor: str) -> str:
    """How many of ``actor``'s refusals went over the bound since one was last recorded."""
    return f"audit-refusals-unrecorded:{actor}"
