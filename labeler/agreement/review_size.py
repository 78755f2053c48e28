"""The review queue's size announced to webhooks when it grows past the project's
``review_queue_alert_size`` (``labeler/webhooks/project_settings.py``).

Checked after every agreement refresh (``labeler.flows.agreement_refresh``), which
follows every change of labels: ``review_queue.above`` is sent once as the queue crosses
the size upward, and again only after a check found it back at the size or below
(``webhook_level_set`` keeps which side it was on). Nothing is computed for a project
with the setting at 0 or no webhook listening.
"""

from __future__ import annotations

from labeler.agreement.review import review_queue
from labeler.projects.models import Project
from labeler.webhooks.events import REVIEW_QUEUE_ABOVE
from labeler.webhooks.selectors import webhooks_listening
from labeler.webhooks.services import webhook_level_set


def review_queue_size_check(*, project: Project) -> bool:
    """Compare the review queue's size with the project's alert size; returns whether
    ``review_queue.above`` was announced now."""
    threshold = project.review_queue_alert_size
    if threshold <= 0 or not webhooks_listening(project_id=project.pk, event=REVIEW_QUEUE_ABOVE):
        return False
    size = len(review_queue(project))
    return webhook_level_set(
        project_id=project.pk,
        event=REVIEW_QUEUE_ABOVE,
        above=size > threshold,
        payload={"size": size, "threshold": threshold},
    )
