"""What a prediction request is asked about: uploads checked, references resolved, the
model version chosen and the heat maps asked for. Every refusal is a ``ValidationFailed``
or ``NotFound`` naming what is wrong (the file, the ids, the version, the label)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from labeler.errors import NotFound, ValidationFailed
from labeler.images.models import Image
from labeler.images.pixels.files import RejectedFile, image_check
from labeler.images.services import upload_read
from labeler.predictions.models import ModelVersion
from labeler.predictions.selectors import current_model
from labeler.projects.models import Project
from labeler.projects.selectors import MAX_ID

VERSION_MAX = 2**31 - 1  # a version's number is a database integer


@dataclass(frozen=True)
class PredictionInput:
    """One image to predict: uploaded bytes, or a stored image of the project."""

    name: str
    sha256: str
    content: bytes | None = None
    file: str | None = None
    image_id: int | None = None

    def as_item(self, *, inline: bool) -> dict[str, Any]:
        """The worker's view of it: its bytes inline (``labeler.jobs.call`` sends them as
        the transport carries bytes) or a stored file's name."""
        item: dict[str, Any] = {"name": self.name, "sha256": self.sha256, "image_id": self.image_id}
        if self.content is not None and inline:
            item["content"] = self.content
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
    ids = [i for i in (whole_number(raw, top=MAX_ID) for raw in image_ids) if i is not None]
    if len(ids) != len(image_ids):
        raise ValidationFailed(
            "images: give the ids of the project's images (whole numbers).", field="images"
        )
    if not ids:
        return []
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
        wanted = whole_number(number, top=VERSION_MAX)
        if wanted is None:
            raise ValidationFailed(
                f"version: a version number, from 1 to {VERSION_MAX}.", field="version"
            )
        version = ModelVersion.objects.filter(project=project, version=wanted).first()
        if version is None:
            raise NotFound(f"This project has no model version {wanted}.", field="version")
    if not version.weights:
        raise ValidationFailed(
            f"Model version {version.version} has no weights to predict with.", field="version"
        )
    return version


def whole_number(raw: Any, *, top: int) -> int | None:
    """``raw`` as a whole number from 1 to ``top`` (a JSON integer, or its digits as text),
    or None: a fraction, a boolean, infinity or a number past what a database column holds
    is no id, where ``int()`` would round it, overflow, or pass it on to the database."""
    if isinstance(raw, str):
        text = raw.strip()
        raw = int(text) if text.isascii() and text.isdigit() and len(text) <= 19 else None
    if not isinstance(raw, int) or isinstance(raw, bool):
        return None
    return raw if 1 <= raw <= top else None


def explain_check(count: int) -> None:
    """Heat maps only for a request answered at once, of up to
    ``LABELER_PREDICT_EXPLAIN_MAX`` images: each costs a forward and a backward pass, and
    its PNG rides in the answer."""
    limit = min(settings.LABELER_PREDICT_EXPLAIN_MAX, settings.LABELER_PREDICT_SYNC_MAX)
    if count > limit:
        raise ValidationFailed(
            f"explain: heat maps are made for up to {limit} images a request (answered at "
            f"once); this one has {count}. Send at most {limit} images with explain=true.",
            field="explain",
        )


def explain_label_for(project: Project, raw: Any) -> int | None:
    """The label whose heat map is asked for (None: each image's most probable label);
    a value that is not the id of one of the project's labels is refused."""
    if raw in (None, ""):
        return None
    label_id = whole_number(raw, top=MAX_ID)
    if label_id is None:
        raise ValidationFailed(
            "explain_label: the id of one of the project's labels.", field="explain_label"
        )
    if not project.labels.filter(pk=label_id).exists():
        raise ValidationFailed(
            f"explain_label: {label_id} is not a label of this project.", field="explain_label"
        )
    return label_id
