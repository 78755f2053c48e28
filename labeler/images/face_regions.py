"""Faces on a project's images: found by the worker, corrected by leads, and every copy
derived again after each change (``labeler.images.pixels.faces`` blurs them).

Writes to ``FaceRegion`` and ``Image.faces_state`` go through here alone. A detection
replaces the detected boxes but keeps those a lead drew, and a box a lead deleted stays
deleted: a new detection finding a box mostly over it (``SAME_FACE``) is not added.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

import numpy as np
from django.db import transaction

from labeler import jobs
from labeler.errors import ValidationFailed
from labeler.images.models import FaceRegion, Image
from labeler.images.pixels.decoding import image_decode_reduced_upright
from labeler.images.pixels.faces import FaceBox
from labeler.images.pixels.files import DECODE_ERRORS
from labeler.images.stored.references import file_open
from labeler.projects.models import Project
from labeler.task_names import Task

logger = logging.getLogger(__name__)

# The detector sees the image no larger than this a side, and finds faces of 20 pixels
# and more there (``labeler/images/pixels/face_finding.py``): in a 4032-pixel photo,
# faces some 80 pixels across and up. A photo costs about 3 s of a core at 1024, 1.3 s
# at 640, which misses faces under 130 pixels (docs/benchmarks.md, "Faces blurred").
DETECT_SIDE = 1024
# A detected box sharing this much of the smaller of the two with a deleted one is the
# same face found again.
SAME_FACE = 0.5
# Images whose copies one task makes again (a project turning blurring off: all of them).
DERIVE_BATCH = 200
# What the worker's detector is: an RGB array in, (left, top, width, height, score) out.
FaceFinder = Callable[[np.ndarray], list[tuple[float, float, float, float, float]]]


def image_face_boxes(image: Image) -> list[FaceBox]:
    """The boxes blurred on this image: every region not deleted by a lead."""
    rows = FaceRegion.objects.filter(image=image, removed=False).values_list(
        "left", "top", "width", "height"
    )
    return [FaceBox(*row) for row in rows]


def faces_blurred(image: Image) -> bool:
    """Whether this image's copies are blurred: its project blurs faces."""
    return bool(Project.objects.filter(pk=image.project_id, blur_faces=True).exists())


def image_faces_detect(*, image_id: int, finder: FaceFinder) -> str:
    """Find the faces on one image and store them. Returns the image's state: "deriving"
    (its copies are to be made again by the caller, then ``faces_copies_made``), "failed"
    (cannot be decoded), or "" (gone)."""
    image = Image.objects.filter(pk=image_id).first()
    if image is None:
        return ""
    try:
        with file_open(str(image.file.name)) as handle:
            upright = image_decode_reduced_upright(handle.read(), DETECT_SIDE)
        found = finder(np.asarray(upright.convert("RGB")))
    except (FileNotFoundError, *DECODE_ERRORS) as exc:
        logger.warning("image %s: faces not found: %s", image_id, exc)
        Image.objects.filter(pk=image_id).update(faces_state="failed")
        return "failed"
    scale = image.width / upright.width
    boxes = [_clipped(image, x * scale, y * scale, w * scale, h * scale) for x, y, w, h, _ in found]
    scores = [score for *_, score in found]
    with transaction.atomic():
        locked = Image.objects.select_for_update().filter(pk=image_id).first()
        if locked is None:
            return ""
        _detected_replace(locked, boxes, scores)
        Image.objects.filter(pk=image_id).update(faces_state="deriving")
    return "deriving"


def faces_copies_made(*, image_id: int) -> None:
    """The image's copies were made with its faces as they are: served again."""
    Image.objects.filter(pk=image_id, faces_state="deriving").update(faces_state="done")


def face_region_add(*, image: Image, left: int, top: int, width: int, height: int) -> FaceRegion:
    """A box a lead drew, in the upright original's pixels; the copies derived again.

    Raises ValidationFailed for a box that is empty or leaves the image.
    """
    if width < 1 or height < 1 or left < 0 or top < 0:
        raise ValidationFailed(
            "A face's box needs a left and top of 0 or more and a size of 1 or more."
        )
    if left + width > image.width or top + height > image.height:
        raise ValidationFailed(
            f"The box leaves the image, which is {image.width} x {image.height} pixels."
        )
    region = FaceRegion.objects.create(
        image=image, left=left, top=top, width=width, height=height, source="lead"
    )
    copies_derive_soon([image.pk])
    return region


def face_region_remove(*, region: FaceRegion) -> None:
    """A box deleted by a lead: kept as deleted (a detection finding it again leaves it
    so); the copies derived again."""
    if region.source == "lead":
        region.delete()
    else:
        FaceRegion.objects.filter(pk=region.pk).update(removed=True)
    copies_derive_soon([region.image_id])


def faces_detect_soon(image_ids: Collection[int]) -> None:
    """These images' faces found again in the background; their copies are not served to
    those who see no originals until it is done."""
    if not image_ids:
        return
    Image.objects.filter(pk__in=image_ids).update(faces_state="pending")
    for image_id in image_ids:
        jobs.enqueue(Task.FACES_DETECT, image_id)


def copies_derive_soon(image_ids: Collection[int]) -> None:
    """These images' thumbnails and display copies made again (with the faces as they
    now are), in the background. Where their project blurs faces they are not served to
    those who see no originals meanwhile (the copies still show the faces as they were:
    a box a lead just drew is not blurred in them)."""
    if not image_ids:
        return
    ordered = sorted(image_ids)
    for start in range(0, len(ordered), DERIVE_BATCH):
        batch = ordered[start : start + DERIVE_BATCH]
        Image.objects.filter(pk__in=batch, project__blur_faces=True).exclude(
            faces_state="pending"
        ).update(faces_state="deriving")
        jobs.enqueue(Task.IMAGES_DERIVE_AGAIN, batch)


def project_faces_hide(*, project_id: int) -> int:
    """Every image of the project hidden from those who see no originals until its faces
    are found again (``blur_faces`` turned on): in the change's own transaction, so no copy
    made while it was off is served after it commits. Returns how many images."""
    return Image.objects.filter(project_id=project_id).update(faces_state="pending")


def project_faces_refresh(*, project_id: int) -> int:
    """After ``blur_faces`` changed: on, every image's faces found again (and its copies
    derived after); off, every image's copies derived again unblurred. Returns how many
    images."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return 0
    ids = list(Image.objects.filter(project=project, problem="").values_list("pk", flat=True))
    if project.blur_faces:
        faces_detect_soon(ids)
    else:
        copies_derive_soon(ids)
    return len(ids)


def image_faces_due(*, image_id: int) -> None:
    """A newly prepared image of a project that blurs faces gets its faces found."""
    image = Image.objects.filter(pk=image_id).only("project_id", "faces_state").first()
    if image is not None and image.faces_state != "done" and faces_blurred(image):
        faces_detect_soon([image_id])


def export_face_boxes(project: Project) -> Callable[[str], list[FaceBox]] | None:
    """What an export asks for each stored file it writes: the boxes to blur on it; None
    where the project does not blur faces. The lookup raises ValidationFailed for an image
    whose faces are not found yet (an export never holds a face unblurred)."""
    if not project.blur_faces:
        return None

    def boxes(stored_name: str) -> list[FaceBox]:
        images = Image.objects.filter(project=project, file=stored_name)
        if stored_name.startswith("images/"):
            images = images.filter(sha256=stored_name.rsplit("/", 1)[-1][:64])
        image = images.only("faces_state").first()
        if image is None or image.faces_state != "done":
            raise ValidationFailed(
                f"The faces of {stored_name.rsplit('/', 1)[-1]} are not found yet (the project "
                "blurs faces): export again once they are, or draw them on its page."
            )
        return image_face_boxes(image)

    return boxes


def _clipped(image: Image, left: float, top: float, width: float, height: float) -> FaceBox:
    x, y = max(0, round(left)), max(0, round(top))
    right = min(image.width, round(left + width))
    bottom = min(image.height, round(top + height))
    return FaceBox(x, y, max(1, right - x), max(1, bottom - y))


def _detected_replace(image: Image, boxes: list[FaceBox], scores: list[float]) -> None:
    removed = [
        FaceBox(r.left, r.top, r.width, r.height)
        for r in FaceRegion.objects.filter(image=image, removed=True)
    ]
    FaceRegion.objects.filter(image=image, source="detected", removed=False).delete()
    FaceRegion.objects.bulk_create(
        FaceRegion(
            image=image,
            left=box.left,
            top=box.top,
            width=box.width,
            height=box.height,
            source="detected",
            score=score,
        )
        for box, score in zip(boxes, scores, strict=True)
        if all(_shared(box, gone) < SAME_FACE for gone in removed)
    )


def _shared(a: FaceBox, b: FaceBox) -> float:
    """The share of the smaller box that the two boxes share."""
    width = min(a.left + a.width, b.left + b.width) - max(a.left, b.left)
    height = min(a.top + a.height, b.top + b.height) - max(a.top, b.top)
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / min(a.width * a.height, b.width * b.height)
