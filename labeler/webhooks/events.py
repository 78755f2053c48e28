"""The events a webhook may subscribe to, and what each one's ``data`` holds.

Every body is ``{"id", "event", "project": {"id", "name"}, "time", "data"}``: ``id`` names
the event (a delivery sent again keeps it, so a receiver can drop what it already had),
``time`` is when it happened (ISO 8601, UTC), ``data`` the facts below. No body carries
more about people than the project's leads already see; none names a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

TRAINING_FINISHED: Final = "training.finished"
TRAINING_FAILED: Final = "training.failed"
MODEL_PROMOTED: Final = "model.promoted"
DRIFT_ALARM: Final = "drift.alarm"
EXPORT_READY: Final = "export.ready"
REVIEW_QUEUE_ABOVE: Final = "review_queue.above"
# Sent by a lead's "send a test" to one webhook, whatever it subscribes to.
PING: Final = "ping"


@dataclass(frozen=True)
class EventKind:
    """An event: its name, what causes it and the keys of its ``data``."""

    name: str
    cause: str
    data: dict[str, str]


EVENTS: tuple[EventKind, ...] = (
    EventKind(
        TRAINING_FINISHED,
        "A training run ended with a new model version.",
        {
            "run_id": "the training run",
            "model_version_id": "the new version's id",
            "version": "its number in the project (1, 2, ...)",
            "architecture": "the network trained",
            "promoted": "whether it became the current model",
            "metrics": "test accuracy and macro-F1 where measured, else validation's",
            "note": "the promotion's reason in words",
        },
    ),
    EventKind(
        TRAINING_FAILED,
        "A training run failed (its error, or its worker stopped answering).",
        {"run_id": "the training run", "reason": "why it failed, in words"},
    ),
    EventKind(
        MODEL_PROMOTED,
        "A model version became the project's current model (by a lead or automatically).",
        {
            "model_version_id": "the version's id",
            "version": "its number in the project",
            "previous_version": "the number of the version it replaced, or null",
            "automatic": "true when promoted after its training, false when a lead chose it",
            "note": "why, in words",
        },
    ),
    EventKind(
        DRIFT_ALARM,
        "The scheduled drift check found the images served lately unlike the test set.",
        {
            "model_version_id": "the version whose inputs drifted",
            "version": "its number in the project",
            "check_id": "the drift check that raised it",
            "tests": "each test's name, statistic and p-value",
            "window": "the period of served predictions compared ({start, end})",
        },
    ),
    EventKind(
        EXPORT_READY,
        "An export's file was written and can be downloaded.",
        {
            "export_id": "the export",
            "format": "its format",
            "images": "how many images it holds",
            "size_bytes": "the file's size",
            "download_path": "the API path of its download (a lead's token fetches it)",
        },
    ),
    EventKind(
        REVIEW_QUEUE_ABOVE,
        "The review queue grew past the project's review_queue_alert_size (announced once "
        "per crossing upward; again only after it fell back to the size or below).",
        {"size": "images waiting for review", "threshold": "the project's setting"},
    ),
)
EVENT_NAMES: tuple[str, ...] = tuple(kind.name for kind in EVENTS)
