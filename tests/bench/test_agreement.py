"""The agreement benchmark's data generator and timed steps, run small so they keep working."""

from __future__ import annotations

import numpy as np
import pytest

from bench.agreement_data import Shape, bench_project, synthetic_ratings
from bench.agreement_steps import OURS, REFERENCE, run_steps
from labeler.agreement.ratings import ratings_load
from labeler.annotations.models import Annotation, FinalLabel

pytestmark = pytest.mark.slow

SMALL = Shape(n_images=400, per_image=3, n_annotators=6, n_labels=4, days=90, seed=3)


def test_synthetic_ratings_have_distinct_annotators_and_noisy_labels() -> None:
    """Each image's raters are distinct; better annotators agree more with the truth."""
    data = synthetic_ratings(Shape(n_images=5000, per_image=5, n_annotators=20))
    assert all(len(set(row)) == 5 for row in data.annotators[:500].tolist())
    right = data.labels == data.truth[:, None]
    by_annotator = np.bincount(data.annotators.ravel(), weights=right.ravel(), minlength=20)
    share = by_annotator / np.bincount(data.annotators.ravel(), minlength=20)
    assert np.corrcoef(share, data.accuracy)[0, 1] > 0.9
    assert (data.rated_at.max() - data.rated_at.min()) > 60 * 86_400


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_small_benchmark_loads_reuses_and_times_every_step(needs_postgres) -> None:
    """COPY loads the project, a second call reuses it, and every step runs and agrees."""
    project, loaded = bench_project(SMALL)
    assert loaded
    assert Annotation.objects.filter(project=project).count() == SMALL.n_annotations
    assert FinalLabel.objects.filter(image__project=project).exists()
    again, loaded = bench_project(SMALL)
    assert (again.pk, loaded) == (project.pk, False)
    ratings = ratings_load(project)
    data = synthetic_ratings(SMALL)
    assert ratings.codes.shape == (SMALL.n_images, SMALL.n_annotators)
    assert np.count_nonzero(ratings.codes >= 0) == SMALL.n_annotations
    assert sorted(np.bincount(ratings.codes[ratings.codes >= 0], minlength=4).tolist()) == sorted(
        np.bincount(data.labels.ravel(), minlength=4).tolist()
    )
    steps = {step.name: step for step in run_steps(project, repeat=1)}
    assert {OURS, REFERENCE} <= set(steps)
    assert "week points" in steps[OURS].note
    assert "largest difference from ours" in steps[REFERENCE].note
    gap = float(steps[REFERENCE].note.rsplit(" ", 1)[1])
    assert gap < 1e-9
