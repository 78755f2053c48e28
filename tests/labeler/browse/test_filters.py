"""The data browser's filters: each one on a small project whose images differ by one fact.

Written against the ORM only, so they hold on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import QueryDict
from django.utils import timezone

from labeler.agreement.final_labels import final_labels_refresh
from labeler.agreement.review_requests import review_requests_add
from labeler.agreement.services import image_decide
from labeler.annotations.models import Annotation, FinalLabelMethod
from labeler.browse.filters import FILTERS, ImageFilter, images_filtered, register_filter
from labeler.errors import PermissionDenied, ValidationFailed
from labeler.images.models import Image
from labeler.projects.models import Role
from tests.factories import (
    ModelVersionFactory,
    ProjectFactory,
    UserFactory,
    add_member,
    annotation_submit,
    predict,
    skip_create,
)

# SQL, triggers or task running that differ on the embedded default: run there too.
pytestmark = pytest.mark.embedded


@pytest.fixture
def scene(project, lead, annotator, annotator2, make_images):
    """Images of a project with overlap 2, one fact apiece:

    fresh (nothing), started (one label), agreed (cat, cat), tie (cat, dog),
    gold (a lead's dog), skipped (an annotator passed on it).
    """
    names = ("fresh", "started", "agreed", "tie", "gold", "skipped")
    images = dict(zip(names, make_images(project, len(names)), strict=True))
    annotation_submit(
        project=project, annotator=annotator, image_id=images["started"].pk, labels=["cat"]
    )
    for user, label in ((annotator, "cat"), (annotator2, "cat")):
        annotation_submit(
            project=project, annotator=user, image_id=images["agreed"].pk, labels=[label]
        )
    for user, label in ((annotator, "cat"), (annotator2, "dog")):
        annotation_submit(
            project=project, annotator=user, image_id=images["tie"].pk, labels=[label]
        )
    image_decide(
        project=project, image_id=images["gold"].pk, labels=["dog"], decided_by=lead,
        method=FinalLabelMethod.GOLD,
    )  # fmt: skip
    skip_create(project=project, annotator=annotator, image_id=images["skipped"].pk)
    final_labels_refresh(project=project)
    return images


def names_of(project, lead, query: str, images: dict[str, Image]) -> set[str]:
    by_id = {image.pk: name for name, image in images.items()}
    found = images_filtered(project, QueryDict(query), user=lead)
    return {by_id[pk] for pk in found.values_list("pk", flat=True)}


@pytest.mark.django_db
class TestStatus:
    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            ("not_started", {"fresh", "gold", "skipped"}),
            ("in_progress", {"started"}),
            ("complete", {"agreed", "tie"}),
            ("skipped", {"skipped"}),
            ("gold", {"gold"}),
            ("in_review", {"tie"}),
        ],
    )
    def test_each_status(self, project, lead, scene, status, expected):
        assert names_of(project, lead, f"status={status}", scene) == expected

    def test_several_values_match_any(self, project, lead, scene):
        assert names_of(project, lead, "status=gold&status=skipped", scene) == {"gold", "skipped"}

    def test_an_unknown_status_is_refused_by_name(self, project, lead, scene):
        with pytest.raises(ValidationFailed, match="status: unknown value 'done'"):
            images_filtered(project, QueryDict("status=done"), user=lead)


@pytest.mark.django_db
class TestLabels:
    def test_final_label_by_name_or_id(self, project, lead, scene):
        dog = project.labels.get(name="dog")
        assert names_of(project, lead, "final_label=dog", scene) == {"gold"}
        assert names_of(project, lead, f"final_label={dog.pk}", scene) == {"gold"}
        assert names_of(project, lead, "final_label=CAT", scene) == {"agreed"}

    def test_final_label_none(self, project, lead, scene):
        assert names_of(project, lead, "final_label=none", scene) == {
            "fresh", "started", "tie", "skipped"
        }  # fmt: skip

    def test_final_method(self, project, lead, scene):
        assert names_of(project, lead, "final_method=gold", scene) == {"gold"}
        assert names_of(project, lead, "final_method=consensus", scene) == {"agreed"}

    def test_a_label_of_another_project_is_refused(self, project, lead, scene):
        other = ProjectFactory(labels=["fish"])
        fish = other.labels.get()
        with pytest.raises(ValidationFailed, match="not a label of this project"):
            images_filtered(project, QueryDict(f"final_label={fish.pk}"), user=lead)

    def test_annotator_and_label_hold_for_one_annotation(
        self, project, lead, annotator, annotator2, scene
    ):
        assert names_of(project, lead, "label=dog", scene) == {"tie"}
        assert names_of(project, lead, f"annotator={annotator2.pk}", scene) == {"agreed", "tie"}
        assert names_of(project, lead, "annotator=ann1&label=dog", scene) == set()
        assert names_of(project, lead, "annotator=ann2&label=dog", scene) == {"tie"}

    def test_an_unknown_annotator_is_refused(self, project, lead, scene):
        with pytest.raises(ValidationFailed, match="annotator: 'nobody' is no annotator of"):
            images_filtered(project, QueryDict("annotator=nobody"), user=lead)

    def test_a_user_outside_the_project_is_refused_as_no_user_is(
        self, project, lead, scene, outsider
    ):
        """Answers that differed told a lead which usernames exist elsewhere."""
        answers = []
        for value in (outsider.username, "nobody-at-all", str(outsider.pk), "999999"):
            with pytest.raises(ValidationFailed) as refused:
                images_filtered(project, QueryDict(f"annotator={value}"), user=lead)
            answers.append(refused.value.message.replace(repr(value), "NAME"))
        assert len(set(answers)) == 1, answers

    def test_number_of_labels(self, project, lead, scene):
        assert names_of(project, lead, "labels_min=2", scene) == {"agreed", "tie"}
        assert names_of(project, lead, "labels_min=1&labels_max=1", scene) == {"started"}
        with pytest.raises(ValidationFailed, match="labels_min: '-1' is not a whole number"):
            images_filtered(project, QueryDict("labels_min=-1"), user=lead)

    def test_agreement(self, project, lead, scene):
        assert names_of(project, lead, "agreement=unanimous", scene) == {"agreed"}
        assert names_of(project, lead, "agreement=tie", scene) == {"tie"}
        assert names_of(project, lead, "agreement=split", scene) == set()

    def test_consensus_confidence(self, project, lead, scene):
        # A person's decision (gold) counts as certain.
        assert names_of(project, lead, "confidence_min=0.9", scene) == {"agreed", "gold"}
        assert names_of(project, lead, "confidence_max=0.5", scene) == set()
        with pytest.raises(ValidationFailed, match="confidence_min: '2' is not a number from 0"):
            images_filtered(project, QueryDict("confidence_min=2"), user=lead)
        with pytest.raises(ValidationFailed, match="not a number"):
            images_filtered(project, QueryDict("confidence_max=nan"), user=lead)


@pytest.mark.django_db
def test_a_split_takes_three_annotators_who_do_not_agree(make_images):
    project = ProjectFactory(overlap=3)
    lead = UserFactory(username="lead3")
    add_member(project, lead, Role.LEAD)
    split, unanimous = make_images(project, 2)
    for n, label in enumerate(("cat", "cat", "dog")):
        user = UserFactory(username=f"three{n}")
        add_member(project, user)
        annotation_submit(project=project, annotator=user, image_id=split.pk, labels=[label])
        annotation_submit(project=project, annotator=user, image_id=unanimous.pk, labels=["bird"])
    images = {"split": split, "unanimous": unanimous}
    assert names_of(project, lead, "agreement=split", images) == {"split"}
    assert names_of(project, lead, "agreement=tie", images) == set()
    assert names_of(project, lead, "agreement=unanimous", images) == {"unanimous"}


@pytest.mark.django_db
def test_a_multi_label_tie_is_a_label_with_half_the_votes(make_images):
    project = ProjectFactory(overlap=2, multi_label=True)
    lead = UserFactory(username="lead-multi")
    add_member(project, lead, Role.LEAD)
    tie, agreed = make_images(project, 2)
    for n, labels in enumerate((["cat", "dog"], ["cat"])):
        user = UserFactory(username=f"multi{n}")
        add_member(project, user)
        annotation_submit(project=project, annotator=user, image_id=tie.pk, labels=labels)
        annotation_submit(
            project=project, annotator=user, image_id=agreed.pk, labels=["cat", "bird"]
        )
    images = {"tie": tie, "agreed": agreed}
    assert names_of(project, lead, "agreement=tie", images) == {"tie"}
    assert names_of(project, lead, "agreement=unanimous", images) == {"agreed"}


@pytest.mark.django_db
class TestModel:
    @pytest.fixture
    def model(self, project, scene):
        model = ModelVersionFactory(project=project)
        ids = {label.name: str(label.pk) for label in project.labels.all()}
        predict(model, scene["agreed"], {ids["cat"]: 0.1, ids["dog"]: 0.85, ids["bird"]: 0.05})
        predict(model, scene["gold"], {ids["cat"]: 0.2, ids["dog"]: 0.7, ids["bird"]: 0.1})
        predict(model, scene["fresh"], {ids["cat"]: 0.6, ids["dog"]: 0.3, ids["bird"]: 0.1})
        model.predictions.filter(image=scene["agreed"]).update(confidence=0.85)
        model.predictions.filter(image=scene["gold"]).update(confidence=0.7)
        model.predictions.filter(image=scene["fresh"]).update(confidence=0.6)
        return model

    def test_predicted_label(self, project, lead, scene, model):
        assert names_of(project, lead, "predicted=dog", scene) == {"agreed", "gold"}
        assert names_of(project, lead, "predicted=cat", scene) == {"fresh"}

    def test_only_the_current_model_counts(self, project, lead, scene, model):
        model.is_current = False
        model.save()
        assert names_of(project, lead, "predicted=dog", scene) == set()

    def test_model_confidence(self, project, lead, scene, model):
        assert names_of(project, lead, "model_confidence_min=0.65", scene) == {"agreed", "gold"}
        assert names_of(project, lead, "model_confidence_max=0.65", scene) == {"fresh"}

    def test_model_disagrees_with_the_final_label(self, project, lead, scene, model):
        assert names_of(project, lead, "model_disagrees=true", scene) == {"agreed"}
        # Agrees: "fresh" has a prediction but no final label, so it is in neither.
        assert names_of(project, lead, "model_disagrees=false", scene) == {"gold"}
        with pytest.raises(ValidationFailed, match="neither true nor false"):
            images_filtered(project, QueryDict("model_disagrees=yes"), user=lead)

    def test_filters_combine(self, project, lead, scene, model):
        assert names_of(project, lead, "predicted=dog&status=gold", scene) == {"gold"}

    def test_suggestion_shown_and_accepted(self, project, lead, scene, model):
        Annotation.objects.filter(image=scene["agreed"]).update(
            suggestion_shown=True, suggestion_accepted=False
        )
        Annotation.objects.filter(image=scene["tie"], annotator__username="ann2").update(
            suggestion_shown=True, suggestion_accepted=True
        )
        assert names_of(project, lead, "suggestion=shown", scene) == {"agreed", "tie"}
        assert names_of(project, lead, "suggestion=accepted", scene) == {"tie"}
        assert names_of(project, lead, "suggestion=changed", scene) == {"agreed"}
        assert names_of(project, lead, "suggestion=not_shown", scene) == {"started", "tie"}


@pytest.mark.django_db
class TestImageFacts:
    def test_upload_dates(self, project, lead, scene):
        Image.objects.filter(pk=scene["fresh"].pk).update(
            created_at=dt.datetime(2020, 5, 1, 12, tzinfo=dt.UTC)
        )
        assert names_of(project, lead, "uploaded_before=2020-05-01", scene) == {"fresh"}
        assert "fresh" not in names_of(project, lead, "uploaded_after=2020-05-02", scene)
        today = timezone.now().date().isoformat()
        assert names_of(project, lead, f"uploaded_after={today}", scene) == set(scene) - {"fresh"}
        with pytest.raises(ValidationFailed, match="uploaded_after: 'yesterday' is not a date"):
            images_filtered(project, QueryDict("uploaded_after=yesterday"), user=lead)

    def test_file_name_contains(self, project, lead, scene):
        Image.objects.filter(pk=scene["gold"].pk).update(original_name="Beach_Dog.JPG")
        assert names_of(project, lead, "name=dog.jpg", scene) == {"gold"}

    def test_empty_values_are_no_filter_where_a_form_sends_them(self, project, lead, scene):
        found = images_filtered(project, QueryDict("status=&name="), user=lead, empty_is_none=True)
        assert found.count() == len(scene)
        with pytest.raises(ValidationFailed, match="status is empty"):
            images_filtered(project, QueryDict("status=&name="), user=lead)


@pytest.mark.django_db
def test_annotators_may_not_filter(project, annotator, scene):
    assert images_filtered(project, QueryDict(""), user=annotator).count() == len(scene)
    with pytest.raises(PermissionDenied, match="label blind"):
        images_filtered(project, QueryDict("status=gold"), user=annotator)
    with pytest.raises(PermissionDenied):
        images_filtered(project, QueryDict("sort=-created_at"), user=annotator)


@pytest.mark.django_db
def test_a_reviewer_filters(project, reviewer, scene):
    assert images_filtered(project, {"status": ["gold"]}, user=reviewer).count() == 1


@pytest.mark.django_db
def test_another_module_registers_a_filter(project, lead, scene):
    def only_gold(images, values, project):
        return images.filter(final_label__method="gold")

    register_filter(ImageFilter("golden", "Golden", "choice", only_gold, choices=(("1", "Yes"),)))
    try:
        assert names_of(project, lead, "golden=1", scene) == {"gold"}
        with pytest.raises(ValueError, match="exists already"):
            register_filter(ImageFilter("status", "Status", "choice", only_gold))
    finally:
        del FILTERS["golden"]


@pytest.mark.django_db
def test_in_review_holds_explicit_review_requests(project, lead, scene):
    review_requests_add(project, [scene["fresh"].pk], reason="requested", requested_by=lead)
    assert names_of(project, lead, "status=in_review", scene) == {"tie", "fresh"}
