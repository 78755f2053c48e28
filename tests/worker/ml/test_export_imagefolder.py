"""An ImageFolder export is read by torchvision's ImageFolder as it is: the same class
indices in every split, and every image a sample (HEIC, AVIF and GIF converted)."""

from __future__ import annotations

import pytest

from tests.factories import image_bytes
from tests.labeler.exports.data import finalise, uploaded
from tests.labeler.exports.formats import export_bytes, extract
from tests.labeler.images import samples

pytestmark = pytest.mark.django_db


def test_torchvision_numbers_the_classes_alike_in_every_split(project, make_images, tmp_path):
    """80/10/10 of eleven images: val and test get one image each, yet each split has the
    four classes at the indices classes.txt gives, and every image is a sample."""
    datasets = pytest.importorskip("torchvision.datasets")
    project.labels.create(name="sea/lake", color="#123456", position=3)
    photos = {
        "IMG_1.heic": samples.photo("HEIF", (32, 24)),
        "IMG_2.avif": samples.photo("AVIF", (32, 24)),
        "wave.gif": image_bytes("GIF"),
    }
    images = make_images(project, 8) + uploaded(project, photos)
    names = ["cat"] * 6 + ["dog"] * 2 + ["bird"] * 3
    expected = {image.pk: name for image, name in zip(images, names, strict=True)}
    for image in images:
        finalise(image, [expected[image.pk]])
    folder = extract(
        export_bytes(project, format="imagefolder", split="0.8,0.1,0.1"), tmp_path / "export"
    )

    seen: dict[int, str] = {}
    for split in ("train", "val", "test"):
        # A split without an image of some class has its folder empty: torchvision takes
        # an empty class folder only with allow_empty=True.
        dataset = datasets.ImageFolder(str(folder / split), allow_empty=True)
        lines = (folder / split / "classes.txt").read_text().splitlines()
        label_of = {index: line.split("\t")[-1] for index, line in enumerate(lines)}
        assert dataset.classes == ["bird", "cat", "dog", "sea_lake"]
        assert dataset.class_to_idx == {line.split("\t")[0]: i for i, line in enumerate(lines)}
        for path, target in dataset.samples:
            seen[int(path.rsplit("/", 1)[1].split("-", 1)[0])] = label_of[target]
        if split == "train":
            image, _ = dataset[0]
            assert image.size == (32, 24)
        if split != "train":  # one class each: its index is still the train split's
            assert len({target for _, target in dataset.samples}) == 1
    assert seen == expected
    assert label_of[3] == "sea/lake"


def test_torchvision_reads_the_unsplit_archive(project, make_images, tmp_path):
    datasets = pytest.importorskip("torchvision.datasets")
    images = make_images(project, 3)
    for image, name in zip(images, ["cat", "dog", "bird"], strict=True):
        finalise(image, [name])
    folder = extract(export_bytes(project, format="imagefolder"), tmp_path / "export")
    dataset = datasets.ImageFolder(str(folder))
    assert dataset.classes == ["bird", "cat", "dog"] and len(dataset) == 3
    # model_outputs.txt numbers them as the project's models do: cat, dog, bird.
    lines = (folder / "model_outputs.txt").read_text().splitlines()
    outputs = [line.split("\t")[0] for line in lines]
    assert outputs == ["cat", "dog", "bird"]
    as_models = datasets.ImageFolder(
        str(folder), target_transform=lambda index: outputs.index(dataset.classes[index])
    )
    order = list(project.labels.order_by("position").values_list("name", flat=True))
    for (path, _), (_, target) in zip(as_models.samples, as_models, strict=True):
        assert order[target] == path.rsplit("/", 2)[1]
