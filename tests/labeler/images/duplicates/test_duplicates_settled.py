"""Splits wait for the project's hashes: no route trains or splits an export while the
worker is still hashing images (their groups unknown), and the background refresh copes
with images being hashed and grouped while it runs."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from labeler import flows
from labeler.agreement import duplicate_labels
from labeler.agreement.duplicate_labels import duplicate_label_conflicts
from labeler.bulk.actions import ACTIONS
from labeler.errors import Conflict, DomainError
from labeler.exports.models import Export
from labeler.images.duplicates.finding import phash_columns
from labeler.images.duplicates.groups import (
    duplicate_groups_settled_check,
    image_duplicates_link,
    images_hashing,
)
from labeler.images.models import Image
from labeler.predictions import runs
from labeler.predictions.models import RunStatus, TrainingRun
from labeler.predictions.training_config import training_config_clean
from labeler.task_names import Task
from tests.labeler.exports.data import finalise

HASHING = "still being hashed"


@pytest.fixture
def grouping(settings):
    settings.LABELER_DUPLICATE_DISTANCE = 7


@pytest.fixture
def unhashed(project, make_images, grouping):
    """Two cats and two dogs, final-labelled, stored but not yet prepared by the worker
    (as right after an import: the preparing tasks still queued)."""
    images = make_images(project, 4)
    for image, name in zip(images, ["cat", "cat", "dog", "dog"], strict=True):
        finalise(image, [name], method="adjudicated")  # consensus would be refreshed away
    return images


def prepare_all(images):
    """What the worker does for each new image: thumbnail, hash, group."""
    for image in images:
        flows.image_prepare(image_id=image.pk)


def split_routes() -> list[tuple[str, str, str]]:
    """Every operation of the OpenAPI schema that makes a split keeping groups apart:
    (method, path, how), how being "query" (a ``split`` parameter), "body" (a ``split``
    field) or "training" (a project's route answering with a training run it started)."""
    schema = json.loads(
        OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
    )
    components = schema["components"]["schemas"]
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if any(p.get("name") == "split" for p in operation.get("parameters", [])):
                found.append((method, path, "query"))
            elif "split" in _body_fields(operation, components):
                found.append((method, path, "body"))
            elif _starts_a_run(method, path, operation):
                found.append((method, path, "training"))
    return found


def _starts_a_run(method: str, path: str, operation: dict) -> bool:
    """A project's route (not a run's own, as cancel is) answering with a training run."""
    return method == "post" and "{project_pk}" in path and "TrainingRun" in _success_refs(operation)


def _body_fields(operation: dict, components: dict) -> set[str]:
    fields: set[str] = set()
    for media in operation.get("requestBody", {}).get("content", {}).values():
        ref = media.get("schema", {}).get("$ref", "")
        fields.update(components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}))
    return fields


def _success_refs(operation: dict) -> set[str]:
    return {
        media.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
        for code, response in operation["responses"].items()
        if code.startswith("2")
        for media in response.get("content", {}).values()
    }


def call(client, method, path, how, project):
    url = path.replace("{project_pk}", str(project.pk))
    assert "{" not in url, url
    if how == "query":
        return getattr(client, method)(url, {"split": "0.5,0.5", "format": "json"})
    body = {"split": "0.5,0.5", "format": "json"} if how == "body" else {}
    return getattr(client, method)(url, body, format="json")


@pytest.mark.django_db
def test_every_route_that_splits_waits_for_the_hashes(project, lead, api_as, unhashed):
    """Each route found in the schema is refused with a 409 saying how many images are
    still being hashed, starts nothing, and goes through once they are hashed."""
    routes = split_routes()
    kinds = {how for _, _, how in routes}
    assert kinds == {"query", "body", "training"}, routes  # the export's two, the training
    client = api_as(lead)
    for method, path, how in routes:
        response = call(client, method, path, how, project)
        assert response.status_code == 409, (path, response.content)
        body = response.json()
        assert f"4 images of this project are {HASHING}" in body["detail"], body
        assert body["hashing"] == 4
    assert not TrainingRun.objects.exists() and not Export.objects.exists()

    prepare_all(unhashed)
    for method, path, how in routes:
        response = call(client, method, path, how, project)
        assert 200 <= response.status_code < 300, (path, response.content)


def bulk_split_actions(project) -> list[str]:
    """Every bulk action that takes a ``split`` (its own check accepts one)."""
    found = []
    for name, action in ACTIONS.items():
        try:
            action.check(project, {"split": "0.5,0.5", "format": "json"})
        except DomainError:
            continue
        found.append(name)
    return found


@pytest.mark.django_db
def test_every_bulk_action_that_splits_waits_for_the_hashes(project, lead, api_as, unhashed):
    """A selection's export with a split: 409 saying how many, nothing stored."""
    actions = bulk_split_actions(project)
    assert actions == ["export"]
    url = f"/api/v1/projects/{project.pk}/images/bulk/"
    for action in actions:
        body = {"action": action, "selection": {"ids": [i.pk for i in unhashed]}}
        body.update(split="0.5,0.5", format="json", expected_count=4)
        response = api_as(lead).post(url, body, format="json")
        assert response.status_code == 409, response.content
        assert HASHING in response.json()["detail"]
    assert not Export.objects.exists()


@pytest.mark.django_db
def test_hashing_counts_the_images_the_worker_has_still_to_hash(project, unhashed, settings):
    """Not the decoded ones, not those that failed to decode, not those stuck for long,
    and none while the project groups nothing."""
    assert images_hashing(project).count() == 4
    prepare_all(unhashed[:1])
    Image.objects.filter(pk=unhashed[1].pk).update(problem="The image cannot be decoded: x")
    Image.objects.filter(pk=unhashed[2].pk).update(created_at=timezone.now() - timedelta(hours=2))
    assert list(images_hashing(project).values_list("pk", flat=True)) == [unhashed[3].pk]
    with pytest.raises(Conflict, match=f"1 image of this project is {HASHING}"):
        duplicate_groups_settled_check(project=project)
    settings.LABELER_DUPLICATE_DISTANCE = -1
    duplicate_groups_settled_check(project=project)  # grouping off: nothing to wait for


@pytest.mark.django_db
def test_a_retraining_waits_for_the_hashes(project, unhashed, django_capture_on_commit_callbacks):
    """The refresh's retraining check starts no run while images are being hashed and
    schedules one more refresh (one at a time), which, once they are, starts it."""
    project.retrain_after = 1
    project.save(update_fields=["retrain_after"])
    with django_capture_on_commit_callbacks() as sent:
        assert runs.training_refresh_if_due(project=project) is None
        assert runs.training_refresh_if_due(project=project) is None
    assert not TrainingRun.objects.exists()
    [again] = [callback.signature for callback in sent]
    assert again.task == Task.AGREEMENT_REFRESH and again.args == (project.pk,)
    assert again.options["countdown"] == runs.HASHING_RECHECK_SECONDS
    prepare_all(unhashed)
    assert runs.training_refresh_if_due(project=project) is not None


@pytest.mark.django_db
def test_a_queued_run_is_not_claimed_while_images_are_being_hashed(project, unhashed):
    """A run queued before new images came (hashed or not) is not split on unknown groups:
    its claim is refused, saying why, which the worker records as the run's failure."""
    prepare_all(unhashed[:3])
    Image.objects.filter(pk=unhashed[3].pk).update(created_at=timezone.now() - timedelta(hours=2))
    run = runs.training_run_create(project=project, config={"epochs": 1}, label_count=4)
    Image.objects.filter(pk=unhashed[3].pk).update(created_at=timezone.now())
    with pytest.raises(Conflict, match=HASHING):
        runs.training_run_begin(run_id=run.pk, device="cpu")
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED  # the worker's failure handler marks it failed


@pytest.mark.django_db
def test_a_queued_run_waits_for_the_hashes_and_is_then_claimed(
    project, unhashed, settings, monkeypatch
):
    """A training asked for right after an upload is taken, and the worker that picks it up
    waits (the run still queued) while the new images are hashed, then claims it: the
    run is not failed for images that were seconds from their groups."""
    settings.LABELER_HASHING_WAIT_SECONDS = 60
    prepare_all(unhashed[:3])
    run = runs.training_run_create(
        project=project, config=training_config_clean({"epochs": 1}), label_count=4
    )
    waits = []

    def meanwhile_the_worker_hashes(seconds: float) -> None:
        waits.append(TrainingRun.objects.get(pk=run.pk).status)
        prepare_all(unhashed[3:])

    monkeypatch.setattr(runs.time, "sleep", meanwhile_the_worker_hashes)
    runs.training_hashes_wait(run_id=run.pk)
    plan = runs.training_run_begin(run_id=run.pk, device="cpu")

    assert waits == [RunStatus.QUEUED]
    assert plan is not None and plan.run.status == RunStatus.RUNNING


def hashed_pair(project, make_images):
    """Two hashed images a few bits apart, grouped, with different final labels."""
    a, b = make_images(project, 2)
    Image.objects.filter(pk=a.pk).update(**phash_columns(0))
    Image.objects.filter(pk=b.pk).update(**phash_columns(0b111))
    image_duplicates_link(image_id=b.pk)
    finalise(a, ["cat"])
    finalise(b, ["dog"])
    return a, b


@pytest.mark.django_db
def test_an_image_grouped_while_conflicts_are_read_waits_for_the_next_refresh(
    project, make_images, grouping, monkeypatch
):
    """The worker groups a labelled image between the read of the groups and the read of
    the final labels: the refresh leaves it to the next one instead of failing."""
    a, b = hashed_pair(project, make_images)
    [late] = make_images(project, 1)
    finalise(late, ["dog"])
    read = duplicate_labels._final_labels

    def hashed_meanwhile(images):
        Image.objects.filter(pk=late.pk).update(**phash_columns(0b1))
        image_duplicates_link(image_id=late.pk)
        return read(images)

    monkeypatch.setattr(duplicate_labels, "_final_labels", hashed_meanwhile)
    assert duplicate_label_conflicts(project) == {a.pk: {a.pk: ["cat"], b.pk: ["dog"]}}
    monkeypatch.setattr(duplicate_labels, "_final_labels", read)
    assert late.pk in duplicate_label_conflicts(project)[a.pk]  # the next refresh has it


@pytest.mark.django_db
def test_a_failing_step_of_the_refresh_skips_none_of_the_others(
    project, make_images, grouping, monkeypatch
):
    """The duplicate reviews failing, the retraining check, the agreement report and the
    review queue still run; the failure is raised after them."""
    hashed_pair(project, make_images)
    done = []

    def broken(**kwargs):
        raise RuntimeError("duplicate reviews failed")

    def recording(name, real):
        def step(*args, **kwargs):
            done.append(name)
            return real(*args, **kwargs)

        return step

    monkeypatch.setattr(flows, "duplicate_reviews_request", broken)
    for name in ("training_refresh_if_due", "agreement_report", "review_candidates"):
        monkeypatch.setattr(flows, name, recording(name, getattr(flows, name)))
    with pytest.raises(RuntimeError, match="duplicate reviews failed"):
        flows.agreement_refresh(project=project)
    assert done == ["training_refresh_if_due", "agreement_report", "review_candidates"]
