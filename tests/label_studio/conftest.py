"""A real Label Studio server for the tests marked ``label_studio``.

Label Studio is a Django application of its own, so it never runs in this process: it is
installed in a virtualenv of its own (``make test-label-studio`` builds
``.venv-label-studio/``) and started once per session as a separate server, on a free
port, with its data in a temporary folder, an admin with a known token, and local files
served from a temporary document root. Its environment is built from scratch, so nothing
of ours (``DJANGO_SETTINGS_MODULE``, ``DATABASE_URL``, ``DEBUG``...) reaches it.

Without ``LABELER_LABEL_STUDIO`` (the path of its ``label-studio`` command) the tests
marked ``label_studio`` are skipped, so ``make test`` needs nothing outside the project.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bench.load_stack import free_port
from tests.label_studio.client import LabelStudio

COMMAND = "LABELER_LABEL_STUDIO"
# A data folder whose database Label Studio's migrations have already made (``make
# test-label-studio`` makes one with ``label-studio init``): copied, the server starts in
# seconds instead of migrating for 40.
MIGRATED_DATA = "LABELER_LABEL_STUDIO_DATA"
ADMIN_EMAIL = "ls-admin@example.org"
ADMIN_PASSWORD = "ls-admin-pass-1"
ADMIN_TOKEN = "labeler-tests-label-studio-token"
START_TIMEOUT = 180  # seconds: a start without MIGRATED_DATA migrates a fresh database
# What the server inherits of ours: enough to run a program, nothing Django reads.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(COMMAND):
        return
    skip = pytest.mark.skip(
        reason=f"needs a Label Studio server: set {COMMAND} to its label-studio command "
        "(make test-label-studio installs one in .venv-label-studio/ and sets it)"
    )
    for item in items:
        if item.get_closest_marker("label_studio"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudio]:
    """Label Studio started for the session, as its admin."""
    command = os.environ.get(COMMAND)
    if not command:
        pytest.skip(f"needs a Label Studio server: set {COMMAND}")
    if os.sep in command:  # a path, maybe relative to where pytest was started
        command = str(Path(command).resolve())
    root = tmp_path_factory.mktemp("label-studio")
    files = root / "files"
    files.mkdir()
    migrated = os.environ.get(MIGRATED_DATA)
    if migrated:
        if not (Path(migrated) / "label_studio.sqlite3").is_file():
            pytest.fail(f"{MIGRATED_DATA}={migrated} holds no label_studio.sqlite3")
        shutil.copytree(migrated, root / "data")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    env |= {
        "LABEL_STUDIO_BASE_DATA_DIR": str(root / "data"),
        "LOCAL_FILES_SERVING_ENABLED": "true",
        "LOCAL_FILES_DOCUMENT_ROOT": str(files),
        "LATEST_VERSION_CHECK": "false",
        "COLLECT_ANALYTICS": "false",
        # Its error reporting would send reports out of the machine (its default DSN).
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "LOG_LEVEL": "INFO",
    }
    argv = [
        command, "start", "--no-browser",
        "--internal-host", "127.0.0.1", "--port", str(port), "--host", url,
        "--username", ADMIN_EMAIL, "--password", ADMIN_PASSWORD,
        "--user-token", ADMIN_TOKEN, "--enable-legacy-api-token",
    ]  # fmt: skip
    log = root / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_until_up(server, url, log)
        yield LabelStudio(url, ADMIN_TOKEN, files_root=files)
    finally:
        _stop(server)


def _wait_until_up(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"Label Studio exited with {server.returncode}:\n{_tail(log)}")
        try:
            if requests.get(url + "/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    pytest.fail(f"Label Studio did not answer /health in {START_TIMEOUT} s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the server and its children (their process group)."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
