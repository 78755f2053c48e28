"""The production stack, running: docker-compose.yml's containers walked from a browser.

``make stack`` (deploy/local/stack.py) builds the images from Debian's packages, brings
the stack up (proxy, web scaled to two, PostgreSQL, Redis, the CPU worker, the training
and serving workers, beat) and runs this module against it, with LABELER_STACK_URL (the
proxy, on loopback) and LABELER_STACK_COMPOSE (the docker-compose command line that
addresses the stack). Without them it is skipped: the suite itself never builds images.

The walk is a new team's first hour (tests/docs/first_hour.py) through the proxy: the
admin creates a project of photos and an invitation link, two newcomers sign up and label
every photo. While the first of them labels, one web replica is killed outright; every
label pressed is still there afterwards. The lead then trains a model on the Models page,
which the training worker runs through Redis and which pre-labels the photos uploaded
since, and downloads an export of every annotation from the Export page.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
import requests
from PIL import Image as PILImage
from playwright.sync_api import Page, expect

from tests.browser.conftest import CHROMIUM, browser  # noqa: F401  (the module's Chromium)
from tests.docs.first_hour import LABELS, first_hour, photos_write

URL = os.environ.get("LABELER_STACK_URL", "")
COMPOSE = shlex.split(os.environ.get("LABELER_STACK_COMPOSE", ""))
ADMIN = "admin"
PASSWORD = "stack-admin-password-2718"
TRAINING_WAIT = 600_000  # ms: a first training on the CPU worker, images decoded first

pytestmark = [
    pytest.mark.skipif(not URL or not COMPOSE, reason="`make stack` runs it on its stack"),
    pytest.mark.slow,
]


@pytest.fixture(scope="module", autouse=True)
def chromium_present() -> None:
    """On the stack a missing Chromium fails the walk (the browser fixture would skip it,
    and `make stack` would report a walk that never ran as passed)."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"the walk needs Chromium at {CHROMIUM} (apt-get install chromium)")


def compose(*arguments: str) -> str:
    done = subprocess.run([*COMPOSE, *arguments], capture_output=True, text=True, check=True)
    return done.stdout


def web_replicas() -> list[str]:
    """The web containers' ids, the first replica first."""
    ids = compose("ps", "-q", "web").split()
    names = {cid: inspect(cid, "{{.Name}}") for cid in ids}
    return sorted(ids, key=lambda cid: names[cid])


def api(token: str, method: str, path: str, **kwargs) -> requests.Response:
    response = requests.request(
        method,
        f"{URL}/api/v1/{path}",
        headers={"Authorization": f"Token {token}"},
        timeout=60,
        **kwargs,
    )
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return response


def jpeg(colour: tuple[int, int, int], size: int = 640) -> bytes:
    """A photo-sized JPEG of one colour with a gradient, new to the project."""
    image = PILImage.new("RGB", (size, size), colour)
    for x in range(0, size, 8):
        image.paste(tuple(min(255, c + x // 4) for c in colour), (x, 0, x + 8, size // 2))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def test_a_team_labels_trains_and_exports_through_the_proxy(browser, tmp_path: Path):  # noqa: F811
    compose(
        "exec",
        "-T",
        "-e",
        f"DJANGO_SUPERUSER_USERNAME={ADMIN}",
        "-e",
        f"DJANGO_SUPERUSER_PASSWORD={PASSWORD}",
        "-e",
        "DJANGO_SUPERUSER_EMAIL=admin@example.org",
        "web",
        "python",
        "manage.py",
        "createsuperuser",
        "--noinput",
    )
    replicas = web_replicas()
    assert len(replicas) == 2, f"two web replicas expected, found {replicas}"
    killed: list[str] = []

    def shot(page: Page, name: str) -> None:
        # The first newcomer has the labelling page open: one replica dies mid-walk,
        # its processes killed outright as a crash would (`docker kill` would count as
        # stopping it by hand, and Docker would not start it again).
        if name == "first-label" and not killed:
            os.kill(main_pid(replicas[1]), signal.SIGKILL)
            killed.append(replicas[1])

    walked = first_hour(
        browser, URL, admin=ADMIN, password=PASSWORD, photos=photos_write(tmp_path), shot=shot
    )
    assert killed, "the walk never reached the labelling page"
    assert walked.refused == [], "the Content-Security-Policy refused something"
    assert walked.link.startswith(f"{URL}/join/"), walked.link
    project = walked.project_id

    token = requests.post(
        f"{URL}/api/v1/auth/token/", json={"username": ADMIN, "password": PASSWORD}, timeout=30
    ).json()["token"]

    # Photos uploaded after the labelling: the model pre-labels them once trained.
    files = [
        ("files", (f"new-{n}.jpg", jpeg(c), "image/jpeg"))
        for n, c in enumerate([(200, 40, 40), (40, 200, 40), (40, 40, 200)])
    ]
    uploaded = api(token, "POST", f"projects/{project}/images/", files=files).json()
    new_images = [row["image_id"] for row in uploaded["results"] if row["status"] == "created"]
    assert len(new_images) == 3, uploaded

    lead = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    lead.goto(f"{URL}/login/")
    lead.fill("input[name=username]", ADMIN)
    lead.fill("input[name=password]", PASSWORD)
    lead.get_by_role("button", name="Log in").click()
    lead.wait_for_url(f"{URL}/")

    lead.goto(f"{URL}/projects/{project}/models/")
    lead.wait_for_selector("#models[data-state=ready]", timeout=60_000)
    lead.select_option("#architecture", "small-cnn")
    lead.get_by_role("button", name="Train").click()
    expect(lead.locator("#run-active")).to_be_visible()
    expect(lead.locator("#run-live")).to_have_attribute(
        "data-state", "succeeded", timeout=TRAINING_WAIT
    )
    runs = api(token, "GET", f"projects/{project}/training-runs/").json()
    assert runs[0]["status"] == "succeeded", runs[0]
    version = runs[0]["model_version"]

    # The pre-labelling pass the new version starts, on the training worker.
    deadline = time.monotonic() + 300
    while True:
        prelabel = api(token, "GET", f"model-versions/{version}/").json().get("prelabel") or {}
        if prelabel.get("total") and prelabel.get("done") == prelabel["total"]:
            break
        assert time.monotonic() < deadline, f"pre-labelling did not finish: {prelabel}"
        time.sleep(2)
    for image in new_images:
        predicted = api(token, "GET", f"projects/{project}/predictions/?image={image}").json()
        assert predicted["results"], f"image {image} has no prediction"
        assert predicted["results"][0]["model_version"] == version

    # An export of every annotation, downloaded from the Export page.
    lead.goto(f"{URL}/projects/{project}/export/")
    lead.get_by_label("Format").select_option("json")
    lead.get_by_label("Every annotation").check()
    lead.get_by_role("button", name="Start export").click()
    row = lead.locator("#exports-body tr").first
    expect(row).to_have_attribute("data-status", "done", timeout=120_000)
    with lead.expect_download() as download_info:
        row.get_by_role("link", name="Download").click()
    target = tmp_path / "export"
    download_info.value.save_as(target)
    exported = exported_annotations(target)

    # Nothing lost to the replica killed mid-walk: every label pressed, by its annotator.
    for username, pressed in walked.pressed.items():
        assert len(pressed) == 6, (username, pressed)
        for image, key in pressed.items():
            assert exported.get((username, image)) == LABELS[int(key) - 1], (username, image)
    lead.context.close()

    # The killed replica came back by itself (restart: unless-stopped), healthy.
    deadline = time.monotonic() + 180
    while health(killed[0]) != "healthy":
        assert time.monotonic() < deadline, compose("ps")
        time.sleep(3)


def main_pid(container: str) -> int:
    """The host's id of the container's first process (gunicorn's master)."""
    return int(inspect(container, "{{.State.Pid}}"))


def inspect(container: str, template: str) -> str:
    return subprocess.run(
        ["docker", "inspect", "-f", template, container],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def health(container: str) -> str:
    return inspect(container, "{{.State.Health.Status}}")


def exported_annotations(path: Path) -> dict[tuple[str, int], str]:
    """(annotator, image id) → the label they gave, read from a JSON export of every
    annotation (a zip or a plain file)."""
    raw = path.read_bytes()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as bundle:
            raw = bundle.read(next(n for n in bundle.namelist() if n.endswith(".json")))
    found = {}
    for image in json.loads(raw)["images"]:
        for annotation in image["annotations"]:
            (name,) = annotation["labels"]
            found[(annotation["annotator"], image["id"])] = name
    return found
