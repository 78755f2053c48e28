"""The suggestion shown with an image: which model, which labels, how confident."""

from __future__ import annotations

import pytest

from labeler.images.models import Image
from labeler.predictions.models import MachineLabel, MachineLabelStatus
from labeler.predictions.selectors import (
    Suggestion,
    current_model,
    image_side_median,
    model_input_specs,
    suggestion_for,
)
from labeler.projects.models import Label, Project
from tests.factories import ModelVersionFactory, ProjectFactory, predict


@pytest.fixture
def project(db) -> Project:
    return ProjectFactory(name="Pets")


@pytest.fixture
def labels(project) -> dict[str, int]:
    return dict(project.labels.values_list("name", "pk"))


@pytest.fixture
def image(project, make_images) -> Image:
    (image,) = make_images(project, 1)
    return image


def probabilities(labels: dict[str, int], **by_name: float) -> dict[str, float]:
    return {str(labels[name]): p for name, p in by_name.items()}


# current_model


def test_no_model_means_none(project):
    """A project that never trained has no current model."""
    assert current_model(project) is None


def test_the_current_model_is_returned(project):
    """Of several models, the one marked current."""
    ModelVersionFactory(project=project, version=1, is_current=False)
    current = ModelVersionFactory(project=project, version=2)
    ModelVersionFactory(project=project, version=3, is_current=False)
    assert current_model(project) == current


def test_models_none_of_which_is_current_give_none(project):
    """Trained versions that were never promoted do not pre-label."""
    ModelVersionFactory(project=project, version=1, is_current=False)
    assert current_model(project) is None


def test_another_projects_model_is_none(project):
    """Models belong to their own project."""
    ModelVersionFactory(project=ProjectFactory(name="Other"))
    assert current_model(project) is None


# suggestion_for, single-label


def test_single_label_suggests_the_most_probable_label(project, labels, image):
    """The argmax label, with its probability as the confidence and every probability."""
    model = ModelVersionFactory(project=project, version=4)
    predict(model, image, probabilities(labels, cat=0.1, dog=0.25, bird=0.65))
    assert suggestion_for(project=project, image=image) == Suggestion(
        model_version=model.pk,
        version=4,
        label_ids=[labels["bird"]],
        confidence=0.65,
        probabilities={labels["cat"]: 0.1, labels["dog"]: 0.25, labels["bird"]: 0.65},
    )


def test_single_label_ignores_thresholds(project, labels, image):
    """A single-label suggestion is the argmax even below any threshold."""
    model = ModelVersionFactory(project=project, metrics={"thresholds": {str(labels["dog"]): 0.9}})
    predict(model, image, probabilities(labels, cat=0.3, dog=0.4, bird=0.3))
    suggestion = suggestion_for(project=project, image=image)
    assert suggestion is not None
    assert (suggestion.label_ids, suggestion.confidence) == ([labels["dog"]], 0.4)


def test_without_a_current_model_there_is_no_suggestion(project, labels, image):
    """A prediction by a model that is not current is not shown."""
    old = ModelVersionFactory(project=project, version=1, is_current=False)
    predict(old, image, probabilities(labels, cat=0.9))
    newer = ModelVersionFactory(project=project, version=2, is_current=False)
    predict(newer, image, probabilities(labels, dog=0.9))
    assert suggestion_for(project=project, image=image) is None


def test_an_image_the_model_did_not_predict_has_no_suggestion(project, labels, make_images):
    """No prediction for this image, no suggestion."""
    predicted, other = make_images(project, 2)
    model = ModelVersionFactory(project=project)
    predict(model, predicted, probabilities(labels, cat=0.9))
    assert suggestion_for(project=project, image=other) is None


def test_keys_that_are_not_this_projects_labels_are_dropped(project, labels, image):
    """Deleted labels, other projects' labels and keys that are no label id are ignored."""
    other_label = ProjectFactory(name="Other").labels.first()
    assert other_label is not None
    gone = Label.objects.create(project=project, name="fish", position=9)
    gone_id = gone.pk
    gone.delete()
    model = ModelVersionFactory(project=project)
    raw = {
        **probabilities(labels, cat=0.3, dog=0.2),
        str(other_label.pk): 0.99,
        str(gone_id): 0.98,
        "bird": 0.97,
        "-1": 0.96,
        "": 0.95,
        "²": 0.94,
    }
    predict(model, image, raw)
    suggestion = suggestion_for(project=project, image=image)
    assert suggestion is not None
    assert suggestion.label_ids == [labels["cat"]]
    assert suggestion.probabilities == {labels["cat"]: 0.3, labels["dog"]: 0.2}


def test_a_prediction_with_no_known_label_has_no_suggestion(project, image):
    """When nothing is left after dropping unknown keys there is nothing to suggest."""
    model = ModelVersionFactory(project=project)
    predict(model, image, {"999999": 0.9, "cat": 0.8})
    assert suggestion_for(project=project, image=image) is None


# suggestion_for, multi-label


@pytest.fixture
def multi(project) -> Project:
    project.multi_label = True
    project.save()
    return project


def test_multi_label_uses_half_as_the_default_threshold(multi, labels, image):
    """Labels at or above 0.5 are suggested; confidence is min over labels of max(p, 1 - p)."""
    model = ModelVersionFactory(project=multi)
    predict(model, image, probabilities(labels, cat=0.5, dog=0.9, bird=0.2))
    suggestion = suggestion_for(project=multi, image=image)
    assert suggestion is not None
    assert suggestion.label_ids == sorted([labels["cat"], labels["dog"]])
    assert suggestion.confidence == 0.5


def test_multi_label_uses_the_models_tuned_thresholds(multi, labels, image):
    """metrics["thresholds"][label id] overrides 0.5 for that label only."""
    thresholds = {str(labels["cat"]): 0.7, str(labels["bird"]): 0.1}
    model = ModelVersionFactory(project=multi, metrics={"thresholds": thresholds, "f1": 0.8})
    predict(model, image, probabilities(labels, cat=0.6, dog=0.55, bird=0.15))
    suggestion = suggestion_for(project=multi, image=image)
    assert suggestion is not None
    assert suggestion.label_ids == sorted([labels["dog"], labels["bird"]])
    assert suggestion.confidence == pytest.approx(0.55)


def test_multi_label_may_suggest_no_label(multi, labels, image):
    """Nothing above its threshold: an empty suggestion, confident when all are low."""
    model = ModelVersionFactory(project=multi)
    predict(model, image, probabilities(labels, cat=0.1, dog=0.05, bird=0.2))
    suggestion = suggestion_for(project=multi, image=image)
    assert suggestion is not None
    assert suggestion.label_ids == []
    assert suggestion.confidence == pytest.approx(0.8)


@pytest.mark.parametrize("metrics", [{}, {"thresholds": None}, {"thresholds": {}}])
def test_multi_label_without_thresholds_falls_back_to_half(multi, labels, image, metrics):
    """Missing or empty thresholds mean 0.5 for every label."""
    model = ModelVersionFactory(project=multi, metrics=metrics)
    predict(model, image, probabilities(labels, cat=0.51, dog=0.49))
    suggestion = suggestion_for(project=multi, image=image)
    assert suggestion is not None
    assert suggestion.label_ids == [labels["cat"]]
    assert suggestion.confidence == pytest.approx(0.51)


@pytest.mark.parametrize("spot_check", [True, False])
def test_a_spot_checked_machine_label_is_labelled_blind(project, labels, image, spot_check):
    """An image whose confirmed machine label is kept as a spot check shows no suggestion,
    so the annotator's label measures the machine's; other confirmed images still show it."""
    model = ModelVersionFactory(project=project)
    predict(model, image, probabilities(labels, cat=0.9))
    MachineLabel.objects.create(
        project=project,
        image=image,
        model_version=model,
        label_ids=[labels["cat"]],
        confidence=0.9,
        status=MachineLabelStatus.CONFIRMED,
        spot_check=spot_check,
    )
    assert (suggestion_for(project=project, image=image) is None) is spot_check


# image sizes and model inputs


def _sized(project: Project, sides: list[tuple[int, int]]) -> None:
    first = project.images.count()
    for i, (width, height) in enumerate(sides, start=first):
        Image.objects.create(
            project=project,
            file=f"f{i}.jpg",
            original_name=f"f{i}.jpg",
            sha256=f"{i:064x}",
            width=width,
            height=height,
            format="JPEG",
            size_bytes=1,
        )


def test_image_side_median_is_the_median_shorter_side(project):
    assert image_side_median(project) == (None, 0)
    _sized(project, [(4000, 3000), (3000, 4000), (640, 480), (20, 5000), (5000, 3500)])
    assert image_side_median(project) == (3000, 5)


def test_the_thumbnail_worker_keeps_224_pixel_inputs_of_photos_for_auto(project):
    """Architecture auto may settle on a backbone at 224 for photos: those inputs are kept
    ahead too; small images only get the small CNN's."""
    _sized(project, [(28, 28)] * 3)
    assert model_input_specs(project) == {(32, False)}
    _sized(project, [(4000, 3000)] * 10)
    assert model_input_specs(project) == {(32, False), (224, False)}
    project.training = {"architecture": "small-cnn"}
    assert model_input_specs(project) == {(32, False)}
    project.training = {"architecture": "efficientnet_b0", "grayscale": True}
    assert model_input_specs(project) == {(224, True)}
