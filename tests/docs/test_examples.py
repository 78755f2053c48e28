"""The shell examples of the README and the documentation, run against a live server.

Every ```console block in README.md and docs/*.md is run: lines starting with ``$ `` are
commands (``> `` continues one), the lines under a command are its expected output, and
``...`` in them stands for anything. The server is the real one (``runserver`` on its own
SQLite file, the demo project loaded, tasks in-process), reached at the address the
examples name, ``http://127.0.0.1:8000``, replaced by the test server's. A page's blocks
run in order in one shell, as a reader types them into one terminal, with ``API``,
``TOKEN`` (the demo lead's) and ``PROJECT`` set first, as the getting started page sets
them. A command must exit 0; ``curl`` fails on an HTTP error unless the
example prints the status itself (``-w``). Blocks that only illustrate (deployment, ids
of another server) are fenced as ``sh`` and not run.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED = "http://127.0.0.1:8000"
MARK = "__DOCS_EXAMPLE_COMMAND_DONE__"
PREAMBLE = f"""set -euo pipefail
curl() {{
    local arg
    for arg in "$@"; do
        case "$arg" in -w|--write-out|-w*) command curl "$@"; return;; esac
    done
    command curl --fail-with-body "$@"
}}
mark() {{ printf '\\n{MARK}\\n'; }}
"""

pytestmark = [pytest.mark.slow]


@dataclass
class Command:
    line: int
    text: str
    expected: list[str]


@dataclass
class Example:
    """A page's console blocks, in order."""

    source: str
    commands: list[Command]


def parse_block(lines: list[str], first: int) -> list[Command]:
    commands: list[Command] = []
    for number, line in enumerate(lines, start=first):
        if line.startswith("$ "):
            commands.append(Command(number, line[2:], []))
        elif line.startswith("> ") and commands and not commands[-1].expected:
            commands[-1].text += "\n" + line[2:]
        elif commands:
            commands[-1].expected.append(line)
        elif line.strip():
            raise ValueError(f"output before any command: {line!r}")
    return commands


def examples() -> list[Example]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        lines = path.read_text().splitlines()
        commands: list[Command] = []
        block: list[str] | None = None
        start = 0
        for number, line in enumerate(lines, start=1):
            if block is None and line.strip() == "```console":
                block, start = [], number + 1
            elif block is not None and line.strip() == "```":
                commands += parse_block(block, start)
                block = None
            elif block is not None:
                block.append(line)
        if commands:
            found.append(Example(str(path.relative_to(ROOT)), commands))
    return found


EXAMPLES = examples()


def matches(expected: list[str], actual: str) -> bool:
    """Whitespace aside, the output is the expected text, ``...`` standing for anything."""
    want = re.sub(r"\s+", "", "\n".join(expected))
    got = re.sub(r"\s+", "", actual)
    pattern = ".*".join(re.escape(piece) for piece in want.split("..."))
    return re.fullmatch(pattern, got, flags=re.DOTALL) is not None


def _port() -> int:
    wanted = os.environ.get("LABELER_DOCS_TEST_PORT")
    if wanted:
        return int(wanted)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    env: dict[str, str]
    token: str
    project: int


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    var = tmp_path_factory.mktemp("docs-server")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(DEBUG="1", LABELER_VAR_DIR=str(var), DATABASE_URL=f"sqlite:///{var}/db.sqlite3")
    manage = [sys.executable, str(ROOT / "manage.py")]
    # The examples train the demo's model: at a few epochs and without the label check's
    # fold models (the worker's tests check those), since what the examples print is
    # checked here, not how well the model learnt. `make run`'s migrate and load_demo run
    # in one process: each process costs seconds of start-up.
    training = {"epochs": 5, "label_check_folds": 0}
    prepare = (
        "from django.core.management import call_command as c; "
        "from labeler.projects.models import Project; "
        "c('migrate', interactive=False, verbosity=0); c('load_demo'); "
        f"Project.objects.update(training={training!r})"
    )
    subprocess.run(
        [*manage, "shell", "-c", prepare], env=env, cwd=ROOT, check=True, capture_output=True
    )
    port = _port()
    url = f"http://127.0.0.1:{port}"
    env["LABELER_SITE_URL"] = url  # as `make run` sets it: the links in answers lead here
    log = (var / "server.log").open("w")
    process = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        token, project = _log_in(url, process)
        yield Server(url, env, token, project)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _log_in(url: str, process: subprocess.Popen[bytes]) -> tuple[str, int]:
    body = json.dumps({"username": "lead", "password": "demo-password"}).encode()
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, "the server exited"
        try:
            request = urllib.request.Request(
                f"{url}/api/v1/auth/token/", body, {"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                token = json.load(answer)["token"]
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    request = urllib.request.Request(
        f"{url}/api/v1/projects/", headers={"Authorization": f"Token {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        project = json.load(answer)["results"][0]["id"]
    return token, int(project)


def test_the_documentation_has_examples_to_run() -> None:
    sources = {example.source for example in EXAMPLES}
    assert {"README.md", "docs/getting-started.md", "docs/leads-guide.md"} <= sources
    assert all(example.commands for example in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.source for example in EXAMPLES])
def test_example_runs(example: Example, server: Server, tmp_path: Path) -> None:
    script = [PREAMBLE]
    for command in example.commands:
        script += [command.text.replace(DOCUMENTED, server.url), "mark"]
    env = {
        **server.env,
        "API": f"{server.url}/api/v1",
        "TOKEN": server.token,
        "PROJECT": str(server.project),
        # As in a terminal where the virtualenv is active: its python3 has onnxruntime.
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), server.env.get("PATH", "")]),
    }
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    outputs = result.stdout.split(f"\n{MARK}\n")
    ran = len(outputs) - 1
    failed = example.commands[min(ran, len(example.commands) - 1)]
    assert result.returncode == 0, (
        f"{example.source}:{failed.line} exited {result.returncode}:\n{failed.text}\n"
        f"stdout: {outputs[-1]}\nstderr: {result.stderr}"
    )
    for command, output in zip(example.commands, outputs, strict=False):
        if command.expected:
            assert matches(command.expected, output), (
                f"{example.source}:{command.line}: {command.text}\nexpected:\n"
                + "\n".join(command.expected)
                + f"\ngot:\n{output}"
            )
