"""What the predictions layer announces to a project's webhooks, and the facts each carries.

Called inside the writes they describe (``runs``, ``promotion``): the deliveries are
recorded in the same transaction and sent once it commits (``webhook_event_emit``).
"""

from __future__ import annotations

from typing import Any

from labeler.predictions.models import ModelVersion, TrainingRun
from labeler.webhooks import events
from labeler.webhooks.services import webhook_event_emit

HEADLINE = ("accuracy", "macro_f1")


def metrics_summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """The headline figures: on the test images where measured (value, 95% interval, n),
    else on the validation images (value)."""
    test = metrics.get("test") or {}
    summary: dict[str, Any] = {}
    for name in HEADLINE:
        figure = test.get(name) if isinstance(test, dict) else None
        if isinstance(figure, dict) and figure.get("value") is not None:
            summary[name] = {
                "value": figure["value"],
                "interval": figure.get("interval"),
                "n": figure.get("n"),
                "split": "test",
            }
        elif isinstance(metrics.get(name), int | float):
            summary[name] = {"value": metrics[name], "split": "validation"}
    return summary


def training_finished_announce(*, run: TrainingRun, version: ModelVersion) -> None:
    """training.finished: the run, the new version, whether it was promoted and why."""
    webhook_event_emit(
        project_id=run.project_id,
        event=events.TRAINING_FINISHED,
        payload={
            "run_id": run.pk,
            "model_version_id": version.pk,
            "version": version.version,
            "architecture": version.architecture,
            "promoted": version.is_current,
            "metrics": metrics_summary(version.metrics or {}),
            "note": version.promotion_note,
        },
    )


def training_failed_announce(*, run: TrainingRun) -> None:
    """training.failed: the run and why it failed."""
    webhook_event_emit(
        project_id=run.project_id,
        event=events.TRAINING_FAILED,
        payload={"run_id": run.pk, "reason": run.message},
    )


def model_promoted_announce(
    *, version: ModelVersion, previous: int | None, automatic: bool
) -> None:
    """model.promoted: the version now current and the one it replaced."""
    webhook_event_emit(
        project_id=version.project_id,
        event=events.MODEL_PROMOTED,
        payload={
            "model_version_id": version.pk,
            "version": version.version,
            "previous_version": previous,
            "automatic": automatic,
            "note": version.promotion_note,
        },
    )
