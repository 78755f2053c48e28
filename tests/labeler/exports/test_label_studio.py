"""Label Studio tasks as Label Studio 1.23 imports them: people by e-mail, decisions as
ground truth, every final label in ``meta``, and images it can load."""

from __future__ import annotations

import io
import json
import zipfile
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.exports.formats.label_studio_zip import local_file_stem
from labeler.exports.links import export_link_read
from labeler.exports.people import person_email
from labeler.images.models import Image
from labeler.projects.models import Role
from tests.factories import UserFactory, add_member, image_bytes
from tests.labeler.exports.data import annotate, finalise
from tests.labeler.exports.formats import export_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def images(project, make_images, lead, annotator, annotator2):
    """Four images: a consensus, a lead's adjudication, a tie, and one nobody labelled.

    ann1 and the lead have e-mails, ann2 has none.
    """
    annotator.email, lead.email = "ann1@example.org", "lead@example.org"
    annotator.save()
    lead.save()
    images = make_images(project, 4)
    annotate(images[0], annotator, ["cat"])
    annotate(images[0], annotator2, ["cat"])
    finalise(images[0], ["cat"], confidence=0.9)
    annotate(images[1], annotator, ["dog"])
    annotate(images[1], annotator2, ["cat"])
    finalise(images[1], ["dog"], method="adjudicated", confidence=None, decided_by=lead)
    annotate(images[2], annotator, ["bird"])
    annotate(images[2], annotator2, ["dog"])  # a tie, left for review: no final label
    return images


def tasks_of(project, **options) -> list[dict]:
    return json.loads(export_bytes(project, format="label-studio", **options))


def by_email(task: dict) -> list[tuple[str | None, list[str], bool]]:
    return [
        (
            (annotation.get("completed_by") or {}).get("email"),
            annotation["result"][0]["value"]["choices"],
            annotation["ground_truth"],
        )
        for annotation in task["annotations"]
    ]


def test_annotators_are_named_by_email_and_a_decision_is_the_leads_ground_truth(project, images):
    """completed_by is {"email": ...} (Label Studio refuses a bare string or our ids);
    a person without one gets the placeholder; only the lead's decision is ground truth."""
    consensus, adjudicated, tie, unlabelled = tasks_of(project)
    assert by_email(consensus) == [
        ("ann1@example.org", ["cat"], False),
        ("ann2@labeler.invalid", ["cat"], False),
    ]
    assert by_email(adjudicated) == [
        ("ann1@example.org", ["dog"], False),
        ("ann2@labeler.invalid", ["cat"], False),
        ("lead@example.org", ["dog"], True),
    ]
    assert by_email(tie) == [
        ("ann1@example.org", ["bird"], False),
        ("ann2@labeler.invalid", ["dog"], False),
    ]
    assert unlabelled["annotations"] == []
    given = consensus["annotations"][0]
    assert given["lead_time"] == 1.2 and given["created_at"] and given["updated_at"]
    assert all(
        isinstance(a["ground_truth"], bool) for t in (consensus, tie) for a in t["annotations"]
    )


def test_every_task_carries_its_final_labels_method_and_decider_in_meta(project, images):
    tasks = tasks_of(project)
    consensus, tie = tasks[0], tasks[2]
    keys = ("final_labels", "final_method", "final_decided_by")
    finals = [tuple(task["meta"][key] for key in keys) for task in tasks]
    assert finals == [
        (["cat"], "consensus", None),
        (["dog"], "adjudicated", "lead@example.org"),
        (None, None, None),  # a tie: no final label, none made up
        (None, None, None),
    ]
    assert consensus["meta"]["final_confidence"] == 0.9
    assert [task["meta"]["image_id"] for task in (consensus, tie)] == [images[0].pk, images[2].pk]
    assert tie["data"]["file_name"] == images[2].original_name


def test_annotators_none_leaves_every_person_out(project, images):
    """Label Studio then credits each annotation to whoever imports the file."""
    tasks = tasks_of(project, annotators="none")
    annotations = [a for task in tasks for a in task["annotations"]]
    assert len(annotations) == 7
    assert not any("completed_by" in a for a in annotations)
    assert [a["ground_truth"] for a in tasks[1]["annotations"]] == [False, False, True]
    assert tasks[1]["meta"]["final_decided_by"] is None
    assert tasks[1]["meta"]["final_labels"] == ["dog"]


def test_final_only_gives_each_final_label_as_ground_truth_and_leaves_ties_out(project, images):
    consensus, adjudicated = tasks_of(project, annotations="final")
    assert by_email(consensus) == [(None, ["cat"], True)]  # nobody decided it
    assert by_email(adjudicated) == [("lead@example.org", ["dog"], True)]


def test_gold_and_confirmed_machine_labels_are_ground_truth_imported_ones_are_not(
    project, make_images, lead
):
    """A person decided or confirmed gold and machine labels; an imported final label
    (by whoever imported it) is in meta only."""
    images = make_images(project, 3)
    for image, method in zip(images, ["gold", "machine", "imported"], strict=True):
        finalise(image, ["cat"], method=method, decided_by=lead)
    tasks = tasks_of(project)
    assert [by_email(task) for task in tasks] == [
        [("lead@labeler.invalid", ["cat"], True)],
        [("lead@labeler.invalid", ["cat"], True)],
        [],
    ]
    assert tasks[2]["meta"]["final_method"] == "imported"


@pytest.mark.parametrize(
    ("username", "email", "expected"),
    [
        ("alice", "Alice@Example.org", "alice@example.org"),  # as Label Studio signs it up
        ("alice", " ", "alice@labeler.invalid"),
        ("a.b+c-d_e", "", "a.b+c-d_e@labeler.invalid"),
        ("josé", "", "user=7@labeler.invalid"),  # Label Studio takes ASCII local parts only
        ("me@home", "", "user=7@labeler.invalid"),
        (".dot", "", "user=7@labeler.invalid"),
        ("a..b", "", "user=7@labeler.invalid"),
        ("x" * 65, "", "user=7@labeler.invalid"),
    ],
)
def test_a_person_without_an_email_gets_a_placeholder_label_studio_takes(username, email, expected):
    assert person_email(user_id=7, username=username, email=email) == expected


def test_signed_links_name_the_image_the_lead_and_the_origin(project, images, lead):
    (task, *_) = tasks_of(project, label_studio_origin="HTTPS://LS.Example.org:443/")
    url = task["data"]["image"]
    prefix = f"http://testserver/export-files/{project.pk}/{images[0].pk}/"
    assert url.startswith(prefix)
    link = export_link_read(url.removeprefix(prefix), project_id=project.pk, image_id=images[0].pk)
    assert link is not None
    assert (link.user_id, link.origin) == (lead.pk, "https://ls.example.org")
    assert 7 * 86_400 - 60 < link.remaining() <= 7 * 86_400
    (short, *_) = tasks_of(project, link_expiry_days=2)
    again = export_link_read(
        short["data"]["image"].removeprefix(prefix), project_id=project.pk, image_id=images[0].pk
    )
    assert again is not None and again.remaining() <= 2 * 86_400 and again.origin == ""


def test_predictions_stay_as_they_were(project, images):
    assert all(task["predictions"] == [] for task in tasks_of(project, predictions=True))
    assert all("predictions" not in task for task in tasks_of(project))


# The zip for Label Studio's local files storage.

NAMES = ["été photo.png", "ÉTÉ PHOTO.png", "dir/été photo.png", "a+b & c #1%.png", "CON.png"]


@pytest.fixture
def named(project):
    """Images whose names hold Unicode, spaces, reserved characters, and clash."""
    files = [SimpleUploadedFile(name, image_bytes(seed=seed)) for seed, name in enumerate(NAMES, 1)]
    results = flows.images_ingest(project=project, files=files)
    return list(Image.objects.filter(pk__in=[r.image_id for r in results]).order_by("pk"))


def test_the_zip_holds_images_tasks_and_a_readme_in_one_local_files_folder(
    project, named, annotator
):
    annotate(named[0], annotator, ["cat"])
    data = export_bytes(project, format="label-studio-zip")
    folder = f"labeler-pets-{project.pk}"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.namelist()
        tasks = json.loads(archive.read(f"{folder}/tasks.json"))
        readme = archive.read(f"{folder}/README.md").decode()
        stored = {name: archive.read(name) for name in members if "/images/" in name}
    ids = [image.pk for image in named]
    expected = [
        "été photo.png",
        f"ÉTÉ PHOTO-{ids[1]}.png",  # the same name but for case: on macOS, the same file
        f"été photo-{ids[2]}.png",
        "a+b & c #1%.png",
        "CON_.png",
    ]
    assert members == [
        *(f"{folder}/images/{name}" for name in expected),
        f"{folder}/tasks.json",
        f"{folder}/README.md",
    ]
    for task, name, image in zip(tasks, expected, named, strict=True):
        url = task["data"]["image"]
        assert url.startswith("/data/local-files/?d=") and " " not in url and "+" not in url
        assert unquote(url.removeprefix("/data/local-files/?d=")) == f"{folder}/images/{name}"
        with image.file.open("rb") as original:
            assert stored[f"{folder}/images/{name}"] == original.read()
    assert tasks[0]["annotations"][0]["completed_by"] == {"email": "ann1@labeler.invalid"}
    assert tasks[0]["data"]["file_name"] == "été photo.png"
    assert "LOCAL_FILES_SERVING_ENABLED=true" in readme and f"{folder}/images" in readme
    assert '<Choice value="cat"/>' in readme and 'choice="single"' in readme


def test_exporting_again_gives_every_image_the_same_name(project, named):
    first = zipfile.ZipFile(io.BytesIO(export_bytes(project, format="label-studio-zip")))
    again = zipfile.ZipFile(io.BytesIO(export_bytes(project, format="label-studio-zip")))
    assert first.namelist() == again.namelist()


@pytest.mark.parametrize(
    ("original", "stem"),
    [
        ("photo.JPG", "photo"),
        ("../../etc/passwd", "passwd"),
        ("C:\\x\\évil name?.jpeg", "évil name_"),
        ("a.b.c.png", "a.b.c"),
        (".hidden", "hidden"),
        ("  .. ", "image"),
        ("e\u0301te\u0301.png", "été"),  # NFC, as typed on macOS
        ("nul.png", "nul_"),
        ("tab\there.png", "tab_here"),
        ("é" * 150 + ".png", "é" * 100),  # 200 bytes of UTF-8
    ],
)
def test_a_local_file_name_keeps_the_original_safely(original, stem):
    assert local_file_stem(original) == stem


def test_an_annotator_who_left_is_still_named(project, make_images, annotator, lead):
    """Their annotations stay theirs after their membership ends."""
    (image,) = make_images(project, 1)
    annotate(image, annotator, ["cat"])
    project.memberships.filter(user=annotator).delete()
    outsider = UserFactory(username="new-lead", email="new@example.org")
    add_member(project, outsider, Role.LEAD)
    (task,) = tasks_of(project)
    assert by_email(task) == [("ann1@labeler.invalid", ["cat"], False)]
