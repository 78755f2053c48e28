"""The prediction API's latency and throughput against a bare forward pass, in one run.

    .venv/bin/python bench/predict.py            # or: make bench-predict
    .venv/bin/python bench/predict.py --architecture small-cnn --requests 20   # small

gunicorn serves the site on the embedded default (SQLite, no broker: the model runs in
the resident child process, ``labeler.resident``) with a model version of
``--architecture`` (untrained weights: the time of a forward pass does not depend on
them). Measured in the same run, on the same input images:

- one image over HTTP (``POST /predict/`` with a prediction token): p50 and p95 of
  ``--requests`` requests, against a bare forward pass of the same model on the same
  decoded image (one before each request) plus a bare HTTP round trip (a stdlib server
  answering the same upload);
- 64 images in one request: images a second, against a bare batched forward pass of 64,
  the two taken in turn (``--repeat`` of each; the medians compared).

Goals: one image within 20 ms of bare + HTTP; at batch 64 at least 0.8x the bare pass.
Exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BATCH = 64


def main(argv: list[str] | None = None) -> int:
    options = _options(argv)
    var = Path(tempfile.mkdtemp(prefix="labeler-bench-predict-"))
    env = _environment(var, options)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    images = _images(options.image_side)
    project_id, key, path = _project(options)
    bare_pass = _bare(path, images)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "labeler.wsgi", "-b", f"127.0.0.1:{port}",
         "-k", "gthread", "-w", "1", "--threads", "4", "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, **env},
    )  # fmt: skip
    try:
        _wait(port)
        http_bare = _bare_http(images[0], options.requests)
        one, bare_one, batch, bare_batch = _served(
            port, project_id, key, images, options, bare_pass
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return _report(options, bare_one, bare_batch, http_bare, one, batch)


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--architecture", default="resnet18")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--image-side", type=int, default=320, help="the uploaded JPEGs' side")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5, help="timed batches of 64")
    return parser.parse_args(argv)


def _environment(var: Path, options: argparse.Namespace) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "labeler.settings",
        "DEBUG": "1",
        "SECRET_KEY": "bench-" + "p" * 50,
        "LABELER_VAR_DIR": str(var),
        "LABELER_MODEL_DIR": str(var / "models"),
        "MEDIA_ROOT": str(var / "media"),
        "LABELER_PREDICT_SYNC_MAX": str(BATCH),  # the batch of 64 answered at once
        "LOG_LEVEL": "WARNING",
    }


def _images(side: int) -> list[bytes]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    images = []
    for _ in range(BATCH):
        pixels = rng.integers(0, 255, (side, side, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=85)
        images.append(buffer.getvalue())
    return images


def _project(options: argparse.Namespace) -> tuple[int, str, Path]:
    from django.conf import settings
    from django.contrib.auth.models import User

    from labeler.predictions.models import ModelVersion
    from labeler.projects.models import Label, Membership, Project, Role
    from labeler.serving.tokens import predict_token_issue
    from worker.ml import weights
    from worker.ml.architectures import build, normalisation_for

    project = Project.objects.create(name="Bench")
    ids = [
        Label.objects.create(project=project, name=f"class {n}", position=n).pk for n in range(10)
    ]
    meta = {
        "architecture": options.architecture, "label_ids": ids, "thresholds": None,
        "image_size": options.image_size, "grayscale": False, "channels": 3,
        "normalisation": normalisation_for(options.architecture, 3), "multi_label": False,
    }  # fmt: skip
    model = build(options.architecture, len(ids), 3, options.image_size)
    path = Path(settings.LABELER_MODEL_DIR) / "bench.pt"
    sha256 = weights.save(path, model=model, meta=meta)
    ModelVersion.objects.create(
        project=project, version=1, is_current=True, weights="bench.pt", weights_sha256=sha256,
        architecture=options.architecture,
    )  # fmt: skip
    # A token lives while its issuer leads the project (labeler.serving.tokens).
    lead = User.objects.create_user(username="bench-lead")
    Membership.objects.create(project=project, user=lead, role=Role.LEAD)
    key = predict_token_issue(project=project, name="bench", created_by=lead).key
    return project.pk, key, path


def _bare(path: Path, images: list[bytes]) -> Any:
    """A call that times one bare forward pass (ms) of the first ``count`` images, decoded
    once, with the model loaded as the worker loads it."""
    import numpy as np
    import torch

    from worker.ml.anatomy import probabilities_and_embeddings
    from worker.ml.data import decode_bytes
    from worker.ml.device import configure_threads
    from worker.ml.weights import load

    configure_threads()
    loaded = load(path, "cpu")
    size = loaded.meta["image_size"]
    decoded = torch.from_numpy(
        np.stack([decode_bytes("x", b, image_size=size, grayscale=False) for b in images])
    )

    def bare_pass(count: int) -> float:
        began = time.perf_counter()
        probabilities_and_embeddings(loaded, decoded[:count])
        return (time.perf_counter() - began) * 1000

    for count in (1, 1, 1, BATCH):
        bare_pass(count)
    return bare_pass


def _multipart(files: list[bytes]) -> tuple[bytes, str]:
    boundary = "benchboundary7d2f"
    parts = []
    for n, content in enumerate(files):
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="image-{n}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
            + content + b"\r\n"
        )  # fmt: skip
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


class _Echo(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _bare_http(image: bytes, requests: int) -> list[float]:
    """Round trips of the same one-image upload to a bare stdlib server (ms each)."""
    _Echo.protocol_version = "HTTP/1.1"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        return _timed(server.server_address[1], "/", [image], "", requests)
    finally:
        server.shutdown()


def _served(
    port: int,
    project_id: int,
    key: str,
    images: list[bytes],
    options: argparse.Namespace,
    bare_pass: Any,
) -> tuple[list[float], list[float], float, float]:
    """One image's requests and bare passes (ms each); images a second at batch 64, served
    and bare. Each request follows a bare pass of the same size, so a machine shared with
    other work weighs on both alike."""
    url = f"/api/v1/projects/{project_id}/predict/"
    _timed(port, url, images[:1], key, 3)  # the resident process starts, the model loads
    one, bare_one = [], []
    for _ in range(options.requests):
        bare_one.append(bare_pass(1))
        one += _timed(port, url, images[:1], key, 1)
    _timed(port, url, images, key, 1)
    served, bare = [], []
    for _ in range(options.repeat):
        bare.append(bare_pass(BATCH))
        served += _timed(port, url, images, key, 1)
    rate = lambda times: BATCH * 1000 / statistics.median(times)  # noqa: E731
    return one, bare_one, rate(served), rate(bare)


def _timed(port: int, url: str, files: list[bytes], key: str, count: int) -> list[float]:
    body, boundary = _multipart(files)
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.connect()  # headers and body go in two writes: no delayed-ACK wait on them
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times = []
    for _ in range(count):
        began = time.perf_counter()
        connection.request("POST", url, body=body, headers=headers)
        answer = connection.getresponse()
        content = answer.read()
        times.append((time.perf_counter() - began) * 1000)
        if answer.status != 200:
            raise SystemExit(f"{url} answered {answer.status}: {content[:300]!r}")
    connection.close()
    return times


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _report(options: argparse.Namespace, bare_one: list[float], bare_batch: float,
            http_bare: list[float], one: list[float], batch: float) -> int:  # fmt: skip
    floor50 = _percentile(bare_one, 0.5) + _percentile(http_bare, 0.5)
    floor95 = _percentile(bare_one, 0.95) + _percentile(http_bare, 0.95)
    print(f"{options.architecture} at {options.image_size} px, {options.image_side}px JPEGs, "
          f"embedded default (SQLite, no broker), gunicorn gthread 1x4, CPU")  # fmt: skip
    print(f"{'measure':<34}{'p50 ms':>10}{'p95 ms':>10}")
    rows = [
        ("bare forward, 1 image", bare_one),
        ("bare HTTP round trip, 1 upload", http_bare),
        ("predict over HTTP, 1 image", one),
    ]
    for name, values in rows:
        print(f"{name:<34}{_percentile(values, 0.5):>10.2f}{_percentile(values, 0.95):>10.2f}")
    print(f"{'bare forward + bare HTTP':<34}{floor50:>10.2f}{floor95:>10.2f}")
    over50, over95 = _percentile(one, 0.5) - floor50, _percentile(one, 0.95) - floor95
    print(f"{'overhead (predict - floor)':<34}{over50:>10.2f}{over95:>10.2f}")
    ratio = batch / bare_batch
    print(f"{'batch of 64':<34}{'images/s':>10}{'ratio':>10}")
    print(f"{'bare forward':<34}{bare_batch:>10.1f}{1.0:>10.2f}")
    print(f"{'predict over HTTP':<34}{batch:>10.1f}{ratio:>10.2f}")
    met = over50 <= 20 and ratio >= 0.8
    print(f"goals (one image within 20 ms of the floor at p50; >= 0.8x at batch): "
          f"{'met' if met else 'missed'}")  # fmt: skip
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
