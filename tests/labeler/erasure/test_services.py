"""Erasure end to end: real photos ingested, labelled, exported, served and kept as model
inputs; one erased, then every file the product keeps is read for its bytes and hash."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage
from skimage import data as photos

from labeler import flows
from labeler.erasure.models import Erasure
from labeler.erasure.services import ErasurePlan, images_erase
from labeler.exports.models import Export, ExportStatus
from labeler.images.delivery.explanation_files import explanation_overlay_name
from labeler.images.delivery.served import image_bytes_for
from labeler.images.models import FaceRegion, Image
from labeler.images.services import image_prepare
from labeler.predictions.models import ModelVersion
from labeler.projects.models import Project
from labeler.serving.models import PredictionJob, ServedPrediction
from tests.conftest import client_for
from tests.labeler.exports.data import annotate, finalise

PHOTOS = {
    "astronaut.jpg": photos.astronaut,
    "coffee.jpg": photos.coffee,
    "chelsea.png": photos.chelsea,
    "rocket.jpg": photos.rocket,
}
FORMATS = ("imagefolder", "coco", "csv", "label-studio-zip", "jsonl")


def encoded(name: str) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(PHOTOS[name]()).save(
        buffer, format="PNG" if name.endswith("png") else "JPEG"
    )
    return buffer.getvalue()


def stored_files() -> Iterator[tuple[str, bytes]]:
    """Every file under the media, model and model-input folders, and every member of
    every zip among them: (where, bytes)."""
    roots = [settings.MEDIA_ROOT, settings.LABELER_MODEL_DIR, settings.LABELER_INPUT_CACHE_DIR]
    for root in map(Path, roots):
        for path in sorted(root.rglob("*")) if root.exists() else []:
            if not path.is_file():
                continue
            content = path.read_bytes()
            yield str(path), content
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    for member in archive.namelist():
                        yield f"{path}!{member}", archive.read(member)


def traces(needles: dict[str, bytes]) -> list[str]:
    """Where any of the needles lies: in a file's bytes, or in its path or member name."""
    found = []
    for where, content in stored_files():
        for what, needle in needles.items():
            if needle in content or needle.decode("latin-1") in where:
                found.append(f"{what} in {where}")
    return found


@pytest.fixture
def blurring(project):
    """The project blurs faces (asked before ``kept`` stores its photos)."""
    Project.objects.filter(pk=project.pk).update(blur_faces=True)
    project.refresh_from_db()
    return project


@pytest.fixture
def kept(project, lead, annotator, settings, django_capture_on_commit_callbacks):
    """Four photos stored, prepared (with display copies), labelled, exported in several
    formats, explained, served and kept as model inputs, with a model version trained
    after their labels."""
    settings.LABELER_DISPLAY_SIZE = 256
    with django_capture_on_commit_callbacks(execute=True):
        results = flows.images_ingest(
            project=project,
            files=[SimpleUploadedFile(name, encoded(name)) for name in PHOTOS],
        )
    images = [Image.objects.get(pk=result.image_id) for result in results]
    for index, image in enumerate(images):
        image_prepare(image_id=image.pk, input_specs=[(32, False), (64, True)])
        annotate(image, annotator, ["cat" if index % 2 else "dog"])
        finalise(image, ["cat" if index % 2 else "dog"])
        image_bytes_for(name=image.file.name, originals=False)  # its stripped copy
    images = [Image.objects.get(pk=image.pk) for image in images]
    target = images[0]
    assert target.thumbnail and target.display
    ModelVersion.objects.create(project=project, version=1, validation_image_ids=[target.pk])
    overlay = explanation_overlay_name(
        project_id=project.pk, image_file=target.file.name, version_id=1, label_id=1
    )
    default_storage.save(overlay, ContentFile(target.thumbnail.read()))
    ServedPrediction.objects.create(project=project, image_sha256=target.sha256, probability=0.9)
    job = PredictionJob.objects.create(project=project, status="done")
    upload = default_storage.save(
        f"serving/jobs/{job.pk}/0-{target.sha256[:16]}", ContentFile(target.file.read())
    )
    job.inputs = [{"name": "x.jpg", "sha256": target.sha256, "uploaded": True, "file": upload}]
    job.save()
    client = client_for(lead)
    with django_capture_on_commit_callbacks(execute=True):
        for format_name in FORMATS:
            response = client.post(
                f"/api/v1/projects/{project.pk}/exports/", {"format": format_name}, format="json"
            )
            assert response.status_code == 202, response.json()
    assert Export.objects.filter(status=ExportStatus.DONE).count() == len(FORMATS)
    return images


def needles_of(image: Image) -> dict[str, bytes]:
    return {
        "original": Path(image.file.path).read_bytes(),
        "sha256": image.sha256.encode(),
        "thumbnail": Path(image.thumbnail.path).read_bytes(),
    }


def test_an_erased_image_leaves_no_trace_in_any_stored_file(
    project, lead, kept, django_capture_on_commit_callbacks
):
    """Original, thumbnail, display, stripped copy, explanation, model inputs, export zips
    and a served job's upload all go; the other photos' files stay; the report says so."""
    target, others = kept[0], kept[1:]
    needles = needles_of(target)
    assert hashlib.sha256(needles["original"]).hexdigest() == target.sha256
    assert len(traces(needles)) > 10  # found before: the walk would see them
    assert ModelVersion.objects.get(project=project).trained_on_erased == 0

    with django_capture_on_commit_callbacks(execute=True):
        report = images_erase(
            project=project,
            query={"image_ids": [target.pk]},
            actor=lead,
            reason="Asked 3 May",
            expected_count=1,
        )

    assert isinstance(report, Erasure)
    assert traces(needles) == []
    for other in others:  # untouched, originals and thumbnails
        assert Path(other.file.path).read_bytes() and Path(other.thumbnail.path).exists()
    assert not Image.objects.filter(pk=target.pk).exists()
    assert ServedPrediction.objects.count() == 0 and PredictionJob.objects.count() == 0
    assert Export.objects.count() == 0  # every export held it
    assert report.image_ids == [target.pk] and report.image_count == 1
    assert report.files["original"] == 1 and report.files["thumbnail"] == 1
    assert report.files["export"] == len(FORMATS) and report.files["served upload"] == 1
    assert sorted(report.exports_deleted) and report.served_deleted == 1
    assert report.versions_marked == {"1": 1} or report.versions_marked == {1: 1}
    version = ModelVersion.objects.get(project=project)
    assert version.trained_on_erased == 1 and version.erased_at is not None
    text = str(Erasure.objects.filter(pk=report.pk).values().get())
    assert target.sha256 not in text and target.original_name not in text


def test_a_metadata_query_erases_what_it_matches_and_a_dry_run_changes_nothing(
    project, lead, kept, django_capture_on_commit_callbacks
):
    """A filter picks by origin; the dry run lists exactly what the erasure then removes."""
    chosen = kept[1:3]
    Image.objects.filter(pk__in=[image.pk for image in chosen]).update(origin="subject-17")
    needles = {
        f"{image.pk}-{kind}": value for image in chosen for kind, value in needles_of(image).items()
    }
    query = {"filter": {"origin": "subject-17"}}

    plan = images_erase(project=project, query=query, actor=lead, reason=None, dry_run=True)
    assert isinstance(plan, ErasurePlan)
    assert plan.image_ids == [image.pk for image in chosen]
    assert len(plan.exports) == len(FORMATS) and plan.files["original"] == 2
    assert Image.objects.filter(project=project).count() == 4  # nothing gone

    with django_capture_on_commit_callbacks(execute=True):
        report = images_erase(
            project=project, query=query, actor=lead, reason="Request 17", expected_count=2
        )
    assert report.image_ids == plan.image_ids and report.query == query
    assert traces(needles) == []
    assert sorted(Image.objects.values_list("pk", flat=True)) == [kept[0].pk, kept[3].pk]


def test_an_export_not_holding_the_image_is_kept(
    project, lead, kept, django_capture_on_commit_callbacks
):
    """The export's list of images decides: one written of other images stays."""
    target = kept[0]
    Export.objects.exclude(format="csv").delete()
    Export.objects.filter(format="csv").update(image_id_runs=[[kept[1].pk, kept[3].pk]])
    with django_capture_on_commit_callbacks(execute=True):
        report = images_erase(
            project=project,
            query={"image_ids": [target.pk]},
            actor=lead,
            reason="asked",
            expected_count=1,
        )
    assert report.exports_deleted == [] and Export.objects.count() == 1


def test_a_project_deletion_takes_its_model_inputs_exports_and_served_uploads(
    project, kept, django_capture_on_commit_callbacks
):
    needles = needles_of(kept[0])
    with django_capture_on_commit_callbacks(execute=True):
        flows.project_delete(project=project)
    assert traces(needles) == []


def test_with_faces_blurred_the_blurred_copies_and_boxes_go_too(
    project, lead, annotator, blurring, kept, django_capture_on_commit_callbacks
):
    """In a project that blurs faces, the astronaut's boxes, her blurred full-size copy
    and the blurred export members go with her; nothing of her is left in storage."""
    target = kept[0]
    assert FaceRegion.objects.filter(image=target).exists()
    answer = client_for(annotator).get(f"/api/v1/projects/{project.pk}/images/{target.pk}/file/")
    assert answer.status_code == 200, answer.content[:200]
    blurred_copy = b"".join(answer.streaming_content) if answer.streaming else answer.content
    assert blurred_copy != Path(target.file.path).read_bytes()
    needles = {**needles_of(target), "blurred copy": blurred_copy}
    assert any("blurred copy" in where for where in traces(needles))

    with django_capture_on_commit_callbacks(execute=True):
        images_erase(
            project=project,
            query={"image_ids": [target.pk]},
            actor=lead,
            reason="x",
            expected_count=1,
        )

    assert traces(needles) == []
    assert not FaceRegion.objects.filter(image_id=target.pk).exists()


def test_a_project_deletion_with_faces_blurred_leaves_no_blurred_copy(
    project, annotator, blurring, kept, django_capture_on_commit_callbacks
):
    """Deleting a project that blurs faces takes every image's blurred copies with it."""
    target = kept[0]
    answer = client_for(annotator).get(f"/api/v1/projects/{project.pk}/images/{target.pk}/file/")
    assert answer.status_code == 200
    blurred_copy = b"".join(answer.streaming_content) if answer.streaming else answer.content
    needles = {**needles_of(target), "blurred copy": blurred_copy}
    with django_capture_on_commit_callbacks(execute=True):
        flows.project_delete(project=project)
    assert traces(needles) == []
    blurred = Path(settings.MEDIA_ROOT) / "blurred"
    assert not [path for path in blurred.rglob("*") if path.is_file()]
