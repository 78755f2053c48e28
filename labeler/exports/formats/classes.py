"""The classes of the image archives, numbered as the tools reading them number them.

torchvision's ``ImageFolder`` numbers classes by the sorted names of the folders it finds
in the one folder it is given, so a split lacking a class shifts every index after it:
in an 80/10/10 export whose ``val`` lacked "beach", "forest" was 1 there and 2 in
``train``. Every split folder therefore holds every class folder (empty where the split
has no image of it) and a ``classes.txt`` naming them in that order; Hugging Face's
imagefolder export carries the same order in its own ``classes.txt``, which
``datasets.ClassLabel(names_file=...)`` reads.

Every label of the project is a class, whether or not the selection holds an image of
it: the same project always exports the same classes with the same indices.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from labeler.exports.formats.members import folder_names

CLASSES_FILE = "classes.txt"
# The same classes in the project's label order, the order of its models' outputs.
MODEL_OUTPUTS_FILE = "model_outputs.txt"


@dataclass(frozen=True)
class ExportClass:
    """One label as a class: its folder's name and the label it stands for."""

    folder: str
    label: str


# Files beside the class folders: no label's folder takes their names.
BESIDE_THE_FOLDERS = (CLASSES_FILE, MODEL_OUTPUTS_FILE, "metadata.csv")


def export_classes(label_names: Iterable[str]) -> list[ExportClass]:
    """Every label, in torchvision's index order: by folder name, as ``sorted`` orders it."""
    folders = folder_names(label_names, BESIDE_THE_FOLDERS)
    classes = (ExportClass(folder, label) for label, folder in folders.items())
    return sorted(classes, key=lambda item: item.folder)


def folder_classes_text(classes: Iterable[ExportClass]) -> str:
    """An ImageFolder's ``classes.txt``: a class a line, its index the line's (from 0);
    the folder's name, then a tab and the label's name where the two differ."""
    return "".join(
        f"{item.folder}\n" if item.folder == item.label else f"{item.folder}\t{item.label}\n"
        for item in classes
    )


def model_order(label_names: Iterable[str]) -> list[ExportClass]:
    """Every label in the project's order: output n of its models is the n-th."""
    folders = folder_names(label_names, BESIDE_THE_FOLDERS)
    return [ExportClass(folder, label) for label, folder in folders.items()]


def label_classes_text(classes: Iterable[ExportClass]) -> str:
    """A Hugging Face export's ``classes.txt``: the label names a line each, in the same
    order (``datasets.ClassLabel(names_file=...)``)."""
    return "".join(f"{item.label}\n" for item in classes)
