"""CVAT's XML export ("CVAT for images 1.1"), person by person.

The XML is parsed by defusedxml: no document type, entity or external reference, and no
deeper than ``MAX_DEPTH``; its size is the loader's to bound. CVAT writes one assignee
per job, task or (in a project export) task, and no per-image annotator: a task export
credits the task's assignee with every image, so a task whose jobs had different
annotators is best exported job by job.
"""

from __future__ import annotations

import io
from xml.etree.ElementTree import Element, ParseError
from xml.parsers.expat import ErrorString

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from labeler.imports.reading.loader import LabelSourceError
from labeler.imports.reading.matching import normalised
from labeler.imports.reading.records import (
    IMPORTED,
    AnnotationIn,
    DecisionIn,
    ImageRecords,
    Person,
    RecordsFile,
    Skipped,
    email_key,
)
from labeler.imports.reading.tool_formats.names import name_add
from labeler.json_depth import MAX_DEPTH
from labeler.words import counted

# What CVAT writes as a tag's source: drawn by a person (by hand, or with an interactive
# tool they steered), merged from consensus jobs, or no person's work.
CVAT_PERSON_SOURCES = frozenset({"manual", "semi-auto"})
CVAT_CONSENSUS = "consensus"
CVAT_NOT_PEOPLE = {
    "auto": 'made by a model in CVAT (source="auto"), not by a person',
    "file": 'uploaded into CVAT from a file (source="file"): who made it is unknown',
}


def cvat_xml_records(text: str) -> RecordsFile:
    """The records of a CVAT XML export ("CVAT for images 1.1") of a task, a job or a
    project.

    An image's tags are its labels (several tags, several labels), credited to the
    assignee the file names as the Person ``cvat:<username>``: the job's
    (``meta/job/assignee``), the task's (``meta/task/assignee``), or in a project export
    the assignee of the image's task (``task_id``). Tags with no assignee named are an
    imported decision, as are the tags CVAT merged from consensus jobs. A model's tags
    (``source="auto"``), uploaded ones (``source="file"``), shapes and video tracks are
    listed as skipped: a classification project takes an image's tags only.
    """
    root = _xml_root(text)
    if root.tag != "annotations":
        raise LabelSourceError(f"A CVAT XML file has <annotations> at its root, not <{root.tag}>.")
    assignee, by_task = _cvat_assignees(root.find("meta"))
    result = RecordsFile()
    for element in root:
        if element.tag == "image":
            result.tasks += 1
            person = by_task.get(element.get("task_id", ""), assignee)
            _cvat_image(result, element, result.tasks, person)
        elif element.tag == "track":
            result.skipped.append(
                Skipped(
                    f"Track {element.get('id', '?')}",
                    "a video track is no image label: a classification project takes tags",
                )
            )
    return result


def _xml_root(text: str) -> Element:
    """The root of the XML document, parsed without a DTD, entities or external references
    (defusedxml) and nested no deeper than ``MAX_DEPTH``."""
    if not text.strip():
        raise LabelSourceError("The XML file is empty.")
    depth = 0
    root: Element | None = None
    try:
        events = iterparse(io.BytesIO(text.encode()), events=("start", "end"), forbid_dtd=True)
        for event, element in events:
            depth += 1 if event == "start" else -1
            if depth > MAX_DEPTH:
                raise LabelSourceError(f"XML elements nest more than {MAX_DEPTH} levels deep.")
            root = element if root is None else root
    except ParseError as exc:
        raise LabelSourceError(
            f"Not valid XML: {ErrorString(exc.code)}.", line=exc.position[0]
        ) from None
    except DefusedXmlException:
        raise LabelSourceError(
            "The XML file declares a document type or entities, which a labels file may not "
            "(CVAT writes none)."
        ) from None
    if root is None:  # the parser refuses a document without elements first
        raise LabelSourceError("The XML file is empty.")
    return root


def _cvat_assignees(meta: Element | None) -> tuple[Person | None, dict[str, Person | None]]:
    """Who the file credits: the assignee of the exported job or task, and in a project
    export each task's assignee, by the task's id."""
    if meta is None:
        return None, {}
    for kind in ("job", "task"):
        element = meta.find(kind)
        if element is not None:
            return _cvat_person(element.find("assignee")), {}
    return None, {
        (task.findtext("id") or "").strip(): _cvat_person(task.find("assignee"))
        for task in meta.iterfind("project/tasks/task")
    }


def _cvat_person(assignee: Element | None) -> Person | None:
    """The person an ``<assignee>`` names (username, e-mail); None for an empty one."""
    if assignee is None:
        return None
    username = (assignee.findtext("username") or "").strip()
    email = (assignee.findtext("email") or "").strip()
    if not username and not email:
        return None
    key = f"cvat:{username}" if username else email_key(email)
    return Person(key=key, email=email, username=username)


def _cvat_image(result: RecordsFile, image: Element, number: int, person: Person | None) -> None:
    """Add an ``<image>``'s tags, credited to ``person``, and list what it does not give."""
    name = (image.get("name") or "").strip()
    if not name:
        raise LabelSourceError(f"Image {number} (id {image.get('id', '?')!r}) has no name.")
    task_id = image.get("task_id")
    where = f"Task {task_id}: image {name!r}" if task_id else f"Image {name!r}"
    own: list[str] = []
    merged: list[str] = []
    shapes: list[str] = []
    for tag in image:
        if tag.tag != "tag":
            shapes.append(tag.tag)
            continue
        label = (tag.get("label") or "").strip()
        if not label:
            raise LabelSourceError(f"{where}: a tag has no label.")
        source = tag.get("source") or "manual"  # CVAT 1.x wrote no source: a person's
        if source in CVAT_PERSON_SOURCES:
            name_add(own, label)
        elif source == CVAT_CONSENSUS:
            name_add(merged, label)
        else:
            reason = CVAT_NOT_PEOPLE.get(source, f"an unknown source {source!r}, not a person")
            result.skipped.append(Skipped(f"{where}: tag {label!r}", reason))
    key = normalised(name)
    if shapes:
        kinds = ", ".join(sorted(set(shapes)))
        result.skipped.append(
            Skipped(where, f"{counted(len(shapes), 'shape')} ({kinds}) ignored: not image labels")
        )
    if own and person is not None:
        result.add(key, ImageRecords([AnnotationIn(person, own, where=where)], where=where))
    elif own:
        decision = DecisionIn(own, IMPORTED, where=f"{where} (no assignee named)")
        result.add(key, ImageRecords(decision=decision, where=where))
    if merged:
        decision = DecisionIn(merged, IMPORTED, where=f"{where} (consensus tags)")
        result.add(key, ImageRecords(decision=decision, where=where))
    if len(image) == 0:
        result.skipped.append(Skipped(where, "no tag: not labelled in CVAT"))
