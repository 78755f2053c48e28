"""A new annotator is held to gold images until they pass the test; a failed or paused
annotator waits for a lead, who is told and can let them go on or retake the test."""

from __future__ import annotations

import pytest
from django.core import mail

from labeler.agreement.services import image_decide
from labeler.annotations.models import AnnotatorStanding, StandingStatus
from labeler.annotations.qualification import qualification_outcome, rolling_accuracy
from labeler.projects.models import Membership, Project, Role
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.rows import row_counts

pytestmark = pytest.mark.django_db


def url(project: Project, path: str) -> str:
    return f"/api/v1/projects/{project.pk}/{path}"


def next_image(project: Project, user, exclude: set[int] | frozenset[int] = frozenset()):
    params = {"exclude": ",".join(map(str, sorted(exclude)))} if exclude else {}
    return client_for(user).get(url(project, "next/"), params)


def answer(project: Project, user, image_id: int, label: str):
    response = client_for(user).post(
        url(project, "annotations/"), {"image": image_id, "labels": [label]}, format="json"
    )
    assert response.status_code == 201, response.content
    return response


@pytest.fixture
def lead(db):
    return UserFactory(username="lead", email="lead@example.org")


@pytest.fixture
def tested(lead, make_images):
    """A project asking for a 3-image test (pass mark 2 of 3) with 5 gold images (all
    "cat") and 4 ordinary ones; gold is never mixed into the real queue."""
    project = ProjectFactory(
        overlap=1, gold_rate=0.0, qualification_gold_count=3, qualification_pass_mark=0.6
    )
    add_member(project, lead, Role.LEAD)
    images = make_images(project, 9)
    for image in images[:5]:
        image_decide(
            project=project, image_id=image.pk, labels=["cat"], decided_by=lead, method="gold"
        )
    project.gold_ids = {image.pk for image in images[:5]}  # type: ignore[attr-defined]
    return project


def newcomer(project: Project, name: str = "new"):
    user = UserFactory(username=name)
    add_member(project, user)
    return user


def take_test(project: Project, user, labels: list[str]) -> list[int]:
    seen = []
    for label in labels:
        response = next_image(project, user)
        assert response.status_code == 200, response.content
        image_id = response.json()["image"]["id"]
        assert image_id in project.gold_ids, "a qualifying annotator gets only gold images"
        seen.append(image_id)
        answer(project, user, image_id, label)
    return seen


def test_outcome_and_rolling_accuracy_are_pure():
    assert qualification_outcome([True, True], size=3, pass_mark=0.6) is None
    assert qualification_outcome([True, True, False], size=3, pass_mark=0.6) is True
    assert qualification_outcome([True, False, False, True], size=3, pass_mark=0.6) is False
    assert qualification_outcome([True], size=3, pass_mark=0.6) is None, "never on fewer"
    assert qualification_outcome([], size=0, pass_mark=0.6) is None
    assert rolling_accuracy([True, False], window=3) is None
    assert rolling_accuracy([False, True, True, False], window=3) == pytest.approx(2 / 3)


def test_a_new_annotator_gets_only_gold_until_they_pass(tested):
    user = newcomer(tested)
    seen = take_test(tested, user, ["cat", "dog"])
    unseen = tested.gold_ids - set(seen)
    held = next_image(tested, user, unseen)
    assert held.status_code == 409, "no ordinary image yet"
    assert held.json()["code"] == "lease_limit"
    seen += take_test(tested, user, ["cat"])
    response = next_image(tested, user, tested.gold_ids - set(seen))
    assert response.status_code == 200
    assert response.json()["image"]["id"] not in tested.gold_ids, "the real queue is open"
    standing = AnnotatorStanding.objects.get(project=tested, annotator=user)
    assert (standing.status, standing.test_answered, standing.test_correct) == (
        StandingStatus.QUALIFIED,
        3,
        2,
    )
    assert not mail.outbox


def test_a_failed_annotator_waits_and_the_lead_is_told(
    tested, lead, django_capture_on_commit_callbacks
):
    user = newcomer(tested)
    take_test(tested, user, ["dog", "dog", "cat"])
    with django_capture_on_commit_callbacks(execute=True):
        response = next_image(tested, user)
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "qualification_failed"
    assert "did not pass" in body["detail"] and "1 of 3" in body["detail"]
    assert (body["test_correct"], body["test_answered"], body["test_size"]) == (1, 3, 3)
    assert [m.to for m in mail.outbox] == [["lead@example.org"]]
    assert "new did not pass" in mail.outbox[0].subject
    # The lead sees it, and sends them back to the test on gold images they have not seen.
    listed = client_for(lead).get(url(tested, "qualification/")).json()
    [row] = [r for r in listed["results"] if r["username"] == "new"]
    assert (row["status"], row["needs_lead"]) == ("failed", True)
    assert listed["rules"]["qualification_gold_count"] == 3
    acted = client_for(lead).post(
        url(tested, f"qualification/{user.pk}/"), {"action": "retake"}, format="json"
    )
    assert acted.status_code == 200, acted.content
    assert (acted.json()["status"], acted.json()["attempts"]) == ("qualifying", 2)
    again = next_image(tested, user).json()["image"]["id"]
    assert again in tested.gold_ids


def test_only_a_lead_acts_and_only_on_someone_waiting(tested, lead, annotator):
    user = newcomer(tested)
    next_image(tested, user)
    add_member(tested, annotator)
    refused = client_for(annotator).post(
        url(tested, f"qualification/{user.pk}/"), {"action": "resume"}, format="json"
    )
    assert refused.status_code == 403
    assert client_for(annotator).get(url(tested, "qualification/")).status_code == 403
    not_waiting = client_for(lead).post(
        url(tested, f"qualification/{user.pk}/"), {"action": "resume"}, format="json"
    )
    assert not_waiting.status_code == 409
    assert "only a failed or paused annotator" in not_waiting.json()["detail"]
    bad = client_for(lead).post(
        url(tested, f"qualification/{user.pk}/"), {"action": "forgive"}, format="json"
    )
    assert bad.status_code == 400
    for missing in (10**6, 2**70):
        gone = client_for(lead).post(
            url(tested, f"qualification/{missing}/"), {"action": "resume"}, format="json"
        )
        assert gone.status_code == 404, gone.content


def test_annotators_already_labelling_and_leads_are_not_tested(lead, make_images):
    project = ProjectFactory(overlap=1, gold_rate=0.0)
    add_member(project, lead, Role.LEAD)
    images = make_images(project, 4)
    image_decide(
        project=project, image_id=images[0].pk, labels=["cat"], decided_by=lead, method="gold"
    )
    veteran = newcomer(project, "veteran")
    first = next_image(project, veteran).json()["image"]["id"]
    answer(project, veteran, first, "dog")
    project.qualification_gold_count = 1
    project.save()
    assert next_image(project, veteran).status_code == 200
    assert next_image(project, lead).status_code == 200
    assert AnnotatorStanding.objects.get(annotator=veteran).status == StandingStatus.QUALIFIED


def test_a_test_with_no_gold_image_says_so(lead, make_images):
    project = ProjectFactory(overlap=1, gold_rate=0.0, qualification_gold_count=2)
    add_member(project, lead, Role.LEAD)
    make_images(project, 2)
    response = next_image(project, newcomer(project))
    assert response.status_code == 409
    assert response.json()["code"] == "qualification_unavailable"
    assert "no gold image left" in response.json()["detail"]


def test_low_rolling_gold_accuracy_pauses_until_the_lead_resumes(
    tested, lead, django_capture_on_commit_callbacks
):
    tested.qualification_gold_count = 0
    tested.gold_pause_below = 0.5
    tested.gold_pause_window = 2
    tested.gold_rate = 1.0
    tested.save()
    user = newcomer(tested)
    take_test(tested, user, ["cat", "dog"])  # 1 of 2: 50%, not below the mark
    assert next_image(tested, user).status_code == 200
    answer(tested, user, next_image(tested, user).json()["image"]["id"], "dog")
    with django_capture_on_commit_callbacks(execute=True):
        response = next_image(tested, user)  # latest two: 0 of 2
    assert response.status_code == 403
    assert response.json()["code"] == "annotator_paused"
    assert "paused" in response.json()["detail"]
    assert "is paused" in mail.outbox[-1].subject
    row = client_for(lead).get(url(tested, "qualification/")).json()["results"][0]
    assert (row["status"], row["rolling_correct"], row["rolling_answered"]) == ("paused", 0, 2)
    resumed = client_for(lead).post(
        url(tested, f"qualification/{user.pk}/"), {"action": "resume"}, format="json"
    )
    assert resumed.json()["status"] == "qualified"
    assert next_image(tested, user).status_code == 200, "the window starts afresh"


def test_project_settings_take_the_rules_and_refuse_bad_ones(tested, lead):
    client = client_for(lead)
    ok = client.patch(
        f"/api/v1/projects/{tested.pk}/",
        {"qualification_gold_count": 5, "gold_pause_below": 0.7, "gold_pause_window": 10},
        format="json",
    )
    assert ok.status_code == 200, ok.content
    assert (ok.json()["qualification_gold_count"], ok.json()["gold_pause_below"]) == (5, 0.7)
    bad = client.patch(
        f"/api/v1/projects/{tested.pk}/", {"qualification_pass_mark": 1.5}, format="json"
    )
    assert bad.status_code == 400
    assert "qualification_pass_mark" in bad.json()["errors"]


def test_the_rules_cost_two_reads_when_nothing_changed(tested, make_images):
    """Rules off: no query. The pause on, no new gold answer: the standing and one look,
    in a transaction of their own (a savepoint pair inside the test's transaction)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    tested.qualification_gold_count = 0
    tested.save()
    user = newcomer(tested)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert next_image(tested, user).status_code == 200
        return len(captured)

    queries()  # the first call makes nothing when the rules are off
    without = queries()
    tested.gold_pause_below = 0.5
    tested.save()
    queries()  # the standing is made
    assert queries() == without + 2 + 2


def test_test_images_cannot_be_skipped_so_the_test_is_not_shortened(tested):
    """Ten questions at a 0.9 mark were once passed on one answer by skipping the rest:
    a skip of a test image is refused (409) and the test goes on until all are answered."""
    user = newcomer(tested)
    [first] = take_test(tested, user, ["cat"])
    held = next_image(tested, user).json()["image"]["id"]
    before = row_counts()
    refused = client_for(user).post(url(tested, "skips/"), {"image": held}, format="json")
    assert refused.status_code == 409, refused.content
    assert refused.json()["code"] == "test_not_skippable"
    assert "cannot be skipped" in refused.json()["detail"]
    assert row_counts() == before
    standing = AnnotatorStanding.objects.get(project=tested, annotator=user)
    assert (standing.status, standing.test_answered) == (StandingStatus.QUALIFYING, 1)
    assert next_image(tested, user).json()["image"]["id"] in tested.gold_ids - {first}


def test_a_test_short_of_gold_waits_rather_than_deciding_on_fewer_answers(lead, make_images):
    """A 3-image test with 2 gold images: after both answers (both right) the annotator is
    not passed on 2; they wait (409 saying so) and stay qualifying."""
    project = ProjectFactory(
        overlap=1, gold_rate=0.0, qualification_gold_count=3, qualification_pass_mark=0.6
    )
    add_member(project, lead, Role.LEAD)
    images = make_images(project, 4)
    for image in images[:2]:
        image_decide(
            project=project, image_id=image.pk, labels=["cat"], decided_by=lead, method="gold"
        )
    project.gold_ids = {image.pk for image in images[:2]}  # type: ignore[attr-defined]
    user = newcomer(project)
    take_test(project, user, ["cat", "cat"])
    response = next_image(project, user)
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "qualification_unavailable"
    assert "test of 3 gold images" in body["detail"] and "answered 2" in body["detail"]
    standing = AnnotatorStanding.objects.get(project=project, annotator=user)
    assert standing.status == StandingStatus.QUALIFYING


def test_acting_on_someone_no_longer_an_annotator_is_a_409_that_changes_nothing(tested, lead):
    """A failed annotator made a reviewer: resume once answered 500 after its change had
    committed; now it is refused, naming them, and their standing stays as it was."""
    user = newcomer(tested)
    take_test(tested, user, ["dog", "dog", "dog"])
    assert next_image(tested, user).status_code == 403
    Membership.objects.filter(project=tested, user=user).update(role=Role.REVIEWER)
    for action in ("resume", "retake"):
        response = client_for(lead).post(
            url(tested, f"qualification/{user.pk}/"), {"action": action}, format="json"
        )
        assert response.status_code == 409, response.content
        assert "new is a reviewer of this project" in response.json()["detail"]
    standing = AnnotatorStanding.objects.get(project=tested, annotator=user)
    assert (standing.status, standing.attempts, standing.changed_by) == (
        StandingStatus.FAILED,
        1,
        None,
    )
