"""Export, then import into a new project: the same images come back with the same labels."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from labeler.annotations.models import Annotation, FinalLabel
from labeler.projects.models import Project, Role
from tests.factories import ProjectFactory, add_member
from tests.labeler.exports.data import finalise
from tests.labeler.exports.formats import export_bytes, extract

pytestmark = pytest.mark.django_db


def final_labels(project: Project) -> dict[str, list[str]]:
    """Each labelled image's final labels, by content."""
    finals = FinalLabel.objects.filter(image__project=project).select_related("image")
    return {
        final.image.sha256: sorted(final.labels.values_list("name", flat=True)) for final in finals
    }


def empty_twin(project: Project, lead, *, multi_label: bool = False) -> Project:
    twin = ProjectFactory(name="Twin", labels=["cat", "dog"], multi_label=multi_label)
    add_member(twin, lead, Role.LEAD)
    return twin


def test_an_imagefolder_zip_imports_back_with_its_labels(project, lead, make_images, tmp_path):
    images = make_images(project, 6)
    for index, image in enumerate(images[:5]):
        finalise(image, ["cat" if index % 2 else "dog"])
    exported = export_bytes(project, format="imagefolder", split="0.6,0.4")
    folder = extract(exported, tmp_path / "export")
    twin = empty_twin(project, lead)
    call_command("import_images", twin.pk, str(folder), layout="imagefolder", verbosity=0)
    assert final_labels(twin) == final_labels(project)
    assert len(final_labels(twin)) == 5  # the unlabelled image is not exported


@pytest.mark.parametrize("labels_as", ["final", "annotation"])
def test_a_multi_label_imagefolder_zip_imports_back_with_every_label(
    lead, make_images, tmp_path, labels_as
):
    """An image in several label folders is one image with all of those labels, and
    importing the same tree again changes nothing."""
    project = ProjectFactory(name="Tags", labels=["cat", "dog"], multi_label=True)
    add_member(project, lead, Role.LEAD)
    images = make_images(project, 3)
    for image, names in zip(images, [["cat"], ["dog"], ["cat", "dog"]], strict=True):
        finalise(image, names)
    folder = extract(export_bytes(project, format="imagefolder"), tmp_path / "export")
    twin = empty_twin(project, lead, multi_label=True)
    for _ in range(2):
        call_command(
            "import_images", twin.pk, str(folder), layout="imagefolder", labels_as=labels_as,
            verbosity=0,
        )  # fmt: skip
        if labels_as == "final":
            assert final_labels(twin) == final_labels(project)
        else:
            annotations = Annotation.objects.filter(image__project=twin).select_related("image")
            assert {
                a.image.sha256: sorted(a.labels.values_list("name", flat=True)) for a in annotations
            } == final_labels(project)
            assert annotations.count() == 3


def test_a_multi_label_hf_imagefolder_zip_imports_back_from_its_metadata(
    lead, make_images, tmp_path
):
    project = ProjectFactory(name="Tags", labels=["cat", "dog"], multi_label=True)
    add_member(project, lead, Role.LEAD)
    images = make_images(project, 4)
    for image, names in zip(images, [["cat"], ["dog"], ["cat", "dog"], []], strict=True):
        finalise(image, names)
    folder = extract(export_bytes(project, format="hf-imagefolder"), tmp_path / "export") / "train"
    twin = empty_twin(project, lead, multi_label=True)
    call_command(
        "import_images", twin.pk, str(folder), labels_csv=str(folder / "metadata.csv"), verbosity=0
    )
    expected = {sha: names for sha, names in final_labels(project).items() if names}
    assert final_labels(twin) == expected


def test_label_studio_tasks_import_back_with_their_choices(project, lead, make_images, tmp_path):
    images = make_images(project, 4)
    for index, image in enumerate(images):
        finalise(image, ["cat" if index % 2 else "dog"])
        (tmp_path / "files").mkdir(exist_ok=True)
        (tmp_path / "files" / image.original_name).write_bytes(image.file.read())
    tasks = json.loads(export_bytes(project, format="label-studio", annotations="final"))
    source = tmp_path / "tasks.json"
    source.write_text(json.dumps(tasks))
    twin = empty_twin(project, lead)
    call_command(
        "import_images", twin.pk, str(tmp_path / "files"), label_studio=str(source), verbosity=0
    )
    assert final_labels(twin) == final_labels(project)
