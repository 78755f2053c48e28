"""The project settings the annotation layer reads: how many annotators an image gets,
gold images in the queue, the qualification test and the pause on low gold accuracy, and
whether annotators may label a page of images at once (grid labelling)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labeler.annotations.queue import MAX_PAGE_SIZE
from labeler.annotations.services import images_complete_set
from labeler.errors import ValidationFailed
from labeler.projects.models import GridMode, OverlapMode, Project
from labeler.projects.settings_registry import FormInput, ProjectSetting

MAX_OVERLAP = 50
MIN_GRID_SIZE, MAX_GRID_SIZE = 12, MAX_PAGE_SIZE  # a page is what one request leases


def completeness_reset(project: Project) -> None:
    """Every image's completeness set again, in the same transaction."""
    images_complete_set(project=project)


def adaptive_bounds_check(values: Mapping[str, Any]) -> None:
    """Under adaptive overlap the maximum may not be below the overlap (the minimum)."""
    overlap, maximum = values["overlap"], values["overlap_max"]
    if values["overlap_mode"] == OverlapMode.ADAPTIVE and maximum < overlap:
        raise ValidationFailed(
            f"Under adaptive overlap, overlap_max ({maximum}) may not be below the overlap "
            f"({overlap}), the number of annotators every image gets first.",
            field="overlap_max",
        )


SETTINGS = (
    ProjectSetting(
        name="overlap",
        section="essentials",
        owner="annotations",
        kind="int",
        default=1,
        minimum=1,
        maximum=MAX_OVERLAP,
        help="How many distinct annotators label each image.",
        form=FormInput(
            message=f"Overlap must be between 1 and {MAX_OVERLAP}.",
            required="Give the overlap, e.g. 1.",
            label="People who label each image",
            help=(
                f"1 to {MAX_OVERLAP} different people. With 1, each image is labelled once: "
                "fastest, but nobody's mistake is caught and agreement cannot be measured. "
                "With 2 or more, their agreement is measured and images they disagree on go "
                "to review."
            ),
        ),
        check_with=adaptive_bounds_check,
        on_change=completeness_reset,
    ),
    ProjectSetting(
        name="overlap_mode",
        section="overlap",
        owner="annotations",
        kind="choice",
        choices=OverlapMode,
        default=OverlapMode.FIXED.value,
        label="overlap mode",
        help=(
            "fixed: every image gets `overlap` annotators; adaptive: `overlap` first, then "
            "one more at a time, up to `overlap_max`, while their labels disagree or the "
            "consensus confidence is below `adaptive_confidence`."
        ),
        form=FormInput(
            message="Choose fixed or adaptive overlap.",
            label="Mode",
            widget="radio",
            choice_help=(
                (OverlapMode.FIXED, "every image gets the number of people above"),
                (OverlapMode.ADAPTIVE, "that number first, more only while they disagree"),
            ),
        ),
        check_with=adaptive_bounds_check,
        on_change=completeness_reset,
    ),
    ProjectSetting(
        name="overlap_max",
        section="overlap",
        owner="annotations",
        kind="int",
        default=5,
        minimum=1,
        maximum=MAX_OVERLAP,
        help="Adaptive overlap: the most annotators an image gets (at least `overlap`).",
        form=FormInput(
            message=f"The most annotators an image gets is from 1 to {MAX_OVERLAP}.",
            invalid=f"The most annotators an image gets is a whole number from 1 to {MAX_OVERLAP}.",
            label="Adaptive: at most (annotators)",
            help="Under adaptive overlap, the most annotators an image gets; at least the overlap.",
        ),
        check_with=adaptive_bounds_check,
        on_change=completeness_reset,
    ),
    ProjectSetting(
        name="adaptive_confidence",
        section="overlap",
        owner="annotations",
        kind="float",
        default=0.95,
        minimum=0.0,
        maximum=1.0,
        help=(
            "Adaptive overlap: an image gets another annotator while the probability of its "
            "leading label, each annotator weighed by their past accuracy, is below this."
        ),
        form=FormInput(
            name="adaptive_percent",
            scale=100,
            message="The confidence adaptive overlap asks for is a percentage from 0 to 100.",
            label="Adaptive: more below (% confidence)",
            help=(
                "An image gets one more annotator while the labels it has disagree, or the "
                "probability of the leading label, each annotator weighed by how often their "
                "labels matched final labels, is below this."
            ),
            anchor="adaptive",
            step=0.5,
        ),
    ),
    ProjectSetting(
        name="gold_rate",
        section="gold",
        owner="annotations",
        kind="float",
        default=0.05,
        minimum=0.0,
        maximum=1.0,
        help="Share of queue images that are gold images, mixed in unannounced.",
        form=FormInput(
            name="gold_percent",
            scale=100,
            message="The share of gold images is a percentage from 0 to 100.",
            label="Gold images in queues (%)",
            help=(
                "How often an annotator is shown, unannounced, an image whose answer a lead "
                "has set, to score them."
            ),
            anchor="gold",
            step=0.5,
            fill_in=True,
        ),
    ),
    ProjectSetting(
        name="qualification_gold_count",
        section="gold",
        owner="annotations",
        kind="int",
        default=0,
        minimum=0,
        maximum=500,
        words="a whole number from 0 to 500 (0: no test)",
        help=(
            "How many gold images a new annotator labels as a test before the real queue "
            "opens to them; 0: no test."
        ),
        form=FormInput(
            message="The test has 0 to 500 gold images (0: no test).",
            invalid="The test's size is a whole number of gold images (0: no test).",
            label="Qualification test (gold images)",
            help=(
                "A new annotator labels this many gold images they have not seen before the "
                "real queue opens to them; 0: no test."
            ),
            anchor="qualification-count",
        ),
    ),
    ProjectSetting(
        name="qualification_pass_mark",
        section="gold",
        owner="annotations",
        kind="float",
        default=0.8,
        minimum=0.0,
        maximum=1.0,
        help="The share (0 to 1) of the test's gold images an annotator must label right.",
        form=FormInput(
            name="pass_percent",
            scale=100,
            message="The pass mark is a percentage from 0 to 100.",
            label="Pass mark (% right)",
            help=(
                "The share of the test's gold images an annotator must label right. One who "
                "fails waits until a lead lets them retake the test."
            ),
            anchor="pass",
        ),
    ),
    ProjectSetting(
        name="gold_pause_window",
        section="gold",
        owner="annotations",
        kind="int",
        default=20,
        minimum=1,
        maximum=1000,
        help="How many of an annotator's latest gold answers their rolling accuracy uses.",
        form=FormInput(
            message="The pause looks at 1 to 1000 gold answers.",
            invalid="The pause looks at a whole number of gold answers, 1 to 1000.",
            label="Gold answers the pause looks at",
            help=(
                "The rolling accuracy is taken over an annotator's latest this many gold "
                "answers, and only once they have given that many."
            ),
            anchor="window",
            order=1,  # after the accuracy it is about
        ),
    ),
    ProjectSetting(
        name="gold_pause_below",
        section="gold",
        owner="annotations",
        kind="float",
        default=0.0,
        minimum=0.0,
        maximum=1.0,
        help=(
            "An annotator whose rolling gold accuracy falls below this share is paused "
            "until a lead lets them go on; 0: never paused."
        ),
        form=FormInput(
            name="pause_below_percent",
            scale=100,
            message="The pause's gold accuracy is a percentage from 0 to 100 (0: never).",
            label="Pause below gold accuracy (%)",
            help=(
                "An annotator who labels fewer than this share of their latest gold images "
                "right is paused, and the leads told, until a lead lets them go on; 0: never."
            ),
            anchor="pause",
        ),
    ),
    ProjectSetting(
        name="annotators_see_file_names",
        section="privacy",
        owner="annotations",
        kind="bool",
        default=False,
        help=(
            "Annotators see each image's file name while labelling (never its folder, path "
            "or metadata). Off by default: names and folders such as `cat/IMG_1_cat.jpg` "
            "often carry the class, which biases labels and agreement, so annotators see an "
            "image by its number only. Leads and reviewers always see names and metadata."
        ),
        form=FormInput(
            label="Annotators see file names",
            help=(
                "Off, annotators label blind: they see each image by its number, never its "
                "file name, folder, path or metadata, since names such as `cat/IMG_1_cat.jpg` "
                "often give the class away and bias the labels. Leads and reviewers always see "
                "them."
            ),
            anchor="file-names",
            order=4,
        ),
    ),
    ProjectSetting(
        name="grid_mode",
        section="labelling",
        owner="annotations",
        kind="choice",
        choices=GridMode,
        default=GridMode.CHOICE.value,
        label="grid mode",
        help=(
            "Grid labelling, a page of thumbnails labelled at once: off (one image at a time "
            "only), choice (each annotator switches between the two; one image at a time "
            "first) or always (pages only). Every rule of the queue holds alike on both."
        ),
        form=FormInput(
            message="Choose off, choice or always for grid labelling.",
            label="Grid labelling",
            widget="radio",
            choice_help=(
                (GridMode.OFF, "one image at a time only"),
                (GridMode.CHOICE, "one image at a time first; each annotator may switch to pages"),
                (GridMode.ALWAYS, "pages of thumbnails only"),
            ),
        ),
    ),
    ProjectSetting(
        name="grid_size",
        section="labelling",
        owner="annotations",
        kind="int",
        default=24,
        minimum=MIN_GRID_SIZE,
        maximum=MAX_GRID_SIZE,
        help=(
            "Grid labelling: how many images a page holds. An annotator may hold two pages' "
            "leases at once (the page on screen and the next), so the lease cap for pages is "
            "twice this, or the server's cap where that is higher."
        ),
        form=FormInput(
            message=f"A page holds {MIN_GRID_SIZE} to {MAX_GRID_SIZE} images.",
            invalid=f"A page holds a whole number of images, {MIN_GRID_SIZE} to {MAX_GRID_SIZE}.",
            label="Images per page",
            help=(
                f"How many thumbnails a grid page holds, {MIN_GRID_SIZE} to {MAX_GRID_SIZE}. "
                "Every rule of the queue (overlap, gold images, the test, reservations, "
                "held-back suggestions) holds on pages as on single images."
            ),
        ),
    ),
)
