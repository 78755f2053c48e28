"""How many images each side of an export's split gets: counted over the whole selection,
each class on as many sides as it has images, and what was made reported with the export."""

from __future__ import annotations

import random

import pytest

from labeler.exports import services
from labeler.exports.models import ExportStatus
from labeler.exports.options import export_options_parse
from labeler.exports.split import split_counts, split_report, targets_of
from labeler.projects.models import Role
from tests.factories import ProjectFactory, add_member
from tests.labeler.exports.data import labelled_images

SIDES = ("train", "val", "test")


def totals(counts: dict[tuple[str, ...], list[int]], sides: int) -> list[int]:
    return [sum(counted[j] for counted in counts.values()) for j in range(sides)]


def test_a_small_pilot_gets_the_shares_of_the_whole_selection_not_of_each_class() -> None:
    """12 images of six classes at 60/20/20: each class rounded alone gave 6/6/0."""
    sizes = {(name,): 2 for name in "abcdef"}
    counts = split_counts(sizes, (0.6, 0.2, 0.2))
    assert totals(counts, 3) == [7, 3, 2]
    assert all(counted[0] >= 1 for counted in counts.values())  # every class is trained on
    # Five classes are on two sides; the seventh training image leaves one on train only.
    assert sorted(sum(1 for c in counted if c) for counted in counts.values()) == [1] + [2] * 5


def test_the_selections_shares_are_rounded_by_largest_remainder() -> None:
    assert targets_of(12, (0.6, 0.2, 0.2)) == [7, 3, 2]
    assert targets_of(100, (0.29, 0.71)) == [29, 71]  # 0.29 * 100 is 28.999... in floats
    assert targets_of(4, (0.9, 0.05, 0.05)) == [4, 0, 0]
    assert targets_of(10, (0.7, 0.3, 0.0)) == [7, 3, 0]
    # Shares that sum to 1 only within the options' tolerance still place every image.
    assert sum(targets_of(10_000_000, (0.3333333, 0.3333333, 0.3333333))) == 10_000_000


def test_large_classes_keep_their_exact_shares() -> None:
    counts = split_counts({("cat",): 30, ("dog",): 10}, (0.8, 0.1, 0.1))
    assert counts == {("cat",): [24, 3, 3], ("dog",): [8, 1, 1]}


@pytest.mark.parametrize("seed", range(3))
def test_any_selection_gets_the_sides_totals_and_keeps_every_image(seed: int) -> None:
    draw = random.Random(seed)
    for _ in range(300):
        sizes = {(str(i),): draw.randint(1, 25) for i in range(draw.randint(1, 9))}
        shares = draw.choice([(0.6, 0.2, 0.2), (0.8, 0.1, 0.1), (0.5, 0.5), (0.7, 0.3, 0.0)])
        counts = split_counts(sizes, shares, seed=draw.randint(0, 9))
        assert totals(counts, len(shares)) == targets_of(sum(sizes.values()), shares)
        for key, n in sizes.items():
            assert sum(counts[key]) == n and min(counts[key]) >= 0
            assert all(c == 0 for c, share in zip(counts[key], shares, strict=True) if share == 0)
            if n >= 2 and shares[0] >= 0.5:
                assert counts[key][0] >= 1


def test_the_report_warns_of_an_empty_side_and_one_far_from_its_share() -> None:
    empty = split_report((0.9, 0.05, 0.05), SIDES, {"train": 4})
    assert empty.counts == {"train": 4, "val": 0, "test": 0}
    assert [w.split(":")[0] for w in empty.warnings] == [
        "The val side is empty",
        "The test side is empty",
    ]
    far = split_report((0.6, 0.2, 0.2), SIDES, {"train": 62, "val": 14, "test": 24})
    assert len(far.warnings) == 1 and far.warnings[0].startswith("The val side holds 14 of 100")
    assert split_report((0.6, 0.2, 0.2), SIDES, {"train": 7, "val": 3, "test": 2}).warnings == []
    unasked = split_report((0.8, 0.2, 0.0), SIDES, {"train": 8, "val": 2})
    assert unasked.warnings == []  # no share asked for the test side: none expected there
    own = split_report(None, SIDES, {"train": 8, "val": 2})
    assert own.warnings == [
        "The test side is empty: the project's own split has no test images among those selected."
    ]


@pytest.mark.django_db
def test_an_export_says_what_its_split_made(
    lead, make_images, django_capture_on_commit_callbacks
) -> None:
    names = ["apple", "boat", "cloud", "dune", "egg", "fern"]
    project = ProjectFactory(name="Pilot", labels=names)
    add_member(project, lead, Role.LEAD)
    labelled_images(project, make_images(project, 12), names)

    def exported(split: str) -> dict[str, object] | None:
        options = export_options_parse({"format": "csv", "split": split})
        with django_capture_on_commit_callbacks(execute=True):
            export = services.export_start(project=project, user=lead, options=options)
        export.refresh_from_db()
        assert export.status == ExportStatus.DONE, export.error
        return export.split

    made = exported("0.6,0.2,0.2")
    assert made == {
        "sides": [
            {"name": "train", "images": 7},
            {"name": "val", "images": 3},
            {"name": "test", "images": 2},
        ],
        "warnings": [],
    }
    tiny = exported("0.96,0.02,0.02")
    assert tiny is not None and [side["images"] for side in tiny["sides"]] == [12, 0, 0]
    assert len(tiny["warnings"]) == 2
    written = project.exports.order_by("-pk").first().file.open("rb").read().decode()
    assert written.count(",train") == 12  # the file holds what the report says
