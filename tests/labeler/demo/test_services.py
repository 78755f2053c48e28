"""The demo project: real digits, the accounts, and simulated annotators of known reliability."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from PIL import Image as PILImage
from sklearn.datasets import load_digits

from labeler.annotations.models import Annotation
from labeler.demo.services import (
    ANNOTATORS,
    DEMO_PASSWORD,
    DEMO_PROJECT,
    LEAD,
    SIMULATED,
    demo_load,
    digit_png,
)
from labeler.projects.models import Membership, Project, Role


def test_digit_png_is_an_upscaled_grayscale_image():
    """An 8x8 digit becomes a 64x64 grayscale PNG with dark ink on white."""
    digit = load_digits().images[0]
    image = PILImage.open(io.BytesIO(digit_png(digit)))
    assert (image.format, image.mode, image.size) == ("PNG", "L", (64, 64))
    pixels = np.asarray(image)
    assert pixels.max() > 200 and pixels.min() < 60


@pytest.mark.django_db
def test_demo_builds_the_project_once(capsys):
    """load_demo creates the project, accounts and simulated labels; a rerun adds nothing."""
    call_command("load_demo", images=40, simulate=0.5)
    project = Project.objects.get(name=DEMO_PROJECT)
    assert [label.name for label in project.labels.all()] == [str(d) for d in range(10)]
    assert project.images.count() == 40
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert roles[LEAD] == Role.LEAD
    assert all(roles[name] == Role.ANNOTATOR for name in (*ANNOTATORS, *SIMULATED))
    assert authenticate(username=ANNOTATORS[0], password=DEMO_PASSWORD) is not None
    assert Annotation.objects.filter(project=project).count() == 20 * len(SIMULATED)
    assert project.images.filter(is_complete=True).count() == 20  # overlap 3, three simulators
    assert "annotator1" in capsys.readouterr().out

    call_command("load_demo", images=40, simulate=0.5)
    assert Project.objects.filter(name=DEMO_PROJECT).count() == 1
    assert Annotation.objects.count() == 20 * len(SIMULATED)


@pytest.mark.django_db
def test_simulated_annotators_differ_in_reliability():
    """Each simulated annotator agrees with the true digit about as often as configured."""
    summary = demo_load(n_images=150, simulate_fraction=1.0, seed=3)
    truth = load_digits().target
    order = {image.pk: i for i, image in enumerate(summary.project.images.order_by("pk"))}
    accuracy = {}
    for username in SIMULATED:
        rows = Annotation.objects.filter(annotator__username=username).values_list(
            "image_id", "labels__name"
        )
        accuracy[username] = np.mean([int(name) == truth[order[img]] for img, name in rows])
    assert accuracy["sim-careful"] > accuracy["sim-average"] > accuracy["sim-sloppy"]
    for username, expected in SIMULATED.items():
        assert abs(accuracy[username] - expected) < 0.12
