"""The export page: only those who may export open it or are offered it."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.web.links import has_link

pytestmark = pytest.mark.django_db


def test_annotators_cannot_open_the_export_page(project, annotator):
    client = Client()
    client.force_login(annotator)
    response = client.get(f"/projects/{project.pk}/export/")
    assert response.status_code == 403
    assert not has_link(client.get(f"/projects/{project.pk}/").content.decode(), "Export")
