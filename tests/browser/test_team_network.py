"""`make run HOST=0.0.0.0` serves a team: colleagues on other machines, by the network address.

The first run (``labeler.first_run``, what ``make run`` calls) starts on a fresh
embedded install listening on every interface. The colleagues' machine is a network
namespace of its own, joined to this one by a veth pair: its loopback is its own, so a
browser there reaches the server only by this machine's network address. Chromium runs
inside it (``ip netns exec``): the demo's admin logs in, creates a project of photos and
makes an invitation link; two newcomers open the link, sign up and label every photo
(``tests/docs/first_hour.py``). The link, and every page, is on the network address the
first run printed; debug pages are off; the labels are in the server's database.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from labeler.demo.services import ADMIN, DEMO_PASSWORD
from labeler.first_run import (
    loopback,
    network_addresses,
    routed_address,
    served_addresses,
    server_command,
    team_environment,
)
from tests.browser.conftest import CHROMIUM
from tests.docs.first_hour import NEWCOMERS, PHOTOS, first_hour, photos_write

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        return int(probe.getsockname()[1])


def _ip(*arguments: str, namespace: str | None = None) -> None:
    command = ["ip", *arguments] if namespace is None else ["ip", "-n", namespace, *arguments]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=30)


@contextmanager
def colleagues_machine() -> Iterator[str]:
    """A network namespace joined to this machine by a veth pair, its default route
    through this machine; the namespace's name. Removed at the end."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 (ip) to make a network namespace")
    tag = f"lb{os.getpid() % 100000}"
    namespace, here, there = f"{tag}-team", f"{tag}h", f"{tag}n"
    subnet = f"10.{random.Random(os.getpid()).randrange(100, 250)}.{os.getpid() % 250}"
    try:
        _ip("netns", "add", namespace)
    except subprocess.CalledProcessError as refused:
        pytest.skip(f"network namespaces are not allowed here: {refused.stderr.strip()}")
    try:
        _ip("link", "add", here, "type", "veth", "peer", "name", there)
        _ip("link", "set", there, "netns", namespace)
        _ip("addr", "add", f"{subnet}.1/30", "dev", here)
        _ip("link", "set", here, "up")
        _ip("addr", "add", f"{subnet}.2/30", "dev", there, namespace=namespace)
        _ip("link", "set", there, "up", namespace=namespace)
        _ip("link", "set", "lo", "up", namespace=namespace)
        _ip("route", "add", "default", "via", f"{subnet}.1", namespace=namespace)
        yield namespace
    finally:
        subprocess.run(["ip", "link", "del", here], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=30)


def _in_namespace(namespace: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", namespace, *command], capture_output=True, text=True, timeout=60
    )


@contextmanager
def first_run(var: Path, port: int) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """``make run HOST=0.0.0.0 PORT=port`` on a fresh install under ``var``: the server
    and its log. The suite's servers (DATABASE_URL, REDIS_URL) are not handed on: the
    first run is the embedded default."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "DEBUG"}
        and not key.startswith(("SECRET_KEY", "LABELER_SITE_URL", "ALLOWED_HOSTS"))
    }
    env["LABELER_VAR_DIR"] = str(var)
    log = var / "run.log"
    command = [sys.executable, "-m", "labeler.first_run", "--host", "0.0.0.0"]
    command += ["--port", str(port), "--demo-images", "12"]
    with log.open("w") as out:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True
        )
    try:
        yield server, log
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def _printed_addresses(server: subprocess.Popen[str], log: Path) -> list[str]:
    """The addresses the first run printed for colleagues, once the server answers."""
    deadline = time.monotonic() + 180
    while "Quit the server" not in log.read_text():
        assert server.poll() is None, f"the first run ended: {log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.3)
    text = log.read_text()
    block = text.split("Colleagues on this network open:", 1)[1].split("Links the site", 1)[0]
    return re.findall(r"^\s+(http://\S+)/$", block, re.MULTILINE)


def test_a_colleague_on_another_machine_joins_by_link_and_labels(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs Chromium at {CHROMIUM}")
    address = routed_address()
    if address is None or loopback(address):
        pytest.skip("this machine has no network address (no route out)")
    sync_api = pytest.importorskip("playwright.sync_api")
    var = tmp_path / "var"
    var.mkdir()
    port = _free_port()
    photos = photos_write(tmp_path / "photos")
    with colleagues_machine() as namespace, first_run(var, port) as (server, log):
        printed = _printed_addresses(server, log)
        base = f"http://{address}:{port}"
        assert printed[0] == base, log.read_text()
        assert not any("127.0.0.1" in url or "localhost" in url for url in printed)

        # The colleagues' machine has its own loopback: nothing of this machine's there.
        reached = _in_namespace(
            namespace,
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
            f"http://127.0.0.1:{port}/login/",
        )
        assert reached.stdout in ("000", ""), reached
        # Debug pages are off: a missing page is the site's own, not Django's report.
        missing = _in_namespace(
            namespace, "curl", "-s", "-w", "\n%{http_code}", f"{base}/no-such-page/"
        )
        assert missing.stdout.endswith("\n404") and "URLconf" not in missing.stdout, missing
        key = var / "secret_key"
        assert key.is_file() and key.stat().st_mode & 0o077 == 0

        wrapper = tmp_path / "chromium-in-namespace"
        wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {namespace} {CHROMIUM} "$@"\n')
        wrapper.chmod(0o755)
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(wrapper),
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            walked = first_hour(browser, base, admin=ADMIN, password=DEMO_PASSWORD, photos=photos)
            browser.close()

    assert walked.link.startswith(f"{base}/join/"), walked.link
    assert walked.refused == []
    with sqlite3.connect(f"file:{var / 'labeler.sqlite3'}?mode=ro", uri=True) as database:
        counted = dict(
            database.execute(
                "SELECT u.username, count(*) FROM annotations_annotation a "
                "JOIN auth_user u ON u.id = a.annotator_id "
                "WHERE a.project_id = ? GROUP BY u.username",
                (walked.project_id,),
            ).fetchall()
        )
    assert counted == dict.fromkeys(NEWCOMERS, len(PHOTOS))
    for username in NEWCOMERS:
        assert len(walked.pressed[username]) == len(PHOTOS)


def test_the_first_run_on_loopback_serves_this_machine_only() -> None:
    """Without HOST, the first run stays what it was: this machine, debug pages on."""
    assert loopback("127.0.0.1") and loopback("::1") and loopback("localhost")
    assert loopback("[::1]") and loopback("127.0.1.1")
    assert not loopback("0.0.0.0") and not loopback("192.0.2.7") and not loopback("vm")
    assert served_addresses("192.0.2.7") == ["192.0.2.7"]


def test_the_server_restarts_on_code_changes_only_when_asked() -> None:
    """make run serves one process that keeps its queued tasks; RELOAD=1 is for editing."""
    assert server_command("127.0.0.1", 8000)[-2:] == ["127.0.0.1:8000", "--noreload"]
    assert server_command("127.0.0.1", 8000, reload=True)[-2:] == ["runserver", "127.0.0.1:8000"]
    assert server_command("::1", 8811)[-2] == "[::1]:8811"
    assert server_command("", 8811)[-2] == "0.0.0.0:8811"


def test_a_teams_server_takes_what_the_admin_set_and_never_debug(tmp_path: Path) -> None:
    found = team_environment(["192.0.2.7", "10.0.0.4"], 8811, {"DEBUG": "1"}, tmp_path)
    assert found["DEBUG"] == "0"
    assert found["LABELER_SITE_URL"] == "http://192.0.2.7:8811"
    assert found["ALLOWED_HOSTS"].split(",")[:2] == ["192.0.2.7", "10.0.0.4"]
    assert socket.gethostname() in found["ALLOWED_HOSTS"].split(",")
    assert found["SECURE_SSL_REDIRECT"] == found["SESSION_COOKIE_SECURE"] == "0"
    key = (tmp_path / "secret_key").read_text().strip()
    assert found["SECRET_KEY"] == key and len(key) >= 50  # kept on disk, the same next time
    assert team_environment(["192.0.2.7"], 8811, {}, tmp_path)["SECRET_KEY"] == key

    admin = {
        "LABELER_SITE_URL": "https://labels.example.org",
        "ALLOWED_HOSTS": "labels.example.org",
        "SECRET_KEY": "k" * 50,
    }
    found = team_environment(["192.0.2.7"], 8811, admin, tmp_path)
    assert {name: found[name] for name in admin} == admin
    blank = team_environment(["192.0.2.7"], 8811, {"ALLOWED_HOSTS": "", "SECRET_KEY": ""}, tmp_path)
    assert blank["ALLOWED_HOSTS"].startswith("192.0.2.7,") and blank["SECRET_KEY"] == key


def test_network_addresses_leave_out_loopback_link_local_and_ipv6() -> None:
    class Found:
        def __init__(self, family: int, address: str) -> None:
            self.family, self.address = family, address

    interfaces = {
        "lo": [Found(socket.AF_INET, "127.0.0.1"), Found(socket.AF_INET6, "::1")],
        "eth0": [Found(socket.AF_INET, "192.0.2.7"), Found(socket.AF_INET6, "fe80::1")],
        "wlan0": [Found(socket.AF_INET, "169.254.3.3"), Found(socket.AF_INET, "10.0.0.4")],
        "tun0": [Found(socket.AF_INET, "10.0.0.4")],
    }
    assert network_addresses(interfaces) == ["192.0.2.7", "10.0.0.4"]
