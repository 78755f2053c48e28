"""What a project's model trains on: its final labels, checked and split.

Every final label counts, whoever decided it (consensus, adjudicated, gold, a confirmed
machine label). With overlap 1 an image's single annotation becomes a consensus final
label once final labels are refreshed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from labeler.annotations.models import FinalLabel
from labeler.errors import ValidationFailed
from labeler.images.duplicates.groups import duplicate_groups_by_image
from labeler.images.models import Image
from labeler.predictions.evaluation import split_stratified
from labeler.predictions.splitting import TEST
from labeler.projects.models import Project
from labeler.words import counted, noun

MIN_LABELS = 2
MIN_IMAGES_PER_LABEL = 2


@dataclass(frozen=True)
class TrainingSet:
    """Final-labelled images with their label ids, in image id order."""

    label_ids: list[int]  # the project's labels, in position order: the model's outputs
    image_ids: list[int]
    files: list[str]  # storage names
    targets: list[list[int]]  # label ids per image (exactly one for single-label)
    sha256s: list[str]  # the files' content hashes
    # Near-duplicate group of each image that has one: a group stays on one side of a split.
    groups: dict[int, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.image_ids)


@dataclass(frozen=True)
class Split:
    """Indexes into a TrainingSet's rows for training, validation and the held-out test
    set; ``excluded``: development rows left out of both (a near-duplicate of theirs is a
    test image); ``note`` says why, when it does, the split could not keep each
    near-duplicate group on one side."""

    train: list[int]
    validation: list[int]
    note: str = ""
    test: list[int] = field(default_factory=list)
    excluded: list[int] = field(default_factory=list)

    def sides(self, data: TrainingSet) -> dict[int, str]:
        """Each image's part: "train", "validation" or "test" (excluded images left out)."""
        parts = (("train", self.train), ("validation", self.validation), ("test", self.test))
        return {data.image_ids[r]: name for name, rows in parts for r in rows}


def training_set(project: Project) -> TrainingSet:
    """The project's final-labelled images (single-label: those with exactly one label)."""
    label_ids = list(project.labels.order_by("position").values_list("pk", flat=True))
    known = set(label_ids)
    by_image: dict[int, list[int]] = {}
    files: dict[int, tuple[str, str]] = {}  # image id: (storage name, sha256)
    through = FinalLabel.labels.through
    rows = through.objects.filter(finallabel__image__project=project).values_list(
        "finallabel__image_id", "finallabel__image__file", "finallabel__image__sha256", "label_id"
    )
    for image_id, name, sha256, label_id in rows.iterator():
        if label_id in known:
            by_image.setdefault(image_id, []).append(label_id)
            files[image_id] = (name, sha256)
    if project.multi_label:
        empty = FinalLabel.objects.filter(image__project=project, labels__isnull=True)
        for image_id, name, sha256 in empty.values_list("image_id", "image__file", "image__sha256"):
            by_image.setdefault(image_id, [])
            files[image_id] = (name, sha256)
    else:
        by_image = {i: labels for i, labels in by_image.items() if len(labels) == 1}
    image_ids = sorted(by_image)
    groups = duplicate_groups_by_image(Image.objects.filter(project=project))
    return TrainingSet(
        label_ids=label_ids,
        image_ids=image_ids,
        files=[files[i][0] for i in image_ids],
        targets=[sorted(by_image[i]) for i in image_ids],
        sha256s=[files[i][1] for i in image_ids],
        groups={i: groups[i] for i in image_ids if i in groups},
    )


def training_set_check(data: TrainingSet) -> None:
    """Refuse to train without at least 2 labels that have at least 2 images each."""
    counts = Counter(label_id for labels in data.targets for label_id in labels)
    enough = [label_id for label_id in data.label_ids if counts[label_id] >= MIN_IMAGES_PER_LABEL]
    if len(enough) >= MIN_LABELS:
        return
    missing = MIN_LABELS - len(enough)
    raise ValidationFailed(
        f"Too few final labels to train: {counted(len(enough), 'label')} "
        f"{noun(len(enough), 'has', 'have')} at least {MIN_IMAGES_PER_LABEL} labelled images; "
        f"{missing} more {noun(missing, 'label needs', 'labels need')} "
        f"{MIN_IMAGES_PER_LABEL} each ({len(data)} final labels so far).",
        field="labels",
        label_counts={str(label_id): counts[label_id] for label_id in data.label_ids},
    )


def training_split(
    data: TrainingSet,
    *,
    share: float,
    seed: int,
    multi_label: bool,
    sides: Mapping[int, str] | None = None,
) -> Split:
    """Training and validation among the development images, stratified and stable across
    runs (an image stays in validation as data grows); the test images apart.

    ``sides``: each image's side of the held-out test split (``labeler.predictions.
    test_split``); without it every image is a development image. A development image
    whose near-duplicate is a test image (a group straddles the test split when the
    near-duplicate distance changed after both were assigned) is left out (``excluded``):
    training on it would train on a copy of a test image.

    Near-duplicates never straddle training and validation: a group goes where its
    smallest image fell, so a copy of a validation image is never trained on. Where the
    groups leave one side empty (every image in one group, say), there is no such split:
    the images are split as if ungrouped, and ``note`` says so, since the validation
    figures are then optimistic.
    """
    sides = sides or {}
    test_ids = {i for i in data.image_ids if sides.get(i) == TEST}
    tested_groups = {data.groups[i] for i in test_ids if i in data.groups}
    excluded_ids = {
        i for i in data.image_ids if i not in test_ids and data.groups.get(i) in tested_groups
    }
    rows = [r for r, i in enumerate(data.image_ids) if i not in test_ids | excluded_ids]
    ids = [data.image_ids[r] for r in rows]
    targets: list[object] = [data.targets[r] if multi_label else data.targets[r][0] for r in rows]
    _, validation_ids = split_stratified(ids, targets, share, seed)
    groups = {i: data.groups[i] for i in ids if i in data.groups}
    in_validation = groups_together(ids, set(validation_ids), groups)
    note = ""
    if groups and not 0 < len(in_validation) < len(ids):
        in_validation, note = set(validation_ids), groups_unsplittable_note(data, ids)
    return Split(
        train=[r for r in rows if data.image_ids[r] not in in_validation],
        validation=[r for r in rows if data.image_ids[r] in in_validation],
        note=note,
        test=[r for r, i in enumerate(data.image_ids) if i in test_ids],
        excluded=[r for r, i in enumerate(data.image_ids) if i in excluded_ids],
    )


def groups_unsplittable_note(data: TrainingSet, ids: list[int] | None = None) -> str:
    """What a run says when its near-duplicate groups left no split between them
    (``ids``: the images training and validation share, all by default)."""
    ids = data.image_ids if ids is None else ids
    groups = [data.groups[i] for i in ids if i in data.groups]
    return (
        f"{len(groups)} of the {len(ids)} labelled images fall in "
        f"{counted(len(set(groups)), 'near-duplicate group')}, which leave no split "
        "keeping each group on one side: the images were split within their groups, so "
        "copies of validation images were trained on and the validation figures are "
        "optimistic. A lower near-duplicate distance for the project may separate them."
    )


def groups_together(image_ids: list[int], chosen: set[int], groups: Mapping[int, int]) -> set[int]:
    """``chosen`` with each near-duplicate group wholly in or out, as its smallest member."""
    members: dict[int, list[int]] = {}
    for image_id in image_ids:
        if image_id in groups:
            members.setdefault(groups[image_id], []).append(image_id)
    together = set(chosen)
    for ids in members.values():
        if min(ids) in chosen:
            together.update(ids)
        else:
            together.difference_update(ids)
    return together


def targets_array(data: TrainingSet, rows: list[int], *, multi_label: bool) -> np.ndarray:
    """The rows' targets as the model takes them: label indexes, or multi-hot rows."""
    column = {label_id: i for i, label_id in enumerate(data.label_ids)}
    if not multi_label:
        return np.array([column[data.targets[r][0]] for r in rows], dtype=np.int64)
    y = np.zeros((len(rows), len(data.label_ids)), dtype=np.float32)
    for out, r in enumerate(rows):
        y[out, [column[label_id] for label_id in data.targets[r]]] = 1.0
    return y
