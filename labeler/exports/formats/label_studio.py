"""Label Studio's task JSON, written as a Label Studio server imports it.

What Label Studio 1.23 does with a task on import (``tasks/serializers.py``) shapes it:

- ``completed_by`` must be ``{"email": ...}`` naming a member of its organisation, or
  left out (the annotation is then the importing user's); a bare e-mail string or an id
  of ours is refused, and so the whole file. ``annotators=email`` names each person by
  e-mail (``labeler.exports.people``); ``annotators=none`` leaves everyone out.
- an annotation without ``ground_truth`` is taken as ground truth, so every annotator's
  annotation says ``false``; a final label a person decided or confirmed (adjudicated,
  gold, a confirmed machine label) follows as one more annotation, ``ground_truth:
  true``, by whoever decided it: how Label Studio shows a decision.
- ``meta`` is kept as it is, through its own exports too: it carries the image's final
  labels, their method, confidence and who decided (by e-mail), so that every final
  label, a consensus too, goes there and comes back; an image without one (a tie) has
  nulls there, and no ground-truth annotation.
- ``id``, ``created_at`` and ``updated_at`` are not kept (Label Studio numbers its tasks
  and dates annotations at the import); ``lead_time`` (seconds) is. They are written all
  the same for the readers of the file itself: ``meta.image_id`` keeps our id through a
  round trip.

Images are named by signed addresses a Label Studio page loads (``labeler.exports.links``),
or with ``image_urls=api`` by the REST API's file route as before; the label-studio-zip
format (``label_studio_zip``) carries the files themselves.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin

from django.urls import reverse

from labeler.errors import ValidationFailed
from labeler.exports.formats.source import ExportSource
from labeler.exports.links import export_link, link_expiry
from labeler.exports.options import LINK_DAYS_DEFAULT
from labeler.exports.people import export_emails
from labeler.exports.selectors import AnnotationRow, ImageRow
from labeler.images.stored.references import reference_uri

# The names a labelling config uses: <Image name="image" value="$image"/> and
# <Choices name="label" toName="image" choice="single|multiple">.
FROM_NAME = "label"
TO_NAME = "image"
# Final labels a person decided or confirmed (as reviewed_only counts them).
DECIDED_BY_A_PERSON = ("adjudicated", "gold", "machine")

Emails = dict[int, str] | None  # None: annotators are left out


def export_label_studio(source: ExportSource) -> Iterator[bytes]:
    """A JSON list of tasks: the image's address, each annotation, the final label, the
    prediction if asked."""
    image_url = image_url_maker(source)
    emails = annotator_emails(source)
    yield b"["
    for index, row in enumerate(source.rows()):
        task = label_studio_task(row, source, image_url=image_url(row), emails=emails)
        yield (("," if index else "") + json.dumps(task)).encode()
    yield b"]\n"


def annotator_emails(source: ExportSource) -> Emails:
    """Everyone's e-mail by user id, or None when the options leave annotators out."""
    if source.options.annotators == "none":
        return None
    return export_emails(source.project)


def label_studio_task(
    row: ImageRow, source: ExportSource, *, image_url: str, emails: Emails
) -> dict[str, Any]:
    """One image as a Label Studio task."""
    options = source.options
    task: dict[str, Any] = {
        "id": row.id,
        "data": {"image": image_url, "file_name": row.file_name},
        "meta": {
            "image_id": row.id,
            "sha256": row.sha256,
            "final_labels": row.final_labels,
            "final_method": row.final_method,
            "final_confidence": row.final_confidence,
            "final_decided_by": _email(emails, row.final_decided_by_id),
            **row.metadata(positions=source.project.export_keep_metadata),
        },
        "annotations": _annotations(row, emails, final_only=options.final_only),
    }
    if options.split:
        task["meta"]["split"] = row.split
    if options.predictions:
        task["predictions"] = _predictions(row, multi_label=source.project.multi_label)
    return task


def image_url_maker(source: ExportSource) -> Callable[[ImageRow], str]:
    """How each image is addressed: a signed absolute address, or the REST file route."""
    options = source.options
    if options.image_urls == "api":
        return lambda row: _api_url(row, source)
    if not source.base_url:
        raise ValidationFailed(
            "Signed image links need this site's address, taken from the request that "
            "starts the export: start it from the export page or the REST API, or choose "
            "image_urls=api.",
            field="image_urls",
        )
    if source.user_id is None:
        raise ValidationFailed(
            "Signed image links work while the lead who exported them leads the project; "
            "the account that started this export is gone: export again.",
            field="image_urls",
        )
    expires = link_expiry(options.link_expiry_days or LINK_DAYS_DEFAULT)
    project_id, user_id = source.project.pk, source.user_id
    origin = options.label_studio_origin or ""

    def signed(row: ImageRow) -> str:
        if not row.file:
            return row.file_name
        path = export_link(
            project_id=project_id, image_id=row.id, user_id=user_id, expires=expires, origin=origin
        )
        return urljoin(source.base_url, path)

    return signed


def _api_url(row: ImageRow, source: ExportSource) -> str:
    """The image's file in the REST API, which serves it to whoever may see the project
    (fetched with their token), or where an image read in place lies (s3://, file://)."""
    if not row.file:
        return row.file_name
    if uri := reference_uri(row.file):
        return uri
    path = reverse("api:image-file", kwargs={"project_pk": source.project.pk, "pk": row.id})
    return urljoin(source.base_url, path)


def _email(emails: Emails, user_id: int | None) -> str | None:
    if emails is None or user_id is None:
        return None
    return emails.get(user_id)


def _completed_by(emails: Emails, user_id: int | None) -> dict[str, Any]:
    """``{"completed_by": {"email": ...}}``, or nothing where the person is left out."""
    email = _email(emails, user_id)
    return {} if email is None else {"completed_by": {"email": email}}


def _result(choices: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "from_name": FROM_NAME,
            "to_name": TO_NAME,
            "type": "choices",
            "value": {"choices": choices},
        }
    ]


def _annotations(row: ImageRow, emails: Emails, *, final_only: bool) -> list[dict[str, Any]]:
    """Each annotator's (unless final only), then the decision as ground truth: a person's
    decision always, any final label when final only."""
    given = [] if final_only else [_given(annotation, emails) for annotation in row.annotations]
    decided = row.final_labels is not None and (
        final_only or row.final_method in DECIDED_BY_A_PERSON
    )
    return [*given, _ground_truth(row, emails)] if decided else given


def _given(annotation: AnnotationRow, emails: Emails) -> dict[str, Any]:
    spent = annotation.time_spent_ms
    return {
        "result": _result(annotation.labels),
        **_completed_by(emails, annotation.annotator_id),
        "ground_truth": False,
        "created_at": annotation.created_at,
        "updated_at": annotation.updated_at,
        "lead_time": None if spent is None else spent / 1000,
    }


def _ground_truth(row: ImageRow, emails: Emails) -> dict[str, Any]:
    """The final label as a ground-truth annotation, by whoever decided it where a person
    did (otherwise Label Studio credits it to whoever imports the file)."""
    assert row.final_labels is not None
    by_a_person = row.final_method in DECIDED_BY_A_PERSON
    return {
        "result": _result(row.final_labels),
        **_completed_by(emails, row.final_decided_by_id if by_a_person else None),
        "ground_truth": True,
        "updated_at": row.final_updated_at,
    }


def _predictions(row: ImageRow, *, multi_label: bool) -> list[dict[str, Any]]:
    """The current model's top label (every label at 0.5 or more when multi-label)."""
    if row.prediction is None or not row.prediction["probabilities"]:
        return []
    probabilities: dict[str, float] = row.prediction["probabilities"]
    if multi_label:
        choices = sorted(name for name, p in probabilities.items() if p >= 0.5)
    else:
        choices = [max(probabilities, key=lambda name: probabilities[name])]
    return [
        {
            "model_version": str(row.prediction["version"]),
            "score": max(probabilities.values()),
            "result": _result(choices),
        }
    ]
