"""The application as production runs it: gunicorn and the two Celery workers.

Every process starts in a session of its own, so that one signal reaches a server and
all of its children, and so that a Ctrl-C in the terminal reaches only the benchmark,
which then stops them in order (``Stack.stop``, also run on errors).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class GunicornSetup:
    """How gunicorn serves: worker class, worker processes and threads per worker."""

    worker_class: str
    workers: int
    threads: int

    @classmethod
    def parse(cls, text: str) -> GunicornSetup:
        """``gthread:2x8`` (class, workers x threads) or ``sync:3``."""
        worker_class, _, shape = text.partition(":")
        workers, _, threads = shape.partition("x")
        if worker_class not in ("gthread", "sync") or not workers.isdigit():
            raise ValueError(f"expected gthread:WORKERSxTHREADS or sync:WORKERS, not {text!r}")
        return cls(worker_class, int(workers), int(threads or 1))

    def __str__(self) -> str:
        if self.worker_class == "sync":
            return f"sync:{self.workers}"
        return f"{self.worker_class}:{self.workers}x{self.threads}"

    def arguments(self) -> list[str]:
        arguments = ["--worker-class", self.worker_class, "--workers", str(self.workers)]
        if self.worker_class == "gthread":
            arguments += ["--threads", str(self.threads)]
        return arguments


@dataclass
class Stack:
    """The running processes (each the leader of its own process group) and where."""

    base_url: str
    env: dict[str, str]
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def groups(self) -> dict[str, int]:
        """Process group per name: every process of a server shares its leader's group."""
        return {name: process.pid for name, process in self.processes.items()}

    def stop(self) -> None:
        """SIGTERM every group, wait for a graceful stop, then SIGKILL what is left."""
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in self.processes.values():
            _signal_group(process, signal.SIGKILL)  # the group's stragglers too
            process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


# glibc's allocator as the Dockerfile sets it (blocks up to 16 MB from the heap).
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "16777216", "MALLOC_TRIM_THRESHOLD_": "67108864"}


def stack_env(*, database_url: str, redis_url: str, var_dir: Path) -> dict[str, str]:
    """Production settings (DEBUG off, a random secret) for plain HTTP on loopback."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        SECURE_HSTS_SECONDS="0",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        LABELER_VAR_DIR=str(var_dir),
        MEDIA_ROOT=str(var_dir / "media"),
        STATIC_ROOT=str(var_dir / "static"),
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.update(MALLOC_ENV)
    return env


def static_collect(env: dict[str, str]) -> None:
    """collectstatic with DEBUG off (the manifest storage's hashed names), when needed.

    Skipped while the manifest is newer than every source file: it takes seconds. Test
    runs side by side (CI's two passes) share one folder: they take turns on a lock file
    beside it, so that the second finds the first's manifest whole instead of collecting
    over it while the first one's server reads it.
    """
    static_root = Path(env["STATIC_ROOT"])
    static_root.parent.mkdir(parents=True, exist_ok=True)
    with open(static_root.with_name(static_root.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        manifest = static_root / "staticfiles.json"
        sources = [ROOT / "static", ROOT / "node_modules" / "@panzoom"]
        newest = max(
            (path.stat().st_mtime for folder in sources for path in folder.rglob("*")),
            default=0.0,
        )
        if manifest.exists() and manifest.stat().st_mtime > newest:
            return
        subprocess.run(
            [str(BIN / "python"), "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def stack_running(
    env: dict[str, str],
    gunicorn: GunicornSetup,
    logs: Path,
    *,
    workers: bool = True,
    worker_nice: int = 0,
    settings: str = "",
) -> Iterator[Stack]:
    """Start gunicorn and (unless not ``workers``) the Celery workers, wait until they
    answer, stop them all at the end. ``worker_nice``: the CPU worker's niceness, for the
    small CPU share docker-compose.yml gives it. ``settings``: gunicorn's settings module,
    when not the application's own."""
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stack = Stack(url, {**env, "LABELER_SITE_URL": url}, logs)  # its links lead to itself
    try:
        command = _gunicorn_command(gunicorn, port)
        if settings:
            # The floor's settings load only where this flag says the benchmark started them.
            command += ["--env", f"DJANGO_SETTINGS_MODULE={settings}"]
            command += ["--env", "LABELER_LOAD_BENCHMARK_FLOOR=1"]
        _start(stack, "gunicorn", command)
        tag = f"bench-load-{port}"
        names: list[str] = []
        if workers:
            cpu = _celery_command("default", f"{tag}-cpu", concurrency=2)
            if worker_nice:
                cpu = ["nice", "-n", str(worker_nice), *cpu]
            _start(stack, "celery-cpu", cpu)
            if worker_nice:
                _session_nice(stack.processes["celery-cpu"].pid, worker_nice)
            _start(stack, "celery-gpu", _celery_command("gpu", f"{tag}-gpu", concurrency=1))
            names = [f"{tag}-cpu@{socket.gethostname()}", f"{tag}-gpu@{socket.gethostname()}"]
        _wait_ready(stack, names)
        yield stack
    finally:
        stack.stop()


@contextlib.contextmanager
def stack_running_process(stack: Stack, name: str, command: list[str]) -> Iterator[Stack]:
    """Start one server (``command``, listening at ``stack.base_url``), wait until it
    answers, stop it and its children at the end."""
    stack.logs.mkdir(parents=True, exist_ok=True)
    try:
        _start(stack, name, command)
        _wait_ready(stack, [])
        yield stack
    finally:
        stack.stop()


def _gunicorn_command(gunicorn: GunicornSetup, port: int) -> list[str]:
    # As the Dockerfile runs it, with the worker setup under test.
    return [
        str(BIN / "gunicorn"),
        "labeler.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        *gunicorn.arguments(),
        "--timeout",
        "120",
        "--access-logfile",
        "-",
    ]


def _celery_command(queue: str, name: str, *, concurrency: int) -> list[str]:
    # As docker-compose.yml's worker-cpu and worker-gpu run them.
    return [
        str(BIN / "celery"),
        "-A",
        "worker.celery_app",
        "worker",
        "-Q",
        queue,
        "--concurrency",
        str(concurrency),
        "-n",
        f"{name}@%h",
        "--loglevel",
        "INFO",
    ]


def _session_nice(pid: int, nice: int) -> None:
    """Give the session led by ``pid`` (a server and its children) ``nice`` against the
    others, as compose's ``cpu_shares`` gives a container a smaller share.

    Where the kernel groups processes by session (autogroups: Linux's default on most
    distributions), a process's own niceness weighs only against its session's other
    processes, and each server here leads a session of its own: a niced worker still took
    as much CPU as gunicorn. Without autogroups the command's own ``nice`` does it.
    """
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))


def _start(stack: Stack, name: str, command: list[str]) -> None:
    log = (stack.logs / f"{name}.log").open("wb")
    stack.processes[name] = subprocess.Popen(
        command,
        cwd=ROOT,
        env=stack.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()  # the child keeps its own descriptor


def _wait_ready(stack: Stack, workers: list[str], timeout: float = 90) -> None:
    """Poll the health check until gunicorn answers, then ping the Celery workers."""
    deadline = time.monotonic() + timeout
    while not _healthy(stack.base_url):
        _check_alive(stack)
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer within {timeout} s; see {stack.logs}")
        time.sleep(0.2)
    if not workers:
        return
    from celery import Celery

    app = Celery(broker=stack.env["REDIS_URL"])
    try:
        while True:
            _check_alive(stack)
            replies = app.control.ping(workers, timeout=1.0) or []
            answered = {name for reply in replies for name in reply}
            if answered >= set(workers):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"Celery workers {workers} did not answer; see {stack.logs}")
    finally:
        app.close()


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/healthz/", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _check_alive(stack: Stack) -> None:
    for name, process in stack.processes.items():
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see {stack.logs}")


def redis_flush(url: str) -> None:
    """Empty a benchmark's own Redis database: no task or cache entry of an earlier run."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
