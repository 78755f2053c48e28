"""An upload's check holds little memory: uploads at the caps are checked reduced, and an
image whose check would hold more than LABELER_MAX_DECODE_BYTES is refused, not decoded.

The web process's peak is measured in a process of its own (VmHWM): Pillow's memory is
C allocations, which tracemalloc does not see.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection
from PIL import Image as PILImage
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bench.uploads_files import uploads
from labeler.images.models import Image
from tests.api.test_images import assert_storage_matches_rows, images_url, upload
from tests.factories import image_bytes

ROOT = Path(__file__).resolve().parents[3]
MIB = 1024 * 1024
# What checking and storing the three files may add to the web process's peak: each is
# checked at most a few megabytes at a time. A full decode took 1.5 GB for the WebP alone.
PEAK_GROWTH_BOUND = 100 * MIB

# The web process, as a script: the test's database and files, the upload endpoint, and
# a broker that keeps the tasks (thumbnails, turning) for a worker, as in production.
WEB_PROCESS = """
import json, os, sys
import django
from django.conf import settings
settings.DATABASES["default"]["NAME"] = os.environ["PROBE_DATABASE"]
settings.MEDIA_ROOT = os.environ["PROBE_MEDIA"]
django.setup()
from django.test.utils import setup_test_environment
from rest_framework.test import APIClient
from worker.celery_app import app
setup_test_environment()
app.conf.task_always_eager = False  # to the in-memory broker, run by no one here
def kib(field):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(field))
client = APIClient()
client.credentials(HTTP_AUTHORIZATION="Token " + os.environ["PROBE_TOKEN"])
def post(paths):
    files = [open(path, "rb") for path in paths]
    return client.post(os.environ["PROBE_URL"], {"files": files}, format="multipart")
assert post(sys.argv[1:2]).status_code == 201  # everything imported and connected
before = kib("VmRSS:")
answer = post(sys.argv[2:])
peak = kib("VmHWM:")
print(json.dumps({"status": answer.status_code, "results": answer.json()["results"],
                  "before": before * 1024, "peak": peak * 1024}))
"""


@pytest.fixture
def client(api_as: Callable[..., APIClient], lead: object) -> APIClient:
    return api_as(lead)


def test_image_over_the_decoding_cap_is_refused_and_the_others_stored(
    client, project, media_root, settings
):
    """The refusal says what checking the image would take and the limit; the other file
    of the request is stored as usual, nothing of the refused one."""
    settings.LABELER_MAX_DECODE_BYTES = MIB
    buffer = io.BytesIO()
    PILImage.new("P", (2000, 1000)).save(buffer, format="GIF")

    small = image_bytes("JPEG")
    response = upload(client, project, ("big.gif", buffer.getvalue()), ("small.jpg", small))

    assert response.status_code == 201, response.content
    big, small = response.json()["results"]
    assert (big["status"], small["status"]) == ("rejected", "created")
    assert big["reason"] == (
        "Decoding this 2000x1000 GIF would take 9.5 MB of memory; the limit is 1.0 MB per "
        "image. Send it smaller, or in another format."
    )
    assert Image.objects.get().original_name == "small.jpg"
    assert_storage_matches_rows(media_root)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_uploads_at_the_caps_keep_the_web_process_small(project, lead, media_root, tmp_path):
    """A lossy WebP of 16383 x 6103, a 10000 x 10000 JPEG and a 10000 x 10000 RGBA PNG to
    turn (its previews shrunk by libvips as its rows stream past, so no longer refused), in
    one request to a fresh web process, are stored with their upright sizes; the process's
    peak resident memory grows by less than PEAK_GROWTH_BOUND."""
    paths = []
    for name, data in {"warm-up.png": image_bytes(), **uploads()}.items():
        paths.append(tmp_path / name)
        paths[-1].write_bytes(data)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
        "PROBE_DATABASE": str(connection.settings_dict["NAME"]),
        "PROBE_MEDIA": str(media_root),
        "PROBE_TOKEN": Token.objects.create(user=lead).key,
        "PROBE_URL": images_url(project),
    }

    done = subprocess.run(
        [sys.executable, "-c", WEB_PROCESS, *map(str, paths)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    probe = json.loads(done.stdout.splitlines()[-1])
    assert probe["status"] == 201, probe
    stored = {
        result["name"]: Image.objects.values_list("width", "height").get(pk=result["image_id"])
        for result in probe["results"]
        if result["status"] == "created"
    }
    assert stored == {
        "cap.webp": (16_383, 6_103),
        "cap.jpg": (10_000, 10_000),
        "turned.png": (10_000, 10_000),
    }
    growth = probe["peak"] - probe["before"]
    assert growth < PEAK_GROWTH_BOUND, f"peak grew by {growth / MIB:.0f} MB"
