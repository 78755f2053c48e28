"""A model version's outputs on the held-out test images, as arrays and as stored.

The worker scores each new version on the test images and hands its probabilities here
with the labels they were scored against; ``runs.training_run_finish`` stores them with
the version (``VersionTestOutputs``), and ``selectors.version_test_outputs`` reads them
back for figures computed later on any subset of the images (a slice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labeler.predictions.models import ModelVersion, VersionTestOutputs

_DTYPE = np.dtype("<f8")


@dataclass(frozen=True)
class TestOutputs:
    """Per test image: its id, its labels then (``y_true``: label indexes (N,) into
    ``label_ids``, multi-hot (N, L) for multi-label) and the version's probabilities
    (N, L), columns in ``label_ids`` order; ``thresholds``: multi-label cut-offs per
    column (None: single-label)."""

    __test__ = False  # a value, not a test class (pytest looks at names starting "Test")

    image_ids: list[int]
    y_true: np.ndarray
    probabilities: np.ndarray
    label_ids: list[int]
    multi_label: bool
    thresholds: list[float] | None

    def __len__(self) -> int:
        return len(self.image_ids)

    def rows(self, rows: list[int] | np.ndarray) -> TestOutputs:
        """The outputs of these rows only (a slice of the test images)."""
        picked = np.asarray(rows, dtype=np.int64)
        return TestOutputs(
            image_ids=[self.image_ids[r] for r in picked.tolist()],
            y_true=self.y_true[picked],
            probabilities=self.probabilities[picked],
            label_ids=list(self.label_ids),
            multi_label=self.multi_label,
            thresholds=self.thresholds,
        )

    def targets(self) -> list[list[int]]:
        """Each image's label ids (exactly one for single-label)."""
        if not self.multi_label:
            return [[self.label_ids[int(k)]] for k in self.y_true.tolist()]
        return [[self.label_ids[j] for j in np.flatnonzero(row > 0)] for row in self.y_true]


def outputs_row(version: ModelVersion, outputs: TestOutputs) -> VersionTestOutputs:
    """The unsaved row that stores ``outputs`` for ``version``."""
    probabilities = np.ascontiguousarray(outputs.probabilities, dtype=_DTYPE)
    if probabilities.shape != (len(outputs.image_ids), len(outputs.label_ids)):
        raise ValueError("probabilities must be (test images, labels)")
    return VersionTestOutputs(
        model_version=version,
        image_ids=[int(i) for i in outputs.image_ids],
        label_ids=[int(i) for i in outputs.label_ids],
        targets=outputs.targets(),
        probabilities=probabilities.tobytes(),
        multi_label=outputs.multi_label,
        thresholds=None if outputs.thresholds is None else [float(t) for t in outputs.thresholds],
    )


def outputs_read(row: VersionTestOutputs) -> TestOutputs:
    """The arrays a stored row holds."""
    label_ids = [int(i) for i in row.label_ids]
    column = {label_id: j for j, label_id in enumerate(label_ids)}
    probabilities = np.frombuffer(bytes(row.probabilities), dtype=_DTYPE)
    probabilities = probabilities.reshape(len(row.image_ids), len(label_ids)).copy()
    if row.multi_label:
        y_true = np.zeros((len(row.targets), len(label_ids)), dtype=np.int64)
        for i, labels in enumerate(row.targets):
            y_true[i, [column[label_id] for label_id in labels]] = 1
    else:
        y_true = np.array([column[labels[0]] for labels in row.targets], dtype=np.int64)
    return TestOutputs(
        image_ids=[int(i) for i in row.image_ids],
        y_true=y_true,
        probabilities=probabilities,
        label_ids=label_ids,
        multi_label=bool(row.multi_label),
        thresholds=None if row.thresholds is None else [float(t) for t in row.thresholds],
    )
