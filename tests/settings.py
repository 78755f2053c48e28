"""Test settings: the application's, with in-process tasks and a fast password hasher.

The database is PostgreSQL when DATABASE_URL points at one, a SQLite file otherwise.
Each test gets its own MEDIA_ROOT (see conftest).
"""

import os
import tempfile
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "t" * 40)


def redis_url_of_worker(offset: int = 0) -> str:
    """A Redis database of this pytest process's own, "" when no REDIS_URL is set.

    The broker tests start Celery workers that consume queues on it: two test processes
    on one database would run each other's tasks against the wrong test database. Each
    pytest-xdist process gwN of C gets database base + N for its own use (the cache, the
    login throttle, the broker tests' worker thread), base + C + N for a worker process
    of its own (``offset`` 1) and base + 2C + N for a benchmark's stack (``offset`` 2):
    base is the database the URL names (1 when it names none). Computed from the URL the
    suite was started with (``LABELER_TEST_REDIS_URL``), so that a child process reading
    these settings again gets the same database, not one shifted twice.
    """
    url = os.environ.get("LABELER_TEST_REDIS_URL", "")
    if not url:
        return ""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    number = int(worker[2:]) if worker.startswith("gw") else 0
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 1)
    database = base + offset * count + number
    if database > 15:
        raise RuntimeError(
            f"Redis database {database} is past Redis's 16: run fewer test processes "
            f"(TEST_WORKERS) or name a lower database than {base} in REDIS_URL"
        )
    return urlunsplit(parts._replace(path=f"/{database}"))


os.environ.setdefault("LABELER_TEST_REDIS_URL", os.environ.get("REDIS_URL", ""))
if os.environ["LABELER_TEST_REDIS_URL"]:
    os.environ["REDIS_URL"] = redis_url_of_worker()

from labeler.settings import *  # noqa: E402, F403
from labeler.settings import _CSP_POLICY, DATABASES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tasks run in-process; the tests that need the real Redis broker set it themselves.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://localhost/"
SECURE_SSL_REDIRECT = False
# The address the test client's requests name (its Host, "testserver"), so that links
# read the same in every test; a test of forged hosts sends another.
LABELER_SITE_URL = "http://testserver"
# The tests' generated images are each one flat colour, so all near-duplicates of each
# other: grouping is off unless a test of it turns it on (tests/labeler/images/).
LABELER_DUPLICATE_DISTANCE = -1
# A worker claiming a training does not wait for hashes here (tests that do set it).
LABELER_HASHING_WAIT_SECONDS = 0
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"login": "1000/min"}}  # noqa: F405
LABELER_FILTER_THROTTLE_RATE = "100000/min"  # a test of the throttle sets its own
LABELER_JOIN_MISSES_PER_HOUR = 100000  # likewise: the route tests open made-up join links
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's, with a flush after each transactional test that deletes rows instead of
    # truncating every table (0.6 s each): tests/postgresql/base.py.
    DATABASES["default"]["ENGINE"] = "tests.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: the live server's threads then share it with real locking
    # (WAL, busy timeout) instead of in-memory shared cache's "table is locked" errors.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("SQLITE_TEST_DB")
        or os.path.join(tempfile.gettempdir(), f"labeler-test-{os.getpid()}.sqlite3")
    }
# The production policy, but Playwright's wait_for_function evaluates its string in the
# page, which needs 'unsafe-eval'; the browser tests still fail on any other violation
# (tests/browser/conftest.py), and test_hostile_content runs under the policy as it is.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        **_CSP_POLICY["DIRECTIVES"],
        "script-src": ["'self'", "'unsafe-eval'"],
    }
}
# Reports are cached per process in tests; Redis (when set) is the broker's, not the cache's.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
