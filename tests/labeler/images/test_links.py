"""Signed, content-addressed image addresses: served to whoever holds them, for two days."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from labeler.images import links

pytestmark = pytest.mark.django_db


def _get(url: str):
    return Client().get(url)


def test_a_link_serves_the_file_without_a_session_or_a_query(project, make_images):
    (image,) = make_images(project, 1)
    url = links.file_link(image.file.name)
    assert image.sha256 in url
    with CaptureQueriesContext(connection) as queries:
        response = _get(url)
    assert response.status_code == 200
    assert len(queries) == 0
    assert b"".join(response.streaming_content) == image.file.read()
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    assert response["Content-Type"] == "image/png"


def test_a_link_is_the_same_all_day_and_works_the_next_day(project, make_images, monkeypatch):
    (image,) = make_images(project, 1)
    monkeypatch.setattr(links, "_today", lambda: 20_000)
    url = links.file_link(image.file.name)
    assert links.file_link(image.file.name) == url
    monkeypatch.setattr(links, "_today", lambda: 20_001)
    assert _get(url).status_code == 200
    monkeypatch.setattr(links, "_today", lambda: 20_002)
    assert _get(url).status_code == 404


def test_a_forged_or_altered_link_is_refused(project, make_images):
    first, second = make_images(project, 2)
    url = links.file_link(first.file.name)
    # Another file under the first one's signature.
    assert _get(url.replace(first.file.name, second.file.name)).status_code == 404
    day = str(links._today())
    # The same file under another day: the signature covers the day.
    assert _get(url.replace(f"/{day}/", f"/{int(day) - 1}/", 1)).status_code == 404
    signature = url.split("/")[3]
    assert _get(url.replace(signature, "x" + signature[1:])).status_code == 404


def test_a_link_to_a_missing_file_is_a_404(project, make_images):
    (image,) = make_images(project, 1)
    url = links.file_link(image.file.name)
    image.file.storage.delete(image.file.name)
    assert _get(url).status_code == 404
