"""A prediction request: answered at once when small, run as a job when large.

The model runs in the workers (``Task.ML_SERVE_PREDICT`` on the gpu queue, or, with no
broker, the resident child process: ``labeler.jobs.call``); this process checks the
inputs, waits for the answer and times the whole.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from labeler import jobs
from labeler.errors import Unavailable, ValidationFailed
from labeler.predictions.models import ModelVersion
from labeler.projects.models import Project
from labeler.serving import services
from labeler.serving.inputs import PredictionInput
from labeler.serving.models import PredictionJob
from labeler.task_names import Task


def version_summary(version: ModelVersion) -> dict[str, Any]:
    """How an answer names the version it came from."""
    return {"id": version.pk, "version": version.version, "architecture": version.architecture}


def predictions_answer(
    *,
    version: ModelVersion,
    inputs: Sequence[PredictionInput],
    caller_id: int | None,
    token_id: int | None,
    explain: bool = False,
    explain_label: int | None = None,
) -> dict[str, Any]:
    """Predict the images now and answer with each one's probabilities and times; with
    ``explain``, each one's heat map of its most probable label (or ``explain_label``).

    An image the worker cannot decode (its header passed the upload checks, its pixels do
    not) is a 400 naming it; the others' predictions are still logged as served. A label
    the version has no output for is a 400 naming it.
    """
    began = time.perf_counter()
    request = {
        "version_id": version.pk,
        "items": [item.as_item(inline=True) for item in inputs],
        "caller_id": caller_id,
        "token_id": token_id,
        "explain": explain,
        "explain_label": explain_label,
    }
    try:
        answered = jobs.call(
            Task.ML_SERVE_PREDICT, request, timeout=settings.LABELER_PREDICT_TIMEOUT_SECONDS
        )
    except jobs.CallFailed as exc:
        raise Unavailable(f"The model could not answer now; try again shortly ({exc}).") from exc
    if "error" in answered:
        raise ValidationFailed(answered["error"], field=answered.get("field", "version"))
    failed = [p for p in answered["predictions"] if "error" in p]
    if failed:
        names = "; ".join(f"{p['name']}: {p['error']}" for p in failed[:5])
        raise ValidationFailed(names, field="files", file=failed[0]["name"])
    return {
        "version": version_summary(version),
        "predictions": answered["predictions"],
        "duration_ms": round((time.perf_counter() - began) * 1000, 3),
    }


def prediction_job_start(
    *,
    project: Project,
    version: ModelVersion,
    inputs: Sequence[PredictionInput],
    caller_id: int | None,
    token_id: int | None,
) -> PredictionJob:
    """Queue a large request as a job whose results are kept to be fetched."""
    return services.prediction_job_create(
        project=project,
        version=version,
        inputs=[item.as_item(inline=False) for item in inputs],
        uploads={n: item.content for n, item in enumerate(inputs) if item.content is not None},
        caller_id=caller_id,
        token_id=token_id,
    )


def answers_at_once(count: int) -> bool:
    """Whether a request of ``count`` images is answered at once (else it is a job)."""
    return count <= settings.LABELER_PREDICT_SYNC_MAX
