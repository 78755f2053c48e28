"""An image's explanations: named beside its stored file, deleted with it."""

from __future__ import annotations

from django.core.files.storage import default_storage

from labeler.images.delivery.explanation_files import (
    explanation_failure_name,
    explanation_outputs_name,
    explanation_overlay_name,
    explanations_folder,
)
from labeler.images.delivery.links import file_project
from labeler.images.delivery.served import is_original
from labeler.images.delivery.stored_whole import store_whole
from labeler.images.file_deletes import storage_delete_files


def test_names_sit_in_the_images_folder_of_its_project():
    kept = dict(project_id=3, image_file="images/3/ab/abcdef.jpg", version_id=5)
    overlay = explanation_overlay_name(**kept, label_id=7)
    assert overlay.startswith(explanations_folder(project_id=3, image_file=kept["image_file"]))
    assert overlay.endswith("/v5-l7.png")
    assert explanation_outputs_name(**kept).endswith("/v5.json")
    assert explanation_failure_name(**kept, label_id=None).endswith("/v5-ltop.failed")
    # A derived file of project 3: served to its members by a signed address, as is.
    assert file_project(overlay) == 3 and not is_original(overlay)


def test_deleting_an_images_file_deletes_its_explanations_and_no_others(media_root):
    mine, other = "images/3/aa/one.png", "images/3/bb/two.png"
    for name in (mine, other):
        store_whole(name, b"pixels")
        for label in (1, 2):
            store_whole(
                explanation_overlay_name(
                    project_id=3, image_file=name, version_id=1, label_id=label
                ),
                b"png",
            )
    storage_delete_files(names=[mine, "thumbnails/3/aa/one.jpg"])

    assert not default_storage.exists(explanations_folder(project_id=3, image_file=mine))
    assert not default_storage.exists(mine)
    assert len(default_storage.listdir(explanations_folder(project_id=3, image_file=other))[1]) == 2


def test_an_image_never_explained_is_deleted_as_before(media_root):
    store_whole("images/4/cc/three.png", b"pixels")
    storage_delete_files(names=["images/4/cc/three.png", "exports/4/x.zip"])
    assert not default_storage.exists("images/4/cc/three.png")
