"""Heat maps on the embedded default: made in a process of the server's own, kept in storage."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from labeler import jobs
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, image_bytes
from tests.worker.ml.versions import version_with_weights
from tests.worker.ml_project import ingest

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def setup():
    lead = UserFactory(username="lead")
    project = ProjectFactory(name="Pets", labels=["cat", "dog"])
    add_member(project, lead, "lead")
    good, bad = ingest(project, [image_bytes(size=(40, 30)), image_bytes(size=(40, 30))], "pet")
    version_with_weights(project)
    return client_for(lead), project, good, bad


def address(project, image) -> str:
    return f"/api/v1/projects/{project.pk}/images/{image.pk}/explanation/"


def test_in_the_server_a_heat_map_is_made_by_a_child_process(setup):
    """With no broker the request answers 202 at once; a child process (torch never in
    the server) makes the map, or keeps why it could not, where the server finds it."""
    client, project, good, bad = setup
    with default_storage.open(bad.file.name, "wb") as handle:
        handle.write(b"not an image any more")
    assert jobs.run_in_background()
    try:
        assert client.get(address(project, good)).status_code == 202
        assert client.get(address(project, bad)).status_code == 202
        assert jobs.wait_for_background(120)
    finally:
        jobs.stop_background()

    made = client.get(address(project, good))
    assert made.status_code == 200, made.content
    assert made.json()["overlay_url"] and made.json()["label_name"] in ("cat", "dog")
    failed = client.get(address(project, bad))
    assert failed.status_code == 409
    assert "could not be made: Cannot decode image" in failed.json()["detail"]
