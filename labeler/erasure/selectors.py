"""Reads of the erasure reports."""

from __future__ import annotations

from django.db.models import QuerySet

from labeler.erasure.models import Erasure
from labeler.projects.models import Project


def erasures_of(*, project: Project) -> QuerySet[Erasure]:
    """The project's erasure reports, newest first, with who asked."""
    return Erasure.objects.filter(project=project).select_related("requested_by").order_by("-pk")
