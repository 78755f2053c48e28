"""What the audit trail costs the annotator loop: the loop's requests with and without it.

The loop (``next`` then an annotation, through the real API with a token, in process on
SQLite) writes no audit entry: the trail's cost there is its middleware binding each
request's address (``labeler.http.middleware.AuditRequest``). The same loop is timed with
the middleware on and off, in alternating blocks over the same project, and the ratio of
the medians printed; the budget is 5 %. Run: ``make bench-audit``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

MIDDLEWARE_NAME = "labeler.http.middleware.AuditRequest"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=1200)
    parser.add_argument("--block", type=int, default=100, help="loop iterations per block")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="audit-bench-"))
    _configure(folder)
    project, annotators = _world(options.images)
    timings: dict[bool, list[float]] = {True: [], False: []}
    blocks = options.images // options.block
    for n in range(blocks):
        audited = n % 2 == 0
        timings[audited].append(_block(project, annotators[n], options.block, audited))
    on, off = statistics.median(timings[True]), statistics.median(timings[False])
    print(f"loop iterations per block: {options.block}, blocks each way: {blocks // 2}")
    print(f"audit on : {on * 1000 / options.block:.2f} ms per next+submit (median block)")
    print(f"audit off: {off * 1000 / options.block:.2f} ms per next+submit (median block)")
    print(f"ratio on/off: {on / off:.3f}")
    return 0


def _configure(folder: Path) -> None:
    import django
    from django.core.management import call_command

    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    os.environ.setdefault("DEBUG", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    django.setup()
    from django.conf import settings
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host is allowed

    settings.MEDIA_ROOT = folder / "media"
    call_command("migrate", verbosity=0)


def _world(n_images: int):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from labeler import flows
    from labeler.projects.models import Role
    from tests.factories import ProjectFactory, UserFactory, add_member, image_bytes

    project = ProjectFactory(name="bench", overlap=1)
    annotators = [UserFactory(username=f"a{n}") for n in range(n_images // 50 + 2)]
    for user in annotators:
        add_member(project, user, Role.ANNOTATOR)
    for start in range(0, n_images, 200):
        files = [SimpleUploadedFile(f"i{k}.png", image_bytes()) for k in range(start, start + 200)]
        flows.images_ingest(project=project, files=files)
    return project, annotators


def _block(project, user, iterations: int, audited: bool) -> float:
    from django.test import override_settings

    from tests.conftest import client_for

    middleware = list(_settings().MIDDLEWARE)
    if not audited:
        middleware.remove(MIDDLEWARE_NAME)
    with override_settings(MIDDLEWARE=middleware):
        client = client_for(user)  # a new handler: it loads the middleware named now
        start = time.perf_counter()
        for _ in range(iterations):
            answer = client.get(f"/api/v1/projects/{project.pk}/next/")
            assert answer.status_code == 200, (answer.status_code, answer.content[:300])
            image = answer.json()["image"]
            body = {"image": image["id"], "labels": ["cat"], "time_spent_ms": 900}
            response = client.post(
                f"/api/v1/projects/{project.pk}/annotations/", body, format="json"
            )
            assert response.status_code == 201, response.content
        return time.perf_counter() - start


def _settings():
    from django.conf import settings

    return settings


if __name__ == "__main__":
    raise SystemExit(main())
