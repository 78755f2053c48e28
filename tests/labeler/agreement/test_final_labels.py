"""Final labels are current whenever they are read: exports, training runs, the review queue
and the dashboard hold every label given before they started, however recent.

The background refresh is throttled to once an hour here, so it cannot be why they do:
it runs once, after the first label (tasks run in process), and not again.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile

import pytest
from django.db import connections, transaction

from labeler.agreement.final_labels import (
    final_labels_current,
    final_labels_refresh,
    final_labels_stale,
)
from labeler.agreement.services import image_decide, image_decision_clear
from labeler.annotations.models import FinalLabel, FinalLabelMethod, LabelChange
from labeler.predictions import runs
from labeler.predictions.training_config import training_config_clean
from labeler.projects.models import Project, Role
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]

N_IMAGES = 30


@pytest.fixture(autouse=True)
def hourly_refresh(settings):
    settings.AGREEMENT_REFRESH_SECONDS = 3600


@pytest.fixture
def birds(lead, annotator, make_images) -> Project:
    """Overlap 1: each image's one label is its final label, once consensus has run."""
    project = ProjectFactory(name="Birds", overlap=1, gold_rate=0)
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator)
    make_images(project, N_IMAGES)
    return project


def api(project: Project, path: str) -> str:
    return f"/api/v1/projects/{project.pk}/{path}"


def give(client, project, image_id: int, name: str, capture) -> None:
    """Send one label as the labelling page does; its refresh, if one is due, runs at once."""
    with capture(execute=True):
        response = client.post(
            api(project, "annotations/"), {"image": image_id, "labels": [name]}, format="json"
        )
    assert response.status_code in (200, 201), response.content


def label_queue(project, user, capture, *, leave: int = 0) -> list[int]:
    """Label what the queue hands out (cat, dog, cat...) until ``leave`` images are left."""
    client = client_for(user)
    given: list[int] = []
    while len(given) < N_IMAGES - leave:
        response = client.get(api(project, "next/"))
        assert response.status_code == 200, response.content
        image_id = response.json()["image"]["id"]
        give(client, project, image_id, ("cat", "dog")[len(given) % 2], capture)
        given.append(image_id)
    return given


def label_queue_rest(project, user, capture) -> None:
    """Label every image the queue still hands the annotator."""
    client = client_for(user)
    while (response := client.get(api(project, "next/"))).status_code == 200:
        give(client, project, response.json()["image"]["id"], "dog", capture)
    assert response.status_code == 204


def final_count(project: Project) -> int:
    return FinalLabel.objects.filter(image__project=project).count()


def test_an_export_asked_for_right_after_the_last_label_holds_every_image(
    birds, lead, annotator, django_capture_on_commit_callbacks
):
    """ImageFolder and COCO, downloaded directly: all 30 images, the last one included."""
    label_queue(birds, annotator, django_capture_on_commit_callbacks)
    assert final_count(birds) == 1  # the background refresh ran after the first label only
    client = client_for(lead)
    folder = client.get(api(birds, "export/"), {"format": "imagefolder"})
    assert folder.status_code == 200, folder.content
    names = _image_members(folder)
    assert len(names) == N_IMAGES
    assert sum(name.startswith("cat/") for name in names) == N_IMAGES // 2
    coco = client.get(api(birds, "export/"), {"format": "coco"})
    document = json.loads(b"".join(coco.streaming_content))
    assert (len(document["images"]), len(document["annotations"])) == (N_IMAGES, N_IMAGES)


def test_a_background_export_holds_the_labels_given_before_its_worker_started(
    birds, lead, annotator, django_capture_on_commit_callbacks
):
    """The export is asked for with one image left; that image is labelled before a
    worker picks the export up, and the file has it."""
    label_queue(birds, annotator, django_capture_on_commit_callbacks, leave=1)
    with django_capture_on_commit_callbacks() as sends:
        started = client_for(lead).post(api(birds, "exports/"), {"format": "imagefolder"})
    assert started.status_code == 202, started.content
    assert started.json()["total"] == N_IMAGES - 1
    client = client_for(annotator)
    last = client.get(api(birds, "next/")).json()["image"]["id"]
    give(client, birds, last, "dog", django_capture_on_commit_callbacks)
    for send in sends:
        send()  # the worker starts now
    export = client_for(lead).get(f"/api/v1/exports/{started.json()['id']}/").json()
    assert (export["status"], export["total"], export["done"]) == ("done", N_IMAGES, N_IMAGES)
    download = client_for(lead).get(export["download_url"])
    names = _image_members(download)
    assert len(names) == N_IMAGES


def test_a_training_run_trains_on_the_labels_given_before_a_worker_claimed_it(
    birds, annotator, django_capture_on_commit_callbacks
):
    """A run queued on 10 labels is claimed after 20 more came in: it trains on all 30."""
    label_queue(birds, annotator, django_capture_on_commit_callbacks, leave=20)
    run = runs.training_run_create(
        project=birds, config=training_config_clean({"epochs": 1}), label_count=10
    )
    label_queue_rest(birds, annotator, django_capture_on_commit_callbacks)
    plan = runs.training_run_begin(run_id=run.pk, device="cpu")
    assert plan is not None
    assert len(plan.data) == N_IMAGES
    assert plan.run.label_count == N_IMAGES


@pytest.fixture
def agreed(project, annotator, annotator2, make_images, django_capture_on_commit_callbacks):
    """Overlap 2: both annotators said cat to three images, and consensus has run since."""
    images = make_images(project, 3)
    for user in (annotator, annotator2):
        client = client_for(user)
        for image in images:
            client.get(api(project, "next/"))
            give(client, project, image.pk, "cat", django_capture_on_commit_callbacks)
    final_labels_refresh(project=project)
    assert final_count(project) == 3
    return images


def test_the_review_queue_shows_the_newest_disagreement_as_undecided(
    project, reviewer, annotator2, agreed, django_capture_on_commit_callbacks
):
    """The second annotator changes an agreed image to dog: it is in the queue at once, as
    a tie, with its consensus final label gone (it needs a person now)."""
    image = agreed[1]
    give(client_for(annotator2), project, image.pk, "dog", django_capture_on_commit_callbacks)
    client = client_for(reviewer)
    queue = client.get(api(project, "review/")).json()
    assert [(item["image"]["id"], item["reason"]) for item in queue["results"]] == [
        (image.pk, "tie")
    ]
    assert queue["results"][0]["final_label"] is None
    item = client.get(api(project, f"review/{image.pk}/")).json()
    assert (item["reason"], item["final_label"]) == ("tie", None)


def test_the_dashboard_shows_the_newest_disagreement(
    project, lead, annotator2, agreed, django_capture_on_commit_callbacks
):
    """What the dashboard shows (the agreement report, the review preview) counts the label
    given a moment ago; the image it flags has no consensus final label left."""
    client = client_for(lead)
    assert client.get(api(project, "agreement/")).json()["percent_agreement"]["value"] == 1.0
    give(client_for(annotator2), project, agreed[0].pk, "dog", django_capture_on_commit_callbacks)
    report = client.get(api(project, "agreement/")).json()
    assert report["percent_agreement"]["value"] == pytest.approx(2 / 3)
    preview = client.get(api(project, "review/"), {"page_size": 5}).json()
    assert [item["image"]["id"] for item in preview["results"]] == [agreed[0].pk]
    assert preview["results"][0]["final_label"] is None
    assert not FinalLabel.objects.filter(image=agreed[0]).exists()


def test_an_image_agreed_a_moment_ago_shows_its_consensus_final_label(
    project, reviewer, annotator, annotator2, make_images, django_capture_on_commit_callbacks
):
    """Its second label completes the image: its review item carries the consensus."""
    images = make_images(project, 2)
    for user in (annotator, annotator2):
        client = client_for(user)
        for image in images:
            client.get(api(project, "next/"))
            give(client, project, image.pk, "bird", django_capture_on_commit_callbacks)
    item = client_for(reviewer).get(api(project, f"review/{images[1].pk}/")).json()
    assert item["final_label"]["method"] == FinalLabelMethod.CONSENSUS
    assert item["consensus"]["confidence"] == 1.0


def test_reading_current_final_labels_costs_one_query(
    birds, annotator, django_capture_on_commit_callbacks, django_assert_num_queries
):
    label_queue(birds, annotator, django_capture_on_commit_callbacks, leave=N_IMAGES - 2)
    assert final_labels_current(project=birds) is True
    with django_assert_num_queries(1):
        assert final_labels_current(project=birds) is False


def test_a_persons_decision_needs_no_refresh_and_taking_it_back_does(
    project, lead, annotator, annotator2, agreed
):
    """Consensus leaves decided images alone: a decision keeps the final labels current; a
    decision taken back gives the image back to consensus, which the next reader runs."""
    image_decide(
        project=project, image_id=agreed[0].pk, labels=["dog"], decided_by=lead,
        method=FinalLabelMethod.ADJUDICATED,
    )  # fmt: skip
    assert not final_labels_stale(project)
    image_decision_clear(project=project, image_id=agreed[0].pk, cleared_by=lead)
    assert final_labels_stale(project)
    assert final_labels_current(project=project) is True
    final = FinalLabel.objects.get(image=agreed[0])
    assert final.method == FinalLabelMethod.CONSENSUS


def test_changed_consensus_settings_make_final_labels_stale(project, agreed):
    """A higher review threshold than any consensus reaches: no consensus final label."""
    project.review_threshold = 1.0
    project.overlap = 3
    project.save()
    assert final_labels_current(project=project) is True
    assert final_count(project) == 0


def test_a_change_that_appears_below_the_newest_one_is_not_passed_over(
    birds, annotator, django_capture_on_commit_callbacks
):
    """A label change that shows up after the refresh with an id below the newest one it
    saw (on PostgreSQL, a submit that commits after a later one) still counts."""
    label_queue(birds, annotator, django_capture_on_commit_callbacks, leave=N_IMAGES - 3)
    earlier = LabelChange.objects.filter(project=birds).order_by("id")[1]
    LabelChange.objects.filter(pk=earlier.pk).delete()
    final_labels_refresh(project=birds)
    assert not final_labels_stale(project=birds)
    earlier.save(force_insert=True)
    assert earlier.pk < LabelChange.objects.filter(project=birds).order_by("-id")[0].pk
    assert final_labels_stale(project=birds)


def test_a_project_without_label_changes_is_current(birds):
    assert final_labels_current(project=birds) is False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_submit_that_commits_after_a_later_one_and_a_refresh_is_exported(
    needs_postgres, settings, make_images
):
    """On PostgreSQL: a submit takes its history row's id, a second submit (another
    annotator's: one annotator's submits take their lease lock one at a time) takes a
    higher one and commits first, consensus is refreshed, then the first commits. The
    export right after holds both."""
    settings.AGREEMENT_REFRESH_SECONDS = 3600
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann1")
    other = UserFactory(username="ann2")
    project = ProjectFactory(name="Late", overlap=1, gold_rate=0)
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator)
    add_member(project, other)
    first, second = make_images(project, 2)
    written, commit = threading.Event(), threading.Event()

    def submit_late() -> None:
        try:
            with transaction.atomic():
                annotation_submit(
                    project=project, annotator=annotator, image_id=first.pk, labels=["cat"]
                )
                written.set()
                assert commit.wait(timeout=20)
        finally:
            connections.close_all()

    late = threading.Thread(target=submit_late)
    late.start()
    try:
        assert written.wait(timeout=20)
        annotation_submit(project=project, annotator=other, image_id=second.pk, labels=["dog"])
        final_labels_refresh(project=project)
        assert list(FinalLabel.objects.values_list("image_id", flat=True)) == [second.pk]
    finally:
        commit.set()
        late.join(timeout=20)
    ids = dict(LabelChange.objects.filter(kind="annotation_created").values_list("image", "id"))
    assert ids[first.pk] < ids[second.pk]
    response = client_for(lead).get(api(project, "export/"), {"format": "imagefolder"})
    names = _image_members(response)
    assert sorted(name.split("/")[0] for name in names) == ["cat", "dog"]


def _image_members(response) -> list[str]:
    """The images of an ImageFolder zip answered: its class folders and the class lists
    (classes.txt, model_outputs.txt) left out."""
    names = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    lists = {"classes.txt", "model_outputs.txt"}
    return [name for name in names if not name.endswith("/") and name not in lists]
