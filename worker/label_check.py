"""The label check after a training: out-of-sample probabilities of every final label.

Glue between a claimed run (its decoded images, its settled config) and
``worker.ml.cross_fit``; the ranking and what is stored and sent to review are
``labeler.predictions.label_check``'s. The fold models train on development images only
(the run's training and validation images): a test image is never trained on, not even
by a fold model. A test image's out-of-sample probabilities are the run's own model's
(which never saw it either), so every final label is still checked. The folds run
before the run is recorded as finished, so they keep its heartbeat and a cancel stops
them; any other failure of theirs is logged and leaves the run's model as it is,
without a check. Without cleanlab (the "ml" extra), which ranks the check, the folds are
not run at all: the run's metrics and its message say the check was skipped.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings

from labeler.predictions import label_check
from labeler.predictions.dataset import targets_array
from labeler.predictions.models import TrainingRun
from labeler.predictions.runs import TrainingPlan
from labeler.predictions.test_outputs import TestOutputs
from worker.ml.cross_fit import CrossFit, cross_fit, fold_epochs, torch_fit_fold
from worker.ml.training import Cancelled

if TYPE_CHECKING:
    import torch  # noqa: TID251 - a type only: the tensors come from worker.ml

logger = logging.getLogger(__name__)

NO_CLEANLAB = (
    'Label check skipped: cleanlab is not installed on this worker (the "ml" extra; '
    "docker-compose's GPU worker image has it)."
)


@dataclass(frozen=True)
class Checked:
    """A run's out-of-sample probabilities, ready to be ranked and stored: the fold models'
    on the development images (``result``), then the run's model's on its test images
    (``test_images`` of them, last)."""

    image_ids: list[int]
    label_ids: list[int]
    given: np.ndarray
    probabilities: np.ndarray
    result: CrossFit
    folds: int
    epochs: int
    test_images: int = 0

    def summary(self) -> dict[str, Any]:
        """What the run's metrics say of the check: its size and what it cost."""
        return {
            "folds": self.folds,
            "epochs": self.epochs,
            "images": len(self.image_ids),
            "test_images": self.test_images,
            "seconds": round(self.result.seconds, 3),
            "cpu_seconds": round(self.result.cpu_seconds, 3),
        }


@dataclass(frozen=True)
class Skipped:
    """A check that was due but not run, and why (a note for the run's metrics and message)."""

    reason: str

    def summary(self) -> dict[str, Any]:
        """What the run's metrics say of the check: that it was skipped, and why."""
        return {"skipped": self.reason}


def cleanlab_missing() -> bool:
    """Whether cleanlab, which ranks the check's probabilities, cannot be imported here."""
    try:
        for module in ("filter", "rank", "multilabel_classification.filter"):
            importlib.import_module(f"cleanlab.{module}")
    except ImportError:
        return True
    return False


def label_check_folds(
    plan: TrainingPlan,
    images: torch.Tensor,
    position: dict[int, int],
    device: str,
    beat: Callable[[], bool] | None = None,
    tested: TestOutputs | None = None,
) -> Checked | Skipped | None:
    """Cross-fit the run's recipe over its decoded development images (a multi-label
    project's folds train multi-label models), and add ``tested``, the run's model's
    probabilities on its test images; None when the check is off (``label_check_folds``
    0), there are fewer development images than folds, or the folds failed; ``Skipped``
    without cleanlab, before any fold spends its CPU on probabilities nothing could rank."""
    config, data = plan.config, plan.data
    folds = int(config.get("label_check_folds", 0) or 0)
    rows = sorted(r for r in [*plan.split.train, *plan.split.validation] if r in position)
    if folds < 2 or len(rows) < folds:
        return None
    if cleanlab_missing():
        logger.warning("Training run %s: %s", plan.run.pk, NO_CLEANLAB)
        return Skipped(NO_CLEANLAB)
    y = targets_array(data, rows, multi_label=plan.multi_label)
    fit_fold = torch_fit_fold(
        images[[position[r] for r in rows]],
        y,
        num_labels=len(data.label_ids),
        config=config,
        device=device,
        beat=beat,
        pretrained_dir=settings.LABELER_PRETRAINED_DIR,
    )
    try:
        groups = np.array([data.groups.get(data.image_ids[r], -1) for r in rows])
        result = cross_fit(
            y,
            folds=folds,
            seed=config["seed"],
            fit_fold=fit_fold,
            num_labels=len(data.label_ids),
            groups=groups,
        )
    except Cancelled:
        raise
    except Exception:  # the model trained fine: a failed check is no reason to lose it
        logger.exception("The label check of training run %s failed", plan.run.pk)
        return None
    image_ids, probabilities = [data.image_ids[r] for r in rows], result.probabilities
    if tested is not None:
        image_ids += tested.image_ids
        y = np.concatenate([y, tested.y_true.astype(y.dtype)])
        probabilities = np.concatenate([probabilities, tested.probabilities])
    return Checked(
        image_ids=image_ids,
        label_ids=list(data.label_ids),
        given=y,
        probabilities=probabilities,
        result=result,
        folds=folds,
        epochs=fold_epochs(config),
        test_images=0 if tested is None else len(tested),
    )


def label_check_save(run_id: int, checked: Checked | Skipped) -> int:
    """Rank and store the check, send the flagged images to review; how many were flagged.

    A skipped check stores nothing: its reason is added to the finished run's message.
    """
    if isinstance(checked, Skipped):
        run_note_add(run_id, checked.reason)
        return 0
    try:
        return label_check.label_check_store(
            run_id=run_id,
            image_ids=checked.image_ids,
            label_ids=checked.label_ids,
            given=checked.given,
            probabilities=checked.probabilities,
        )
    except Exception:
        logger.exception("The label check of training run %s could not be stored", run_id)
        return 0


def run_note_add(run_id: int, note: str) -> None:
    """Add a sentence to a finished run's message (after the promotion's note)."""
    run = TrainingRun.objects.filter(pk=run_id).first()
    if run is not None:
        run.message = f"{run.message} {note}".strip()[:10_000]
        run.save(update_fields=["message"])
