"""The project settings the image layer reads: metadata stripped as images come in, faces
blurred, and the distance of near-duplicates."""

from __future__ import annotations

from labeler import jobs
from labeler.images.duplicates.groups import max_distance_setting
from labeler.images.face_regions import project_faces_hide
from labeler.projects.models import Project
from labeler.projects.settings_registry import FormInput, ProjectSetting
from labeler.task_names import Task

# The largest near-duplicate distance a project may set. The banded index
# (labeler.images.duplicates.finding) finds hashes within d bits among those sharing a 16-bit
# band within d // 4 bits: up to 11 bits that is 1 + 16 + 120 = 137 values a band, 8 times
# the candidates of the default 7 bits; from 12 bits 697 values a band (and 560 sorts a
# band to regroup), a few percent of a project's rows for every check, close to a scan,
# and unrelated pictures (16 bits or more apart) come within reach.
DUPLICATE_DISTANCE_MAX = 11


def duplicates_regroup_soon(project: Project) -> None:
    """The project's near-duplicate groups computed again at the new distance, in the
    background once the change commits (``duplicates_regroup`` task)."""
    jobs.enqueue(Task.DUPLICATES_REGROUP, project.pk)


def faces_refresh_soon(project: Project) -> None:
    """Faces found on every image already stored (on) or copies made unblurred (off), in
    the background once the change commits (``project_faces_refresh`` task). Turned on,
    every image is hidden first, in the change's transaction: its copies may have been
    made unblurred while the setting was off."""
    if project.blur_faces:
        project_faces_hide(project_id=project.pk)
    jobs.enqueue(Task.PROJECT_FACES_REFRESH, project.pk)


DUPLICATE_DISTANCE_FORM_WORDS = (
    f"The near-duplicate distance is a whole number of bits from 0 to {DUPLICATE_DISTANCE_MAX}, "
    "-1 for no grouping, or empty for the server's distance."
)


def server_distance() -> str:
    """The server's distance, shown in an empty input of the settings page."""
    return str(max_distance_setting())


def duplicate_distance_page_help() -> str:
    """The settings page's words on the distance, naming the server's."""
    server = max_distance_setting()
    return (
        "Images whose perceptual hashes differ in at most this many of 64 bits are grouped "
        "as near-duplicates: kept on one side of every split, sent to review when their "
        f"labels differ. 0 to {DUPLICATE_DISTANCE_MAX} (the most the index finds without "
        "reading every image). A picture on a plain background (a digit, a scanned sign, a "
        "product shot) is hashed framed on its subject and must also pass a 256-bit check, "
        "so the default suits small images alike by nature too (on 5,000 MNIST digits at 7 "
        "bits: 97% of copies found, 0.4% of digits grouped). -1: no grouping in this "
        f"project. Empty: the server's distance ({server}{': off' if server < 0 else ''}). "
        "A change regroups the project's images in the background."
    )


SETTINGS = (
    ProjectSetting(
        name="strip_metadata_on_ingest",
        section="privacy",
        owner="images",
        kind="bool",
        default=False,
        help=(
            "Store new photos without their GPS position and other identifying EXIF, XMP "
            "and IPTC (capture time and camera are still recorded), and take no position "
            "from an import's labels file; off: byte for byte. Images already stored are "
            "not changed."
        ),
        form=FormInput(
            label="Remove photos' location and identifying metadata when they are added",
            help=(
                "New uploads and imports are stored without their GPS position, camera serial "
                "numbers, owner and other EXIF, XMP and IPTC (a JPEG's pixels are kept bit for "
                "bit). Their capture time and camera are still recorded for filtering. Off, "
                "the originals are stored byte for byte. Images already stored are not changed."
            ),
            anchor="strip-metadata",
            order=2,
        ),
    ),
    ProjectSetting(
        name="blur_faces",
        section="privacy",
        owner="images",
        kind="bool",
        default=False,
        help=(
            "Blur the faces the worker finds (and those a lead draws) in every copy "
            "annotators and reviewers see and in every export; originals stay as they "
            "were sent, for leads and admins only. Turning it on finds the faces of the "
            "images already stored; until an image's faces are found its copies are not "
            "shown to those who see no originals."
        ),
        form=FormInput(
            label="Blur faces",
            help=(
                "The worker finds the faces in every image and blurs them in every copy "
                "annotators and reviewers see and in every export; you correct the boxes on "
                "each image's page. Originals stay as they were sent, for leads and admins "
                "only. Turning it on finds the faces of the images already stored; until an "
                "image's are found it is not shown to annotators."
            ),
            order=3,
        ),
        on_change=faces_refresh_soon,
    ),
    ProjectSetting(
        name="duplicate_distance",
        section="duplicates",
        owner="images",
        kind="int",
        default=None,
        nullable=True,
        minimum=-1,
        maximum=DUPLICATE_DISTANCE_MAX,
        words=(
            f"a whole number of bits from 0 to {DUPLICATE_DISTANCE_MAX}, -1 (no grouping in "
            "this project) or null (the server's distance)"
        ),
        help=(
            "Most bits two images' 64-bit perceptual hashes differ in for them to be "
            f"near-duplicates: 0 to {DUPLICATE_DISTANCE_MAX} (as far as the banded index "
            "reaches without scanning the project). A picture on a plain background (a "
            "digit, a scanned sign, a product shot) is hashed framed on its subject and must "
            "also pass a 256-bit check, so the default suits small, alike images too; a photo "
            "is also compared with the hash of the other's central view, so copies cropped a "
            "little are found. -1: no "
            "grouping in this project, null: the server's LABELER_DUPLICATE_DISTANCE (7 by "
            "default)."
        ),
        form=FormInput(
            message=DUPLICATE_DISTANCE_FORM_WORDS,
            invalid=DUPLICATE_DISTANCE_FORM_WORDS,
            blank_is_null=True,
            label="Near-duplicate distance (bits)",
            help=duplicate_distance_page_help,
            placeholder=server_distance,
        ),
        on_change=duplicates_regroup_soon,
    ),
)
