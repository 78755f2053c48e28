"""A training's held-out test images: predicted by the new model, scored, and the current
model measured on the same images for the comparison.

The new model never saw them: the fit trains on the training images and chooses its
epoch and thresholds on the validation images (``worker.model_jobs``). The maths is the
predictions layer's (``scorecard``, ``comparison``, pure); this module moves arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import numpy as np
from django.conf import settings

from labeler.images.models import Image
from labeler.images.pixels.model_inputs import input_cache
from labeler.predictions.comparison import paired_comparison
from labeler.predictions.dataset import targets_array
from labeler.predictions.runs import TrainingPlan
from labeler.predictions.scorecard import scorecard
from labeler.predictions.test_outputs import TestOutputs
from worker.ml.data import Decoded, Opener
from worker.ml.device import decode_threads
from worker.ml.inference import predict_files, predict_tensor
from worker.ml.weights import LoadedModel


def held_out_predict(
    plan: TrainingPlan, model: LoadedModel, decoded: Decoded, position: dict[int, int]
) -> TestOutputs | None:
    """The new model's probabilities on the run's decoded test images, with their labels;
    None without any."""
    rows = [r for r in plan.split.test if r in position]
    if not rows:
        return None
    probabilities = predict_tensor(model, decoded.images[[position[r] for r in rows]])
    targets = targets_array(plan.data, rows, multi_label=plan.multi_label)
    return TestOutputs(
        image_ids=[plan.data.image_ids[r] for r in rows],
        y_true=np.asarray(targets).astype(np.int64),
        probabilities=np.asarray(probabilities, dtype=np.float64),
        label_ids=list(plan.data.label_ids),
        multi_label=plan.multi_label,
        thresholds=model.meta["thresholds"],
    )


def held_out_scorecard(tested: TestOutputs | None) -> dict[str, Any] | None:
    """Every test figure of the new model (``labeler.predictions.scorecard``); None
    without test images."""
    if tested is None:
        return None
    return scorecard(
        y_true=tested.y_true,
        probabilities=tested.probabilities,
        label_ids=tested.label_ids,
        multi_label=tested.multi_label,
        thresholds=tested.thresholds,
    )


def paired_baseline(
    version: int,
    loaded: LoadedModel,
    tested: TestOutputs,
    seen: Collection[int],
    opener: Opener,
    *,
    device: str,
    beat: Callable[[], object] | None = None,
) -> dict[str, Any] | None:
    """The current model (``loaded``, version ``version``) and the new one, paired on the
    new one's test images outside ``seen`` (those the current one trained or validated on:
    ``seen`` of them left out); None when the two models answer different questions."""
    if bool(loaded.meta["multi_label"]) != tested.multi_label:
        return None
    seen = set(seen)
    keep = [r for r, image_id in enumerate(tested.image_ids) if image_id not in seen]
    compared = {"version": version, "images": 0, "seen": len(tested) - len(keep), "split": "test"}
    stored = Image.objects.filter(pk__in=[tested.image_ids[r] for r in keep])
    files = {pk: (name, sha) for pk, name, sha in stored.values_list("pk", "file", "sha256")}
    keep = [r for r in keep if tested.image_ids[r] in files]
    if not keep:
        return compared
    ok, probabilities, _ = predict_files(
        loaded,
        [files[tested.image_ids[r]][0] for r in keep],
        opener,
        keys=[files[tested.image_ids[r]][1] for r in keep],
        cache=input_cache(),
        threads=decode_threads(device),
        beat=beat,
        gpu_decode=settings.LABELER_GPU_DECODE,
    )
    if not ok:
        return compared
    part = tested.rows([keep[i] for i in ok])
    figures = paired_comparison(
        y_true=part.y_true,
        current=(np.asarray(probabilities, dtype=np.float64), loaded.meta.get("thresholds")),
        candidate=(part.probabilities, part.thresholds),
        multi_label=tested.multi_label,
    )
    return {**compared, "images": len(part), **figures}
