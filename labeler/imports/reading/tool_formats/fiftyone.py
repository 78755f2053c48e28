"""FiftyOne's image classification dataset (``FiftyOneImageClassificationDataset``).

Its ``ImageClassificationDirectoryTree`` export is an ImageFolder tree, read as one.
"""

from __future__ import annotations

from typing import Any

from labeler.imports.reading.loader import LabelSourceError, json_parse, list_field, text_field
from labeler.imports.reading.matching import normalised
from labeler.imports.reading.records import IMPORTED, DecisionIn, ImageRecords, RecordsFile, Skipped
from labeler.imports.reading.tool_formats.names import name_add


def fiftyone_records(text: str) -> RecordsFile:
    """The records of FiftyOne's image classification dataset: the ``labels.json`` of a
    ``FiftyOneImageClassificationDataset`` export.

    ``{"classes": [...], "labels": {"<uuid>": <target>, ...}}``: a target is an index
    into ``classes`` (the label itself when ``classes`` is null), an object with its
    ``label`` (and a ``confidence``, not kept), a list of these (several labels) or null
    (unlabelled, listed as skipped). FiftyOne's labels name no person: an image's are its
    imported decision. The key is the image's name in ``data/`` without its extension, as
    FiftyOne writes it (a path with ``rel_dir``, an absolute one with ``abs_paths``).
    """
    data = json_parse(text)
    if not isinstance(data, dict) or not isinstance(data.get("labels"), dict):
        raise LabelSourceError(
            "A FiftyOne labels.json is an object with 'classes' and 'labels' (by image)."
        )
    classes = data.get("classes")
    if classes is not None:
        classes = [
            text_field(name, f"classes[{i}]")
            for i, name in enumerate(list_field(classes, "classes"))
        ]
    result = RecordsFile()
    for uuid, target in data["labels"].items():
        result.tasks += 1
        where = f"Image {uuid!r}"
        key = normalised(text_field(uuid, f"{where}: its name"))
        names: list[str] = []
        for item in target if isinstance(target, list) else [target]:
            name = _fiftyone_label(item, classes, where)
            if name:
                name_add(names, name)
        if not names:
            result.skipped.append(Skipped(where, "no label: unlabelled in FiftyOne"))
            continue
        result.add(key, ImageRecords(decision=DecisionIn(names, IMPORTED, where), where=where))
    return result


def _fiftyone_label(target: Any, classes: list[str] | None, where: str) -> str:
    """The label name of one target: a class index, a name, or an object with its label."""
    if isinstance(target, dict):
        if "label" not in target:
            raise LabelSourceError(f"{where}: a label object has no 'label'.")
        target = target["label"]
    if target is None:
        return ""
    if isinstance(target, str):
        return text_field(target, f"{where}: label", blank=True).strip()
    if isinstance(target, bool) or not isinstance(target, int):
        raise LabelSourceError(f"{where}: a label is a class index or a name.")
    if classes is None:
        raise LabelSourceError(f"{where}: class index {target}, but the file lists no classes.")
    if not 0 <= target < len(classes):
        raise LabelSourceError(
            f"{where}: class index {target} is not one of the {len(classes)} classes."
        )
    return classes[target].strip()
