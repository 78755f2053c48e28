"""Which images and annotations an export holds, and the splits it cuts."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.utils import timezone

from labeler.annotations.models import FinalLabel
from labeler.errors import ValidationFailed
from labeler.exports.options import export_options_parse
from labeler.exports.selection import export_count
from labeler.exports.selectors import export_rows
from labeler.images.models import Image
from tests.factories import ModelVersionFactory, predict
from tests.labeler.exports.data import annotate, finalise, labelled_images

pytestmark = pytest.mark.django_db


def ids(project, **options) -> list[int]:
    return [row.id for row in export_rows(project, export_options_parse(options))]


@pytest.fixture
def images(project, make_images) -> list[Image]:
    return make_images(project, 4)


def test_every_image_by_default_and_only_finals_when_asked(project, images):
    finalise(images[0], ["cat"])
    assert ids(project) == [image.pk for image in images]
    assert ids(project, annotations="final") == [images[0].pk]


def test_confidence_counts_a_persons_decision_without_one_as_certain(project, images, make_images):
    """And an imported label too; a consensus without a confidence is not certain."""
    (imported,) = make_images(project, 1)
    finalise(images[0], ["cat"], confidence=0.9)
    finalise(images[1], ["cat"], confidence=0.4)
    finalise(images[2], ["dog"], method="adjudicated", confidence=None)
    finalise(images[3], ["dog"], confidence=None)
    finalise(imported, ["dog"], method="imported", confidence=None)
    assert ids(project, min_confidence=0.5) == [images[0].pk, images[2].pk, imported.pk]


def test_reviewed_only_keeps_adjudicated_gold_and_confirmed_machine_labels(project, images):
    for image, method in zip(images, ["consensus", "adjudicated", "gold", "machine"], strict=True):
        finalise(image, ["cat"], method=method)
    assert ids(project, reviewed_only=True) == [image.pk for image in images[1:]]


def test_agreement_is_the_share_of_annotations_equal_to_the_final(
    project, images, annotator, annotator2, lead
):
    for image, second in ((images[0], "cat"), (images[1], "dog")):
        finalise(image, ["cat"])
        annotate(image, annotator, ["cat"])
        annotate(image, annotator2, [second])
    finalise(images[2], ["cat"], method="gold")  # nobody labelled it: no agreement
    assert ids(project, min_agreement=0.5) == [images[0].pk, images[1].pk]
    assert ids(project, min_agreement=0.75) == [images[0].pk]


def test_an_annotator_filter_keeps_their_images_and_annotations(
    project, images, annotator, annotator2
):
    annotate(images[0], annotator, ["cat"])
    annotate(images[0], annotator2, ["dog"])
    annotate(images[1], annotator2, ["dog"])
    rows = list(export_rows(project, export_options_parse({"annotator": "ann1"})))
    assert [row.id for row in rows] == [images[0].pk]
    assert [a.annotator for a in rows[0].annotations] == ["ann1"]
    with pytest.raises(ValidationFailed) as caught:
        ids(project, annotator="nobody")
    assert caught.value.field == "annotator"


def test_a_label_filter_looks_at_finals_or_also_at_annotations(project, images, annotator):
    finalise(images[0], ["cat"])
    finalise(images[1], ["dog"])
    annotate(images[1], annotator, ["cat"])
    assert ids(project, label="cat", annotations="final") == [images[0].pk]
    assert ids(project, label="cat") == [images[0].pk, images[1].pk]
    with pytest.raises(ValidationFailed) as caught:
        ids(project, label="horse")
    assert caught.value.field == "label"


def test_since_and_until_look_at_the_last_update(project, images, annotator):
    old = timezone.now() - dt.timedelta(days=10)
    for image in images[:2]:
        finalise(image, ["cat"])
    FinalLabel.objects.filter(image=images[0]).update(updated_at=old)
    annotate(images[2], annotator, ["dog"])
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert ids(project, since=since, annotations="final") == [images[1].pk]
    assert ids(project, since=since) == [images[1].pk, images[2].pk]
    until = (old + dt.timedelta(days=1)).date().isoformat()
    assert ids(project, until=until) == [images[0].pk]
    assert export_count(project, export_options_parse({"since": since})) == 2


def test_predictions_are_the_current_models_probabilities_by_label(project, images):
    version = ModelVersionFactory(project=project)
    cat = project.labels.get(name="cat")
    predict(version, images[0], {str(cat.pk): 0.8})
    rows = list(export_rows(project, export_options_parse({"predictions": True})))
    assert rows[0].prediction == {
        "model_version": version.pk,
        "version": version.version,
        "probabilities": {"cat": 0.8},
    }
    assert rows[1].prediction is None


def test_rows_are_read_in_batches_and_reported_per_batch(project, images, monkeypatch):
    monkeypatch.setattr("labeler.exports.selectors.BATCH", 3)
    batches: list[int] = []
    rows = list(export_rows(project, export_options_parse({}), on_batch=batches.append))
    assert len(rows) == 4 and batches == [3, 1]


@pytest.fixture
def split_project(project, make_images) -> list[Image]:
    images = make_images(project, 40)
    labelled_images(project, images[:30], ["cat"])  # 30 cats
    labelled_images(project, images[30:], ["dog"])  # 10 dogs
    return images


def splits(project, **options) -> dict[int, str | None]:
    return {row.id: row.split for row in export_rows(project, export_options_parse(options))}


def test_a_split_is_stratified_exact_and_the_same_every_time(project, split_project):
    first = splits(project, split="0.8,0.1,0.1", annotations="final")
    assert first == splits(project, split="0.8,0.1,0.1", annotations="final")
    rows = export_rows(project, export_options_parse({"split": "0.8,0.1,0.1", "seed": 0}))
    per_label = Counter((row.final_labels[0], row.split) for row in rows if row.final_labels)
    expected = {"cat": (24, 3, 3), "dog": (8, 1, 1)}
    for label, counts in expected.items():
        for name, count in zip(("train", "val", "test"), counts, strict=True):
            assert abs(per_label[label, name] - count) <= 1


def test_another_seed_gives_another_split(project, split_project):
    assert splits(project, split="0.5,0.5") != splits(project, split="0.5,0.5", seed=1)


def test_no_split_column_unless_asked(project, split_project):
    assert set(splits(project).values()) == {None}
