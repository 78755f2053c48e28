"""A Labelbox export (export v2, NDJSON: a data row a line), person by person."""

from __future__ import annotations

import math
import posixpath
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from labeler.imports.reading.loader import (
    LabelSourceError,
    jsonl_parse,
    list_field,
    moment_text,
    object_field,
    text_field,
)
from labeler.imports.reading.matching import normalised
from labeler.imports.reading.records import (
    ADJUDICATED,
    GOLD,
    AnnotationIn,
    DecisionIn,
    ImageRecords,
    Person,
    RecordsFile,
    Skipped,
    email_key,
)
from labeler.imports.reading.tool_formats.names import name_add
from labeler.words import counted

# An annotation's time spent is kept up to a day, as the annotation service allows: a
# longer one is a page left open, not work.
MAX_LEAD_TIME_MS = 24 * 3600 * 1000


def labelbox_ndjson_records(text: str) -> RecordsFile:
    """The records of a Labelbox export (export v2 NDJSON: a data row a line).

    A row's file key is its ``data_row.external_id``, else its ``global_key``, else the
    file name in ``row_data``. Each label of each project (``projects.<id>.labels``) is an
    annotation by ``label_details.created_by`` (an e-mail), with its ``created_at``,
    ``updated_at`` and ``performance_details.seconds_to_create``; its labels are the
    answers of its classifications (a radio's ``radio_answer``, a checklist's
    ``checklist_answers``, by name). The benchmark label the others refer to
    (``benchmark_reference_label``) is the image's gold decision instead of an
    annotation; a label a reviewer approved (``label_details.reviews``) gives an
    adjudicated decision. Skipped labels, labels with no classification and rows with no
    label are listed as skipped.
    """
    result = RecordsFile()
    for number, row in jsonl_parse(text):
        result.tasks += 1
        _labelbox_row(result, object_field(row, f"line {number}"), f"line {number}")
    if not result.tasks:  # an empty file is no export: importing it would label nothing
        raise LabelSourceError("The file is empty; a Labelbox export holds a data row a line.")
    return result


def _labelbox_row(result: RecordsFile, row: dict[str, Any], where: str) -> None:
    """Add a data row's labels: each its author's annotation, or the benchmark (gold);
    the latest approval of one of them is the adjudicated decision."""
    key = _labelbox_key(object_field(row.get("data_row"), f"{where}: data_row"), where)
    labels = _labelbox_labels(row, where)
    if not labels:
        result.skipped.append(Skipped(where, f"no label on {key!r} in the export"))
        return
    references = {_benchmark_reference(label, at) for at, label in labels} - {""}
    annotations: list[AnnotationIn] = []
    gold = approved = None
    for at, label in labels:
        annotation = _labelbox_annotation(result, label, at)
        if annotation is None:
            continue
        if isinstance(label.get("id"), str) and label["id"] in references:
            gold = DecisionIn(
                list(annotation.labels),
                GOLD,
                f"{at} (benchmark)",
                annotation.person,
                annotation.created_at,
            )
            continue
        annotations.append(annotation)
        review = _labelbox_approval(label, at)
        if review is not None and (approved is None or _later(review[1], approved.decided_at)):
            approved = DecisionIn(list(annotation.labels), ADJUDICATED, f"{at} (approved)", *review)
    if annotations or gold or approved:
        result.add(key, ImageRecords(annotations, gold or approved, where=where))


def _labelbox_key(data_row: dict[str, Any], where: str) -> str:
    """The row's file key: its external id, else its global key, else its URL's file name."""
    for field in ("external_id", "global_key"):
        if data_row.get(field) not in (None, ""):
            return normalised(text_field(data_row[field], f"{where}: data_row.{field}"))
    row_data = text_field(data_row.get("row_data"), f"{where}: data_row.row_data")
    return _url_file_name(row_data, f"{where}: data_row.row_data")


def _labelbox_labels(row: dict[str, Any], where: str) -> list[tuple[str, dict[str, Any]]]:
    """Every label of the row, of every project, with where it is (``line 3: label 2``)."""
    projects = object_field(row.get("projects") or {}, f"{where}: projects")
    found: list[tuple[str, dict[str, Any]]] = []
    for project_id, project in projects.items():
        at = f"{where}: projects.{project_id}"
        project = object_field(project, at)
        for label in list_field(project.get("labels") or [], f"{at}.labels"):
            label_at = f"{where}: label {len(found) + 1}"
            found.append((label_at, object_field(label, label_at)))
    return found


def _benchmark_reference(label: dict[str, Any], where: str) -> str:
    """The id of the benchmark label this label is compared with, if any."""
    details = object_field(label.get("performance_details") or {}, f"{where}: performance")
    reference = details.get("benchmark_reference_label", label.get("benchmark_reference_label"))
    return "" if reference is None else text_field(reference, f"{where}: benchmark reference")


def _labelbox_annotation(
    result: RecordsFile, label: dict[str, Any], where: str
) -> AnnotationIn | None:
    """The label as its author's annotation, or None (and why, listed) when it gives none."""
    details = object_field(label.get("label_details") or {}, f"{where}: label_details")
    performance = object_field(label.get("performance_details") or {}, f"{where}: performance")
    if "created_by" not in details:
        raise LabelSourceError(
            f"{where}: label_details.created_by (the labeller's e-mail) is missing: export "
            "with the label details."
        )
    email = text_field(details["created_by"], f"{where}: label_details.created_by").strip()
    if performance.get("skipped") is True:
        result.skipped.append(Skipped(where, f"skipped in Labelbox by {email}"))
        return None
    names, reason = _labelbox_names(label, where)
    if not names:
        result.skipped.append(Skipped(where, reason))
        return None
    return AnnotationIn(
        Person(key=email_key(email), email=email),
        names,
        where=where,
        created_at=_date_field(details.get("created_at"), f"{where}: created_at"),
        updated_at=_date_field(details.get("updated_at"), f"{where}: updated_at"),
        lead_time_ms=_lead_time(result, performance.get("seconds_to_create"), where),
    )


def _labelbox_names(label: dict[str, Any], where: str) -> tuple[list[str], str]:
    """The label names its classifications answer, or none and why."""
    annotations = object_field(label.get("annotations") or {}, f"{where}: annotations")
    items = list_field(annotations.get("classifications") or [], f"{where}: classifications")
    names: list[str] = []
    for number, item in enumerate(items, start=1):
        at = f"{where}: classification {number}"
        item = object_field(item, at)
        if "radio_answer" in item:
            name_add(names, _answer_name(item["radio_answer"], f"{at}: radio_answer"))
        for answer in list_field(item.get("checklist_answers") or [], f"{at}: checklist_answers"):
            name_add(names, _answer_name(answer, f"{at}: checklist answer"))
    objects = list_field(annotations.get("objects") or [], f"{where}: objects")
    if names:
        return names, ""
    if objects:
        return [], f"{counted(len(objects), 'object')} (boxes, masks...) but no classification"
    if items:
        return [], "no radio or checklist answer (free text names no label)"
    return [], "no classification: an empty label"


def _answer_name(answer: Any, where: str) -> str:
    answer = object_field(answer, where)
    name = answer.get("name", answer.get("value"))
    return text_field(name, f"{where}: name").strip()


def _labelbox_approval(label: dict[str, Any], where: str) -> tuple[Person, datetime | None] | None:
    """Who approved the label last, and when (its ``Approve`` reviews)."""
    details = object_field(label.get("label_details") or {}, f"{where}: label_details")
    latest: tuple[Person, datetime | None] | None = None
    reviews = list_field(details.get("reviews") or [], f"{where}: reviews")
    for number, review in enumerate(reviews, start=1):
        at = f"{where}: review {number}"
        review = object_field(review, at)
        action = review.get("review_action")
        if not isinstance(action, str) or action.strip().lower() not in ("approve", "approved"):
            continue
        email = text_field(review.get("reviewed_by"), f"{at}: reviewed_by").strip()
        when = _date_field(review.get("reviewed_at"), f"{at}: reviewed_at")
        if latest is None or _later(when, latest[1]):
            latest = (Person(key=email_key(email), email=email), when)
    return latest


def _date_field(value: Any, where: str) -> datetime | None:
    """An ISO 8601 date and time (``2024-04-08T16:21:26.000+00:00``, ``...Z``), or None;
    UTC where it names no zone, refused where no time zone could show it."""
    if value is None or value == "":
        return None
    return moment_text(text_field(value, where), where)


def _lead_time(result: RecordsFile, seconds: Any, where: str) -> int | None:
    """Seconds spent on a label as milliseconds; one over a day is listed, not kept."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise LabelSourceError(f"{where}: seconds_to_create must be a number of seconds.")
    if not math.isfinite(seconds) or seconds < 0:
        raise LabelSourceError(f"{where}: seconds_to_create must be 0 or more.")
    if seconds * 1000 > MAX_LEAD_TIME_MS:
        result.skipped.append(
            Skipped(
                f"{where}: seconds_to_create",
                f"{seconds:,.0f} s is over a day: the annotation is kept without its time",
            )
        )
        return None
    return round(seconds * 1000)


def _later(when: datetime | None, than: datetime | None) -> bool:
    """Whether ``when`` is later than ``than``: an unknown date is the earliest, one
    without a time zone is in UTC."""
    if when is None or than is None:
        return than is None
    return _in_utc(when) > _in_utc(than)


def _in_utc(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _url_file_name(reference: str, where: str) -> str:
    """The file name at the end of a URL or path, decoded (``dog%20two.png``)."""
    try:
        path = urlsplit(reference.strip()).path
    except ValueError as exc:
        raise LabelSourceError(f"{where} {reference[:200]!r} is not a URL ({exc}).") from None
    name = posixpath.basename(unquote(path).replace("\\", "/"))
    return text_field(name, f"{where}: its file name")
