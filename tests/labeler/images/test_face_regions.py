"""Faces blurred end to end on real photos: found by the worker's detector, blurred in the
thumbnail, the display copy, the full-size copy annotators get and export members;
originals untouched; a faceless photo's copies the same as with blurring off."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage
from skimage import data as samples

from labeler import flows
from labeler.errors import ValidationFailed
from labeler.exports.formats.members import StoredImage, ZipStream
from labeler.images.face_regions import export_face_boxes
from labeler.images.models import FaceRegion, Image
from labeler.projects.models import Project
from tests.conftest import client_for
from tests.factories import ProjectFactory
from tests.labeler.exports.data import annotate, finalise

pytestmark = pytest.mark.django_db

# Where the astronaut's face is in scikit-image's 512 x 512 photo (left, top, right, bottom).
ASTRONAUT_FACE = (170, 60, 280, 170)
# Laplacian variance (edges, texture) of the face must drop at least this many times.
BLUR_FACTOR = 8


def encoded(pixels: np.ndarray, image_format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format=image_format, quality=95)
    return buffer.getvalue()


def lfw_faces(count: int) -> list[np.ndarray]:
    return [(face * 255).astype(np.uint8) for face in samples.lfw_subset()[:count]]


def sharpness(pixels: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """The Laplacian's variance inside box (left, top, right, bottom), in grey."""
    grey = pixels.astype(float)
    if grey.ndim == 3:
        grey = grey.mean(axis=2)
    left, top, right, bottom = box
    part = grey[top:bottom, left:right]
    laplacian = (
        4 * part[1:-1, 1:-1] - part[:-2, 1:-1] - part[2:, 1:-1] - part[1:-1, :-2] - part[1:-1, 2:]
    )
    return float(laplacian.var())


def pixels_of(content: bytes) -> np.ndarray:
    with PILImage.open(io.BytesIO(content)) as image:
        return np.asarray(image.convert("RGB"))


def scaled(box: tuple[int, int, int, int], factor: float) -> tuple[int, int, int, int]:
    return tuple(round(v * factor) for v in box)  # type: ignore[return-value]


def ingest(project: Project, files: dict[str, bytes], capture) -> list[Image]:
    uploads = [SimpleUploadedFile(name, content) for name, content in files.items()]
    with capture(execute=True):
        results = flows.images_ingest(project=project, files=uploads)
    ids = [r.image_id for r in results]
    assert all(r.status == "created" for r in results), results
    return sorted(Image.objects.filter(pk__in=ids), key=lambda i: ids.index(i.pk))


@pytest.fixture
def blurring(project):
    Project.objects.filter(pk=project.pk).update(blur_faces=True)
    project.refresh_from_db()
    return project


def test_the_astronaut_is_blurred_in_every_copy(
    blurring, annotator, lead, settings, django_capture_on_commit_callbacks
):
    """Found where her face is, then blurred in the thumbnail, the display copy and the
    full-size copy an annotator gets; the lead still gets the original, which is
    unchanged on disk."""
    settings.LABELER_DISPLAY_SIZE = 400  # the 512-pixel photo gets a display copy
    original = encoded(samples.astronaut(), "JPEG")
    (image,) = ingest(blurring, {"astronaut.jpg": original}, django_capture_on_commit_callbacks)
    assert image.faces_state == "done"
    (region,) = FaceRegion.objects.filter(image=image)
    left, top, right, _ = ASTRONAUT_FACE
    assert region.source == "detected"
    assert left - 20 <= region.left <= left + 30 and top - 20 <= region.top <= top + 30
    assert right - 30 <= region.left + region.width <= right + 30
    assert image.file.read() == original  # the original as it was sent

    sharp = sharpness(samples.astronaut(), ASTRONAUT_FACE)
    display = pixels_of(image.display.read())
    thumbnail = pixels_of(image.thumbnail.read())
    for copy in (display, thumbnail):
        factor = copy.shape[1] / 512
        face = scaled(ASTRONAUT_FACE, factor)
        unblurred = sharpness(
            np.asarray(
                PILImage.fromarray(samples.astronaut()).resize((copy.shape[1], copy.shape[0]))
            ),
            face,
        )
        assert sharpness(copy, face) * BLUR_FACTOR < unblurred, copy.shape
    url = f"/api/v1/projects/{blurring.pk}/images/{image.pk}/file/"
    served = b"".join(client_for(annotator).get(url).streaming_content)
    assert sharpness(pixels_of(served), ASTRONAUT_FACE) * BLUR_FACTOR < sharp
    # Outside the face the picture is the photo's.
    assert sharpness(pixels_of(served), (300, 300, 500, 500)) > 0.5 * sharpness(
        samples.astronaut(), (300, 300, 500, 500)
    )
    assert b"".join(client_for(lead).get(url).streaming_content) == original


@pytest.mark.slow
def test_twenty_lfw_faces_are_blurred_whole(
    blurring, annotator, django_capture_on_commit_callbacks
):
    """Each 25-pixel face crop is found, and its thumbnail, the copy an annotator gets
    and the export member are blurred over nearly the whole crop."""
    faces = lfw_faces(20)
    files = {f"face{i}.png": encoded(face) for i, face in enumerate(faces)}
    images = ingest(blurring, files, django_capture_on_commit_callbacks)
    stream = ZipStream(faces=export_face_boxes(blurring))
    members = [StoredImage([f"{i.pk}.png"], i.file.name, i.format) for i in images]
    archive = b"".join([*stream.add_images(members), *stream.close()])
    exported = zipfile.ZipFile(io.BytesIO(archive))
    client = client_for(annotator)
    whole = (3, 3, 22, 22)
    for face, image in zip(faces, images, strict=True):
        assert image.faces_state == "done"
        regions = list(FaceRegion.objects.filter(image=image))
        assert regions, f"no face found on {image.original_name}"
        assert max(r.width * r.height for r in regions) > 0.5 * 25 * 25
        url = f"/api/v1/projects/{blurring.pk}/images/{image.pk}/file/"
        copies = {
            "thumbnail": image.thumbnail.read(),
            "file": b"".join(client.get(url).streaming_content),
            "export": exported.read(f"{image.pk}.png"),
        }
        for kind, content in copies.items():
            assert sharpness(pixels_of(content), whole) * BLUR_FACTOR < sharpness(face, whole), (
                image.original_name,
                kind,
            )


def test_a_faceless_photo_is_the_same_as_with_blurring_off(
    project, lead, django_capture_on_commit_callbacks, settings
):
    """The coffee's, the cat's and the rocket's copies are byte for byte those of a
    project that blurs nothing."""
    settings.LABELER_DISPLAY_SIZE = 300
    files = {
        name: encoded(getattr(samples, name)(), "JPEG") for name in ("coffee", "chelsea", "rocket")
    }
    plain = ingest(
        project, {f"{n}.jpg": c for n, c in files.items()}, django_capture_on_commit_callbacks
    )
    other = ProjectFactory(name="blurs", blur_faces=True)
    blurred = ingest(
        other, {f"{n}.jpg": c for n, c in files.items()}, django_capture_on_commit_callbacks
    )
    stream_plain, stream_blurred = ZipStream(), ZipStream(faces=export_face_boxes(other))
    for before, after in zip(plain, blurred, strict=True):
        assert after.faces_state == "done"
        assert not FaceRegion.objects.filter(image=after).exists()
        assert before.thumbnail.read() == after.thumbnail.read()
        assert before.display.read() == after.display.read()
        member = stream_plain._image_bytes(StoredImage(["a"], before.file.name, before.format))
        same = stream_blurred._image_bytes(StoredImage(["a"], after.file.name, after.format))
        assert member == same


def test_copies_are_not_served_before_the_faces_are_found(
    blurring, annotator, lead, django_capture_on_commit_callbacks
):
    """Fail closed: while an image's faces are pending, an annotator's file, thumbnail and
    display routes answer 409 with a message; the lead's answer the original; an export
    stops with a message."""
    (image,) = ingest(
        blurring,
        {"a.jpg": encoded(samples.astronaut(), "JPEG")},
        django_capture_on_commit_callbacks,
    )
    Image.objects.filter(pk=image.pk).update(faces_state="pending")
    base = f"/api/v1/projects/{blurring.pk}/images/{image.pk}"
    for route in ("file", "thumbnail"):
        response = client_for(annotator).get(f"{base}/{route}/")
        assert response.status_code == 409, route
        assert b"faces are found" in response.content
        assert client_for(lead).get(f"{base}/{route}/").status_code == 200
    stream = ZipStream(faces=export_face_boxes(blurring))
    with pytest.raises(ValidationFailed, match="not found yet"):
        stream._image_bytes(StoredImage(["a"], image.file.name, image.format))


def test_turning_it_on_finds_the_faces_of_images_stored_before(
    project, lead, django_capture_on_commit_callbacks
):
    """The setting's change finds the faces of the images already stored and makes their
    thumbnails again, blurred; turning it off makes them again unblurred."""
    (image,) = ingest(
        project, {"a.jpg": encoded(samples.astronaut(), "JPEG")}, django_capture_on_commit_callbacks
    )
    before = image.thumbnail.read()
    assert image.faces_state == ""
    with django_capture_on_commit_callbacks(execute=True):
        flows.project_update(project=project, blur_faces=True)
    image.refresh_from_db()
    assert image.faces_state == "done" and image.face_regions.count() == 1
    blurred = image.thumbnail.read()
    assert blurred != before
    with django_capture_on_commit_callbacks(execute=True):
        flows.project_update(project=project, blur_faces=False)
    image.refresh_from_db()
    assert image.thumbnail.read() == before


def test_turning_it_on_again_hides_the_unblurred_copies_at_once(
    project, lead, annotator, django_capture_on_commit_callbacks
):
    """On, off, then on again: the copies made unblurred while it was off are not served,
    nor the image handed out, from the moment the change commits, before any worker has
    found the faces again."""
    (image,) = ingest(
        project, {"a.jpg": encoded(samples.astronaut(), "JPEG")}, django_capture_on_commit_callbacks
    )
    for blur in (True, False):
        with django_capture_on_commit_callbacks(execute=True):
            flows.project_update(project=project, blur_faces=blur)
    image.refresh_from_db()
    assert image.faces_state == "done"  # as the first search left it; copies unblurred
    flows.project_update(project=project, blur_faces=True)  # its task not run
    image.refresh_from_db()
    assert image.faces_state == "pending"
    client = client_for(annotator)
    url = f"/api/v1/projects/{project.pk}/images/{image.pk}/file/"
    assert client.get(url).status_code == 409
    assert client.get(f"/api/v1/projects/{project.pk}/next/").status_code == 204


@pytest.mark.parametrize("export_format", ["imagefolder", "label-studio-zip", "hf-imagefolder"])
def test_every_zip_export_holds_the_blurred_face(
    blurring, lead, annotator, export_format, django_capture_on_commit_callbacks
):
    """The astronaut exported through the API as each zip format a lead can ask for: the
    image member has her face blurred, whatever the format's own copy rules."""
    original = encoded(samples.astronaut(), "JPEG")
    (image,) = ingest(blurring, {"astronaut.jpg": original}, django_capture_on_commit_callbacks)
    annotate(image, annotator, ["cat"])
    finalise(image, ["cat"])
    client = client_for(lead)
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(
            f"/api/v1/projects/{blurring.pk}/exports/", {"format": export_format}, format="json"
        )
    assert started.status_code == 202, started.json()
    detail = client.get(f"/api/v1/exports/{started.json()['id']}/").json()
    assert detail["status"] == "done", detail
    download = client.get(detail["download_url"])
    content = b"".join(download.streaming_content) if download.streaming else download.content
    archive = zipfile.ZipFile(io.BytesIO(content))
    pictures = [n for n in archive.namelist() if n.lower().endswith((".jpg", ".jpeg", ".png"))]
    assert pictures, archive.namelist()
    sharp = sharpness(samples.astronaut(), ASTRONAUT_FACE)
    for name in pictures:
        pixels = pixels_of(archive.read(name))
        assert pixels.shape[:2] == (512, 512), name
        assert sharpness(pixels, ASTRONAUT_FACE) * BLUR_FACTOR < sharp, name
