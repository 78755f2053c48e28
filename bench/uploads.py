"""Peak memory of the web process taking uploads at the caps, beside a bare Pillow loop.

    .venv/bin/python bench/uploads.py                  # or: make bench-uploads
    .venv/bin/python bench/uploads.py --gunicorn gthread:1x3

Three files at the caps (``bench/uploads_files.py``) are sent at once by three clients,
each in a request of its own: a lossy WebP of 16383 x 6103 pixels, a 10000 x 10000 RGBA
PNG whose EXIF says to turn it, and a 10000 x 10000 JPEG. gunicorn runs as
docker-compose runs it (DEBUG off; one sync worker unless ``--gunicorn`` says otherwise)
with the Celery workers on Redis, on a PostgreSQL database of its own. The table gives
the gunicorn worker's resident memory before the uploads (after a small one, so that
everything is imported) and its peak (VmHWM) after them, the peak of the CPU worker's
processes, which turn and thumbnail the images, and, as the reference, the peak of a
bare Python process that decodes the same files fully with Pillow, one after another.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/labeler_bench_uploads"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"
DEFAULT_GUNICORN = "sync:1"  # docker-compose's worker class; one worker, to measure it
LEAD = "bench-uploads-lead"
MIB = 1024 * 1024
# A fresh process decoding each file fully, as the upload check once did.
REFERENCE = """
import sys
from PIL import Image
Image.MAX_IMAGE_PIXELS = None
def kib(field):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(field))
print(kib("VmRSS:"), flush=True)
for path in sys.argv[1:]:
    with Image.open(path) as image:
        image.load()
print(kib("VmHWM:"))
"""


def main(argv: list[str] | None = None) -> int:
    """Build the files, measure the reference, start the stack, upload, print the table."""
    options = _options(argv)
    signal.signal(signal.SIGTERM, _terminate)  # a plain kill stops the servers too
    from bench.postgres import postgres_configure
    from bench.uploads_files import uploads

    for earlier in ("media", "cache"):  # stored files and model inputs of an earlier run
        shutil.rmtree(options.var_dir / earlier, ignore_errors=True)
    files = uploads()
    paths = _files_write(files, options.var_dir / "files")
    reference = _reference(paths)
    os.environ["DJANGO_SETTINGS_MODULE"] = "labeler.settings"
    os.environ["MEDIA_ROOT"] = str(options.var_dir / "media")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    postgres_configure(options.database_url)
    from bench.load_stack import redis_flush, stack_env, stack_running, static_collect

    redis_flush(options.redis_url)
    project_id, token = _project()
    env = stack_env(
        database_url=options.database_url, redis_url=options.redis_url, var_dir=options.var_dir
    )
    static_collect(env)
    with stack_running(env, options.gunicorn, options.var_dir / "logs") as stack:
        results = _run(stack, project_id, token, files)
    _print(options, reference, results)
    return 0


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _options(argv: list[str] | None) -> argparse.Namespace:
    from bench.load_stack import GunicornSetup

    parser = argparse.ArgumentParser(description="Peak memory of uploads at the caps.")
    add = parser.add_argument
    add("--gunicorn", type=GunicornSetup.parse, default=GunicornSetup.parse(DEFAULT_GUNICORN),
        help=f"sync:WORKERS or gthread:WORKERSxTHREADS (default {DEFAULT_GUNICORN})")  # fmt: skip
    add("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    add("--redis-url", default=DEFAULT_REDIS_URL, help="a Redis database of its own: flushed")
    add("--var-dir", type=Path, default=ROOT / "var" / "bench_uploads", help="files, media, logs")
    options = parser.parse_args(argv)
    options.var_dir = options.var_dir.resolve()
    return options


def _files_write(files: dict[str, bytes], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def _reference(paths: list[Path]) -> dict[str, int]:
    """Resident KiB of a bare Python process before and after decoding the files fully."""
    done = subprocess.run(
        [sys.executable, "-c", REFERENCE, *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
    )
    before, peak = (int(line) for line in done.stdout.split())
    return {"before": before, "peak": peak}


def _project() -> tuple[int, str]:
    """A fresh project led by the benchmark's lead, and the lead's API token."""
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from labeler.projects.models import Project
    from labeler.projects.services import project_create

    lead, _ = User.objects.get_or_create(username=LEAD)
    Project.objects.filter(created_by=lead).delete()
    project = project_create(creator=lead, name="Uploads benchmark", labels=["cat", "dog"])
    token, _ = Token.objects.get_or_create(user=lead)
    return project.pk, token.key


def _run(stack: Any, project_id: int, token: str, files: dict[str, bytes]) -> dict[str, Any]:
    """A small upload, then the three at once; the processes' memory before and after."""
    import requests

    from labeler.images.models import Image

    url = f"{stack.base_url}/api/v1/projects/{project_id}/images/"
    headers = {"Authorization": f"Token {token}"}

    def upload(name: str, data: bytes) -> dict[str, Any]:
        started = time.perf_counter()
        answer = requests.post(url, headers=headers, files={"files": (name, data)}, timeout=300)
        seconds = time.perf_counter() - started
        [result] = answer.json()["results"]
        return {"name": name, "http": answer.status_code, "seconds": seconds, **result}

    warm = upload("warm-up.png", _small_png())
    if warm["http"] != 201:
        raise RuntimeError(f"the warm-up upload answered {warm}")
    web = _children(stack.processes["gunicorn"].pid)
    before = {pid: _status_kib(pid, "VmRSS") for pid in web}
    with ThreadPoolExecutor(len(files)) as pool:
        answers = list(pool.map(lambda item: upload(*item), files.items()))
    web_peak = {pid: _status_kib(pid, "VmHWM") for pid in web}
    created = sum(answer["status"] == "created" for answer in answers)
    thumbnails_seconds = _thumbnails_wait(project_id, count=created + 1)
    for answer in answers:
        image = Image.objects.filter(pk=answer["image_id"]).first()
        answer["size"] = f"{image.width}x{image.height}" if image else ""
    worker = _descendants(stack.processes["celery-cpu"].pid)
    return {
        "answers": answers,
        "web_before": max(before.values()),
        "web_peak": max(web_peak.values()),
        "worker_peak": max(_status_kib(pid, "VmHWM") for pid in worker),
        "thumbnails_seconds": thumbnails_seconds,
    }


def _small_png() -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (32, 24), (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def _thumbnails_wait(project_id: int, *, count: int, timeout: float = 600) -> float:
    """Seconds until the worker has made every image's thumbnail (it turns them first)."""
    from labeler.images.models import Image

    started = time.monotonic()
    while Image.objects.filter(project_id=project_id).exclude(thumbnail="").count() < count:
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"thumbnails not made within {timeout} s")
        time.sleep(0.5)
    return time.monotonic() - started


def _children(pid: int) -> list[int]:
    """The process's children (gunicorn's workers)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def _descendants(pid: int) -> list[int]:
    """The process and all its descendants (a Celery worker and its pool)."""
    found = [pid]
    for child in _children(pid):
        found += _descendants(child)
    return found


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def _print(options: argparse.Namespace, reference: dict[str, int], results: dict[str, Any]) -> None:
    print(f"\nThree uploads at the caps at once; gunicorn {options.gunicorn}\n")
    print(f"{'file':<11} {'HTTP':>4} {'seconds':>7}  {'result':<8} {'stored as':>11}  reason")
    for answer in results["answers"]:
        print(
            f"{answer['name']:<11} {answer['http']:>4} {answer['seconds']:>7.2f}  "
            f"{answer['status']:<8} {answer['size']:>11}  {answer['reason']}"
        )
    rows = [
        ("gunicorn worker", _mb(results["web_before"]), results["web_peak"], results["web_before"]),
        ("bare Pillow loop (reference)", _mb(reference["before"]), reference["peak"],
         reference["before"]),
        ("Celery CPU worker", "", results["worker_peak"], None),
    ]  # fmt: skip
    print(f"\n{'process':<30} {'RSS before':>10} {'peak RSS':>9} {'growth':>8}")
    for name, before, peak, base in rows:
        growth = _mb(peak - base) if base is not None else ""
        print(f"{name:<30} {before:>10} {_mb(peak):>9} {growth:>8}")
    seconds = results["thumbnails_seconds"]
    print(f"\nThe worker turned, thumbnailed and decoded them for the model {seconds:.1f} s later.")


def _mb(kib: int) -> str:
    return f"{kib / 1024:,.0f} MB"


if __name__ == "__main__":
    # Run as a script, the repository root is not on the path: put it there.
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
