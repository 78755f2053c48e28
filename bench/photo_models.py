"""Models for photos: ResNet-18 at 224 pixels through our code against bare PyTorch.

One command (``make bench-photo-models``). It makes photo-like JPEGs (coloured shapes on
textured noise, 4000 x 3000 pixels by default), decodes them once to 224-pixel model
inputs kept in an input cache (as a worker does), then times, in one run, on one device:

- training: ``worker.ml.training.fit`` (one epoch, the default augmentation, validation
  and all) against a bare PyTorch loop (AdamW, forward, backward, step) over the same
  kept tensors, the same network and batch size;
- pre-labelling: ``worker.ml.inference.predict_files`` over the stored files (reading the
  kept inputs, as a pass after the first does) against a bare forward pass over the same
  tensors in memory; then cold (every photo decoded) with the CPU's decoding and, on
  CUDA, with nvJPEG, and the two decoders alone on the photos' bytes in memory. On CUDA
  the GPU's utilisation during each pre-labelling step is sampled (NVML) and shown.

Goals: both ratios at least 0.8. On a CPU it runs 128 photos (about two minutes on two
cores); on CUDA (``--device cuda``, or auto with a GPU) 8192 training images and 8192 to
pre-label, cycling over fewer distinct photos. Figures: docs/benchmarks.md, "Models for
photos".
"""

from __future__ import annotations

import worker.ml  # noqa: F401 - first, as in the worker: OpenMP's wait policy, then torch

# isort: split
import argparse
import hashlib
import io
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image as PILImage

from labeler.images.pixels.model_inputs import InputCache
from labeler.predictions.training_choice import TrainingFacts, training_config_resolve
from labeler.predictions.training_config import training_config_clean
from labeler.words import counted
from worker.ml import architectures, device, inference, jpeg, training, weights
from worker.ml.data import decode_files

ARCHITECTURE, SIZE, CLASSES, GOAL = "resnet18", 224, 4, 0.8
COLOURS = ((200, 50, 40), (40, 170, 60), (40, 70, 200), (220, 190, 40))


@dataclass
class Row:
    """One timed step: what, how many images, how long; ``ratio`` against its reference."""

    step: str
    images: int
    seconds: float
    ratio: float | None = None
    busy: float | None = None  # the GPU's mean utilisation (%) during the step

    @property
    def rate(self) -> float:
        return self.images / self.seconds


def photo(label: int, seed: int, width: int, height: int) -> bytes:
    """A JPEG photo-like image of class ``label``: textured noise and a coloured shape,
    drawn small and enlarged (so it compresses like a photo, not like noise)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 150, (96, 128, 3)).astype(np.uint8)
    rows, cols = np.mgrid[0:96, 0:128]
    cy, cx, radius = rng.integers(25, 71), rng.integers(25, 103), rng.integers(12, 24)
    if label % 2 == 0:
        mask = (rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2
    else:
        mask = (abs(rows - cy) <= radius) & (abs(cols - cx) <= radius)
    small[mask] = COLOURS[label]
    image = PILImage.fromarray(small).resize((width, height), PILImage.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


def timed(work: Callable[[], Any], synchronise: bool) -> tuple[float, Any]:
    """Seconds of one run of ``work`` (after the GPU's queue emptied), and its result."""
    if synchronise:
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = work()
    if synchronise:
        torch.cuda.synchronize()
    return time.perf_counter() - started, result


class Busy:
    """The GPU's utilisation (NVML's percentage of time a kernel ran), sampled every 20 ms
    by a thread while a step runs; ``mean`` is None where NVML cannot be read."""

    def __init__(self, where: torch.device) -> None:
        self.where = where
        self.samples: list[int] = []
        self._stop = threading.Event()

    @contextmanager
    def sampling(self) -> Iterator[Busy]:
        self.samples, self._stop = [], threading.Event()
        sampler = threading.Thread(target=self._sample, daemon=True)
        if self.where.type == "cuda":
            sampler.start()
        try:
            yield self
        finally:
            self._stop.set()
            if sampler.is_alive():
                sampler.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            try:
                self.samples.append(torch.cuda.utilization(self.where))
            except Exception:  # no NVML binding: no figure rather than no benchmark
                return

    @property
    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None


def config_for(batch_size: int, epochs: int, augment: bool) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "architecture": ARCHITECTURE,
        "epochs": epochs,
        "batch_size": batch_size,
        "validation_share": 0.05,
    }
    if not augment:
        raw["augment"] = dict.fromkeys(("hflip", "vflip"), False) | dict.fromkeys(
            ("rotation", "crop", "color_jitter"), 0
        )
    return training_config_resolve(training_config_clean(raw), TrainingFacts())


def ours_training(
    x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, **options: Any
) -> Callable[[], training.FitResult]:
    where = options.pop("where")
    config = config_for(**options)
    return lambda: training.fit(
        x_train=x,
        y_train=y,
        x_val=x_val,
        y_val=y_val,
        multi_label=False,
        num_labels=CLASSES,
        config=config,
        device=where,
        on_epoch=lambda log: True,
    )


def bare_training(
    x: torch.Tensor, y: torch.Tensor, batch_size: int, where: torch.device
) -> Callable[[], None]:
    """The reference: what a competent hand-written loop does, on the same tensors."""
    cuda = where.type == "cuda"
    mean = torch.tensor([0.485, 0.456, 0.406], device=where).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=where).view(1, 3, 1, 1)
    source = x.pin_memory() if cuda else x

    def run() -> None:
        torch.manual_seed(0)
        model = architectures.build(ARCHITECTURE, CLASSES, 3, SIZE).to(where)
        if cuda:
            model = model.to(memory_format=torch.channels_last)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
        scaler = torch.amp.GradScaler("cuda", enabled=cuda)
        model.train()
        for index in torch.randperm(len(x)).split(batch_size):
            images = source[index].to(where, non_blocking=True).float().div_(255)
            images = ((images - mean) / std).contiguous(
                memory_format=torch.channels_last if cuda else torch.contiguous_format
            )
            targets = y[index].to(where, non_blocking=True)
            with torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
                loss = F.cross_entropy(model(images).float(), targets)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()

    return run


def bare_forward(
    model: torch.nn.Module, x: torch.Tensor, where: torch.device
) -> Callable[[], None]:
    """The reference: the trained network (eval mode) forward over the tensors in memory."""
    cuda = where.type == "cuda"
    mean = torch.tensor([0.485, 0.456, 0.406], device=where).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=where).view(1, 3, 1, 1)
    model = model.to(where).eval()

    def run() -> None:
        with torch.inference_mode():
            for start in range(0, len(x), 256):
                images = x[start : start + 256].to(where, non_blocking=True).float().div_(255)
                with torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
                    torch.softmax(model((images - mean) / std).float(), 1).cpu()

    return run


def worker_settings() -> None:
    """Django's settings as a worker has them: the decoder reads its limits from them."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labeler.settings")
    os.environ.setdefault("SECRET_KEY", "benchmark")
    django.setup()


def main(argv: list[str] | None = None) -> int:
    worker_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cuda, cpu")
    parser.add_argument("--train", type=int, help="training images (cpu 128, cuda 8192)")
    parser.add_argument("--predict", type=int, help="images to pre-label (cpu 128, cuda 8192)")
    parser.add_argument("--photos", type=int, help="distinct photos made (cpu: all, cuda 256)")
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=0, help="torch's CPU threads (0: all)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds timed, the best kept")
    options = parser.parse_args(argv)
    where = device.select_device(options.device)
    cuda = where.type == "cuda"
    torch.backends.cudnn.benchmark = cuda  # as fit sets it: the reference gets it too
    threads = device.configure_threads(options.threads)
    n_train = options.train or (8192 if cuda else 128)
    n_predict = options.predict or (8192 if cuda else 128)
    distinct = options.photos or (256 if cuda else max(n_train, n_predict))
    batch_size = 64 if cuda else 16
    with tempfile.TemporaryDirectory(prefix="bench-photo-models-") as folder:
        rows = run(Path(folder), where, n_train, n_predict, distinct, batch_size, options)
    return report(rows, where, threads, n_train, options)


def run(
    folder: Path,
    where: torch.device,
    n_train: int,
    n_predict: int,
    distinct: int,
    batch_size: int,
    options: argparse.Namespace,
) -> list[Row]:
    cuda = where.type == "cuda"
    started = time.perf_counter()
    with ProcessPoolExecutor(device.cores()) as pool:
        contents = list(
            pool.map(
                photo,
                [i % CLASSES for i in range(distinct)],
                range(distinct),
                [options.width] * distinct,
                [options.height] * distinct,
            )
        )
    print(f"made {distinct} photos in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    for i, content in enumerate(contents):
        (folder / f"{i}.jpg").write_bytes(content)
    keys_of = [hashlib.sha256(content).hexdigest() for content in contents]
    cache = InputCache(folder / "inputs", max_size=SIZE)
    count = max(n_train, n_predict)
    names = [f"{i % distinct}.jpg" for i in range(count)]
    keys = [keys_of[i % distinct] for i in range(count)]
    labels = torch.tensor([i % distinct % CLASSES for i in range(count)])

    def opener(name: str) -> Any:
        return open(folder / name, "rb")

    def decode(first: int) -> Any:
        return decode_files(
            names[:first],
            opener,
            image_size=SIZE,
            grayscale=False,
            threads=device.decode_threads(),
            keys=keys[:first],
            cache=cache,
        )

    rows = []
    cold = min(distinct, count)
    seconds, _ = timed(lambda: decode(cold), False)
    made = f"decode {options.width}x{options.height} JPEGs to {SIZE} px inputs (cold)"
    rows.append(Row(made, cold, seconds))
    seconds, decoded = timed(lambda: decode(count), False)
    rows.append(Row("read the kept inputs (input cache)", count, seconds))
    x_all = decoded.images
    x, y = x_all[:n_train], labels[:n_train]
    x_val, y_val = x_all[-batch_size:], labels[-batch_size:]

    # Warm up (cuDNN's kernel choice on CUDA, oneDNN's on the CPU) on the batches' shapes.
    bare_training(x[: 2 * batch_size], y[: 2 * batch_size], batch_size, where)()

    # Each of the three in turn, ``--repeat`` rounds, the fastest of each kept: on a
    # shared machine a neighbour's burst lands on one of them, not on all.
    works: dict[str, Callable[[], Any]] = {
        f"training: bare PyTorch loop (reference), batch {batch_size}": bare_training(
            x, y, batch_size, where
        )
    }
    for augment, label in ((True, "default augmentation"), (False, "augmentation off")):
        works[f"training: fit ({label}, validation incl.)"] = ours_training(
            x, y, x_val, y_val, batch_size=batch_size, epochs=1, augment=augment, where=where
        )
    best: dict[str, float] = {}
    result = None
    for _ in range(options.repeat):
        for step, work in works.items():
            seconds, outcome = timed(work, cuda)
            best[step] = min(seconds, best.get(step, seconds))
            result = outcome if outcome is not None else result
    bare, *ours = (Row(step, n_train, seconds) for step, seconds in best.items())
    for row in ours:
        row.ratio = row.rate / bare.rate
    rows += [bare, *ours]
    assert result is not None
    files = Files(names[:n_predict], keys[:n_predict], opener, cache, folder)
    rows += prediction_rows(result, files, x_all[:n_predict], where, distinct, options.repeat)
    return rows


@dataclass
class Files:
    """The stored photos to pre-label, their keys, how to open them, the kept inputs."""

    names: list[str]
    keys: list[str]
    opener: Callable[[str], Any]
    cache: InputCache
    folder: Path


def prediction_rows(
    result: training.FitResult,
    files: Files,
    x: torch.Tensor,
    where: torch.device,
    distinct: int,
    repeat: int,
) -> list[Row]:
    """Pre-labelling through ``predict_files`` (kept inputs, then cold) against the bare
    forward pass of the same trained network over the same tensors."""
    cuda = where.type == "cuda"
    meta = {
        "architecture": ARCHITECTURE,
        "label_ids": list(range(CLASSES)),
        "thresholds": None,
        "image_size": SIZE,
        "grayscale": False,
        "channels": 3,
        "normalisation": result.normalisation,
        "multi_label": False,
    }
    path = files.folder / "model.pt"
    weights.save(path, model=result.model, meta=meta)
    loaded = weights.load(path, where)
    threads = device.decode_threads(where)

    def ours(names: list[str], keys: list[str], cache: InputCache) -> Callable[[], Any]:
        return lambda: inference.predict_files(
            loaded, names, files.opener, keys=keys, cache=cache, threads=threads
        )

    bare = bare_forward(result.model, x, where)
    bare_forward(result.model, x[:64], where)()  # warm-up
    ours(files.names[:64], files.keys[:64], files.cache)()
    times: dict[str, list[float]] = {"bare": [], "ours": []}
    busy: dict[str, float | None] = {}
    gpu = Busy(where)
    for _ in range(repeat):
        with gpu.sampling():
            times["bare"].append(timed(bare, cuda)[0])
        busy["bare"] = _busiest(busy.get("bare"), gpu.mean)
        with gpu.sampling():
            seconds, (ok, _, _) = timed(ours(files.names, files.keys, files.cache), cuda)
        busy["ours"] = _busiest(busy.get("ours"), gpu.mean)
        assert len(ok) == len(x)
        times["ours"].append(seconds)
    reference = Row(
        "pre-labelling: bare forward pass (reference)",
        len(x),
        min(times["bare"]),
        None,
        busy["bare"],
    )
    kept = Row(
        "pre-labelling: predict_files, kept inputs",
        len(x),
        min(times["ours"]),
        None,
        busy["ours"],
    )
    kept.ratio = kept.rate / reference.rate
    count = min(distinct, len(x))
    rows = [reference, kept]
    decoders = [("CPU decode", False)]
    if jpeg.gpu_decode_wanted(where):
        decoders.append(("nvJPEG decode", True))
    cold_rows: list[Row] = []
    for name, on_gpu in decoders:
        cold_cache = InputCache(files.folder / f"cold-{int(on_gpu)}", max_size=SIZE)
        wanted = mock.patch.object(inference, "gpu_decode_wanted", lambda _, on=on_gpu: on)
        with wanted, gpu.sampling():
            seconds, _ = timed(ours(files.names[:count], files.keys[:count], cold_cache), cuda)
        step = f"pre-labelling: predict_files, cold, {name} ({threads} threads)"
        cold_rows.append(Row(step, count, seconds, None, gpu.mean))
    if len(cold_rows) == 2:
        cold_rows[1].ratio = cold_rows[1].rate / cold_rows[0].rate
    return rows + cold_rows + decode_rows(files, count, where, threads)


def _busiest(best: float | None, mean: float | None) -> float | None:
    return mean if best is None else max(best, mean or 0.0)


def decode_rows(files: Files, count: int, where: torch.device, threads: int) -> list[Row]:
    """Decoding alone, the photos' bytes already in memory: PIL's reduced decode on the
    CPU's threads (what a cache miss costs without a GPU) against nvJPEG on the GPU."""
    contents = [files.opener(name).read() for name in files.names[:count]]

    def cpu() -> Any:
        return decode_files(
            [str(i) for i in range(count)],
            lambda name: io.BytesIO(contents[int(name)]),
            image_size=SIZE,
            grayscale=False,
            threads=threads,
        )

    rows = [Row(f"decode only: PIL on the CPU ({threads} threads)", count, timed(cpu, False)[0])]
    if jpeg.gpu_decode_wanted(where):

        def on_gpu() -> list[np.ndarray | None]:
            return jpeg.decode_jpegs(contents, device=where, image_size=SIZE, grayscale=False)

        on_gpu()  # warm-up: nvJPEG's handles and buffers
        decoded = timed(on_gpu, True)
        assert all(item is not None for item in decoded[1])
        rows.append(Row("decode only: nvJPEG on the GPU", count, decoded[0]))
        rows[-1].ratio = rows[-1].rate / rows[0].rate
    return rows


def report(rows: list[Row], where: torch.device, threads: int, n_train: int, options: Any) -> int:
    """Print the table and the goals; 1 when a ratio misses its goal."""
    name = torch.cuda.get_device_name(where) if where.type == "cuda" else "cpu"
    print(
        f"Models for photos: {ARCHITECTURE} at {SIZE} px on {name}, "
        f"{counted(threads, 'torch thread')}, torch {torch.__version__}"
    )
    print(f"{'step':<66} {'images':>6} {'seconds':>8} {'img/s':>8} {'ratio':>6} {'GPU busy':>8}")
    for row in rows:
        shown = f"{row.ratio:.2f}x" if row.ratio is not None else ""
        busy = f"{row.busy:.0f}%" if row.busy is not None else ""
        print(
            f"{row.step:<66} {row.images:>6} {row.seconds:>8.2f} {row.rate:>8.1f} {shown:>6} "
            f"{busy:>8}"
        )
    ratio_of = {row.step: row.ratio for row in rows if row.ratio is not None}
    goals = {
        "training (default augmentation)": ratio_of[
            "training: fit (default augmentation, validation incl.)"
        ],
        "pre-labelling": ratio_of["pre-labelling: predict_files, kept inputs"],
    }
    passed = all(ratio >= GOAL for ratio in goals.values())
    for what, ratio in goals.items():
        print(f"goal {what}: {ratio:.2f}x >= {GOAL}x: {'met' if ratio >= GOAL else 'MISSED'}")
    gpu_decode = [row.ratio for row in rows if "nvJPEG" in row.step and row.ratio is not None]
    if gpu_decode:
        pays = gpu_decode[0] > 1.0
        print(
            f"nvJPEG against the CPU decode, cold pre-labelling: {gpu_decode[0]:.2f}x, decode "
            f"alone: {gpu_decode[-1]:.2f}x: {'pays' if pays else 'does not pay'} "
            f"(LABELER_GPU_DECODE {'on' if pays else 'off'} by this figure)"
        )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
