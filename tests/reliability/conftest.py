"""Private Redis and PostgreSQL servers that a test may stop and start again.

The shared servers on 5432/6379 serve every test run on this machine: a fault test
never touches them. These start on free ports, in a temporary folder, and are gone
after the test; a test skips with the reason when the server binaries are missing.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from bench.load_stack import free_port


@dataclass
class PrivateRedis:
    """A redis-server on a port of its own, without persistence."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(lambda: _redis_answers(self.url), "redis-server")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # as a crash: nothing flushed, nothing said to clients
            self.process.wait()
            self.process = None


def _redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb), run by the postgres OS user."""

    bin_dir: Path
    data_dir: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def initdb(self) -> None:
        self._as_postgres(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "--no-sync"
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-o",
            options,
            "-w",
            "-l",
            str(self.data_dir / "server.log"),
            "start",
        )

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        status = self._as_postgres("pg_ctl", "-D", str(self.data_dir), "status", check=False)
        return status.returncode == 0

    def _as_postgres(self, program: str, *arguments: str, check: bool = True):
        command = ["runuser", "-u", "postgres", "--", str(self.bin_dir / program), *arguments]
        if os.geteuid() != 0:
            command = command[4:]  # already an unprivileged user: run it as ourselves
        return subprocess.run(command, check=check, capture_output=True, timeout=60)


def _postgres_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("needs the PostgreSQL server binaries (initdb, pg_ctl)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("needs runuser to run PostgreSQL as the postgres user")
    parent = Path(tempfile.mkdtemp(prefix="labeler-pg-"))
    data_dir = parent / "data"
    if os.geteuid() == 0:
        shutil.chown(parent, "postgres", "postgres")
    server = PrivatePostgres(bin_dir, data_dir, free_port())
    try:
        server.initdb()
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            if server.running():
                server.stop()
        shutil.rmtree(parent, ignore_errors=True)


def _wait_for(ready, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {timeout} s")
        time.sleep(0.05)
