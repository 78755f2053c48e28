"""The import benchmark's data: small real images and a Label Studio export of them.

Every file is made from a seeded generator, so a run imports the same bytes and the same
labels as the one before. Image ``n`` (0-based) is a 64 x 48 picture of coloured noise,
a PNG when ``n`` is even and a JPEG when odd (small, so that the benchmark measures the
import, not decoding), named ``img_<n>.png`` or ``.jpg``.

The export is written the way Label Studio writes its JSON export of an image
classification project (compare ``tests/labeler/imports/fixtures/label_studio``, saved
from a real server): a list of tasks, each with its upload (``/data/upload/1/<8 hex
digits>-<name>``), its annotations and the fields Label Studio adds. Three annotators
label every task, each named by ``completed_by`` as the object with id and e-mail that a
snapshot export gives. On about 10% of the tasks one of them picks another label (a
fifth of those are three-way splits); on about 1% one annotation was cancelled (skipped
by its annotator); on about 1% the first annotator's annotation is the ground truth.
Dates run from 2026-03-02, each annotation with its lead time in seconds; about 5% were
edited later (``updated_at`` after ``created_at``). The JSON is written on one line, as
the server sends it: about 2.7 KB a task.

The archives hold the images under ``images/`` and the labels beside them: the export
(``label_studio.json``) for the per-person import, a CSV of one final label per image
(``labels.csv``: the ground truth where there is one, else the most chosen label) for
the flat one.
"""

from __future__ import annotations

import csv
import io
import json
import random
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

LABELS = ["cat", "dog", "bird", "fish"]  # bench.load_data's, so its projects take them
WIDTH, HEIGHT = 64, 48
ANNOTATORS: list[dict[str, Any]] = [
    {"id": 1, "email": "ann.arbor@example.org", "first_name": "Ann", "last_name": "Arbor"},
    {"id": 2, "email": "bo.bridges@example.org", "first_name": "Bo", "last_name": "Bridges"},
    {"id": 3, "email": "cy.cole@example.org", "first_name": "Cy", "last_name": "Cole"},
]
DISAGREE, SPLIT, CANCELLED, GROUND_TRUTH, EDITED = 0.10, 0.02, 0.01, 0.01, 0.05
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EXPORT_NAME, CSV_NAME = "label_studio.json", "labels.csv"


@dataclass
class Expected:
    """What a correct import of the export writes: one annotation per person and image
    (less the cancelled ones and the ground truth), a gold decision per ground truth, and
    a record listed as not applied per cancelled annotation."""

    images: int = 0
    annotations: int = 0
    decisions: int = 0
    cancelled: int = 0
    disagreements: int = 0
    finals: dict[str, str] = field(default_factory=dict)  # file name -> flat final label
    export_bytes: int = 0  # the size of the export's JSON


def image_name(number: int) -> str:
    return f"img_{number:06d}.{'png' if number % 2 == 0 else 'jpg'}"


def image_bytes(number: int, rng: random.Random) -> bytes:
    """A small picture of coloured noise: unique content, cheap to decode."""
    from PIL import Image

    noise = Image.frombytes("RGB", (16, 12), rng.randbytes(16 * 12 * 3))
    picture = noise.resize((WIDTH, HEIGHT), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    if number % 2 == 0:
        picture.save(buffer, format="PNG")
    else:
        picture.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def label_studio_export(count: int, seed: int = 0) -> tuple[list[dict[str, Any]], Expected]:
    """The export's tasks for ``count`` images, and what importing them should write."""
    rng = random.Random(seed)
    expected = Expected(images=count)
    tasks = []
    annotation_id = 0
    for number in range(count):
        name = image_name(number)
        truth = rng.randrange(len(LABELS))
        chosen = _choices(rng, truth, expected)
        cancelled = rng.randrange(3) if rng.random() < CANCELLED else None
        gold = rng.random() < GROUND_TRUTH and cancelled != 0
        created = START + timedelta(seconds=30 * number)
        annotations = []
        for person, label in enumerate(chosen):
            annotation_id += 1
            annotations.append(
                _annotation(
                    rng,
                    annotation_id,
                    task=number + 1,
                    person=person,
                    label=None if person == cancelled else LABELS[label],
                    ground_truth=gold and person == 0,
                    at=created + timedelta(hours=person + 1, seconds=rng.randrange(3600)),
                )
            )
        expected.cancelled += cancelled is not None
        expected.decisions += gold
        expected.annotations += len(chosen) - (cancelled is not None) - gold
        expected.finals[name] = LABELS[chosen[0] if gold else _most_chosen(chosen)]
        tasks.append(_task(number, name, annotations, created))
    return tasks, expected


def _choices(rng: random.Random, truth: int, expected: Expected) -> list[int]:
    """The three annotators' labels: the truth, one other on a disagreement, all three
    different on a split."""
    chosen = [truth] * len(ANNOTATORS)
    if rng.random() >= DISAGREE:
        return chosen
    expected.disagreements += 1
    others = [label for label in range(len(LABELS)) if label != truth]
    rng.shuffle(others)
    if rng.random() < SPLIT / DISAGREE:
        return [truth, others[0], others[1]]
    chosen[rng.randrange(len(ANNOTATORS))] = others[0]
    return chosen


def _most_chosen(chosen: list[int]) -> int:
    return max(chosen, key=lambda label: (chosen.count(label), -chosen.index(label)))


def _moment(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _annotation(
    rng: random.Random,
    annotation_id: int,
    *,
    task: int,
    person: int,
    label: str | None,
    ground_truth: bool,
    at: datetime,
) -> dict[str, Any]:
    """One annotation as Label Studio exports it; ``label`` None: cancelled."""
    updated = at + timedelta(seconds=rng.uniform(0.001, 0.05))
    if rng.random() < EDITED:
        updated += timedelta(days=rng.randrange(1, 20))
    result = [
        {
            "id": f"{rng.getrandbits(40):010x}",
            "from_name": "choice",
            "to_name": "image",
            "type": "choices",
            "origin": "manual",
            "value": {"choices": [label]},
        }
    ]
    annotator = ANNOTATORS[person]
    return {
        "id": annotation_id,
        "completed_by": annotator,
        "result": result if label is not None else [],
        "was_cancelled": label is None,
        "ground_truth": ground_truth,
        "created_at": _moment(at),
        "updated_at": _moment(updated),
        "draft_created_at": None,
        "lead_time": round(rng.uniform(1.5, 40.0), 3),
        "prediction": {},
        "result_count": 1 if label is not None else 0,
        "unique_id": _uuid(rng),
        "import_id": None,
        "last_action": None,
        "bulk_created": False,
        "task": task,
        "project": 1,
        "updated_by": annotator["id"],
        "parent_prediction": None,
        "parent_annotation": None,
        "last_created_by": None,
    }


def _uuid(rng: random.Random) -> str:
    digits = f"{rng.getrandbits(128):032x}"
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-a{digits[17:20]}-{digits[20:]}"


def _task(
    number: int, name: str, annotations: list[dict[str, Any]], created: datetime
) -> dict[str, Any]:
    upload = f"{number * 2654435761 % 2**32:08x}-{name}"  # Label Studio's random prefix
    done = [a for a in annotations if not a["was_cancelled"]]
    return {
        "id": number + 1,
        "annotations": annotations,
        "file_upload": upload,
        "drafts": [],
        "predictions": [],
        "data": {"image": f"/data/upload/1/{upload}"},
        "meta": {},
        "created_at": _moment(created),
        "updated_at": max(a["updated_at"] for a in annotations),
        "allow_skip": True,
        "inner_id": number + 1,
        "total_annotations": len(done),
        "cancelled_annotations": len(annotations) - len(done),
        "total_predictions": 0,
        "comment_count": 0,
        "unresolved_comment_count": 0,
        "last_comment_updated_at": None,
        "project": 1,
        "updated_by": done[-1]["completed_by"]["id"] if done else None,
        "comment_authors": [],
    }


def archives_write(folder: Path, count: int, seed: int = 0) -> tuple[Path, Path, Expected]:
    """The per-person archive (images and the Label Studio export) and the flat one (the
    same images and a CSV of final labels) under ``folder``; what the export holds."""
    folder.mkdir(parents=True, exist_ok=True)
    tasks, expected = label_studio_export(count, seed)
    per_person, flat = folder / "label_studio.zip", folder / "flat_csv.zip"
    rng = random.Random(f"images {seed}")
    with (
        zipfile.ZipFile(per_person, "w", zipfile.ZIP_DEFLATED) as people,
        zipfile.ZipFile(flat, "w", zipfile.ZIP_DEFLATED) as plain,
    ):
        for number in range(count):
            data = image_bytes(number, rng)
            people.writestr(f"images/{image_name(number)}", data)
            plain.writestr(f"images/{image_name(number)}", data)
        export = json.dumps(tasks, ensure_ascii=False).encode()  # as the server writes it
        expected.export_bytes = len(export)
        people.writestr(EXPORT_NAME, export)
        plain.writestr(CSV_NAME, _final_labels_csv(expected.finals))
    return per_person, flat, expected


def _final_labels_csv(finals: dict[str, str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", "label"])
    writer.writerows(finals.items())
    return out.getvalue()
