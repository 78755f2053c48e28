"""Packaging a model version: the worker writes its ONNX file, TorchScript file and card,
checked against the server's probabilities, naming no person and no image."""

from __future__ import annotations

import json

import numpy as np
import pytest

from labeler import jobs
from labeler.images.models import Image
from labeler.predictions import packages
from labeler.predictions.model_card import training_hash
from labeler.predictions.models import ModelPackage, PackageStatus
from labeler.task_names import Task
from tests.conftest import client_for
from tests.worker.ml.packaged_version import (
    PEOPLE,
    SIZE,
    packaged_project,
    packaged_version,
    people,
)
from worker.ml import export, weights
from worker.ml.inference import predict_tensor
from worker.model_files import weights_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(django_capture_on_commit_callbacks):
    project, stored = packaged_project(people())
    version = packaged_version(project, stored)
    with django_capture_on_commit_callbacks(execute=True):
        packages.model_package_request(version=version)
    return version


def test_the_package_holds_four_files_recorded_with_their_sizes(version):
    package = ModelPackage.objects.get(model_version=version)
    assert package.status == PackageStatus.READY, package.message
    assert set(package.files) == set(packages.FILES)
    for kind, described in package.files.items():
        path = packages.package_path(version, kind)
        assert path.parent == packages.package_folder(version)
        assert described["bytes"] == path.stat().st_size > 0
    assert sorted(p.name for p in packages.package_folder(version).iterdir()) == sorted(
        name for name, _ in packages.FILES.values()
    )  # no temporary file left


def test_the_files_give_the_servers_probabilities(version):
    loaded = weights.load(weights_path(version.weights), "cpu")
    pixels = export.example_pixels(loaded.meta, batch=20, seed=11)
    expected = predict_tensor(loaded, pixels)
    onnx = export.onnx_session(packages.package_path(version, "onnx"))
    script = export.torchscript_module(packages.package_path(version, "torchscript"))
    assert np.abs(export.onnx_probabilities(onnx, pixels.numpy()) - expected).max() < 1e-4
    assert np.abs(export.torchscript_probabilities(script, pixels) - expected).max() < 1e-4


def test_the_card_says_what_the_model_takes_and_how_well_it_does(version):
    card = json.loads(packages.package_path(version, "card_json").read_text())
    assert [label["name"] for label in card["labels"]] == ["red", "green"]
    assert card["input"]["shape"] == ["batch", 3, SIZE, SIZE]
    assert card["input"]["dtype"] == "uint8"
    assert card["preprocessing"]["normalisation"]["mean"] == [0.5, 0.5, 0.5]
    assert "BILINEAR" in card["preprocessing"]["resize"]
    assert card["model"]["architecture"] == "small-cnn"
    training = card["training_data"]
    assert training["trained"] == 6 and training["validated"] == 2 and training["images"] == 8
    assert len(training["content_hash"]) == 64
    accuracy = card["test_metrics"]["figures"]["accuracy"]
    assert accuracy["value"] == 0.75 and accuracy["n"] == 4 and len(accuracy["interval"]) == 2
    assert card["test_metrics"]["images"] == 4
    assert {row["label"] for row in card["test_metrics"]["per_label"]} == {"red", "green"}
    assert card["files"]["onnx"]["bytes"] == packages.package_path(version, "onnx").stat().st_size
    latency = card["cpu_latency_batch_1"]
    assert latency["onnxruntime_ms"] > 0 and latency["threads"] >= 1 and latency["runs"] >= 5
    markdown = packages.package_path(version, "card_md").read_text()
    assert "| 0 | red |" in markdown and "| 1 | green |" in markdown
    assert training["content_hash"] in markdown and "0.750 [" in markdown


def test_the_hash_is_over_content_and_labels(version):
    """The same images with the same labels give the same hash; a changed label another."""
    card = json.loads(packages.package_path(version, "card_json").read_text())
    ids = [int(i) for i in weights.load(weights_path(version.weights), "cpu").trained_on]
    ids += version.validation_image_ids
    pairs = packages.training_pairs(ids)
    assert training_hash(pairs) == card["training_data"]["content_hash"]
    assert training_hash([(sha, ["blue"]) for sha, _ in pairs]) != training_hash(pairs)


def test_the_files_carry_no_personal_data(version):
    """No user name or e-mail, no image file name, stored path or id list in any byte."""
    produced = b"".join(
        packages.package_path(version, kind).read_bytes() for kind in packages.FILES
    )
    for name, email in PEOPLE.items():
        assert name.encode() not in produced
        assert email.encode() not in produced
    for image in Image.objects.filter(project=version.project):
        assert image.original_name.encode() not in produced
        assert image.original_name.rsplit(".", 1)[0].encode() not in produced
        assert image.file.name.encode() not in produced
    assert b"holiday" not in produced and b"IMG_47" not in produced
    assert b"trained_on" not in produced and b"validation_image_ids" not in produced
    card = json.loads(packages.package_path(version, "card_json").read_text())
    assert "image_ids" not in json.dumps(card) and "trained_on" not in json.dumps(card)


def test_files_already_there_are_kept_and_only_missing_ones_made(
    version, django_capture_on_commit_callbacks
):
    onnx = packages.package_path(version, "onnx")
    before = onnx.stat().st_mtime_ns
    packages.package_path(version, "card_md").unlink()
    with django_capture_on_commit_callbacks(execute=True):
        packages.model_package_request(version=version)
    assert onnx.stat().st_mtime_ns == before
    assert packages.package_path(version, "card_md").is_file()
    assert ModelPackage.objects.get(model_version=version).status == PackageStatus.READY


def test_asking_again_while_ready_starts_nothing(version, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as sent:
        packages.model_package_request(version=version)
    assert sent == []


def test_a_version_without_test_figures_says_why(django_capture_on_commit_callbacks):
    project, stored = packaged_project(people())
    version = packaged_version(project, stored, test=False)
    with django_capture_on_commit_callbacks(execute=True):
        packages.model_package_request(version=version)
    card = json.loads(packages.package_path(version, "card_json").read_text())
    assert card["test_metrics"]["figures"] is None
    assert "no held-out test images" in card["test_metrics"]["reason"]
    assert "None:" in packages.package_path(version, "card_md").read_text()


def test_unreadable_weights_fail_the_package_with_the_reason(django_capture_on_commit_callbacks):
    project, stored = packaged_project(people())
    version = packaged_version(project, stored)
    weights_path(version.weights).write_bytes(b"not a model")
    with django_capture_on_commit_callbacks(execute=True):
        packages.model_package_request(version=version)
    package = ModelPackage.objects.get(model_version=version)
    assert package.status == PackageStatus.FAILED
    assert "not a model file" in package.message
    assert not packages.package_folder(version).exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_in_the_server_the_packaging_runs_in_a_process_of_its_own():
    """With no broker, POST answers at once with the package queued; a child process (the
    web process never loads torch) exports the files, and GET then links them."""
    users = people()
    project, stored = packaged_project(users)
    version = packaged_version(project, stored)
    client = client_for(users["lena.lindqvist"])
    assert jobs.run_in_background()
    try:
        answer = client.post(f"/api/v1/model-versions/{version.pk}/package/")
        assert answer.status_code == 202, answer.content
        assert answer.json()["status"] in ("queued", "running")
        assert jobs.wait_for_background(300)
    finally:
        jobs.stop_background()
    body = client.get(f"/api/v1/model-versions/{version.pk}/package/").json()
    assert body["status"] == "ready", body
    assert set(body["files"]) == set(packages.FILES)
    assert Task.ML_PACKAGE in jobs.CHILD_PROCESS_TASKS
