"""The model export page's script, run as a reader runs it: it classifies images with a
package's ONNX file and card, and gives the server's own probabilities."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from labeler.images.stored.references import file_open
from labeler.predictions import packages
from tests.worker.ml.packaged_version import packaged_project, packaged_version, people
from worker.ml import weights
from worker.ml.inference import predict_files
from worker.model_jobs import weights_path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "model-export.md"
pytestmark = pytest.mark.django_db


def page_script() -> str:
    """The page's one Python block."""
    blocks = re.findall(r"^```python\n(.*?)^```$", PAGE.read_text(), flags=re.M | re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_the_pages_script_classifies_as_the_server_does(
    tmp_path, django_capture_on_commit_callbacks
):
    project, stored = packaged_project(people(), images=10)
    version = packaged_version(project, stored)
    with django_capture_on_commit_callbacks(execute=True):
        packages.model_package_request(version=version)
    photos = []
    for image in stored:
        path = tmp_path / f"photo-{image.pk}.png"
        with file_open(image.file.name) as handle:
            path.write_bytes(handle.read())
        photos.append(str(path))
    script = tmp_path / "classify.py"
    script.write_text(page_script())
    model, card = (
        packages.package_path(version, "onnx"),
        packages.package_path(version, "card_json"),
    )
    ran = subprocess.run(
        [sys.executable, str(script), str(model), str(card), *photos],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    printed = re.findall(r"^  red ([0-9.]+), green ([0-9.]+)$", ran.stdout, flags=re.M)
    assert len(printed) == len(stored), ran.stdout
    loaded = weights.load(weights_path(version.weights), "cpu")
    contents = {
        image.file.name: Path(p).read_bytes() for image, p in zip(stored, photos, strict=True)
    }
    names = list(contents)
    _, server, _ = predict_files(loaded, names, lambda n: io.BytesIO(contents[n]))
    shown = np.array([[float(a), float(b)] for a, b in printed])
    np.testing.assert_allclose(shown, server, atol=1e-4)
    assert f"{stored[0].pk}.png: " in ran.stdout
