"""The demo project: real digits, the accounts, and simulated annotators of known reliability."""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from PIL import Image as PILImage
from sklearn.datasets import load_digits

from labeler.annotations.models import (
    Annotation,
    FinalLabel,
    FinalLabelMethod,
    LabelChange,
    LabelChangeKind,
)
from labeler.demo.services import (
    ADMIN,
    ANNOTATORS,
    DEMO_PASSWORD,
    DEMO_PROJECT,
    GOLD_IMAGES,
    HISTORY_DAYS,
    LEAD,
    REVISED_AFTER_DAYS,
    SIMULATED,
    demo_load,
    digit_png,
)
from labeler.predictions.models import TrainingRun
from labeler.projects.models import Membership, Project, Role

# SQL, triggers or task running that differ on the embedded default: run there too.
pytestmark = pytest.mark.embedded


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
    assert Annotation.objects.filter(project=project).count() == 20 * 3  # overlap 3
    assert project.images.filter(is_complete=True).count() == 20
    assert "annotator1" in capsys.readouterr().out

    # Digits are trained without flips; loading trains nothing (the lead presses Train).
    assert project.training["augment"]["hflip"] is False
    assert project.retrain_after == 0
    assert not TrainingRun.objects.exists()

    call_command("load_demo", images=40, simulate=0.5)
    assert Project.objects.filter(name=DEMO_PROJECT).count() == 1
    assert Annotation.objects.count() == 20 * 3


@pytest.mark.django_db
def test_demo_prints_an_admin_login_the_port_served_and_the_gold_it_has(capsys, monkeypatch):
    """The admin login is printed and works (the team page needs no terminal); the address
    is the one make run serves on; a rerun reports the gold images the project has."""
    monkeypatch.delenv("PORT", raising=False)
    call_command("load_demo", images=30, simulate=0.5, host="0.0.0.0", port=9123)
    first = capsys.readouterr().out
    admin = authenticate(username=ADMIN, password=DEMO_PASSWORD)
    assert admin is not None and admin.is_staff and admin.is_superuser
    assert f"admin:       {ADMIN}" in first
    assert "Open http://127.0.0.1:9123/  (API docs: http://127.0.0.1:9123/api/v1/docs/)" in first
    assert f"{GOLD_IMAGES} gold images." in first and "8000" not in first

    admin.set_password("changed-by-the-admin")
    admin.save()
    monkeypatch.setenv("PORT", "8765")
    call_command("load_demo", images=30, simulate=0.5)
    again = capsys.readouterr().out
    assert again.startswith("Found demo project") and f"{GOLD_IMAGES} gold images." in again
    assert "http://127.0.0.1:8765/" in again
    assert authenticate(username=ADMIN, password="changed-by-the-admin") is not None
    assert User.objects.filter(username=ADMIN).count() == 1


@pytest.mark.django_db
def test_the_label_history_of_the_demo_carries_the_days_labels_were_given():
    demo_load(n_images=40, simulate_fraction=0.5, seed=3)
    given = dict(Annotation.objects.values_list("pk", "created_at"))
    changes = LabelChange.objects.filter(kind=LabelChangeKind.ANNOTATION_CREATED)
    assert changes.count() == len(given) == 20 * 3
    assert all(change.created_at == given[change.annotation_id] for change in changes)
    assert min(given.values()) < timezone.now() - timedelta(days=HISTORY_DAYS - 2)


@pytest.mark.slow
@pytest.mark.django_db
def test_simulated_annotators_differ_in_reliability_and_improve_after_the_revision():
    """Labels span past weeks; errors halve once the instructions were revised, after which
    each simulator is about as reliable as configured."""
    summary = demo_load(n_images=360, simulate_fraction=1.0, seed=3)
    truth = load_digits().target
    order = {image.pk: i for i, image in enumerate(summary.project.images.order_by("pk"))}
    rows = list(
        Annotation.objects.values_list(
            "annotator__username", "image_id", "labels__name", "updated_at"
        )
    )
    days = {(timezone.now() - at).days for *_, at in rows}
    assert min(days) <= 1 and max(days) >= HISTORY_DAYS - 2
    revised = timezone.now() - timedelta(days=HISTORY_DAYS - REVISED_AFTER_DAYS)
    right = [
        (who, int(name) == truth[order[image]], at >= revised) for who, image, name, at in rows
    ]
    wrong_before = 1 - np.mean([ok for _, ok, after in right if not after])
    wrong_after = 1 - np.mean([ok for _, ok, after in right if after])
    assert wrong_before > 1.5 * wrong_after
    accuracy = {
        who: np.mean([ok for name, ok, after in right if name == who and after])
        for who in SIMULATED
    }
    ranked = sorted(SIMULATED, key=accuracy.__getitem__, reverse=True)
    assert ranked[0] == "sim-careful" and ranked[-1] == "sim-sloppy"
    for username, expected in SIMULATED.items():
        assert abs(accuracy[username] - expected) < 0.12


@pytest.mark.django_db
def test_demo_marks_gold_images_and_writes_final_labels():
    """Gold images carry their true digit; agreed images get consensus final labels."""
    summary = demo_load(n_images=120, simulate_fraction=0.5, seed=2)
    truth = load_digits().target
    order = {image.pk: i for i, image in enumerate(summary.project.images.order_by("pk"))}
    gold = FinalLabel.objects.filter(method=FinalLabelMethod.GOLD)
    assert summary.gold_images == gold.count() == GOLD_IMAGES
    for final in gold:
        assert [label.name for label in final.labels.all()] == [str(truth[order[final.image_id]])]
    assert FinalLabel.objects.filter(method=FinalLabelMethod.CONSENSUS).count() > 40
