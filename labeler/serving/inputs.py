"""What a prediction request is asked about: uploads checked, references resolved, the
model version chosen and the heat maps asked for. Every refusal is a ``ValidationFailed``
or ``NotFound`` naming what is wrong (the file, the ids, the version, the label)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from labeler.errors import NotFound, ValidationFailed
from labeler.images.files import RejectedFile, image_check
from labeler.images.models import Image
from labeler.images.services import upload_read
from labeler.predictions.models import ModelVersion
from labeler.predictions.selectors import current_model
from labeler.projects.models import Project

# Ids as the database keeps them: a larger number is refused by name, not a 500.
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class PredictionInput:
    """One image to predict: uploaded bytes, or a stored image of the project."""

    name: str
    sha256: str
    content: bytes | None = None
    file: str | None = None
    image_id: int | None = None

    def as_item(self, *, inline: bool) -> dict[str, Any]:
        """The worker's view of it: bytes inline (base64) or a stored file's name."""
        item: dict[str, Any] = {"name": self.name, "sha256": self.sha256, "image_id": self.image_id}
        if self.content is not None and inline:
            item["content"] = base64.b64encode(self.content).decode()
        elif self.file is not None:
            item["file"] = self.file
        return item


def uploads_checked(files: Sequence[UploadedFile]) -> list[PredictionInput]:
    """Each uploaded file through the images layer's upload checks (size cap, format,
    decompression bombs, truncation); the first refused one is named in the error."""
    checked = []
    for position, upload in enumerate(files):
        name = upload.name or f"file {position + 1}"
        data = upload_read(upload)
        try:
            if isinstance(data, RejectedFile):
                raise data
            image = image_check(data)
        except RejectedFile as exc:
            raise ValidationFailed(f"{name}: {exc}", field="files", file=name) from exc
        checked.append(PredictionInput(name=name, sha256=image.sha256, content=image.content))
    return checked


def references_resolved(project: Project, image_ids: Sequence[Any]) -> list[PredictionInput]:
    """The project's stored images by id, in the order given; unknown ids are named."""
    try:
        ids = [int(i) for i in image_ids]
    except (TypeError, ValueError):
        raise ValidationFailed(
            "images: give the ids of the project's images.", field="images"
        ) from None
    found = {
        pk: (name, sha256)
        for pk, name, sha256 in Image.objects.filter(project=project, pk__in=ids).values_list(
            "pk", "file", "sha256"
        )
    }
    missing = [i for i in ids if i not in found]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10])
        raise NotFound(f"No image {shown} in this project.", field="images")
    return [
        PredictionInput(name=f"image {i}", sha256=found[i][1], file=found[i][0], image_id=i)
        for i in ids
    ]


def count_check(count: int) -> None:
    """At least one image, at most ``LABELER_PREDICT_MAX_IMAGES``."""
    if not count:
        raise ValidationFailed(
            "Send at least one image: files, or the ids of the project's images.", field="files"
        )
    limit = settings.LABELER_PREDICT_MAX_IMAGES
    if count > limit:
        raise ValidationFailed(
            f"{count} images in one request; the limit is {limit}.", field="files"
        )


def version_for(project: Project, number: Any = None) -> ModelVersion:
    """The version to predict with: the one numbered ``number``, else the current one."""
    if number in (None, ""):
        version = current_model(project)
        if version is None:
            raise ValidationFailed(
                "This project has no current model: train one and promote it, or name a version.",
                field="version",
            )
    else:
        try:
            wanted = int(number)
        except (TypeError, ValueError):
            raise ValidationFailed("version: a version number.", field="version") from None
        version = ModelVersion.objects.filter(project=project, version=wanted).first()
        if version is None:
            raise NotFound(f"This project has no model version {wanted}.", field="version")
    if not version.weights:
        raise ValidationFailed(
            f"Model version {version.version} has no weights to predict with.", field="version"
        )
    return version


def explain_check(count: int) -> None:
    """Heat maps only for a request answered at once (up to ``LABELER_PREDICT_SYNC_MAX``
    images): each costs a forward and a backward pass, and its PNG rides in the answer."""
    limit = settings.LABELER_PREDICT_SYNC_MAX
    if count > limit:
        raise ValidationFailed(
            f"explain: heat maps are made for up to {limit} images a request (those "
            f"answered at once); this one has {count}. Send at most {limit} images with "
            "explain=true.",
            field="explain",
        )


def explain_label_for(project: Project, raw: Any) -> int | None:
    """The label whose heat map is asked for (None: each image's most probable label);
    a value that is not the id of one of the project's labels is refused."""
    if raw in (None, ""):
        return None
    try:
        label_id = int(raw)
    except (TypeError, ValueError):
        raise ValidationFailed(
            "explain_label: the id of one of the project's labels.", field="explain_label"
        ) from None
    if not 1 <= label_id <= MAX_ID or not project.labels.filter(pk=label_id).exists():
        raise ValidationFailed(
            f"explain_label: {label_id} is not a label of this project.", field="explain_label"
        )
    return label_id
