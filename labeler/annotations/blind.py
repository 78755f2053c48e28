"""What a person is shown of a project's images beside their pixels: the rule of blind
labelling, in one place.

In ImageFolder-style data an image's file name or folder often carries its class
(``cat/IMG_1_cat.jpg``), and so may what came with it: the bucket key or folder path of an
image read in place, an import's path, its EXIF and the tags and licence leads gave it.
An annotator shown them is told the answer, which biases their labels and the agreement
measured on them. So annotators see an image by its number: no file name (unless the
project's lead turns ``annotators_see_file_names`` on), never its paths nor metadata, and
addresses of its files that name the image by id
(``labeler.images.delivery.links.image_file_link``).
Leads, reviewers and admins, who check the data, see it all.

Every route by which an image reaches a person asks ``image_view`` what they may see of
it and builds what it sends from ``image_name_shown``, ``image_title``,
``image_addresses`` and ``image_download_name``: the queue, the images and their files in
the REST API, the caller's history, the labelling page, the signed file addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from django.db.models import Exists, OuterRef, QuerySet

from labeler.annotations.models import Annotation, Assignment, Skip
from labeler.images.delivery.links import download_name_by_id, file_link, image_file_link
from labeler.images.models import Image
from labeler.projects.models import Project
from labeler.projects.selectors import AnyUser, can_see_all_annotations


@dataclass(frozen=True)
class ImageView:
    """What one person may see of a project's images beside their pixels."""

    name: bool  # the file's own name (``IMG_1_cat.jpg``)
    # Where it came from: the path or key it was imported or read from and its folders,
    # and addresses of its files that carry them.
    paths: bool
    # What came with the file or was said of it: EXIF (camera, capture time, position),
    # its source, tags and licence.
    metadata: bool


def image_view(*, user: AnyUser, project: Project, role: str | None) -> ImageView:
    """What ``user`` (whose role in ``project`` is ``role``) may see of its images.

    Leads, reviewers and admins: everything. Annotators: the file name only where the
    project lets them (``annotators_see_file_names``), never its paths nor metadata.
    """
    if can_see_all_annotations(user=user, role=role):
        return ImageView(name=True, paths=True, metadata=True)
    return ImageView(name=project.annotators_see_file_names, paths=False, metadata=False)


def images_listed(images: QuerySet[Image], *, user: AnyUser, role: str | None) -> QuerySet[Image]:
    """Which of ``images`` a listing shows ``user``: leads, reviewers and admins all of
    them; an annotator only those the queue handed them (leased, live or expired, labelled
    or skipped by them), so a listing tells them nothing of the rest of the project."""
    if can_see_all_annotations(user=user, role=role):
        return images
    handed = [
        Exists(model.objects.filter(image_id=OuterRef("pk"), annotator_id=user.pk))
        for model in (Assignment, Annotation, Skip)
    ]
    return images.filter(handed[0] | handed[1] | handed[2])


def image_name_shown(original_name: str, view: ImageView) -> str:
    """The image's file name as this person is shown it: blank where names are hidden."""
    return original_name if view.name else ""


def image_title(*, image_id: int, original_name: str, view: ImageView) -> str:
    """What names the image to this person (a page title, an image's alt text)."""
    return original_name if view.name and original_name else f"Image {image_id}"


def image_download_name(*, image_id: int, kind: str, stored: str, view: ImageView) -> str | None:
    """The name a file of the image is served under to this person: None (the stored
    name's own) where they are shown paths, else one made of the image's id."""
    return None if view.paths else download_name_by_id(image_id, kind, stored)


@dataclass(frozen=True)
class ImageAddresses:
    """Where this person's browser fetches an image's files."""

    file: str
    display: str  # the display copy's, or the file's where it has none
    thumbnail: str | None  # None until the worker has made one


def image_addresses(
    *,
    project_id: int,
    image_id: int,
    file: str,
    display: str,
    thumbnail: str,
    user_id: int,
    view: ImageView,
    originals: bool = False,
) -> ImageAddresses:
    """The addresses of an image's stored files (``file``, ``display``, ``thumbnail``: their
    names, blank for none) for this person: by stored name where they are shown paths
    (``originals``: they are served originals, so a bucket's may be presigned), else by id.

    A display copy that is the file itself (blank, or the same name) gets the file's address.
    """
    own_display = bool(display) and display != file
    if view.paths:
        link = partial(file_link, user_id=user_id, originals=originals)
        return ImageAddresses(
            file=link(file),
            display=link(display if own_display else file),
            thumbnail=link(thumbnail) if thumbnail else None,
        )
    by_id = partial(image_file_link, project_id=project_id, image_id=image_id, user_id=user_id)
    return ImageAddresses(
        file=by_id(kind="file"),
        display=by_id(kind="display" if own_display else "file"),
        thumbnail=by_id(kind="thumbnail") if thumbnail else None,
    )


def model_explanations_shown(*, user: AnyUser, role: str | None) -> bool:
    """Whether this person may see why the model chose a label (its heat maps, with the
    label and its probability): leads, reviewers and admins.

    An annotator's one view of the model is the suggestion the queue hands out with an
    image, which the queue holds back on purpose from some (the holdback's share, spot
    checks: ``predictions.selectors.suggestion_withheld``). An explanation names the
    model's label, so no annotator gets one, held back or not: that keeps the holdback
    whole without this rule knowing its draws.
    """
    return can_see_all_annotations(user=user, role=role)
