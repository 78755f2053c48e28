"""Label Studio's JSON export, person by person: a list of tasks, each with its image
and its annotations (the CSV and TSV exports are read by ``label_studio_csv``, with the
fields read here).

Every annotation that was not cancelled is one person's labels on one image, credited as
Label Studio names the person: ``completed_by`` an id (``ls:3``), the object a snapshot
export expands it to (``{id, email, first_name, last_name}``: ``ls:3`` and the e-mail),
or an e-mail. A ground truth annotation is the image's gold decision by its author, not
an annotation; an annotation a reviewer accepted (Label Studio Enterprise's ``reviews``)
gives the image an adjudicated decision by the reviewer; the final label our own export
writes in the task (``final_labels``, ``final_method``, ``final_decided_by``) is carried
with its method. What is not used is listed as skipped, with the reason: nothing is dropped
without a word.

An image is keyed by the file Label Studio names (``label_studio_file_key``), or by the
``data.file_name`` our own export writes. What a task's ``meta`` and ``data`` say of its
image beside the labels (capture time, position, origin, fields...: our export writes
them in ``meta``) is its metadata (``labeler.imports.reading.metadata_in``). Plain Python, no
Django: the command-line client reads these files the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from labeler.imports.reading.loader import (
    LabelSourceError,
    flag_field,
    id_field,
    json_parse,
    list_field,
    moment_text,
    names_field,
    number_field,
    object_field,
    text_field,
)
from labeler.imports.reading.matching import normalised
from labeler.imports.reading.metadata_in import metadata_of_object
from labeler.imports.reading.records import (
    ADJUDICATED,
    GOLD,
    IMPORTED,
    AnnotationIn,
    DecisionIn,
    ImageRecords,
    Person,
    RecordsFile,
    Skipped,
    email_key,
)

# Whoever Label Studio no longer names: the author of an annotation whose user was
# deleted (``completed_by`` null; the CSV export writes "None") or never given. Several
# on one task are several people (``unknown_authors_apart``): ls:unknown, ls:unknown-2...
UNKNOWN = Person("ls:unknown")
# How our own export names the way a final label was made, and what an import records:
# a consensus is not carried (it is worked out again from the annotations), a machine's
# label comes in as imported.
FINAL_METHODS: dict[str, str | None] = {
    "gold": GOLD,
    "adjudicated": ADJUDICATED,
    "imported": IMPORTED,
    "machine": IMPORTED,
    "consensus": None,
}
CANCELLED = "cancelled in Label Studio (skipped by the annotator)"
NOT_LABELLED = "no annotations: the task was not labelled"
# The time an annotation took, in ms, as the database holds it (24 days); longer is left out.
MAX_LEAD_TIME_MS = 2**31 - 1
MAX_EMAIL, MAX_USERNAME = 254, 150
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DIGITS = re.compile(r"[0-9]{1,18}")
UPLOAD_PATH, LOCAL_FILES_PATH = "/data/upload/", "/data/local-files"


Field = Callable[[str], tuple[Any, str]]  # a task field by name: (value, where)


def label_studio_records_of(data: Any) -> RecordsFile:
    """Every person's labels in a Label Studio JSON export (the parsed list of tasks)."""
    records = RecordsFile()
    for one in label_studio_tasks_records(data):
        records.tasks += 1
        records.skipped += one.skipped
        for key, image in one.images.items():
            records.add(key, image)
    records.people_joined()
    return records


def label_studio_tasks_records(data: Any) -> Iterator[RecordsFile]:
    """The records of each task of a Label Studio JSON export, a task at a time."""
    if not isinstance(data, list):
        raise LabelSourceError("A Label Studio export is a JSON list of tasks.")
    for number, task in enumerate(data, start=1):
        records = RecordsFile(tasks=1)
        _task_read(records, task, f"Task {number}")
        unknown_authors_apart(records)
        yield records


def unknown_authors_apart(records: RecordsFile) -> None:
    """Keep apart the annotations of one image whose authors Label Studio no longer names:
    each is one person labelling a task once, so the second is ``ls:unknown-2`` and so
    on, never one person who "labelled it again". Across tasks they cannot be told apart:
    the first unknown author of every task is one placeholder, ``ls:unknown``."""
    for image in records.images.values():
        count = 0
        for annotation in image.annotations:
            if annotation.person == UNKNOWN:
                count += 1
                if count > 1:
                    annotation.person = Person(f"{UNKNOWN.key}-{count}")


def _task_read(records: RecordsFile, task: Any, where: str) -> None:
    task = object_field(task, where)
    if "data" not in task and "annotator" in task:
        raise LabelSourceError(
            f"{where} has no data: this is Label Studio's JSON-MIN export, which drops "
            "who cancelled and what was ground truth; export JSON instead."
        )
    data = object_field(task.get("data"), f"{where}: data")
    meta = object_field(task.get("meta") or {}, f"{where}: meta")
    key = _task_key(data, where)
    image = ImageRecords(where=where, sha256=sha256_of(meta.get("sha256"), f"{where}: meta.sha256"))
    listed = task["annotations"] if "annotations" in task else task.get("completions")
    annotations = list_field([] if listed is None else listed, f"{where}: annotations")
    golds: list[DecisionIn] = []
    reviews: list[DecisionIn] = []
    for number, annotation in enumerate(annotations, start=1):
        found, accepted = _annotation_read(
            annotation, f"{where}: annotation {number}", records.skipped
        )
        if isinstance(found, Skipped):
            records.skipped.append(found)
        elif isinstance(found, DecisionIn):
            golds.append(found)
        else:
            image.annotations.append(found)
        reviews.extend(accepted)

    def field(name: str) -> tuple[Any, str]:
        if name in meta:
            return meta[name], f"{where}: meta.{name}"
        return data.get(name), f"{where}: data.{name}"

    own = own_decision(field, golds, where, records, annotated=bool(image.annotations))
    if field("final_method")[0] not in (None, ""):
        # Our own export writes its final label as ground truth too (an older one only
        # there): that one is the same decision. Ground truth with other labels was set
        # in Label Studio since: it is carried where the final label is not, else listed.
        final = own.labels if own else _final_labels(*field("final_labels"))
        same = set(final or (golds[0].labels if golds else []))
        golds = [gold for gold in golds if set(gold.labels) != same]
    reviews.sort(key=lambda review: review.decided_at or datetime.min.replace(tzinfo=UTC))
    _decide(image, [*([own] if own else []), *golds, *reversed(reviews)], records)
    metadata = metadata_of_object(meta, where=f"{where}: meta")
    metadata.merge(metadata_of_object(data, where=f"{where}: data", skip=("image",)))
    image.metadata = metadata or None
    if image.annotations or image.decision is not None or image.metadata is not None:
        records.add(key, image)
    if not annotations and image.decision is None:
        records.skipped.append(Skipped(where, NOT_LABELLED))


def _annotation_read(
    annotation: Any, where: str, skipped: list[Skipped]
) -> tuple[AnnotationIn | DecisionIn | Skipped, list[DecisionIn]]:
    """An annotation as an annotation, the gold decision (ground truth) or skipped (with
    why), and the decisions of the reviewers who accepted it. A lead time too long to
    keep is listed in ``skipped``, the annotation kept without it."""
    annotation = object_field(annotation, where)
    labels, others = _choices(annotation.get("result"), where)
    cancelled = flag_field(annotation.get("was_cancelled"), f"{where}: was_cancelled")
    if cancelled or flag_field(annotation.get("skipped"), f"{where}: skipped"):
        return Skipped(where, CANCELLED), []
    person = person_of(annotation.get("completed_by"), f"{where}: completed_by")
    created = moment_of(annotation.get("created_at"), f"{where}: created_at")
    updated = moment_of(annotation.get("updated_at"), f"{where}: updated_at")
    left_out: list[Skipped] = []
    lead_time_ms = lead_time_ms_of(annotation.get("lead_time"), f"{where}: lead_time", left_out)
    gold = flag_field(annotation.get("ground_truth"), f"{where}: ground_truth")
    reviews = _reviews(annotation.get("reviews"), labels, where)
    if not labels:
        return Skipped(where, _no_choices(others)), []
    if gold:
        return DecisionIn(
            labels, GOLD, where=where, by=person, decided_at=updated or created
        ), reviews
    found = AnnotationIn(person or UNKNOWN, labels, where, created, updated, lead_time_ms)
    skipped += left_out
    return found, reviews


def _reviews(value: Any, labels: list[str], where: str) -> list[DecisionIn]:
    """The adjudicated decisions of the reviews that accepted an annotation (Label Studio
    Enterprise: ``reviews``, each with ``accepted`` and ``created_by``). A rejection
    decides nothing: the annotation stays its author's."""
    accepted = []
    for number, review in enumerate(
        list_field([] if value is None else value, f"{where}: reviews"), start=1
    ):
        at = f"{where}: review {number}"
        review = object_field(review, at)
        by = person_of(review.get("created_by"), f"{at}: created_by")
        when = moment_of(review.get("created_at"), f"{at}: created_at")
        if flag_field(review.get("accepted"), f"{at}: accepted") and labels:
            accepted.append(DecisionIn(list(labels), ADJUDICATED, where=at, by=by, decided_at=when))
    return accepted


def own_decision(
    field: Field,
    golds: list[DecisionIn],
    where: str,
    records: RecordsFile,
    *,
    annotated: bool = True,
) -> DecisionIn | None:
    """The final label our own export writes in a task (``final_method``, ``final_labels``,
    ``decided_by`` or ``final_decided_by``, ``decided_at``; in ``meta`` or ``data``), as
    the decision it carries. Its labels and person default to those of the ground truth
    annotation it writes beside them (``golds``). A consensus is worked out again from
    the task's annotations; a task that carries none (an export of final labels only)
    brings it as imported."""
    value, method_at = field("final_method")
    if value is None or value == "":
        return None
    name = text_field(value, method_at).strip().lower()
    if name not in FINAL_METHODS:
        known = ", ".join(FINAL_METHODS)
        raise LabelSourceError(f"{method_at} must be one of {known}, not {name[:40]!r}.")
    value, labels_at = field("final_labels")
    labels = _final_labels(value, labels_at)
    by_value, by_at = field("decided_by")
    if by_value in (None, ""):
        by_value, by_at = field("final_decided_by")
    by = None if by_value in (None, "") else person_named(text_field(by_value, by_at), by_at)
    if not labels and golds:  # an older export: the ground truth annotation says it
        labels, by = golds[0].labels, by or golds[0].by
    decided_at = moment_of(*field("decided_at"))
    method = FINAL_METHODS[name]
    if method is None and not annotated:
        method = IMPORTED
    if method is None:
        records.skipped.append(
            Skipped(method_at, "a consensus final label is not carried: it is worked out again")
        )
        return None
    if not labels:
        records.skipped.append(Skipped(method_at, f"a {name} final label without final_labels"))
        return None
    return DecisionIn(labels, method, f"{where}: final label", by=by, decided_at=decided_at)


def _decide(image: ImageRecords, decisions: list[DecisionIn], records: RecordsFile) -> None:
    """The first decision is the image's; each other one is listed as not carried."""
    if not decisions:
        return
    image.decision = kept = decisions[0]
    for other in decisions[1:]:
        records.skipped.append(
            Skipped(
                other.where, f"not carried: the task's decision is {kept.where} ({kept.method})"
            )
        )


def _final_labels(value: Any, where: str) -> list[str]:
    """Final label names: a list, or a text (one name, or a JSON list as the CSV writes)."""
    if isinstance(value, str):
        items = json_list(value)
        value = items if items is not None and all(isinstance(i, str) for i in items) else [value]
    return names_kept(names_field(value, where))


def _task_key(data: dict[str, Any], where: str) -> str:
    """The key of a task's image: ``data.file_name`` (our own export) or the file that
    ``data.image`` names."""
    own_name = data.get("file_name")
    if own_name is not None:
        own_name = normalised(text_field(own_name, f"{where}: data.file_name", blank=True))
        if own_name:
            return own_name
    image = text_field(data.get("image"), f"{where}: data.image")
    return label_studio_file_key(image, f"{where}: data.image")


def label_studio_file_key(reference: str, where: str) -> str:
    """The file a Label Studio image reference names, decoded, as imports match it.

    An upload (``/data/upload/3/1a2b3c4d-cat.jpg``, with a host or not) gives its file
    name, upload prefix kept (``1a2b3c4d-cat.jpg``); a local files link
    (``/data/local-files/?d=photos/L%C3%B6we.jpg``) the path in ``d`` (``photos/Löwe.jpg``,
    relative to Label Studio's document root); cloud storage (``s3://bucket/photos/x.jpg``,
    ``gs://``, ``azure-blob://``) and web URLs the path after the bucket or host
    (``photos/x.jpg``); anything else the path as written. Percent escapes are decoded as
    UTF-8. ``where`` names the field for the message.
    """
    shown = repr(reference[:200])
    try:
        parts = urlsplit(reference.strip())
        if LOCAL_FILES_PATH in parts.path:
            path = (parse_qs(parts.query, errors="strict").get("d") or [""])[0]
        else:
            path = unquote(parts.path, errors="strict")
    except ValueError as exc:  # UnicodeDecodeError included
        raise LabelSourceError(f"{where} {shown} is not a valid URL or path ({exc}).") from None
    path = normalised(path).lstrip("/")
    if UPLOAD_PATH in parts.path:
        path = path.rsplit("/", 1)[-1]
    if not path or path.endswith("/"):
        raise LabelSourceError(f"{where} {shown} names no file.")
    return text_field(path, f"{where}: the file name in it")


def _choices(result: Any, where: str) -> tuple[list[str], list[str]]:
    """The label names an annotation's ``choices`` results give, once each in their order
    (a single choice may come as one text: one name), and its other result types."""
    labels: list[str] = []
    others: list[str] = []
    for number, item in enumerate(
        list_field([] if result is None else result, f"{where}: result"), start=1
    ):
        item = object_field(item, f"{where}: result {number}")
        kind = item.get("type")
        if kind != "choices":
            if isinstance(kind, str) and kind[:40] not in others:
                others.append(kind[:40])
            continue
        value = object_field(item.get("value"), f"{where}: result {number} value")
        labels += names_field(value.get("choices"), f"{where}: result {number} choices")
    return names_kept(labels), others


def _no_choices(others: list[str]) -> str:
    if not others:
        return "no choices in its result: nothing to import"
    return f"no choices in its result (only {', '.join(others)}, which an import does not read)"


def names_kept(names: list[str]) -> list[str]:
    """Label names stripped, without blanks, once each in their first order."""
    kept: list[str] = []
    for name in names:
        name = name.strip()
        if name and name not in kept:
            kept.append(name)
    return kept


def person_of(value: Any, where: str) -> Person | None:
    """The person a Label Studio export names: an id (``ls:3``), an object with ``id`` and
    ``email`` (``ls:3`` with the e-mail), or a text (``person_named``); None for null."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return person_named(text_field(value, where), where)
    if isinstance(value, int) and not isinstance(value, bool):
        return Person(f"ls:{_id(value, where)}")
    if not isinstance(value, dict):
        raise LabelSourceError(
            f"{where} must be a user's id, e-mail or object (id, email), not {value!r:.40}."
        )
    identifier = value.get("id")
    email = _bounded(value.get("email"), f"{where}.email", MAX_EMAIL)
    username = _bounded(value.get("username"), f"{where}.username", MAX_USERNAME)
    if identifier is not None:
        return Person(f"ls:{_id(identifier, f'{where}.id')}", email=email, username=username)
    if not (email or username):
        raise LabelSourceError(f"{where} names nobody: it needs an id or an email.")
    return Person(email_key(email) if email else username, email=email, username=username)


def person_named(text: str, where: str) -> Person | None:
    """A person as a text names them (the converter's ``annotator`` column): an id
    (``3``: ``ls:3``), an e-mail, a username; None for ``None`` (a deleted user) or blank."""
    text = text.strip()
    if text in ("", "None"):
        return None
    if _DIGITS.fullmatch(text):
        return Person(f"ls:{int(text)}")
    if "@" in text:
        return Person(email_key(text), email=_bounded(text, where, MAX_EMAIL))
    return Person(text, username=_bounded(text, where, MAX_USERNAME))


def _id(value: Any, where: str) -> int | str:
    identifier = id_field(value, where)
    if isinstance(identifier, int) and not 0 <= identifier < 2**63:
        raise LabelSourceError(f"{where} {identifier!r:.40} is no user id.")
    if isinstance(identifier, str) and len(identifier) > 64:
        raise LabelSourceError(f"{where} is longer than 64 characters.")
    return identifier


def _bounded(value: Any, where: str, limit: int) -> str:
    if value is None:
        return ""
    text = text_field(value, where, blank=True).strip()
    if len(text) > limit:
        raise LabelSourceError(f"{where} is longer than {limit} characters.")
    return text


def moment_of(value: Any, where: str) -> datetime | None:
    """An ISO 8601 date and time (``2024-05-01T10:00:00.123Z``); UTC when it names no
    zone; None for null or blank. One outside the accepted years is refused (``moment_text``)."""
    if value is None or value == "":
        return None
    return moment_text(text_field(value, where), where)


def lead_time_ms_of(value: Any, where: str, left_out: list[Skipped] | None = None) -> int | None:
    """Label Studio's ``lead_time`` (seconds, a number or, in the CSV, its text) in ms;
    None for null, blank, or longer than the database holds (24 days), which is then
    listed in ``left_out``: the annotation is kept without it, and the report says so."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise LabelSourceError(f"{where} {value[:40]!r} is not a number of seconds.") from None
    seconds = number_field(value, where)
    if seconds * 1000 <= MAX_LEAD_TIME_MS:
        return round(seconds * 1000)
    if left_out is not None:
        shown = f"{seconds:,.0f}" if seconds < 1e12 else f"{seconds:.3g}"
        left_out.append(
            Skipped(where, f"{shown} s is past a day: the annotation is kept without its time")
        )
    return None


def sha256_of(value: Any, where: str) -> str:
    if value is None or value == "":
        return ""
    text = text_field(value, where).strip().lower()
    if not _SHA256.fullmatch(text):
        raise LabelSourceError(f"{where} must be 64 hexadecimal digits (a SHA-256).")
    return text


def json_list(text: str) -> list[Any] | None:
    """The items of a cell written as JSON by the converter (an object: one item), or None
    when it is not such JSON (a label that starts with a bracket)."""
    if not text.strip().startswith(("{", "[")):
        return None
    try:
        value = json_parse(text)
    except LabelSourceError:
        return None
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str | dict) for item in items):
        return None
    return items
