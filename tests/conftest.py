"""Shared fixtures: a private MEDIA_ROOT and model folder per test, users in every role, clients."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from threadpoolctl import threadpool_limits

from bench.load_stack import free_port
from labeler import flows
from labeler.images.models import Image
from labeler.projects.models import Project, Role
from tests.audit_support import audit_table_empty
from tests.factories import ProjectFactory, UserFactory, add_member, image_bytes
from tests.reliability.conftest import PrivateRedis

# Every run ends with what it skipped, grouped by why (tests/skipped_summary.py), and the
# tests over 20 s not marked slow (tests/slow_summary.py); the single sign-on tests'
# provider (tests/oidc_provider/fixtures.py).
pytest_plugins = ["tests.skipped_summary", "tests.slow_summary", "tests.oidc_provider.fixtures"]


def pytest_configure(config: pytest.Config) -> None:
    """Each pytest-xdist worker keeps to a core of its own, with whatever it starts (live
    servers, Chromium, benchmarks' processes): torch's threads then match the cores the
    process may use (``worker.ml.device.cores``) instead of every worker spinning a
    thread per core of the machine on the same cores. With more workers than cores
    (TEST_WORKERS), they take the cores in turn.

    numpy's BLAS (and scikit-learn's OpenMP) sized their thread pools by the cores when
    they were loaded, which the imports before this hook may have done: their threads
    are cut to the one core now, or on it they spin waiting for each other (a small
    matrix product then takes ten times as long)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if worker.startswith("gw") and count > 1 and allowed:
        os.sched_setaffinity(0, {allowed[int(worker[2:]) % len(allowed)]})
        threadpool_limits(limits=1)


# The embedded pass (``-m embedded``) reads only the modules that mark a test embedded: the
# others would be imported and their tests built (the schema fuzz's alone takes seconds)
# only to be deselected. A mark is found by its text, so the full pass checks that no test
# is marked any other way (a mark added by a hook or a shared variable would be missed).
EMBEDDED = "embedded"
EMBEDDED_TEXT = "mark.embedded"


def _marks_embedded(path) -> bool:
    return EMBEDDED_TEXT in path.read_text(encoding="utf-8")


def pytest_ignore_collect(collection_path, config: pytest.Config) -> bool | None:
    if config.getoption("markexpr", "") != EMBEDDED:
        return None
    name = collection_path.name
    if collection_path.suffix == ".py" and name.startswith("test_") and collection_path.is_file():
        return not _marks_embedded(collection_path) or None
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unseen = sorted(
        {
            item.nodeid.split("::")[0]
            for item in items
            if item.get_closest_marker(EMBEDDED) and not _marks_embedded(item.path)
        }
    )
    if unseen:
        raise pytest.UsageError(
            f"tests marked {EMBEDDED} in a module whose text does not say {EMBEDDED_TEXT}, "
            f"which the embedded pass would not read: {', '.join(unseen)}"
        )


@pytest.fixture(autouse=True)
def empty_cache():
    """Cached reports of one test never answer another's."""
    cache.clear()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Trained weights and decoded inputs too: a test's files never land in the checkout's var/.
    settings.LABELER_MODEL_DIR = tmp_path / "models"
    settings.LABELER_INPUT_CACHE_DIR = str(tmp_path / "inputs")
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def site_address_of_the_live_server(request: pytest.FixtureRequest) -> None:
    """With a live server, the links answers hold (``LABELER_SITE_URL``) lead to it."""
    if "live_server" in request.fixturenames:
        settings = request.getfixturevalue("settings")
        settings.LABELER_SITE_URL = request.getfixturevalue("live_server").url


def _transactional(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        return True
    return bool({"transactional_db", "live_server"} & set(request.fixturenames))


@pytest.fixture(autouse=True)
def audit_emptied_before_flush(request: pytest.FixtureRequest) -> Iterator[None]:
    """A transactional test ends in a flush, which the audit trail's triggers refuse while
    it holds entries: they are purged first, as the retention purge may."""
    if not _transactional(request):
        yield
        return
    request.getfixturevalue("_django_db_helper")  # set up first, so torn down after this
    yield
    audit_table_empty()


@pytest.fixture
def needs_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")


def client_for(user) -> APIClient:
    """An API client authenticated with the user's token, as REST clients are."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def lead(db):
    return UserFactory(username="lead")


@pytest.fixture
def annotator(db):
    return UserFactory(username="ann1")


@pytest.fixture
def annotator2(db):
    return UserFactory(username="ann2")


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider")


@pytest.fixture
def reviewer(project):
    """A reviewer of the shared project."""
    user = UserFactory(username="rev")
    add_member(project, user, Role.REVIEWER)
    return user


@pytest.fixture
def project(lead, annotator, annotator2) -> Project:
    project = ProjectFactory(name="Pets", overlap=2)
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator)
    add_member(project, annotator2)
    return project


@pytest.fixture
def make_images() -> Callable[..., list[Image]]:
    """Store n generated images in a project through the ingest service."""

    def make(project: Project, n: int) -> list[Image]:
        files = [SimpleUploadedFile(f"img{i}.png", image_bytes()) for i in range(n)]
        results = flows.images_ingest(project=project, files=files)
        assert all(r.status == "created" for r in results), results
        return list(Image.objects.filter(pk__in=[r.image_id for r in results]).order_by("pk"))

    return make


@pytest.fixture
def api_as() -> Callable[..., APIClient]:
    return client_for


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A redis-server of the test's own on a free port (the shared one is never touched)."""
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server on PATH to start a private Redis")
    server = PrivateRedis(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
