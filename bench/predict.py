"""The prediction API against a bare loop of the same work, in one run.

    .venv/bin/python bench/predict.py            # or: make bench-predict
    .venv/bin/python bench/predict.py --architectures small-cnn --seconds 5   # quicker

gunicorn (gthread, ``--threads`` threads in one worker) serves the site on the embedded
default with the default settings, as production runs them (DEBUG off; plain HTTP on
loopback, so no redirect to HTTPS), on SQLite with no broker (the model runs in the resident
child process, ``labeler.resident``, through ONNX Runtime, its requests batched together),
for a model version of each architecture (untrained weights: a forward pass's time does
not depend on them; the small CNN at its 32 px, ResNet-18 at 224 px; 10 labels), sent
320 px JPEGs with a prediction token. The reference, measured in the same run: a bare
loop that decodes the same files as the model card says (``worker.ml.data.decode_bytes``,
on as many threads as the server decodes with) and runs the same graph with ONNX Runtime
on the same threads, in this process; and a bare HTTP round trip of the same upload to a
stdlib server. Bare passes and requests alternate, so other work on the machine weighs on
both alike.

- **64 files in one request**: images a second against the bare loop at batch 64 (goal:
  0.8x);
- **32 clients, one file a request**: 32 connections each sending one file after another
  for ``--seconds``: images a second against the bare loop at batch 32 (goal: 0.5x);
- **one file**: p50 against the bare decode and forward of one file plus the bare HTTP
  round trip (goal: within 5 ms);
- **the served log** holds one row for every image answered once the run is over.

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
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BATCH = 64
CLIENTS = 32
SIZES = {"small-cnn": 32, "resnet18": 224}


def main(argv: list[str] | None = None) -> int:
    options = _options(argv)
    var = Path(tempfile.mkdtemp(prefix="labeler-bench-predict-"))
    env = _environment(var)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    files = _jpegs(options.image_side, BATCH)
    models = {name: _project(name) for name in options.architectures}
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "labeler.wsgi", "-b", f"127.0.0.1:{port}",
         "-k", "gthread", "-w", "1", "--threads", str(options.threads),
         "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, **env},
    )  # fmt: skip
    results = []
    try:
        _wait(port)
        http_bare = _bare_http(files[0], options.requests)
        for name, (project_id, key, graph, meta) in models.items():
            bare = _Bare(graph, meta, files)
            results.append((name, _served(port, project_id, key, files, options, bare), http_bare))
    finally:
        server.terminate()
        server.wait(timeout=30)
    logged = _logged_check(sum(r[1]["images"] for r in results))
    return _report(options, results, logged)


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--architectures", type=lambda text: text.split(","), default=["small-cnn", "resnet18"]
    )
    parser.add_argument("--image-side", type=int, default=320, help="the uploaded JPEGs' side")
    parser.add_argument("--requests", type=int, default=100, help="one-file requests timed")
    parser.add_argument("--repeat", type=int, default=5, help="timed requests of 64 files")
    parser.add_argument("--seconds", type=float, default=10.0, help="of the 32 clients")
    parser.add_argument("--threads", type=int, default=CLIENTS, help="gunicorn's threads")
    return parser.parse_args(argv)


def _environment(var: Path) -> dict[str, str]:
    (var / "static").mkdir()  # none is served; WhiteNoise wants the folder there
    return {
        "DJANGO_SETTINGS_MODULE": "labeler.settings",
        "DEBUG": "0",  # production's settings, for plain HTTP on loopback
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SECRET_KEY": "bench-" + "p" * 50,
        "LABELER_VAR_DIR": str(var),
        "LABELER_MODEL_DIR": str(var / "models"),
        "MEDIA_ROOT": str(var / "media"),
        "STATIC_ROOT": str(var / "static"),
        "LOG_LEVEL": "WARNING",
    }


def _jpegs(side: int, count: int) -> list[bytes]:
    """Photo-like JPEGs (smooth gradients with noise: random pixels compress badly)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    files = []
    grid = np.linspace(0, 1, side)
    for _ in range(count):
        base = rng.uniform(0, 255, 3) * np.outer(grid, 1 - grid)[..., None] * 4
        noise = rng.normal(0, 12, (side, side, 3))
        pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=85)
        files.append(buffer.getvalue())
    return files


def _project(architecture: str) -> tuple[int, str, Path, dict[str, Any]]:
    """A project with a current version of ``architecture``, a prediction token, and the
    version's served graph exported where the server will look for it."""
    from django.conf import settings
    from django.contrib.auth.models import User

    from labeler.predictions.models import ModelVersion
    from labeler.projects.models import Label, Membership, Project, Role
    from labeler.serving.tokens import predict_token_issue
    from worker.ml import engine, weights
    from worker.ml.architectures import build, normalisation_for

    project = Project.objects.create(name=f"Bench {architecture}")
    ids = [
        Label.objects.create(project=project, name=f"class {n}", position=n).pk for n in range(10)
    ]
    size = SIZES.get(architecture, 224)
    meta = {
        "architecture": architecture, "label_ids": ids, "thresholds": None,
        "image_size": size, "grayscale": False, "channels": 3,
        "normalisation": normalisation_for(architecture, 3), "multi_label": False,
    }  # fmt: skip
    model = build(architecture, len(ids), 3, size)
    name = f"bench-{architecture}.pt"
    path = Path(settings.LABELER_MODEL_DIR) / name
    sha256 = weights.save(path, model=model, meta=meta)
    ModelVersion.objects.create(
        project=project, version=1, is_current=True, weights=name, weights_sha256=sha256,
        architecture=architecture,
    )  # fmt: skip
    graph = engine.onnx_file(
        weights.load(path, "cpu"),
        Path(settings.LABELER_MODEL_DIR) / "serving" / engine.graph_name(sha256),
    )
    # A token lives while its issuer leads the project (labeler.serving.tokens).
    lead = User.objects.create_user(username=f"bench-lead-{architecture}")
    Membership.objects.create(project=project, user=lead, role=Role.LEAD)
    key = predict_token_issue(project=project, name="bench", created_by=lead).key
    return project.pk, key, graph, meta


class _Bare:
    """The bare loop: decode the files as the model card says, on the server's number of
    decoding threads, then run the graph with ONNX Runtime on its threads."""

    def __init__(self, graph: Path, meta: dict[str, Any], files: list[bytes]) -> None:
        import numpy as np

        from worker.ml.data import decode_bytes
        from worker.ml.device import configure_threads, decode_threads
        from worker.ml.engine import INPUT_NAME, onnx_session

        threads = configure_threads()
        self.session = onnx_session(graph, threads)
        self.pool = ThreadPoolExecutor(decode_threads("cpu"))
        self.files = files
        self.input = INPUT_NAME
        size = int(meta["image_size"])

        def decode(content: bytes) -> Any:
            return decode_bytes("x", content, image_size=size, grayscale=False)

        self.decode = decode
        self.stack = np.stack
        for count in (1, 1, 32, BATCH):
            self(count)

    def __call__(self, count: int) -> float:
        """Milliseconds to decode and run the first ``count`` files."""
        began = time.perf_counter()
        if count == 1:
            pixels = self.decode(self.files[0])[None]
        else:
            pixels = self.stack(list(self.pool.map(self.decode, self.files[:count])))
        self.session.run(None, {self.input: pixels})
        return (time.perf_counter() - began) * 1000


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
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"ok": true}'
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        self.wfile.write(head.encode() + b"\r\n\r\n" + body)  # one write: no delayed-ACK wait

    def log_message(self, *args: Any) -> None:
        pass


def _bare_http(image: bytes, requests: int) -> list[float]:
    """Round trips of the same one-file upload to a bare stdlib server (ms each)."""
    _Echo.protocol_version = "HTTP/1.1"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        return _Client(server.server_address[1], "/", "").timed([image], requests)
    finally:
        server.shutdown()


# gunicorn closes a keep-alive connection idle for 2 s (its default --keep-alive); a client
# idle for longer than this (a long bare pass between two requests) connects again, untimed.
IDLE_RECONNECT_SECONDS = 1.0


class _Client:
    """One keep-alive connection posting multipart uploads."""

    def __init__(self, port: int, url: str, key: str) -> None:
        self.port = port
        self.url = url
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._connect()

    def _connect(self) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        self.connection.connect()  # headers and body in two writes: no delayed-ACK wait
        assert self.connection.sock is not None
        self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.used = time.monotonic()

    def timed(self, files: list[bytes], count: int) -> list[float]:
        body, boundary = _multipart(files)
        headers = {**self.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        times = []
        for _ in range(count):
            if time.monotonic() - self.used > IDLE_RECONNECT_SECONDS:
                self.connection.close()
                self._connect()
            began = time.perf_counter()
            self.connection.request("POST", self.url, body=body, headers=headers)
            answer = self.connection.getresponse()
            content = answer.read()
            times.append((time.perf_counter() - began) * 1000)
            self.used = time.monotonic()
            if answer.status != 200:
                raise SystemExit(f"{self.url} answered {answer.status}: {content[:300]!r}")
        return times


def _served(port: int, project_id: int, key: str, files: list[bytes],
            options: argparse.Namespace, bare: _Bare) -> dict[str, Any]:  # fmt: skip
    """Each measure of the served API and of the bare loop beside it."""
    url = f"/api/v1/projects/{project_id}/predict/"
    client = _Client(port, url, key)
    client.timed(files[:1], 3)  # the resident process starts, the model loads
    client.timed(files, 2)
    one, bare_one = [], []
    for _ in range(options.requests):
        bare_one.append(bare(1))
        one += client.timed(files[:1], 1)
    served64, bare64 = [], []
    for _ in range(options.repeat):
        bare64.append(bare(BATCH))
        served64 += client.timed(files, 1)
    bare32 = [bare(32) for _ in range(options.repeat)]
    clients_rate, clients_images = _clients(port, url, key, files, options.seconds)
    bare32 += [bare(32) for _ in range(options.repeat)]
    images = 3 + 2 * BATCH + options.requests + options.repeat * BATCH + clients_images
    rate = lambda times, n: n * 1000 / statistics.median(times)  # noqa: E731
    return {
        "one": one, "bare_one": bare_one, "images": images,
        "served64": rate(served64, BATCH), "bare64": rate(bare64, BATCH),
        "clients": clients_rate, "bare32": rate(bare32, 32),
    }  # fmt: skip


def _clients(
    port: int, url: str, key: str, files: list[bytes], seconds: float
) -> tuple[float, int]:
    """CLIENTS connections each posting one file after another for ``seconds``: images a
    second over the timed window, and images sent in all."""
    clients = [_Client(port, url, key) for _ in range(CLIENTS)]
    counts = [0] * CLIENTS
    start = threading.Barrier(CLIENTS + 1)
    stop = threading.Event()

    def run(n: int) -> None:
        start.wait()
        while not stop.is_set():
            clients[n].timed([files[n % len(files)]], 1)
            counts[n] += 1

    threads = [threading.Thread(target=run, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    start.wait()
    time.sleep(min(2.0, seconds / 4))  # every client under way
    before, began = sum(counts), time.perf_counter()
    time.sleep(seconds)
    done, took = sum(counts) - before, time.perf_counter() - began
    stop.set()
    for thread in threads:
        thread.join()
    return done / took, sum(counts)


def _logged_check(expected: int) -> tuple[int, int]:
    """(rows in the served log, images answered), once the log caught up (or 60 s)."""
    from labeler.serving.models import ServedPrediction

    deadline = time.monotonic() + 60
    while (count := ServedPrediction.objects.count()) < expected and time.monotonic() < deadline:
        time.sleep(0.5)
    return count, expected


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


def _report(options: argparse.Namespace, results: list[tuple[str, dict[str, Any], list[float]]],
            logged: tuple[int, int]) -> int:  # fmt: skip
    print(f"Prediction API: embedded default (SQLite, no broker; ONNX Runtime in the resident "
          f"process), default settings with DEBUG off, gunicorn gthread 1x{options.threads}, CPU, "
          f"{os.cpu_count()} cores; {options.image_side} px JPEGs")  # fmt: skip
    print(f"{'model':<16}{'measure':<40}{'served':>10}{'bare':>10}{'ratio':>8}{'goal':>9}")
    met = True
    for name, r, http_bare in results:
        label = f"{name} {SIZES.get(name, 224)}px"
        rows = [
            ("64 files in one request, images/s", r["served64"], r["bare64"], 0.8),
            ("32 clients x 1 file, images/s (bare: b32)", r["clients"], r["bare32"], 0.5),
        ]
        for measure, served, bare, goal in rows:
            ratio = served / bare
            met &= ratio >= goal
            print(f"{label:<16}{measure:<40}{served:>10.1f}{bare:>10.1f}{ratio:>7.2f}x"
                  f"{f'>={goal}x':>9}")  # fmt: skip
        floor = _percentile(r["bare_one"], 0.5) + _percentile(http_bare, 0.5)
        one = _percentile(r["one"], 0.5)
        met &= one - floor <= 5
        print(f"{label:<16}{'1 file p50 ms (bare: forward + HTTP)':<40}{one:>10.2f}{floor:>10.2f}"
              f"{one - floor:>+7.2f} {'<=+5 ms':>8}")  # fmt: skip
        print(f"{'':<16}{'  1 file p95 ms; bare forward p50, HTTP p50':<40}"
              f"{_percentile(r['one'], 0.95):>10.2f}{_percentile(r['bare_one'], 0.5):>10.2f}"
              f"{_percentile(http_bare, 0.5):>8.2f}")  # fmt: skip
    rows, answered = logged
    met &= rows == answered
    print(f"served log: {rows} rows for {answered} images answered")
    print(f"goals: {'met' if met else 'missed'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
