"""Pre-labelling throughput: stored images to stored predictions, against the bare forward pass.

    .venv/bin/python bench/prelabel.py            # or: make bench-prelabel
    .venv/bin/python bench/prelabel.py --models small-cnn --sizes 1024x768 --images 2048
    .venv/bin/python bench/prelabel.py --database-url postgres://postgres@127.0.0.1/labeler_bench
    .venv/bin/python bench/prelabel.py --processes 1     # only one process of 2 threads

The full path is the pre-label task's own code: the planner (``prelabel_plan``) splits the
project's unlabelled images into chunks of ``LABELER_PRELABEL_CHUNK`` and the gpu-queue
task body (``worker.model_jobs.predict``) runs on each: it looks the images up, reads each
one's model input (or decodes its file), preprocesses, runs the model and stores every
probability in the database. Follow-up tasks (the queue's re-ordering once a pass ends)
are handed on, as a broker hands them to the default queue's workers, not run here.

Two passes are timed over the same stored JPEGs:

- **kept at upload**: as the product runs. Each image went through the upload's
  preparation task first (``image_prepare``, timed apart: the CPU workers' share),
  which keeps the small model inputs the project's models take, so the pass reads a few
  kilobytes per image instead of decoding the file (inputs of at most
  ``LABELER_INPUT_CACHE_MAX_SIZE`` pixels a side; larger ones are decoded every time);
- **nothing kept**: the same pass with an empty input folder (a worker that cannot see
  the folder the CPU workers write, or inputs from before it existed): every file is
  read and decoded, overlapped with the forward pass.

Each pass runs in two worker layouts: one process with torch on 2 threads (a gpu-queue
worker of one process on a 2-core machine), and ``--processes`` processes with torch on
one thread each (default: one per core; the layout a CPU-only machine's gpu-queue worker
runs with ``--concurrency`` = cores and ``LABELER_TORCH_THREADS=1``), the chunks shared
among them (``bench.prelabel_processes``). The reference runs the same model, same batch
size, on the same images already decoded and normalised in memory, in the same run and
in both layouts; each pass is set against the faster of the two. Models are randomly
initialised: the weights do not change the time. The database is a fresh SQLite file
unless ``--database-url`` names a PostgreSQL one (created and migrated if missing; the
benchmark's project is dropped at the end).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage

ROOT = Path(__file__).resolve().parent.parent
THREADS = 2
TARGET_RATIO = 0.8
IMAGE_SIZES = {"small-cnn": 32, "resnet18": 224, "mobilenet_v3_small": 224, "efficientnet_b0": 224}
DISTINCT_FILES = 64


@dataclass
class Row:
    """One model on one source size: images per second on each path."""

    model: str
    image_size: int
    source: str
    kilobytes: float
    images: int
    layout: str  # the gpu-queue worker: processes x torch threads in each
    forward_per_s: float  # the bare forward pass on tensors in memory, this layout
    reference_per_s: float  # the fastest bare forward pass of every layout measured
    kept_per_s: float  # the pass after the uploads' thumbnail tasks kept the inputs
    cold_per_s: float  # the pass with nothing kept: every file decoded
    upload_ms: float  # the thumbnail task per image (thumbnail and model inputs)

    @property
    def ratio(self) -> float:
        """The pass as the product runs it, as a share of the bare forward pass."""
        return self.kept_per_s / self.reference_per_s

    @property
    def cold_ratio(self) -> float:
        """The pass with every file decoded, as a share of the bare forward pass."""
        return self.cold_per_s / self.reference_per_s


def main(argv: list[str] | None = None) -> int:
    """Write the photos, time each model on each source size, print the table."""
    options = _options(argv)
    with tempfile.TemporaryDirectory(prefix="labeler-prelabel-") as tmp:
        folder = Path(tmp)
        _configure(folder, options.database_url, options.device)
        # Django is set up only now: the application's modules can be imported from here.
        from django.conf import settings

        from bench.prelabel_processes import Workers
        from bench.prelabel_steps import Bench

        rows: list[Row] = []
        workers = Workers(options.processes, 1) if options.processes > 1 else None
        try:
            for source in options.sizes:
                width, height = (int(part) for part in source.split("x"))
                files = write_photos(folder / "photos" / source, width, height)
                for model in options.models:
                    count = options.images or (4096 if model == "small-cnn" else 256)
                    repeat = options.repeat or (3 if model == "small-cnn" else 2)
                    # At least two chunks a process, so that every process has work.
                    chunk = options.chunk or min(
                        settings.LABELER_PRELABEL_CHUNK, max(1, count // (2 * options.processes))
                    )
                    bench = Bench(model, IMAGE_SIZES[model], source, files, count, chunk)
                    started = time.perf_counter()
                    try:
                        rows.extend(measure(bench, repeat, options.batch_size, workers))
                    finally:
                        bench.drop()
                    # Progress, so that a run cut short by a time limit says how far it got.
                    print(
                        f"measured {model} on {source} photos in "
                        f"{time.perf_counter() - started:.0f} s",
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            if workers is not None:
                workers.close()
            shutil.rmtree(folder / "photos", ignore_errors=True)
    return 0 if print_table(rows, options) else 1


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", default=["small-cnn", "resnet18"], choices=sorted(IMAGE_SIZES)
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=["640x480", "256x192"],
        help="stored photo sizes, width x height (640x480 and the 256-pixel thumbnail size)",
    )
    parser.add_argument(
        "--images", type=int, default=0, help="images per row (default: 4096 small-cnn, 256 others)"
    )
    parser.add_argument("--batch-size", type=int, default=256, help="the reference's batch (256)")
    parser.add_argument(
        "--chunk",
        type=int,
        default=0,
        help="images per task (default: LABELER_PRELABEL_CHUNK, or fewer to give every "
        "process two tasks)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="also time a worker of this many processes, torch on one thread in each "
        "(default: one per core; 1: only the one process of 2 threads)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=0,
        help="runs per path, the best counts (default: 3 small-cnn, 2 others)",
    )
    parser.add_argument(
        "--database-url", default="", help="a PostgreSQL URL (default: a fresh SQLite file)"
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="where the worker and the reference run: cpu (default), cuda, auto "
        "(LABELER_DEVICE); on a GPU, use --processes 1",
    )
    return parser.parse_args(argv)


def _configure(folder: Path, database_url: str, device: str) -> None:
    """Settings as a gpu-queue worker has them, on the chosen database; no broker."""
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        DEBUG="0",
        SECRET_KEY="prelabel-benchmark",
        DJANGO_SETTINGS_MODULE="labeler.settings",
        MEDIA_ROOT=str(folder / "media"),
        LABELER_MODEL_DIR=str(folder / "models"),
        LABELER_INPUT_CACHE_DIR=str(folder / "inputs"),
        LABELER_TORCH_THREADS=str(THREADS),
        LABELER_DEVICE=device,
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    import worker.ml  # noqa: F401 - first, as in the worker: OpenMP's wait policy, then torch

    if database_url:
        from bench.postgres import postgres_configure

        postgres_configure(database_url)
        return
    import django
    from django.core.management import call_command

    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    django.setup()
    call_command("migrate", verbosity=0)


def write_photos(folder: Path, width: int, height: int) -> list[Path]:
    """Photo-like JPEGs (smooth colour fields plus grain, quality 90)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    paths = []
    for index in range(DISTINCT_FILES):
        coarse = PILImage.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8))
        smooth = np.asarray(coarse.resize((width, height), PILImage.Resampling.BICUBIC), float)
        grain = rng.normal(0, 10, smooth.shape)
        photo = PILImage.fromarray(np.clip(smooth + grain, 0, 255).astype(np.uint8))
        path = folder / f"photo-{index:03d}.jpg"
        photo.save(path, format="JPEG", quality=90)
        paths.append(path)
    return paths


def measure(bench: Any, repeat: int, batch_size: int, workers: Any) -> list[Row]:
    """A row per worker layout: best of ``repeat`` for each path, the paths alternating so
    load affects all alike. Every layout's passes are set against the fastest bare
    forward pass of any layout."""
    upload = bench.keep_inputs()
    layouts: list[tuple[str, Any]] = [(f"1x{THREADS}", None)]
    if workers is not None:
        layouts.append((f"{workers.processes}x{workers.threads}", workers))
    times: dict[str, dict[str, list[float]]] = {}
    for layout, pool in layouts:
        bench.warm_up(batch_size, pool)
        times[layout] = {"forward": [], "kept": [], "cold": []}
    for _ in range(repeat):
        for layout, pool in layouts:
            timed = times[layout]
            timed["forward"].append(bench.bare_forward(batch_size, pool))
            timed["kept"].append(bench.prelabel_pass(inputs_kept=True, workers=pool))
            timed["forward"].append(bench.bare_forward(batch_size, pool))
            timed["cold"].append(bench.prelabel_pass(inputs_kept=False, workers=pool))
    n = bench.count
    reference = n / min(min(timed["forward"]) for timed in times.values())
    return [
        Row(
            bench.architecture,
            bench.image_size,
            bench.source,
            bench.kilobytes,
            n,
            layout,
            n / min(timed["forward"]),
            reference,
            n / min(timed["kept"]),
            n / min(timed["cold"]),
            1000 * upload / n,
        )
        for layout, timed in times.items()
    ]


def _device_name() -> str:
    import torch

    from worker.ml.device import select_device

    where = select_device()
    return torch.cuda.get_device_name(where) if where.type == "cuda" else "CPU"


def print_table(rows: list[Row], options: argparse.Namespace) -> bool:
    """The table and the verdict; True when every model and source reaches the target in
    at least one layout."""
    from django.conf import settings
    from django.db import connection

    chunk = options.chunk or f"up to {settings.LABELER_PRELABEL_CHUNK}"
    print(
        f"JPEG q90 files, {connection.vendor} database, tasks of {chunk} images, reference "
        f"batch {options.batch_size}, {_device_name()}, load average {os.getloadavg()[0]:.1f} "
        f"({os.cpu_count()} cores)"
    )
    print(
        f"{'model':<18} {'input':>6} {'source':>8} {'KB':>4} {'images':>6} {'worker':>6} "
        f"{'forward/s':>9} {'pass/s':>7} {'ratio':>5} {'cold/s':>7} {'ratio':>5} {'upload ms':>9}"
    )
    for r in rows:
        verdict = "ok" if r.ratio >= TARGET_RATIO else "below target"
        print(
            f"{r.model:<18} {r.image_size:>4}px {r.source:>8} {r.kilobytes:>4.0f} {r.images:>6} "
            f"{r.layout:>6} {r.forward_per_s:>9.0f} {r.kept_per_s:>7.0f} {r.ratio:>5.2f} "
            f"{r.cold_per_s:>7.0f} {r.cold_ratio:>5.2f} {r.upload_ms:>9.2f}  {verdict}"
        )
    print(
        f"target: the pass >= {TARGET_RATIO} x the bare forward pass. worker: processes x "
        "torch threads in each. ratio: against the fastest bare forward pass of the model "
        "on that source in any layout. pass: the pre-label tasks, store included, after the "
        "uploads' thumbnail tasks kept the model inputs; cold: the same with nothing kept "
        "(every file decoded); upload ms: the thumbnail task per image on the CPU worker "
        "(thumbnail and model inputs)"
    )
    met: dict[tuple[str, str], bool] = {}
    for r in rows:
        key = (r.model, r.source)
        met[key] = met.get(key, False) or r.ratio >= TARGET_RATIO
    return all(met.values())


if __name__ == "__main__":
    sys.exit(main())
