"""Build and run the production stack on this host, with no registry, and walk it.

`make stack` runs this: Docker's engine (started when it is not running), the base image
from Debian's packages (base-image.sh), the project's wheels built here and served to
the image builds on the Docker bridge, the images, then docker-compose.yml with
deploy/local/docker-compose.yml in the "cpu" profile and web scaled to two, behind its
proxy on 127.0.0.1:STACK_PORT. tests/stack/ then walks it from a browser and the stack is
taken down with its volumes (STACK_KEEP=1 leaves it up). Each step's time is printed in
a table at the end; docs/deployment.md keeps the last run's.

Everything stays on this machine: the browser reaches the proxy by loopback, the
containers each other on the stack's own network, the builds the wheels on the bridge's
address. Only the first base image and the first wheels come from Debian's and Python's
package indexes (and npm's, for the front-end packages of the project's image).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / "var" / "stack"
PROJECT = "labeler-stack"
BASE_IMAGE = os.environ.get("LABELER_BASE_IMAGE", "labeler-base:bookworm")
PORT = int(os.environ.get("STACK_PORT", "8088"))
WHEELS_PORT = int(os.environ.get("STACK_WHEELS_PORT", "8089"))
# The training worker's torch: the CPU build where its index is reachable, else what pip
# finds (PyPI's torch is the CUDA build, several GB).
TORCH_SPEC = os.environ.get(
    "STACK_TORCH_SPEC", "torch torchvision --index-url https://download.pytorch.org/whl/cpu"
)
# Beside the project's requirements: what pip builds the project with, and what the image's
# Python (Debian bookworm's 3.11.2) needs that this one's may not (redis asks for
# async-timeout below 3.11.3): the wheels are resolved for the Python running this.
BUILD_EXTRAS = ["setuptools>=77", "wheel", "async-timeout>=4.0.3"]
COMPOSE = [
    "docker-compose",
    "--project-name",
    PROJECT,
    "--env-file",
    str(STATE / "env"),
    "--file",
    str(ROOT / "docker-compose.yml"),
    "--file",
    str(ROOT / "deploy" / "local" / "docker-compose.yml"),
    "--profile",
    "cpu",
]

timings: list[tuple[str, float]] = []


def step(name: str):
    """Time the decorated step and print its name as it starts."""

    def wrap(function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            print(f"== {name}", flush=True)
            started = time.monotonic()
            try:
                return function(*args, **kwargs)
            finally:
                timings.append((name, time.monotonic() - started))

        return timed

    return wrap


def run(command: list[str], *, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    print("$", shlex.join(command), flush=True)
    return subprocess.run(command, check=check, cwd=ROOT, **kwargs)


def compose(*arguments: str, **kwargs) -> subprocess.CompletedProcess:
    return run([*COMPOSE, *arguments], **kwargs)


@step("Docker's engine")
def engine() -> None:
    if subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
        return
    STATE.mkdir(parents=True, exist_ok=True)
    log = (STATE / "dockerd.log").open("ab")
    subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    for _ in range(60):
        if subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
            return
        time.sleep(1)
    raise SystemExit(f"dockerd did not start: see {STATE / 'dockerd.log'}")


@step("Base image from Debian's packages")
def base_image() -> None:
    run(["sh", str(ROOT / "deploy" / "local" / "base-image.sh"), BASE_IMAGE])


@step("Wheels of the project's dependencies")
def wheels() -> Path:
    """Every wheel the images install, built once here; again when pyproject.toml or the
    torch asked for changes."""
    folder = STATE / "wheels"
    stamp = folder / ".built-for"
    wanted = "\n".join([TORCH_SPEC, *BUILD_EXTRAS, (ROOT / "pyproject.toml").read_text()])
    if stamp.exists() and stamp.read_text() == wanted:
        print("Wheels already built for this pyproject.toml.")
        return folder
    shutil.rmtree(folder, ignore_errors=True)  # one build of each: pip takes the newest
    folder.mkdir(parents=True)
    pip = [sys.executable, "-m", "pip", "wheel", "--wheel-dir", str(folder), "--prefer-binary"]
    run([*pip, *shlex.split(TORCH_SPEC)])
    # The rest resolved against the torch just built, not the newest release ("ml" asks
    # for torch>=2.5): the images install whatever torch the folder holds.
    pinned = folder / "constraints.txt"
    pinned.write_text(
        "".join(
            f"{wheel.name.split('-')[0]}=={wheel.name.split('-')[1]}\n"
            for wheel in folder.glob("torch*.whl")
        )
    )
    run([*pip, "--find-links", str(folder), "--constraint", str(pinned), ".[s3,ml]", *BUILD_EXTRAS])
    for built in folder.glob("labeler-*.whl"):  # the project itself comes from the context
        built.unlink()
    stamp.write_text(wanted)
    return folder


def bridge_address() -> str:
    inspected = subprocess.run(
        ["docker", "network", "inspect", "bridge"], capture_output=True, check=True, text=True
    )
    network = json.loads(inspected.stdout)[0]
    gateway = network["IPAM"]["Config"][0].get("Gateway")
    if gateway:
        return gateway
    # Older engines name no gateway: the bridge interface's own address is it.
    interface = network["Options"].get("com.docker.network.bridge.name", "docker0")
    return next(
        address.address
        for address in psutil.net_if_addrs()[interface]
        if address.family == socket.AF_INET
    )


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    """The wheels' file server, without a log line per wheel."""

    def log_message(self, format: str, *args: object) -> None:
        pass


@step("Project images")
def images(folder: Path) -> None:
    """Build with pip reading the wheels from a file server on the bridge's address, which
    only this host and its containers reach, for the time of the build."""
    address = bridge_address()
    handler = functools.partial(QuietFiles, directory=str(folder))
    # A fixed port: the address is a build argument, and a new one would rebuild every
    # layer after it instead of taking them from the cache.
    server = http.server.ThreadingHTTPServer((address, WHEELS_PORT), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = (
        f"--no-index --find-links http://{address}:{server.server_port}/ --trusted-host {address}"
    )
    try:
        compose("build", env={**os.environ, "PIP_INSTALL_OPTIONS": options})
    finally:
        server.shutdown()


def write_env() -> None:
    """The stack's settings: fresh secrets, and the plain-HTTP loopback address the browser
    opens (no TLS proxy in front: secure cookies and the HTTPS redirect off). No trusted
    origins: the proxy passes the Host header with its port, which the forms' origin is
    checked against."""
    STATE.mkdir(parents=True, exist_ok=True)
    site = f"http://127.0.0.1:{PORT}"
    settings = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LABELER_SITE_URL": site,
        "WEB_PORT": f"127.0.0.1:{PORT}",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "GUNICORN_WORKERS": "2",
        "GPU_WORKER_CONCURRENCY": "1",
        "SERVE_WORKER_CONCURRENCY": "4",
        "CPU_WORKER_CONCURRENCY": "2",
    }
    (STATE / "env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


@step("Stack up (web x2) and healthy")
def up() -> None:
    compose("up", "--detach", "--no-build", "--scale", "web=2")
    deadline = time.monotonic() + 300
    while not healthy(f"http://127.0.0.1:{PORT}/healthz/"):
        if time.monotonic() > deadline:
            compose("ps")
            compose("logs", "--tail", "50")
            raise SystemExit("The stack did not answer on its proxy within 5 minutes.")
        time.sleep(2)
    compose("ps")


@step("Walk in the browser (tests/stack)")
def walk() -> int:
    env = {
        **os.environ,
        "LABELER_STACK_URL": f"http://127.0.0.1:{PORT}",
        "LABELER_STACK_COMPOSE": shlex.join(COMPOSE),
    }
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "tests/stack"]
    print("$", shlex.join(command), flush=True)
    return subprocess.run(command, cwd=ROOT, env=env).returncode


@step("Stack down, volumes removed")
def down() -> None:
    compose("down", "--volumes", "--remove-orphans")


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def main() -> int:
    if not port_free(PORT):
        raise SystemExit(f"Port {PORT} is taken: set STACK_PORT to a free one.")
    write_env()
    engine()
    base_image()
    images(wheels())
    outcome = 1
    try:
        up()
        outcome = walk()
    finally:
        if os.environ.get("STACK_KEEP") == "1":
            print(f"Left running (STACK_KEEP=1): {shlex.join(COMPOSE)} down --volumes")
        else:
            if outcome != 0:
                compose("logs", "--tail", "80", check=False)
            down()
    print(f"\n{'step':<40} {'seconds':>8}")
    for name, seconds in timings:
        print(f"{name:<40} {seconds:>8.0f}")
    print(f"{'total':<40} {sum(s for _, s in timings):>8.0f}")
    print("passed" if outcome == 0 else "FAILED")
    return outcome


if __name__ == "__main__":
    sys.exit(main())
