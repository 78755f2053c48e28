"""The slice report's benchmark, run small so that it keeps working: its data gets
metadata, final labels and a scored model, and every step runs."""

from __future__ import annotations

import pytest

from bench.agreement_data import Shape, bench_project
from bench.slices import CAMERAS, _describe, run_steps
from labeler.images.models import Image, ImageTag

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db]

SMALL = Shape(n_images=3000, per_image=3, n_annotators=6, n_labels=4, days=30, seed=5)


def test_the_small_benchmark_describes_its_images_and_times_every_step(needs_postgres):
    project, _ = bench_project(SMALL)
    assert _describe(project, rebuild=True)
    assert not _describe(project, rebuild=False)  # reused
    images = Image.objects.filter(project=project)
    assert set(images.values_list("camera", flat=True)) == set(CAMERAS)
    assert ImageTag.objects.filter(image__project=project, name="night").count() == 600
    steps = {step.name: step for step in run_steps(project, repeat=1)}
    assert set(steps) >= {"slice_compute (cold)", "slice_report (recent)"}
    assert "slices / agreement" in steps["reference: agreement_compute"].note
    assert "36 slices of 7 dimensions" in steps["slice_compute (cold)"].note
