"""The model's figures per slice, on the held-out test images its version was scored on.

A version's test outputs (its probabilities on each test image and the labels they were
scored against, ``predictions.selectors.version_test_outputs``) are read once; a slice is
then the test images among its images. Accuracy has its Wilson interval and macro-F1 a
seeded bootstrap one (``predictions.evaluation.metric_intervals``, as the Models page's
figures, with fewer draws); a slice is compared with the rest of the test images by
Fisher's exact test on right and wrong (``statistics.accuracy_difference_test``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from labeler.agreement.metrics import Figure
from labeler.agreement.metrics.figures import wilson_bounds
from labeler.predictions.evaluation import (
    classification_metrics,
    correct_per_image,
    metric_intervals,
)
from labeler.predictions.models import ModelVersion
from labeler.predictions.selectors import current_model, version_test_outputs
from labeler.predictions.test_outputs import TestOutputs
from labeler.projects.models import Project
from labeler.slices import statistics
from labeler.slices.data import Mask, Rows
from labeler.slices.statistics import Test

NO_MODEL = "No model version yet: train one on the Models page."
# Bootstrap draws of each slice's macro-F1 interval. Fewer than the Models page's 1,000:
# a report draws for every slice, dozens of them over thousands of test images, and the
# 2.5% and 97.5% points of 400 draws move by about a point of F1 between seeds.
BOOTSTRAP_DRAWS = 400
NO_TEST_IMAGE = "no test image is in this slice"


@dataclass(frozen=True)
class ModelData:
    """A version's outputs on its test images, rows in image id order, and whether each
    image's prediction is right."""

    version: ModelVersion
    rows: Rows
    outputs: TestOutputs
    right: Mask


@dataclass(frozen=True)
class ModelFigures:
    """Accuracy and macro-F1 on some test images, each with its interval and n."""

    accuracy: Figure
    macro_f1: Figure
    n_right: int


def model_data(project: Project, version: ModelVersion | None) -> tuple[ModelData | None, str]:
    """The version's test outputs (the current version's when None), or None and why not."""
    version = version or current_model(project)
    if version is None:
        return None, NO_MODEL
    outputs = version_test_outputs(version)
    if outputs is None or not len(outputs):
        return None, (
            f"Model v{version.version} was not scored on held-out test images (trained before "
            "the project had a test set, or with no test image yet): train a new version."
        )
    order = np.argsort(np.asarray(outputs.image_ids, dtype=np.int64), kind="stable")
    outputs = outputs.rows(order)
    right = correct_per_image(
        y_true=outputs.y_true,
        probabilities=outputs.probabilities,
        multi_label=outputs.multi_label,
        thresholds=outputs.thresholds,
    )
    rows = Rows(np.asarray(outputs.image_ids, dtype=np.int64))
    return ModelData(version=version, rows=rows, outputs=outputs, right=right), ""


def model_figures(model: ModelData, chosen: Mask, *, intervals: bool = True) -> ModelFigures:
    """Accuracy and macro-F1 on the test images ``chosen``, each with its interval.

    Without ``intervals`` (the rest of a slice, most of the test images, for every slice)
    macro-F1 has none: its bootstrap would cost as much as every slice's own together.
    Accuracy keeps its Wilson interval, which costs nothing.
    """
    n = int(np.count_nonzero(chosen))
    if n == 0:
        empty = Figure(value=None, reason=NO_TEST_IMAGE, n_items=0)
        return ModelFigures(empty, empty, 0)
    part = model.outputs.rows(np.flatnonzero(chosen))
    arrays: dict[str, Any] = {
        "y_true": part.y_true,
        "probabilities": part.probabilities,
        "multi_label": part.multi_label,
        "thresholds": part.thresholds,
    }
    found = classification_metrics(label_ids=part.label_ids, **arrays)
    accuracy = Figure(value=found["accuracy"], reason=None, n_items=n)
    macro_f1 = Figure(value=found["macro_f1"], reason=None, n_items=n)
    n_right = int(np.count_nonzero(model.right[chosen]))
    if intervals:
        spans = metric_intervals(**arrays, n_boot=BOOTSTRAP_DRAWS)
        accuracy = _with(accuracy, spans["accuracy_ci"])
        macro_f1 = _with(macro_f1, spans["macro_f1_ci"])
    else:
        accuracy = _with(accuracy, list(wilson_bounds(n_right, n)))
    return ModelFigures(accuracy, macro_f1, n_right)


def model_test(model: ModelData, chosen: Mask) -> Test:
    """Whether the model is right less often on the slice's test images than on the rest's."""
    right = (
        int(np.count_nonzero(model.right[chosen])),
        int(np.count_nonzero(model.right[~chosen])),
    )
    images = (int(np.count_nonzero(chosen)), int(np.count_nonzero(~chosen)))
    return statistics.accuracy_difference_test(right, images)


def _with(figure: Figure, interval: list[float]) -> Figure:
    return Figure(
        value=figure.value,
        reason=None,
        n_items=figure.n_items,
        ci_low=float(interval[0]),
        ci_high=float(interval[1]),
    )


def _count(mask: Mask) -> int:
    return int(np.count_nonzero(mask))
