"""Row counts of every table a request could write, to prove a refused one wrote nothing."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Sum

from labeler.annotations.models import (
    Annotation,
    AnnotationRevision,
    Assignment,
    FinalLabel,
    Skip,
)
from labeler.images.models import Image
from labeler.predictions.models import ModelVersion, Prediction
from labeler.projects.models import Label, Membership, Project

MODELS = [
    get_user_model(),
    Project,
    Label,
    Membership,
    Image,
    Annotation,
    Annotation.labels.through,
    AnnotationRevision,
    Assignment,
    Skip,
    FinalLabel,
    ModelVersion,
    Prediction,
]


def row_counts() -> dict[str, int]:
    """How many rows each table holds, plus the images' summed annotation counts."""
    counts = {model._meta.label: model.objects.count() for model in MODELS}
    counts["Image.annotation_count"] = Image.objects.aggregate(n=Sum("annotation_count"))["n"] or 0
    counts["Image.is_complete"] = Image.objects.filter(is_complete=True).count()
    counts["Membership.lead"] = Membership.objects.filter(role="lead").count()
    return counts
