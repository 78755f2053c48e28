"""What a project's export would hold, summed up cheaply: the same value means the same file.

An export asked for again with the same options gets the finished one back while this is
unchanged (``labeler.exports.services.export_start``), instead of a copy of it. Each part
is read through an index, in a few small queries whatever the project's size:

- labels and final labels: the newest row of the label history, which every change of an
  annotation (a database trigger) and of a final label (``labeler.annotations.history``)
  adds to, whichever path made it;
- images: how many, and the newest (an image added raises it, one deleted lowers the count);
- tags: how many, and the newest (tags travel in every format);
- the label set (names and order) and the project row's last save (its name, whether
  photos' metadata is kept);
- with predictions asked for: the current model version and its newest prediction;
- with the project's own split: its newest stored side of the held-out test split (the
  training and validation parts follow from the final labels and the settings above).

What it does not see (an image's licence edited in place, a member's new e-mail) is rare
enough that a lead who needs it builds the export anew ("build anyway").
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db.models import Count, Max, QuerySet

from labeler.annotations.models import LabelChange
from labeler.exports.options import ExportOptions
from labeler.exports.selectors import current_model_version
from labeler.images.counts import image_counts
from labeler.images.models import Image, ImageTag
from labeler.predictions.models import Prediction, SplitAssignment
from labeler.projects.models import Project


def export_content_version(project: Project, options: ExportOptions) -> str:
    """A digest of what the project holds now that an export with ``options`` reads."""
    project = Project.objects.get(pk=project.pk)  # its last save, as stored now
    newest_image = (
        Image.objects.filter(project=project)
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
        .first()
    )
    parts: list[object] = [
        _newest(LabelChange.objects.filter(project=project)),
        image_counts(project.pk).images,
        newest_image,
        list(
            ImageTag.objects.filter(image__project=project)
            .aggregate(count=Count("id"), newest=Max("id"))
            .values()
        ),
        list(project.labels.order_by("position", "id").values_list("id", "name")),
        project.updated_at.isoformat(),
    ]
    if options.split_by_project:  # the sides of its held-out test split stored so far
        stored = SplitAssignment.objects.filter(project=project)
        parts.append(
            list(stored.aggregate(count=Count("image_id"), newest=Max("assigned_at")).values())
        )
    if options.predictions:
        version = current_model_version(project)
        newest = _newest(Prediction.objects.filter(model_version=version)) if version else None
        parts.append([version.pk if version else None, newest])
    text = json.dumps(parts, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _newest(rows: QuerySet[Any]) -> int | None:
    return rows.order_by("-id").values_list("id", flat=True).first()
