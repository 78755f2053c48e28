"""Label Studio in the load benchmark's harness: the same loop, client and server shape.

``bench/load.py --label-studio`` (``make bench-load-label-studio``) runs each level once
more, against Label Studio (the version ``make label-studio-venv`` installs) served as
ours is: gunicorn with the same worker class, workers and threads, on the same PostgreSQL
server, with a database of its own (the benchmark's name and ``_label_studio``, migrated
and given an admin once, kept between runs), with Label Studio's default settings
otherwise. Each level gets a new Label Studio project: single choice among the
benchmark's labels, one annotation a task (ours runs at overlap 1 by default), as many
tasks as the level's project has images (at most ``MAX_TASKS``: a level labels far
fewer), each task's image one of small JPEGs made as the benchmark makes its own
(``media_files``), served from a local-files storage. Its annotators, people signed up
through the organisation's invite link, each with their own API token (kept in the var
folder for the next run, with the database), loop as ours do, on the same load-generator
processes: ``GET /api/projects/<id>/next/`` (the next task of the labelling stream), the
task's image, ``POST /api/tasks/<id>/annotations/`` with the choice. /proc counts the
CPU of Label Studio's gunicorn processes over the run, as it counts ours.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load_client import Annotator, Plan, Tally, annotators_process, chunked, pool_run
from bench.load_cpu import cpu_snapshot, cpu_split
from bench.load_data import FILES, LABELS, media_files
from bench.load_http import Browser, Response
from bench.load_report import level_summary
from bench.load_stack import GunicornSetup, free_port

ROOT = Path(__file__).resolve().parent.parent
VENV_ENV = "LABELER_LABEL_STUDIO_VENV"  # another virtualenv of Label Studio than the Makefile's
ADMIN_EMAIL = "bench-ls-admin@example.org"
ADMIN_PASSWORD = "bench-ls-admin-pass-1"  # throw-away accounts of a private database
ADMIN_TOKEN = "bench-label-studio-admin-token"
PASSWORD = "bench-ls-annotator-pass-1"
MAX_TASKS = 5_000
CALLS = ("next", "image", "submit")
START_TIMEOUT = 600  # seconds: a first start migrates Label Studio's database (about 100 s)
# What its processes inherit of ours: enough to run a program, nothing Django reads.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")


@dataclass(frozen=True)
class LabelStudioLogin:
    """One annotator of Label Studio: their e-mail and API token."""

    username: str
    token: str


@dataclass
class TokenBrowser(Browser):
    """A browser that sends an API token with every request instead of a session."""

    token: str = ""

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        sent = {"Authorization": f"Token {self.token}", **(headers or {})}
        return super().request(method, url, body, sent)


class LabelStudioAnnotator(Annotator):
    """One simulated annotator of Label Studio: next task, its image, the annotation."""

    def __init__(self, plan: Plan, login: LabelStudioLogin) -> None:
        self.plan = plan
        self.username = login.username
        self.browser = TokenBrowser(plan.base_url, token=login.token)
        self.tally = Tally()
        self._failures = 0

    def _next_url(self) -> str:
        return f"/api/projects/{self.plan.project_id}/next/"

    def _handed(self, answer: Response) -> tuple[int, str]:
        task = answer.json()
        return task["id"], task["data"]["image"]

    def _submission(self, item: int, label: str) -> tuple[str, dict[str, Any]]:
        return f"/api/tasks/{item}/annotations/", {"result": _choice(label), "lead_time": 1.0}


def _choice(label: str) -> list[dict[str, Any]]:
    return [
        {"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": [label]}}
    ]


@dataclass
class LabelStudioServer:
    url: str
    process: subprocess.Popen[bytes]
    database_url: str
    files: Path  # LOCAL_FILES_DOCUMENT_ROOT
    logins: list[LabelStudioLogin]

    def admin(self) -> Any:
        from tests.label_studio.client import LabelStudio

        return LabelStudio(self.url, ADMIN_TOKEN, files_root=self.files)


@contextlib.contextmanager
def label_studio_running(
    *, database_url: str, gunicorn: GunicornSetup, var_dir: Path, annotators: int
) -> Iterator[LabelStudioServer]:
    """Label Studio under gunicorn on its own database, with ``annotators`` people."""
    venv = Path(os.environ.get(VENV_ENV) or ROOT / ".venv-label-studio")
    if not (venv / "bin" / "label-studio").exists():
        raise SystemExit(f"no Label Studio in {venv}: run `make label-studio-venv` first")
    _gunicorn_ensure(venv)
    home = var_dir / "label_studio"
    files = home / "files"
    name = urllib.parse.urlsplit(database_url).path.lstrip("/") + "_label_studio"
    own_url = _database_url(database_url, name)
    env = _env(own_url, home, files)
    if _database_create(database_url, name):
        print(f"Label Studio: migrating its new database {name} (minutes)", flush=True)
        (home / "people.json").unlink(missing_ok=True)  # the accounts of a database gone
        try:
            _run([str(venv / "bin" / "label-studio"), "init", "--no-browser", *_admin_args()], env)
        except BaseException:
            _database_drop(database_url, name)  # half migrated: made afresh next time
            raise
    (home / "logs").mkdir(parents=True, exist_ok=True)
    port = free_port()
    package = _package_dir(venv)
    command = [
        str(venv / "bin" / "gunicorn"), "core.wsgi:application", "--chdir", str(package),
        "--bind", f"127.0.0.1:{port}", *gunicorn.arguments(), "--timeout", "120",
        "--access-logfile", "-",
    ]  # fmt: skip
    with (home / "logs" / "gunicorn.log").open("wb") as log:
        process = subprocess.Popen(
            command,
            env=env | {"DJANGO_SETTINGS_MODULE": "core.settings.label_studio"},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = LabelStudioServer(f"http://127.0.0.1:{port}", process, own_url, files, [])
    try:
        _wait_up(server, home / "logs" / "gunicorn.log")
        server.logins = _people(server, home / "people.json", annotators)
        yield server
    finally:
        _stop(process)


def level_run(
    options: argparse.Namespace, server: LabelStudioServer, size: int, concurrency: int
) -> dict[str, Any]:
    """One level against Label Studio: a new project of ``size`` tasks (at most
    MAX_TASKS), ``concurrency`` annotators for ``options.seconds``."""
    project = _project_create(server, min(size, MAX_TASKS), f"{size:,} x {concurrency}")
    plan = Plan(
        base_url=server.url,
        project_id=project,
        labels=LABELS,
        seconds=options.seconds,
        max_loops=options.max_loops,
    )
    groups = {"gunicorn": server.process.pid}

    def snapshot() -> Any:
        return cpu_snapshot(groups, _backends(server.database_url))

    chunks = chunked(server.logins[:concurrency], options.per_process)
    target = functools.partial(annotators_process, kind=LabelStudioAnnotator)
    tally, start = pool_run(target, plan, chunks, on_start=snapshot)
    cpu = cpu_split(start, snapshot(), tally.cpu_seconds)
    run = {**level_summary(tally, calls=CALLS, overlap=1), "cpu": cpu, "project": project}
    loops = run["calls"]["loop"]["count"]
    run["server_ms_per_loop"] = cpu["gunicorn"] * cpu["seconds"] * 1000 / loops if loops else 0.0
    return run


def _project_create(server: LabelStudioServer, tasks: int, name: str) -> int:
    admin = server.admin()
    folder = server.files / "bench"
    names = []
    for stored in media_files(0, folder, FILES):
        names.append(f"bench/{stored.name}")
    project = admin.project_create(f"Load benchmark: {name}", LABELS)
    admin.local_storage_add(project, folder)
    for first in range(0, tasks, 1_000):
        batch = [
            {"image": "/data/local-files/?d=" + urllib.parse.quote(names[n % len(names)])}
            for n in range(first, min(tasks, first + 1_000))
        ]
        admin.tasks_import(project, batch)
    return int(project)


def _people(server: LabelStudioServer, kept: Path, count: int) -> list[LabelStudioLogin]:
    """``count`` annotators: their tokens as kept in ``kept`` for this database, else
    signed up through the invite link, or logged in where the database has them already
    (another checkout's run made them)."""
    from tests.label_studio.client import LabelStudioError

    known = json.loads(kept.read_text()) if kept.exists() else {}
    people = known.get(server.database_url, [])
    admin = server.admin()
    while len(people) < count:
        email = f"bench-ls-annotator-{len(people) + 1:02d}@example.org"
        try:
            token = admin.user_add(email, PASSWORD).token
        except LabelStudioError:
            token = _token_of(server.url, email)
        people.append({"username": email, "token": token})
    known[server.database_url] = people
    kept.write_text(json.dumps(known, indent=1))
    return [LabelStudioLogin(p["username"], p["token"]) for p in people[:count]]


def _token_of(url: str, email: str) -> str:
    """The API token of an account the database has, through its login form."""
    import requests

    browser = requests.Session()
    browser.get(url + "/user/login/", timeout=60).raise_for_status()
    answer = browser.post(
        url + "/user/login/",
        data={
            "email": email,
            "password": PASSWORD,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
        headers={"Referer": url + "/user/login/"},
        allow_redirects=False,
        timeout=60,
    )
    if answer.status_code != 302:
        raise RuntimeError(f"Label Studio refused the login of {email}: {answer.status_code}")
    return str(browser.get(url + "/api/current-user/token", timeout=60).json()["token"])


def _gunicorn_ensure(venv: Path) -> None:
    """gunicorn in Label Studio's virtualenv (the Makefile's puts it there)."""
    python = str(venv / "bin" / "python")
    if subprocess.run([python, "-c", "import gunicorn"], capture_output=True).returncode:
        _run([python, "-m", "pip", "install", "--quiet", "gunicorn"], dict(os.environ))


def _package_dir(venv: Path) -> Path:
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import label_studio; print(label_studio.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(found.stdout.strip()).parent


def _env(database_url: str, home: Path, files: Path) -> dict[str, str]:
    parts = urllib.parse.urlsplit(database_url)
    files.mkdir(parents=True, exist_ok=True)
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    return env | {
        "LABEL_STUDIO_BASE_DATA_DIR": str(home / "data"),
        "LOCAL_FILES_SERVING_ENABLED": "true",
        "LOCAL_FILES_DOCUMENT_ROOT": str(files),
        "LATEST_VERSION_CHECK": "false",
        "COLLECT_ANALYTICS": "false",
        "SENTRY_DSN": "",  # its error reports would leave the machine (its default DSN)
        "FRONTEND_SENTRY_DSN": "",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "false",
        "DJANGO_DB": "default",
        "POSTGRE_NAME": parts.path.lstrip("/"),
        "POSTGRE_USER": urllib.parse.unquote(parts.username or "postgres"),
        "POSTGRE_PASSWORD": urllib.parse.unquote(parts.password or ""),
        "POSTGRE_HOST": parts.hostname or "127.0.0.1",
        "POSTGRE_PORT": str(parts.port or 5432),
    }


def _admin_args() -> list[str]:
    return [
        "--username", ADMIN_EMAIL, "--password", ADMIN_PASSWORD,
        "--user-token", ADMIN_TOKEN, "--enable-legacy-api-token",
    ]  # fmt: skip


def _database_url(url: str, name: str) -> str:
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path=f"/{name}"))


def _database_create(benchmark_url: str, name: str) -> bool:
    """Create Label Studio's database beside the benchmark's; False when it exists."""
    with _server(benchmark_url) as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone():
            return False
        cursor.execute(f'CREATE DATABASE "{name}"')
        return True


def _database_drop(benchmark_url: str, name: str) -> None:
    with _server(benchmark_url) as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def _server(benchmark_url: str) -> Iterator[Any]:
    """A cursor on the server's maintenance database, outside any transaction."""
    import psycopg2

    connection = psycopg2.connect(_database_url(benchmark_url, "postgres"))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        connection.close()


def _backends(database_url: str) -> set[int]:
    """PostgreSQL backends of Label Studio's database."""
    import psycopg2

    connection = psycopg2.connect(database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return {pid for (pid,) in cursor.fetchall()}
    finally:
        connection.close()


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(
            f"{' '.join(command[:2])} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )


def _wait_up(server: LabelStudioServer, log: Path) -> None:
    import urllib.request

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"Label Studio's gunicorn exited; see {log}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(server.url + "/health", timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"Label Studio did not answer /health in {START_TIMEOUT} s; see {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
