"""What a lead does on the running server: import images, export labels, open pages.

All of it through the site's HTTP interface with the lead's browser session (CSRF header
on writes), one request at a time as one person's browser or the command-line client
sends them. Page addresses follow labeler/web/urls.py and api/urls.py; a file or download
address is only ever taken from the API's answer.
"""

from __future__ import annotations

import io
import statistics
import time
from dataclasses import dataclass
from typing import Any

from bench.load_http import Browser, multipart

PAGE_TARGET_MS = 300


def page_paths(project_id: int) -> dict[str, str]:
    """The pages and endpoints a lead opens on a project, by name."""
    api = f"/api/v1/projects/{project_id}"
    page = f"/projects/{project_id}"
    return {
        "home page": "/",
        "project page": f"{page}/",
        "labelling page": f"{page}/label/",
        "agreement dashboard page": f"{page}/agreement/",
        "agreement report (API)": f"{api}/agreement/",
        "review page": f"{page}/review/",
        "models page": f"{page}/models/",
        "export page": f"{page}/export/",
        "progress (API)": f"{api}/progress/",
        "next (API)": f"{api}/next/",
        "page of 24 (API)": f"{api}/queue/page/?size=24",
        "page of 48 (API)": f"{api}/queue/page/?size=48",
    }


@dataclass(frozen=True)
class PageTiming:
    name: str
    path: str
    status: int
    milliseconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.milliseconds)

    @property
    def worst(self) -> float:
        return max(self.milliseconds)


def pages_time(browser: Browser, project_id: int, loads: int) -> list[PageTiming]:
    """Open each page ``loads`` times in turn; the last status and every time."""
    timings = []
    for name, path in page_paths(project_id).items():
        times, status = [], 0
        for _ in range(loads):
            started = time.perf_counter()
            status = browser.get(path).status
            times.append((time.perf_counter() - started) * 1000)
        timings.append(PageTiming(name, path, status, times))
    return timings


def images_generate(count: int) -> list[bytes]:
    """``count`` distinct small PNGs (64x48; lossless, so their numbers keep them apart)."""
    from PIL import Image as PILImage

    images = []
    for n in range(count):
        picture = PILImage.new("RGB", (64, 48), ((n * 7) % 256, (n * 13) % 256, 90))
        picture.paste(PILImage.frombytes("RGB", (8, 1), n.to_bytes(8, "big") * 3), (0, 0))
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        images.append(buffer.getvalue())
    return images


def images_import(
    browser: Browser, project_id: int, images: list[bytes], batch: int
) -> dict[str, Any]:
    """POST the images in multipart batches; seconds, and what the server made of them."""
    url = f"/api/v1/projects/{project_id}/images/"
    created = duplicates = rejected = errors = 0
    started = time.perf_counter()
    for first in range(0, len(images), batch):
        files = [
            (f"import_{first + n:06d}.png", data, "image/png")
            for n, data in enumerate(images[first : first + batch])
        ]
        body, content_type = multipart(files)
        answer = browser.request("POST", url, body, {"Content-Type": content_type})
        if answer.status not in (200, 201):
            errors += 1
            continue
        counts = answer.json()
        created += counts["created"]
        duplicates += counts["duplicates"]
        rejected += counts["rejected"]
    seconds = time.perf_counter() - started
    return {
        "images": len(images),
        "batch": batch,
        "seconds": seconds,
        "per_second": len(images) / seconds,
        "created": created,
        "duplicates": duplicates,
        "rejected": rejected,
        "errors": errors,
    }


def export_run(browser: Browser, project_id: int, images: int) -> dict[str, Any]:
    """Start a background JSON export, poll it until done, download it, delete it."""
    started = time.perf_counter()
    answer = browser.post_json(f"/api/v1/projects/{project_id}/exports/", {"format": "json"})
    if answer.status != 202:
        raise RuntimeError(f"export start answered {answer.status}: {answer.body[:300]!r}")
    export = answer.json()
    detail = f"/api/v1/exports/{export['id']}/"
    polls = 0
    while export["status"] not in ("done", "failed"):
        time.sleep(0.25)
        polls += 1
        export = browser.get(detail).json()
    written = time.perf_counter() - started
    if export["status"] != "done":
        raise RuntimeError(f"export {export['id']} failed: {export['error']}")
    download_started = time.perf_counter()
    download = browser.get(export["download_url"])
    downloaded = time.perf_counter() - download_started
    browser.request("DELETE", detail)
    return {
        "images": images,
        "exported": export["total"],
        "status": download.status,
        "seconds_written": written,
        "seconds_download": downloaded,
        "seconds": written + downloaded,
        "megabytes": len(download.body) / 2**20,
        "polls": polls,
    }
