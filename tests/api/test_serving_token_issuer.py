"""A prediction token works while the person who issued it manages the project: every way
of leaving ends it at once (removed, made an annotator, removed by the provider's groups,
deactivated, the account deleted), over HTTP, and the tokens' list says why."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from labeler.projects import services
from labeler.projects.models import Membership, Role
from labeler.serving import services as services_serving
from labeler.serving.models import JobStatus, PredictionJob, PredictToken
from labeler.serving.tokens import (
    ISSUER_GONE,
    ISSUER_INACTIVE,
    ISSUER_NOT_LEAD,
    predict_token_issue,
)
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(lead, admin_user):
    """A project with two leads; the second issued a token."""
    project = ProjectFactory(name="Colours", labels=["red"])
    add_member(project, lead, Role.LEAD)
    issuer = UserFactory(username="issuer")
    add_member(project, issuer, Role.LEAD)
    key = predict_token_issue(project=project, name="line", created_by=issuer).key
    return project, issuer, key


def predict(project, key: str):
    """Past authentication, a body with no image is a 400; a refused token is a 401."""
    holder = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    return holder.post(f"/api/v1/projects/{project.pk}/predict/")


def listed(project, user) -> dict:
    answer = client_for(user).get(f"/api/v1/projects/{project.pk}/predict-tokens/")
    assert answer.status_code == 200, answer.content
    (token,) = answer.json()
    return token


def removed_by_a_lead(project, issuer, lead, admin):
    answer = client_for(lead).delete(f"/api/v1/projects/{project.pk}/members/{issuer.pk}/")
    assert answer.status_code == 204, answer.content


def made_an_annotator(project, issuer, lead, admin):
    answer = client_for(lead).patch(
        f"/api/v1/projects/{project.pk}/members/{issuer.pk}/", {"role": "annotator"}, format="json"
    )
    assert answer.status_code == 200, answer.content


def removed_by_the_providers_groups(project, issuer, lead, admin):
    membership = Membership.objects.get(project=project, user=issuer)
    services.membership_remove(membership=membership, via=services.SSO)


def deactivated(project, issuer, lead, admin):
    answer = client_for(admin).post(f"/api/v1/users/{issuer.pk}/deactivate/")
    assert answer.status_code == 200, answer.content


def deleted(project, issuer, lead, admin):
    issuer.delete()


@pytest.mark.parametrize(
    ("leave", "why"),
    [
        (removed_by_a_lead, ISSUER_NOT_LEAD),
        (made_an_annotator, ISSUER_NOT_LEAD),
        (removed_by_the_providers_groups, ISSUER_NOT_LEAD),
        (deactivated, ISSUER_INACTIVE),
        (deleted, ISSUER_GONE),
    ],
)
def test_every_way_of_leaving_ends_the_issuers_token(
    issued, lead, admin_user, leave: Callable, why: str
):
    project, issuer, key = issued
    assert predict(project, key).status_code == 400
    assert listed(project, lead)["ended"] == ""

    leave(project, issuer, lead, admin_user)

    refused = predict(project, key)
    assert refused.status_code == 401, refused.content
    assert refused.json()["detail"] == f"{why} Issue a new token."
    token = listed(project, lead)
    assert token["ended"] == why and token["revoked_at"] is None


def test_a_lead_who_comes_back_has_the_token_work_again(issued, lead):
    project, issuer, key = issued
    removed_by_a_lead(project, issuer, lead, None)
    assert predict(project, key).status_code == 401
    answer = client_for(lead).post(
        f"/api/v1/projects/{project.pk}/members/",
        {"user": issuer.pk, "role": "lead"},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    assert predict(project, key).status_code == 400


def test_an_admins_token_needs_no_membership_and_a_revoked_one_says_so(lead, admin_user):
    project = ProjectFactory(name="Colours", labels=["red"])
    add_member(project, lead, Role.LEAD)
    key = predict_token_issue(project=project, name="ops", created_by=admin_user).key
    assert predict(project, key).status_code == 400
    token = listed(project, lead)
    url = f"/api/v1/projects/{project.pk}/predict-tokens/{token['id']}/"
    revoked = client_for(lead).delete(url)
    assert revoked.status_code == 200 and revoked.json()["ended"] == "Revoked."
    assert predict(project, key).json()["detail"] == "Unknown or revoked prediction token."


def test_a_job_queued_before_its_token_was_revoked_is_not_run(issued, lead):
    """A large request waits as a job; revoked meanwhile, the job fails unrun, saying so."""
    project = issued[0]
    token = PredictToken.objects.get(project=project)
    job = PredictionJob.objects.create(project=project, token=token, inputs=[])
    url = f"/api/v1/projects/{project.pk}/predict-tokens/{token.pk}/"
    assert client_for(lead).delete(url).status_code == 200

    assert services_serving.prediction_job_start(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.message == "Not run: its prediction token ended. Revoked."


def test_a_job_of_a_live_token_starts(issued):
    project = issued[0]
    token = PredictToken.objects.get(project=project)
    job = PredictionJob.objects.create(project=project, token=token, inputs=[])
    started = services_serving.prediction_job_start(job_id=job.pk)
    assert started is not None and started.status == JobStatus.RUNNING


def test_an_admin_no_longer_one_has_their_token_end(lead, admin_user):
    project = ProjectFactory(name="Colours", labels=["red"])
    add_member(project, lead, Role.LEAD)
    key = predict_token_issue(project=project, name="ops", created_by=admin_user).key
    admin_user.is_staff = admin_user.is_superuser = False
    admin_user.save(update_fields=["is_staff", "is_superuser"])
    refused = predict(project, key)
    assert refused.status_code == 401
    assert refused.json()["detail"] == f"{ISSUER_NOT_LEAD} Issue a new token."


def test_a_job_a_lead_asked_for_is_not_run_once_they_have_left(issued, lead):
    """A lead's own request (their session or API token) that became a job: removed from
    the project before it ran, the job fails unrun; another lead's job runs."""
    project, issuer = issued[0], issued[1]
    theirs = PredictionJob.objects.create(project=project, caller=issuer, inputs=[])
    stayed = PredictionJob.objects.create(project=project, caller=lead, inputs=[])
    removed_by_a_lead(project, issuer, lead, None)

    assert services_serving.prediction_job_start(job_id=theirs.pk) is None
    theirs.refresh_from_db()
    assert theirs.status == JobStatus.FAILED
    assert theirs.message == "Not run: whoever asked for it no longer manages the project."
    assert services_serving.prediction_job_start(job_id=stayed.pk) is not None
