"""The pre-labelling benchmark's steps: a project with a current model, its passes, the reference.

Imported by ``bench.prelabel`` once Django is configured.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from django.conf import settings
from django.db import transaction
from PIL import Image as PILImage

from bench import prelabel_processes
from bench.prelabel_processes import Workers
from labeler import jobs
from labeler.flows import image_prepare
from labeler.images.models import Image
from labeler.images.pixels import input_shards
from labeler.images.pixels.model_inputs import input_cache
from labeler.predictions import prelabel
from labeler.predictions.models import ModelVersion, RunStatus, TrainingRun
from labeler.predictions.training_config import training_config_clean
from labeler.projects.models import Label, Project
from worker import model_jobs as ml_jobs
from worker.ml import architectures, weights
from worker.ml.device import select_device

ROWS_PER_INSERT = 2_000
LABELS = 10


class Bench:
    """One model over ``count`` stored copies of the photos, in a project of its own."""

    def __init__(
        self,
        architecture: str,
        image_size: int,
        source: str,
        files: list[Path],
        count: int,
        chunk: int,
    ) -> None:
        self.architecture, self.image_size, self.source, self.count = (
            architecture,
            image_size,
            source,
            count,
        )
        self.chunk = chunk
        self.handed_on: list[tuple[str, tuple[Any, ...]]] = []
        self.project = Project.objects.create(
            name=f"prelabel {architecture} {source}",
            training={"architecture": architecture, "image_size": image_size},
        )
        for position in range(LABELS):
            Label.objects.create(
                project=self.project, name=f"label {position}", color="#123456", position=position
            )
        self.image_ids, self.kilobytes = self._images(files)
        self.version = self._version()
        self.names = tuple(
            Image.objects.filter(project=self.project).order_by("id").values_list("file", flat=True)
        )
        # The reference runs where the worker's task runs (LABELER_DEVICE).
        where = select_device()
        self.loaded = weights.load(ml_jobs.weights_path(self.version.weights), where)
        # The reference's inputs, decoded and normalised in memory (not timed).
        inputs = prelabel_processes.model_inputs(self.loaded, self.names, image_size)
        self.inputs = inputs.to(where)

    def _images(self, files: list[Path]) -> tuple[list[int], float]:
        """Image rows, each with a file of its own in MEDIA_ROOT (copies of the photos)."""
        media = Path(settings.MEDIA_ROOT)
        relative = Path("images") / str(self.project.pk)
        (media / relative).mkdir(parents=True, exist_ok=True)
        sizes = {}
        for path in files:
            with PILImage.open(path) as photo:
                sizes[path] = photo.size
        rows = []
        for index in range(self.count):
            source = files[index % len(files)]
            # A sha256 of its own for each row, as distinct uploads would have.
            key = hashlib.sha256(f"{source.name}/{index}".encode()).hexdigest()
            name = (relative / f"{key}.jpg").as_posix()
            shutil.copyfile(source, media / name)
            rows.append(
                Image(
                    project=self.project,
                    file=name,
                    original_name=f"{source.stem}-{index}.jpg",
                    sha256=key,
                    width=sizes[source][0],
                    height=sizes[source][1],
                    format="JPEG",
                    size_bytes=source.stat().st_size,
                    priority=float(self.count - index),
                )
            )
        with transaction.atomic():
            Image.objects.bulk_create(rows, batch_size=ROWS_PER_INSERT)
        ids = list(
            Image.objects.filter(project=self.project).order_by("id").values_list("pk", flat=True)
        )
        size = sum(files[i % len(files)].stat().st_size for i in range(self.count)) / self.count
        return ids, size / 1024

    def _version(self) -> ModelVersion:
        """A randomly initialised model, saved and promoted as a training run leaves one."""
        config = training_config_clean(self.project.training)
        run = TrainingRun.objects.create(
            project=self.project, config=config, status=RunStatus.SUCCEEDED
        )
        torch.manual_seed(0)
        model = architectures.build(self.architecture, LABELS, 3, self.image_size)
        label_ids = list(self.project.labels.order_by("position").values_list("pk", flat=True))
        meta = {
            "architecture": self.architecture,
            "label_ids": label_ids,
            "thresholds": None,
            "image_size": self.image_size,
            "grayscale": False,
            "channels": 3,
            "normalisation": architectures.normalisation_for(self.architecture, 3),
            "multi_label": False,
        }
        name = ml_jobs.weights_name(self.project.pk, run.pk)
        sha256 = weights.save(ml_jobs.weights_path(name), model=model, meta=meta)
        return ModelVersion.objects.create(
            project=self.project,
            version=1,
            run=run,
            architecture=self.architecture,
            weights=name,
            weights_sha256=sha256,
            is_current=True,
        )

    def _promote_again(self) -> ModelVersion:
        """A new current version with the same weights: each pass writes fresh rows, as
        after a promotion (deleting the last pass's rows instead would leave dead ones in
        PostgreSQL's indexes for the next pass to step over)."""
        version = self.version
        ModelVersion.objects.filter(pk=version.pk).update(is_current=False)
        return ModelVersion.objects.create(
            project=self.project,
            version=version.version + 1,
            architecture=version.architecture,
            weights=version.weights,
            weights_sha256=version.weights_sha256,
            is_current=True,
        )

    def keep_inputs(self) -> float:
        """Seconds for every image's upload task: its thumbnail and its model inputs."""
        started = time.perf_counter()
        for image_id in self.image_ids:
            image_prepare(image_id=image_id)
        return time.perf_counter() - started

    def warm_up(self, batch_size: int, workers: Workers | None = None) -> None:
        """Run each path once untimed: kernels, caches of the database and the files.

        With ``workers``, every process decodes every share of the reference's images
        here, whichever share it gets when timed (see ``bare_forward``).
        """
        self.bare_forward(batch_size, workers)
        self.prelabel_pass(inputs_kept=True, workers=workers)

    def bare_forward(self, batch_size: int, workers: Workers | None = None) -> float:
        """Seconds for the model alone on normalised float batches already in memory.

        With ``workers``, each of their processes runs the model over its share of the images
        at the same time (see ``bench.prelabel_processes``); a round in which a process
        met a share for the first time (and decoded it) is run again.
        """
        if workers is not None:
            shares = _shares(self.names, workers.processes)
            arguments = [(self.version.weights, s, self.image_size, batch_size) for s in shares]
            while True:
                started = time.perf_counter()
                decoded = workers.map(prelabel_processes.forward, arguments)
                seconds = time.perf_counter() - started
                if not any(decoded):
                    return seconds
        started = time.perf_counter()
        prelabel_processes.forward_batches(self.loaded, self.inputs, batch_size)
        return time.perf_counter() - started

    def prelabel_pass(self, *, inputs_kept: bool, workers: Workers | None = None) -> float:
        """Seconds to plan a pass and run every chunk's task body, predictions stored.

        With ``workers``, the chunks are shared among their processes as a Celery worker of
        that many processes shares them, each taking the next chunk when it is done with one.
        """
        self.version = self._promote_again()
        cache = input_cache()
        if not inputs_kept and cache is not None:
            shutil.rmtree(cache.root, ignore_errors=True)
            input_shards.release_all()  # nor read from the emptied folder's open files
        os.sync()  # what earlier steps wrote reaches the disk now, not during the timing
        original = jobs.enqueue
        jobs.enqueue = self._hand_on  # type: ignore[assignment]
        old_chunk = settings.LABELER_PRELABEL_CHUNK
        if self.chunk:
            settings.LABELER_PRELABEL_CHUNK = self.chunk
        try:
            started = time.perf_counter()
            chunks = prelabel.prelabel_plan(model_version_id=self.version.pk)
            if workers is None:
                stored = sum(ml_jobs.predict(self.version.pk, chunk) for chunk in chunks)
            else:
                work = [(self.version.pk, chunk, not inputs_kept) for chunk in chunks]
                stored = sum(workers.map(prelabel_processes.predict, work))
            seconds = time.perf_counter() - started
        finally:
            jobs.enqueue = original
            settings.LABELER_PRELABEL_CHUNK = old_chunk
        if stored != self.count:
            raise RuntimeError(f"{stored} predictions stored for {self.count} images")
        return seconds

    def _hand_on(self, name: str, *args: Any, **kwargs: Any) -> None:
        """What a broker would do with a follow-up task: take it away, to another worker."""
        self.handed_on.append((name, args))

    def drop(self) -> None:
        """Remove the project, its files and its model."""
        shutil.rmtree(Path(settings.MEDIA_ROOT) / "images" / str(self.project.pk), True)
        ml_jobs.weights_path(self.version.weights).unlink(missing_ok=True)
        self.project.delete()


def _shares(names: tuple[str, ...], parts: int) -> list[tuple[str, ...]]:
    """``names`` cut into ``parts`` contiguous shares of nearly equal size."""
    size, extra = divmod(len(names), parts)
    bounds = [part * size + min(part, extra) for part in range(parts + 1)]
    return [names[bounds[part] : bounds[part + 1]] for part in range(parts)]
