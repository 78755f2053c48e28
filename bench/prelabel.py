"""Pre-labelling throughput: stored files to stored probabilities, against the bare forward pass.

    .venv/bin/python bench/prelabel.py            # or: make bench-prelabel
    .venv/bin/python bench/prelabel.py --models small-cnn --sizes 1024x768 --images 2048

The full path is what a pre-label task does per chunk: open each JPEG from Django's
file-system storage, decode and shrink it (``worker.ml.data``), run the model and
serialise every image's ``{label id: probability}`` as the prediction store writes it
(``worker.ml.inference.predict_files`` + a JSON dump per row). It is timed twice: the
first pass over the files (an empty input cache, which the pass fills), and a later
pass, as after every promotion, which reads the inputs the worker kept (inputs of at
most 64 pixels a side; larger ones are decoded every time). The reference runs the
same model, same batch size, on the same images already decoded and normalised in
memory. Torch is pinned to 2 threads, as the gpu-queue worker on a 2-core machine.
Models are randomly initialised: the weights do not change the time.
"""

from __future__ import annotations

import worker.ml  # noqa: F401 - first, as in the worker: OpenMP's wait policy, then torch

# isort: split
import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from django.conf import settings
from PIL import Image as PILImage

if not settings.configured:
    settings.configure()  # the storage class reads a few settings; their defaults will do
from django.core.files.storage import FileSystemStorage

from worker.ml import architectures, data, device, inference, weights

THREADS = 2
TARGET_RATIO = 0.8
LABELS = 10
IMAGE_SIZES = {"small-cnn": 32, "resnet18": 224, "mobilenet_v3_small": 224, "efficientnet_b0": 224}


@dataclass
class Row:
    """One model on one source size: images per second on each path."""

    model: str
    image_size: int
    source: str
    kilobytes: float
    images: int
    full_per_s: float  # the first pass: every file decoded (and its input kept)
    later_per_s: float  # a later pass: kept inputs read instead
    forward_per_s: float
    decode_per_s: float

    @property
    def ratio(self) -> float:
        """First-pass throughput as a share of the bare forward pass."""
        return self.full_per_s / self.forward_per_s

    @property
    def later_ratio(self) -> float:
        """Later-pass throughput as a share of the bare forward pass."""
        return self.later_per_s / self.forward_per_s


def write_photos(folder: Path, count: int, width: int, height: int) -> list[str]:
    """Photo-like JPEGs (smooth colour fields plus grain, quality 90); returns their names."""
    rng = np.random.default_rng(0)
    names = []
    for index in range(min(count, 64)):
        coarse = PILImage.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8))
        smooth = np.asarray(coarse.resize((width, height), PILImage.Resampling.BICUBIC), float)
        grain = rng.normal(0, 10, smooth.shape)
        photo = PILImage.fromarray(np.clip(smooth + grain, 0, 255).astype(np.uint8))
        name = f"photo-{index:05d}.jpg"
        photo.save(folder / name, format="JPEG", quality=90)
        names.append(name)
    # More images than distinct files: copies, so every read is a real file on disk.
    for index in range(len(names), count):
        name = f"photo-{index:05d}.jpg"
        (folder / name).write_bytes((folder / names[index % 64]).read_bytes())
        names.append(name)
    return names


def loaded_model(architecture: str, image_size: int) -> weights.LoadedModel:
    """A randomly initialised model as the worker loads one, in eval mode on the CPU."""
    torch.manual_seed(0)
    meta = {
        "architecture": architecture,
        "label_ids": list(range(100, 100 + LABELS)),
        "thresholds": None,
        "image_size": image_size,
        "grayscale": False,
        "channels": 3,
        "normalisation": architectures.normalisation_for(architecture, 3),
        "multi_label": False,
    }
    model = architectures.build(architecture, LABELS, 3, image_size)
    return weights.LoadedModel(weights.for_inference(model, torch.device("cpu")), meta)


def full_path(
    loaded: weights.LoadedModel,
    storage: FileSystemStorage,
    names: list[str],
    batch_size: int,
    keys: list[str],
    cache: data.InputCache,
) -> float:
    """Seconds to predict and serialise every file, as a pre-label task does."""
    started = time.perf_counter()
    ok, probabilities, bad = inference.predict_files(
        loaded,
        names,
        lambda name: storage.open(name, "rb"),
        batch_size=batch_size,
        keys=keys,
        cache=cache,
    )
    label_ids = loaded.meta["label_ids"]
    # As the prediction store builds each row's JSON field: {"label id": probability}.
    keys = [str(label) for label in label_ids]
    rows = [json.dumps(dict(zip(keys, values, strict=True))) for values in probabilities.tolist()]
    seconds = time.perf_counter() - started
    assert len(rows) == len(names) and not bad and len(ok) == len(names)
    return seconds


def bare_forward(loaded: weights.LoadedModel, x: torch.Tensor, batch_size: int) -> float:
    """Seconds for the model alone on normalised float batches already in memory."""
    inputs = data.to_model_input(
        x, device=torch.device("cpu"), normalisation=loaded.meta["normalisation"]
    ).contiguous(memory_format=torch.channels_last)
    started = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(inputs), batch_size):
            loaded.model(inputs[start : start + batch_size])
    return time.perf_counter() - started


def decode_only(storage: FileSystemStorage, names: list[str], image_size: int) -> float:
    """Seconds to read and decode every file with the pool predict_files uses, no model."""
    started = time.perf_counter()
    data.decode_files(
        names, lambda n: storage.open(n, "rb"), image_size=image_size, grayscale=False
    )
    return time.perf_counter() - started


def measure(
    architecture: str, source: str, folder: Path, names: list[str], batch_size: int, repeat: int
) -> Row:
    """Best of ``repeat`` for each path, alternating them so load affects all alike."""
    image_size = IMAGE_SIZES[architecture]
    loaded = loaded_model(architecture, image_size)
    storage = FileSystemStorage(location=str(folder))
    x = data.load_images(
        names, lambda n: storage.open(n, "rb"), image_size=image_size, grayscale=False
    )
    # Every file's content hash, as the images table stores it (the copies differ in name
    # only, so each gets a key of its own, as distinct images would).
    keys = [hashlib.sha256(f"{source}/{name}".encode()).hexdigest() for name in names]
    bare_forward(loaded, x[:batch_size], batch_size)  # warm up the kernels
    full, later, forward, decode = [], [], [], []
    caches = [
        data.InputCache(folder.parent / f"inputs-{source}-{architecture}-{attempt}")
        for attempt in range(repeat)
    ]
    for cache in caches:  # first passes: each fills an empty cache
        forward.append(bare_forward(loaded, x, batch_size))
        full.append(full_path(loaded, storage, names, batch_size, keys, cache))
        decode.append(decode_only(storage, names, image_size))
    # Later passes come after a promotion, long after the first wrote its files: let the
    # kernel write them out now rather than while a later pass is timed.
    os.sync()
    for cache in caches:
        forward.append(bare_forward(loaded, x, batch_size))
        later.append(full_path(loaded, storage, names, batch_size, keys, cache))
    size = sum((folder / name).stat().st_size for name in names) / len(names) / 1024
    n = len(names)
    return Row(
        architecture,
        image_size,
        source,
        size,
        n,
        n / min(full),
        n / min(later),
        n / min(forward),
        n / min(decode),
    )


def print_table(rows: list[Row], batch_size: int) -> bool:
    """The table and the verdict; True when every row reaches the target ratio."""
    print(
        f"JPEG q90 files from FileSystemStorage, batch {batch_size}, torch threads "
        f"{torch.get_num_threads()} (OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}), "
        f"CPU, load average {os.getloadavg()[0]:.1f} "
        f"({os.cpu_count()} cores)"
    )
    print(
        f"{'model':<20} {'input':>6} {'source':>8} {'KB':>4} {'images':>6} {'forward/s':>9} "
        f"{'first/s':>7} {'ratio':>5} {'later/s':>7} {'ratio':>5} {'decode/s':>8}"
    )
    for r in rows:
        verdict = "ok" if r.later_ratio >= TARGET_RATIO else "below target"
        print(
            f"{r.model:<20} {r.image_size:>4}px {r.source:>8} {r.kilobytes:>4.0f} {r.images:>6} "
            f"{r.forward_per_s:>9.0f} {r.full_per_s:>7.0f} {r.ratio:>5.2f} "
            f"{r.later_per_s:>7.0f} {r.later_ratio:>5.2f} {r.decode_per_s:>8.0f}  {verdict}"
        )
    print(
        f"target: full path >= {TARGET_RATIO} x the bare forward pass. first: the first pass "
        "over the files; later: every later pass (after each promotion), which reads the "
        "inputs the worker kept; decode/s: reading and decoding alone (2 threads), for scale"
    )
    return all(r.later_ratio >= TARGET_RATIO for r in rows)


def main(argv: list[str] | None = None) -> int:
    """Write the photos, time each model on each source size, print the table."""
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
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument(
        "--repeat",
        type=int,
        default=0,
        help="runs per path, the best counts (default: 5 small-cnn, 2 others)",
    )
    options = parser.parse_args(argv)
    device.configure_threads(THREADS)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for source in options.sizes:
            folder = Path(tmp) / source
            folder.mkdir()
            width, height = (int(part) for part in source.split("x"))
            names = write_photos(folder, max(options.images, 4096), width, height)
            for model in options.models:
                count = options.images or (4096 if model == "small-cnn" else 256)
                repeat = options.repeat or (5 if model == "small-cnn" else 2)
                rows.append(
                    measure(model, source, folder, names[:count], options.batch_size, repeat)
                )
    return 0 if print_table(rows, options.batch_size) else 1


if __name__ == "__main__":
    sys.exit(main())
