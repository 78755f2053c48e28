"""The suggestion-sway endpoint on a constructed set: shares with and without a suggestion
shown, and wrong suggestions taken, per annotator and for the team."""

from __future__ import annotations

import pytest

from labeler.agreement.services import image_decide
from labeler.annotations.models import Annotation
from labeler.projects.models import Project
from tests.conftest import client_for
from tests.factories import ModelVersionFactory, predict

pytestmark = pytest.mark.django_db

# image: (final label, the model's suggestion); then each annotator's labels:
# (image, label, shown) where not shown means held back.
FINAL_AND_SUGGESTED = {
    0: ("cat", "cat"),
    1: ("cat", "dog"),
    2: ("dog", "cat"),
    3: ("bird", "cat"),
    4: ("bird", "bird"),
    5: (None, "cat"),  # no final label: left out
}
LABELS = {
    "ann1": [(0, "cat", True), (1, "dog", True), (2, "dog", True), (3, "bird", False),
             (4, "cat", False), (5, "cat", True)],
    "ann2": [(0, "cat", True), (1, "dog", True), (3, "bird", False), (4, "bird", None)],
}  # fmt: skip
# ann1: shown 2 of 3 agree, held back 1 of 2, wrong suggestions taken 1 of 2
# ann2: shown 1 of 2, held back 1 of 1 (the None label had no suggestion at all), taken 1 of 1
# team: shown 3 of 5, held back 2 of 3, taken 2 of 3


def build_sway_set(project: Project, lead, users: dict[str, object], images: list) -> None:
    """Final labels, the current model's predictions and labels as the queue records them."""
    model = ModelVersionFactory(project=project)
    ids = {label.name: label.pk for label in project.labels.all()}
    for index, (final, suggested) in FINAL_AND_SUGGESTED.items():
        image = images[index]
        predict(
            model,
            image,
            {str(pk): (0.9 if name == suggested else 0.05) for name, pk in ids.items()},
        )
        if final is not None:
            image_decide(project=project, image_id=image.pk, labels=[final], decided_by=lead,
                         method="adjudicated")  # fmt: skip
    for name, rows in LABELS.items():
        for index, label, shown in rows:
            suggestion = FINAL_AND_SUGGESTED[index][1]
            annotation = Annotation.objects.create(
                project=project,
                image=images[index],
                annotator=users[name],
                suggested_by=model if shown else None,
                suggestion_shown=bool(shown),
                suggestion_withheld=shown is False,
                suggestion_accepted=bool(shown) and label == suggestion,
            )
            annotation.labels.set([ids[label]])


def test_the_sway_figures_of_a_constructed_set(project, lead, annotator, annotator2, make_images):
    build_sway_set(project, lead, {"ann1": annotator, "ann2": annotator2}, make_images(project, 6))
    response = client_for(lead).get(f"/api/v1/projects/{project.pk}/agreement/suggestion-sway/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["labels"] == 8
    team = body["team"]
    assert (team["agreement_shown"]["value"], team["agreement_shown"]["n"]) == (0.6, 5)
    assert team["agreement_withheld"]["n"] == 3
    assert team["agreement_withheld"]["value"] == pytest.approx(2 / 3)
    assert team["wrong_accepted"]["value"] == pytest.approx(2 / 3)
    assert team["agreement_shown"]["ci_low"] < 0.6 < team["agreement_shown"]["ci_high"]
    first, second = body["annotators"]
    assert (first["username"], second["username"]) == ("ann1", "ann2")
    assert first["agreement_shown"]["value"] == pytest.approx(2 / 3)
    assert first["agreement_withheld"]["value"] == 0.5
    assert (first["wrong_accepted"]["value"], first["wrong_accepted"]["n"]) == (0.5, 2)
    assert first["difference"] == pytest.approx(2 / 3 - 0.5)
    assert (second["agreement_withheld"]["value"], second["agreement_withheld"]["n"]) == (1.0, 1)
    assert (second["wrong_accepted"]["value"], second["wrong_accepted"]["n"]) == (1.0, 1)


def test_annotators_may_not_read_the_sway(project, annotator):
    response = client_for(annotator).get(
        f"/api/v1/projects/{project.pk}/agreement/suggestion-sway/"
    )
    assert response.status_code == 403
