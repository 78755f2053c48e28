"""Reads of the serving layer: served predictions, prediction tokens, prediction jobs."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, QuerySet

from labeler.errors import NotFound
from labeler.projects.models import Project
from labeler.serving.models import PredictionJob, PredictToken, ServedPrediction


def served_predictions(
    *,
    project: Project,
    version: int | None = None,
    label_id: int | None = None,
    token_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    below: float | None = None,
) -> QuerySet[ServedPrediction]:
    """The project's served predictions, newest first, narrowed by the filters given:
    the version's number, the top label, the token that asked, a time range, and a top
    probability below ``below``."""
    found = ServedPrediction.objects.filter(project=project).select_related(
        "model_version", "top_label", "caller", "token"
    )
    if version is not None:
        found = found.filter(model_version__version=version)
    if label_id is not None:
        found = found.filter(top_label_id=label_id)
    if token_id is not None:
        found = found.filter(token_id=token_id)
    if since is not None:
        found = found.filter(created_at__gte=since)
    if until is not None:
        found = found.filter(created_at__lt=until)
    if below is not None:
        found = found.filter(probability__lt=below)
    return found.defer("embedding").order_by("-id")


def predict_tokens(*, project: Project) -> QuerySet[PredictToken]:
    """The project's prediction tokens, the live ones first, newest first."""
    live_first = F("revoked_at").asc(nulls_first=True)
    found = PredictToken.objects.filter(project=project).select_related("project", "created_by")
    return found.order_by(live_first, "-id")


def prediction_job_get(*, project: Project, job_id: int) -> PredictionJob:
    """The project's prediction job, or NotFound."""
    job = PredictionJob.objects.filter(pk=job_id, project=project).first()
    if job is None:
        raise NotFound(f"Prediction job {job_id} does not exist.")
    return job
