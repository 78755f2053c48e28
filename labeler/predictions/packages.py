"""A model version packaged for download: asked for, made by a worker, fetched by a link.

A lead asks (``model_package_request``, idempotent): a worker writes the version's
TorchScript file, its ONNX file and its card (Markdown and JSON) into the version's own
folder under ``LABELER_MODEL_DIR`` (``package_folder``), each whole or not at all, and
only the files missing there (a package is never rebuilt while its files lie there).
The files are fetched one by one at signed addresses (``package_link``), made for one
lead and signed by the one signer of stored files' addresses
(``labeler.images.delivery.links``): an address works for between a half and a whole
``LABELER_FILE_LINK_SECONDS`` and only while the lead who asked still leads the project.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from labeler import jobs
from labeler.annotations.models import FinalLabel
from labeler.audit.models import Action
from labeler.audit.services import audit_record
from labeler.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from labeler.images.delivery.links import file_reader, link_signed, link_state
from labeler.predictions.models import ModelPackage, ModelVersion, PackageStatus
from labeler.task_names import Task

# kind -> (file name in the version's folder, content type); the order of the page's links.
FILES = {
    "onnx": ("model.onnx", "application/octet-stream"),
    "torchscript": ("model.torchscript.pt", "application/octet-stream"),
    "card_md": ("model-card.md", "text/markdown; charset=utf-8"),
    "card_json": ("model-card.json", "application/json"),
}
MODEL_FILES = ("onnx", "torchscript")
# A packaging running for longer than this was lost with its worker (it takes a minute or
# two): asking again starts it again.
STALE_SECONDS = 30 * 60
EXPIRED = "This download address has expired: ask for the model's download again for a new one."
FORGED = "This download address is not valid: it was changed or made for someone else."
NO_LONGER = "The lead this download address was made for no longer leads the project."


class LinkExpired(DomainError):
    """A signed address that was valid once and is too old now."""

    status_code = 410
    code = "expired"


def package_folder(version: ModelVersion) -> Path:
    """Where the version's package lies: beside its weights, one folder a version."""
    return Path(settings.LABELER_MODEL_DIR) / f"project-{version.project_id}/package-{version.pk}"


def package_path(version: ModelVersion, kind: str) -> Path:
    """The path of one of the package's files (``FILES``)."""
    return package_folder(version) / FILES[kind][0]


def package_missing(version: ModelVersion) -> list[str]:
    """The kinds of the package's files not (or no longer) in its folder."""
    return [kind for kind in FILES if not package_path(version, kind).is_file()]


def model_package_request(*, version: ModelVersion) -> ModelPackage:
    """Have the version packaged: queued once; nothing is done while it is queued or
    running (for less than ``STALE_SECONDS``), or when it is ready and every file is
    there. Raises ValidationFailed for a version without weights."""
    if not version.weights:
        raise ValidationFailed(
            f"Model version {version.version} has no weights file to package.", field="version"
        )
    with transaction.atomic():
        package, created = ModelPackage.objects.select_for_update().get_or_create(
            model_version=version
        )
        waiting = package.status == PackageStatus.QUEUED or (
            package.status == PackageStatus.RUNNING
            and package.started_at is not None
            and (timezone.now() - package.started_at).total_seconds() < STALE_SECONDS
        )
        if not created and (waiting or _ready(package, version)):
            return package
        package.status, package.message, package.files = PackageStatus.QUEUED, "", {}
        package.started_at = package.finished_at = None
        package.save()
        jobs.enqueue(Task.ML_PACKAGE, version.pk)
    return package


def _ready(package: ModelPackage, version: ModelVersion) -> bool:
    return package.status == PackageStatus.READY and not package_missing(version)


def model_package_begin(*, version_id: int) -> ModelVersion | None:
    """Mark the version's packaging running; the version, or None when it is gone."""
    with transaction.atomic():
        package = (
            ModelPackage.objects.select_for_update()
            .select_related("model_version")
            .filter(model_version_id=version_id)
            .first()
        )
        if package is None:
            return None
        package.status, package.started_at = PackageStatus.RUNNING, timezone.now()
        package.save(update_fields=["status", "started_at"])
    return package.model_version


def model_package_finish(*, version_id: int, files: dict[str, dict[str, Any]]) -> None:
    """Record the packaging done and what it wrote ({kind: {name, bytes, sha256}})."""
    ModelPackage.objects.filter(model_version_id=version_id).update(
        status=PackageStatus.READY, files=files, message="", finished_at=timezone.now()
    )


def model_package_fail(*, version_id: int, message: str) -> None:
    """Record why the packaging failed; asking again starts it again."""
    ModelPackage.objects.filter(model_version_id=version_id).update(
        status=PackageStatus.FAILED, message=message[:2000], finished_at=timezone.now()
    )


def training_pairs(image_ids: list[int]) -> list[tuple[str, list[str]]]:
    """(image content sha256, final label names) of those of the images with a final label."""
    rows = FinalLabel.objects.filter(image_id__in=image_ids).values_list(
        "image__sha256", "labels__name"
    )
    pairs: dict[str, list[str]] = {}
    for sha, name in rows:
        names = pairs.setdefault(sha, [])
        if name is not None:
            names.append(name)
    return sorted(pairs.items())


def _link_name(version: ModelVersion, kind: str) -> str:
    return f"model/{version.project_id}/{version.pk}/{kind}"


def package_links(*, version: ModelVersion, user: User) -> dict[str, str]:
    """The signed address of each of the package's files, made for this user."""
    links = {}
    for kind in FILES:
        issued, signature = link_signed(_link_name(version, kind), user_id=user.pk)
        kwargs = {
            "pk": version.pk, "kind": kind, "user_id": user.pk, "issued": issued,
            "signature": signature,
        }  # fmt: skip
        links[kind] = reverse("api:model-package-file", kwargs=kwargs)
    return links


@dataclass(frozen=True)
class PackageFile:
    """A file of a package to send, and the name the browser is told."""

    path: Path
    download_name: str
    content_type: str
    max_age: int


def package_file_open(
    *, version_id: int, kind: str, user_id: int, issued: int, signature: str
) -> PackageFile:
    """The file a signed address stands for. Raises PermissionDenied (changed or made up,
    or its lead no longer leads), LinkExpired, or NotFound (no such file)."""
    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is None or kind not in FILES:
        raise PermissionDenied(FORGED)
    name = _link_name(version, kind)
    state = link_state(name=name, issued=issued, signature=signature, user_id=user_id)
    if state == "forged":
        raise PermissionDenied(FORGED)
    if state == "expired":
        raise LinkExpired(EXPIRED)
    reader = file_reader(project_id=version.project_id, user_id=user_id)
    if reader is None or not reader.originals:  # staff, or a lead of the project
        raise PermissionDenied(NO_LONGER)
    path = package_path(version, kind)
    if not path.is_file():
        raise NotFound("This file of the package is missing: ask for the download again.")
    file_name, content_type = FILES[kind]
    audit_record(
        action=Action.MODEL_DOWNLOADED,
        actor=User.objects.filter(pk=user_id).first(),
        project=version.project_id,
        target=("model_version", version.pk, f"version {version.version} {kind}"),
        details={"file": kind},
    )
    remaining = issued + int(settings.LABELER_FILE_LINK_SECONDS) - int(timezone.now().timestamp())
    return PackageFile(
        path=path,
        download_name=f"model-{version.project_id}-v{version.version}-{file_name}",
        content_type=content_type,
        max_age=max(0, remaining),
    )
