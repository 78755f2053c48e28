"""An ImageFolder export is read by torchvision's ImageFolder as it is."""

from __future__ import annotations

import pytest

from tests.labeler.exports.data import finalise
from tests.labeler.exports.formats import export_bytes, extract

pytestmark = pytest.mark.django_db


def test_torchvision_reads_the_split_folders(project, make_images, tmp_path):
    datasets = pytest.importorskip("torchvision.datasets")
    images = make_images(project, 8)
    for image in images:
        finalise(image, ["cat"] if image.pk % 2 else ["dog"])
    data = export_bytes(project, format="imagefolder", split="0.5,0.5")
    folder = extract(data, tmp_path / "export")
    seen = {}
    for split in ("train", "val"):
        dataset = datasets.ImageFolder(str(folder / split))
        assert dataset.classes == ["cat", "dog"]
        for path, target in dataset.samples:
            image_id = int(path.rsplit("/", 1)[1].split("-", 1)[0])
            seen[image_id] = dataset.classes[target]
        image, _ = dataset[0]
        assert image.size == (32, 24)
    assert seen == {image.pk: "cat" if image.pk % 2 else "dog" for image in images}


def test_torchvision_reads_the_unsplit_archive(project, make_images, tmp_path):
    datasets = pytest.importorskip("torchvision.datasets")
    images = make_images(project, 3)
    for image, name in zip(images, ["cat", "dog", "bird"], strict=True):
        finalise(image, [name])
    folder = extract(export_bytes(project, format="imagefolder"), tmp_path / "export")
    dataset = datasets.ImageFolder(str(folder))
    assert dataset.classes == ["bird", "cat", "dog"] and len(dataset) == 3
