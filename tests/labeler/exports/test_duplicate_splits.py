"""No near-duplicate group crosses a split: the exports' train/val/test and the
training's train/validation. Copies are planted through the real ingest."""

from __future__ import annotations

from collections import defaultdict

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.exports.options import export_options_parse
from labeler.exports.selectors import export_rows
from labeler.images.models import Image
from labeler.predictions.dataset import training_set, training_split
from tests.labeler.exports.data import finalise
from tests.labeler.images.scenes import COPIES, encoded, scene

PICTURES = 24
LABELS = ["cat", "dog", "bird"]


@pytest.fixture
def copies(project, media_root, settings, django_capture_on_commit_callbacks):
    """24 pictures, each with a resized and a cropped copy; a copy sometimes labelled
    differently from its original (a group spanning two strata)."""
    settings.LABELER_DUPLICATE_DISTANCE = 7
    files = []
    for seed in range(PICTURES):
        picture = scene(100 + seed)
        files += [
            SimpleUploadedFile(f"{seed}.png", encoded(picture)),
            SimpleUploadedFile(f"{seed}-small.jpg", encoded(COPIES["resized"](picture), "JPEG")),
            SimpleUploadedFile(f"{seed}-crop.png", encoded(COPIES["cropped"](picture))),
        ]
    with django_capture_on_commit_callbacks(execute=True):
        flows.images_ingest(project=project, files=files)
    for image in Image.objects.filter(project=project):
        seed = int(image.original_name.split(".")[0].split("-")[0])
        label = LABELS[seed % 3]
        if image.original_name.endswith("-crop.png") and seed % 4 == 0:
            label = LABELS[(seed + 1) % 3]
        finalise(image, [label])
    groups = dict(Image.objects.values_list("pk", "duplicate_group"))
    assert sum(1 for g in groups.values() if g is not None) >= PICTURES * 3 * 0.9
    return groups


def crossing(side_of: dict[int, str], groups: dict[int, int | None]) -> list[int]:
    sides: dict[int, set[str]] = defaultdict(set)
    for pk, side in side_of.items():
        if groups.get(pk) is not None:
            sides[groups[pk]].add(side)  # type: ignore[index]
    return [group for group, seen in sides.items() if len(seen) > 1]


@pytest.mark.django_db
def test_no_group_crosses_an_export_split(project, copies):
    for seed in range(5):
        options = export_options_parse({"split": "0.6,0.2,0.2", "seed": seed})
        side_of = {row.id: row.split or "" for row in export_rows(project, options)}
        assert set(side_of.values()) == {"train", "val", "test"}
        assert crossing(side_of, copies) == []


@pytest.mark.django_db
def test_no_group_crosses_the_training_split(project, copies):
    data = training_set(project)
    assert len(data.groups) >= PICTURES * 3 * 0.9
    crossed_without = 0
    for seed in range(5):
        split = training_split(data, share=0.3, seed=seed, multi_label=False)
        side_of = {data.image_ids[r]: "train" for r in split.train}
        side_of.update({data.image_ids[r]: "validation" for r in split.validation})
        assert split.validation and split.train
        assert crossing(side_of, copies) == []
        ungrouped = type(data)(**{**data.__dict__, "groups": {}})
        plain = training_split(ungrouped, share=0.3, seed=seed, multi_label=False)
        plain_side = {data.image_ids[r]: "validation" for r in plain.validation}
        plain_side.update({data.image_ids[r]: "train" for r in plain.train})
        crossed_without += len(crossing(plain_side, copies))
    assert crossed_without > 0  # without the groups, copies would have leaked
