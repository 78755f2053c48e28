"""Labels moved between a real Label Studio and labeler, both ways, person by person.

From Label Studio: three annotators and a lead label a dozen images there (uploaded,
so Label Studio renames them, or served from local files), disagreeing on purpose, one
annotation cancelled, one marked ground truth; the team exports and imports the export
with a zip of the original files. Every annotation must reach the member with the same
e-mail (the stranger an inactive account of their own), with its dates and lead time;
ties stay for review, the ground truth is gold, and the report counts what came in and
what went out, listing the cancelled annotation. Its CSV export carries the people and
lead times but not the cancelled annotation nor the ground truth; its quick export names
people by its own ids only, so the lead chooses their accounts after a dry run.

And back: a labeler project's annotations and decisions exported for Label Studio (images
at signed links read from Label Studio's origin, or in a zip it serves as local files),
imported there (every annotation its person's, every decision the lead's ground truth),
exported from there and imported into a fresh project: the same people with the same
time spent, the same decisions by the same person, the ties still undecided.
"""

from __future__ import annotations

import io
import json
import posixpath
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from labeler.agreement.review import review_queue
from labeler.annotations.models import Annotation, FinalLabel, FinalLabelMethod
from labeler.images.models import Image
from labeler.imports.reading.matching import label_studio_upload_name
from labeler.projects.models import Label, Project, Role
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, image_bytes
from tests.label_studio.client import LabelStudio, LabelStudioUser, choices_of
from tests.labeler.imports.label_studio_team import (
    ADJUDICATED,
    GIVEN,
    GOLD,
    UNDECIDED,
    by_email,
    consensus,
    decisions,
    labelled_project,
    new_project,
    team,
    time_spent,
)
from tests.labeler.imports.label_studio_team import (
    originals_zip as team_zip,
)

pytestmark = [pytest.mark.label_studio, pytest.mark.slow, pytest.mark.django_db]

LABELS = ["cat", "dog", "bird"]
CANCELLED = "cancelled"  # an annotation skipped in Label Studio


@dataclass(frozen=True)
class Photo:
    """An image of the Label Studio project: its original name, how it got there, what
    each person gave it (``CANCELLED`` for a skip) and the lead's ground truth."""

    name: str
    local: bool  # served from local files rather than uploaded
    given: dict[str, str]
    ground_truth: str = ""


# anna and ben are members of the labeler project (by e-mail), cora is not.
PHOTOS = [
    Photo("holiday photo 4.jpg", False, {"anna": "cat", "ben": "cat", "cora": "cat"}),
    Photo("Été-5.png", False, {"anna": "dog", "ben": "dog", "cora": "cat"}),
    Photo("john's (2).jpg", False, {"anna": "cat", "ben": "dog"}),  # a tie
    Photo("a+b&c #1.png", False, {"anna": "bird", "ben": "bird"}),
    Photo("IMG 0001.PNG", False, {"anna": "cat", "ben": "dog", "cora": CANCELLED}),  # tie
    Photo("photo.final.v2.png", False, {"anna": "dog", "ben": "cat", "cora": "dog"}),
    Photo("ünïcödé name.png", False, {"anna": "cat", "cora": "cat"}),
    Photo("gt target.png", False, {"anna": "cat", "ben": "dog"}, ground_truth="dog"),
    Photo("plain.png", False, {"ben": "bird", "cora": "bird"}),
    Photo("Été 6.png", True, {"anna": "dog", "ben": "dog"}),
    Photo("local cat.png", True, {"anna": "cat", "ben": "cat", "cora": "dog"}),
    Photo("space & more.png", True, {"ben": "cat", "cora": "dog"}),  # a tie
]
TIES = {"john's (2).jpg", "IMG 0001.PNG", "space & more.png"}


def photo_bytes(photo: Photo, seed: int) -> bytes:
    return image_bytes("JPEG" if photo.name.endswith(".jpg") else "PNG", seed=seed)


def lead_time(photo_index: int, person: str) -> float:
    """A distinct lead time (seconds, with a fraction) for each annotation."""
    return round(2.25 + photo_index + ["anna", "ben", "cora", "lead"].index(person) * 0.5, 3)


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def names(record: Any) -> list[str]:
    return sorted(record.labels.values_list("name", flat=True))


@pytest.fixture
def ls_people(
    label_studio: LabelStudio, request: pytest.FixtureRequest
) -> dict[str, LabelStudioUser]:
    """The lead and three annotators in Label Studio, with e-mails of this test's own."""
    tag = request.node.name.removeprefix("test_")[:50].replace("_", "-")
    return {
        who: label_studio.user_add(f"{who}.{tag}@example.org")
        for who in ("lead", "anna", "ben", "cora")
    }


def labeler_project(
    ls_people: dict[str, LabelStudioUser], *, members: tuple[str, ...], suffix: str = "here"
) -> tuple[Project, dict[str, Any]]:
    """A labeler project with these people as members, e-mails as in Label Studio (case
    aside, and confirmed: imports match only confirmed addresses) and usernames of their
    own (``anna-here``)."""
    project: Project = ProjectFactory.create(name="From Label Studio", overlap=2)
    for position, name in enumerate(LABELS):
        Label.objects.get_or_create(project=project, name=name, defaults={"position": position})
    users = {}
    for who in members:
        user = UserFactory(
            username=f"{who}-{suffix}", email=ls_people[who].email.upper(), email_verified=True
        )
        add_member(project, user, Role.LEAD if who == "lead" else Role.ANNOTATOR)
        users[who] = user
    return project, users


def ls_project_labelled(
    label_studio: LabelStudio, people: dict[str, LabelStudioUser], tag: str
) -> int:
    """The Label Studio project of ``PHOTOS``, labelled by its people."""
    project = label_studio.project_create(f"Pets {tag}", LABELS)
    uploads = {p.name: photo_bytes(p, seed=n) for n, p in enumerate(PHOTOS) if not p.local}
    label_studio.files_upload(project, uploads)
    folder = label_studio.files_root / tag / "photos"
    folder.mkdir(parents=True)
    local = []
    for n, photo in enumerate(PHOTOS):
        if photo.local:
            (folder / photo.name).write_bytes(photo_bytes(photo, seed=n))
            local.append({"image": f"/data/local-files/?d={quote(f'{tag}/photos/{photo.name}')}"})
    label_studio.local_storage_add(project, folder)
    label_studio.tasks_import(project, local)

    tasks = label_studio.tasks(project)
    assert len(tasks) == len(PHOTOS)
    for task in tasks:
        photo_index = next(n for n, p in enumerate(PHOTOS) if _task_shows(task, p))
        photo = PHOTOS[photo_index]
        for who, label in photo.given.items():
            label_studio.annotate(
                task["id"],
                [label],
                user=people[who],
                lead_time=lead_time(photo_index, who),
                cancelled=label == CANCELLED,
            )
        if photo.ground_truth:
            made = label_studio.annotate(
                task["id"],
                [photo.ground_truth],
                user=people["lead"],
                lead_time=lead_time(photo_index, "lead"),
            )
            label_studio.ground_truth_mark(made["id"])
    return project


def _task_shows(task: dict[str, Any], photo: Photo) -> bool:
    """Whether a task's image is the photo's file: Label Studio renamed the uploads."""
    image = task["data"]["image"]
    if photo.local:
        return image.endswith(quote(f"/photos/{photo.name}"))
    return image.endswith("-" + quote(label_studio_upload_name(photo.name)))


def originals_zip() -> bytes:
    """The team's original files, as they had them before Label Studio: the uploads at
    the top, the local files in photos/."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n, photo in enumerate(PHOTOS):
            archive.writestr(
                ("photos/" if photo.local else "") + photo.name, photo_bytes(photo, seed=n)
            )
    return buffer.getvalue()


def archive_import(
    project: Project,
    lead: Any,
    labels_file: bytes,
    labels_format: str,
    django_capture_on_commit_callbacks: Any,
    **fields: str,
) -> dict[str, Any]:
    """``POST /imports/archive/`` as the lead; the refresh that follows runs too."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(lead).post(
            f"/api/v1/projects/{project.pk}/imports/archive/",
            {
                "archive": SimpleUploadedFile("originals.zip", originals_zip()),
                "labels_file": SimpleUploadedFile("export", labels_file),
                "labels_format": labels_format,
                **fields,
            },
            format="multipart",
        )
    assert response.status_code == (200 if fields.get("dry_run") else 201), response.content
    return response.json()


def credited(project: Project) -> dict[tuple[str, str], list[str]]:
    """``{(original name, username): labels}`` of the project's annotations."""
    return {
        (a.image.original_name, a.annotator.username): names(a)
        for a in Annotation.objects.filter(project=project).select_related("image", "annotator")
    }


def test_from_label_studio_every_annotation_goes_to_its_person(
    label_studio: LabelStudio,
    ls_people: dict[str, LabelStudioUser],
    django_capture_on_commit_callbacks: Any,
):
    ls_project = ls_project_labelled(label_studio, ls_people, "from-ls")
    exported = label_studio.export(ls_project)
    project, users = labeler_project(ls_people, members=("lead", "anna", "ben"))

    answer = archive_import(
        project, users["lead"], exported, "label-studio", django_capture_on_commit_callbacks
    )

    people = {p["shown"]: p for p in answer["people"]}
    cora = people[ls_people["cora"].email]
    assert cora["how"] == "new"
    account = {"anna": "anna-here", "ben": "ben-here", "cora": cora["account"], "lead": "lead-here"}
    for who in ("anna", "ben"):
        assert (people[ls_people[who].email]["how"], people[ls_people[who].email]["account"]) == (
            "email",
            account[who],
        )
    stranger = User.objects.get(username=cora["account"])
    assert not stranger.is_active and not stranger.has_usable_password()

    expected = {
        (photo.name, account[who]): [label]
        for photo in PHOTOS
        for who, label in photo.given.items()
        if label != CANCELLED
    }
    assert credited(project) == expected

    # Dates and lead times as Label Studio recorded them.
    ls_annotations = {
        (photo.name, who): annotation
        for task in json.loads(exported)
        for annotation in task["annotations"]
        for photo in PHOTOS
        if _task_shows(task, photo)
        for who, person in ls_people.items()
        if annotation["completed_by"]["email"] == person.email
    }
    for annotation in Annotation.objects.filter(project=project).select_related(
        "image", "annotator"
    ):
        who = next(w for w, name in account.items() if name == annotation.annotator.username)
        source = ls_annotations[(annotation.image.original_name, who)]
        assert annotation.created_at == parse(source["created_at"])
        assert annotation.updated_at == parse(source["updated_at"])
        assert annotation.time_spent_ms == round(source["lead_time"] * 1000)

    gold = FinalLabel.objects.get(image__project=project, image__original_name="gt target.png")
    assert (gold.method, names(gold), gold.decided_by) == (
        FinalLabelMethod.GOLD,
        ["dog"],
        users["lead"],
    )
    tied = set(
        Image.objects.filter(
            pk__in=[e.image_id for e in review_queue(project, reason="tie")]
        ).values_list("original_name", flat=True)
    )
    assert tied == TIES
    assert not FinalLabel.objects.filter(image__project=project, image__original_name__in=TIES)

    annotations = sum(1 for p in PHOTOS for label in p.given.values() if label != CANCELLED)
    counts = answer["counts"]
    assert counts["in"] == {
        "files": len(PHOTOS),
        "records": len(PHOTOS),
        "annotations": annotations,
        "decisions": 1,
        "labels": annotations + 1,
    }
    out = counts["out"]
    assert (out["images_created"], out["annotations_written"], out["decisions_written"]) == (
        len(PHOTOS),
        annotations,
        1,
    )
    # Every annotation that came in went out; the one cancelled is listed.
    assert out["annotations"] == counts["in"]["annotations"]
    assert out["not_applied"] == len(answer["not_applied"]) == 1
    (cancelled,) = answer["not_applied"]
    tasks = json.loads(exported)
    task = next(n for n, t in enumerate(tasks, start=1) if _task_shows(t, PHOTOS[4]))
    skipped = next(
        n
        for n, a in enumerate(tasks[task - 1]["annotations"], start=1)
        if a["completed_by"]["email"] == ls_people["cora"].email
    )
    assert cancelled["record"] == f"Task {task}: annotation {skipped}"
    assert "cancelled in Label Studio" in cancelled["reason"]


def test_from_label_studio_csv_and_the_quick_export(
    label_studio: LabelStudio,
    ls_people: dict[str, LabelStudioUser],
    django_capture_on_commit_callbacks: Any,
):
    """The CSV export names people by e-mail too, but holds neither the cancelled
    annotation nor the ground truth (the lead's is one more annotation); the quick export
    names them by Label Studio's id only, so the lead chooses whose each one is."""
    ls_project = ls_project_labelled(label_studio, ls_people, "csv-quick")
    given = {
        (photo.name, who): label
        for photo in PHOTOS
        for who, label in photo.given.items()
        if label != CANCELLED
    }

    project, users = labeler_project(ls_people, members=("lead", "anna", "ben", "cora"))
    csv_file = label_studio.export(ls_project, "CSV")
    answer = archive_import(
        project, users["lead"], csv_file, "label-studio-csv", django_capture_on_commit_callbacks
    )
    assert {p["how"] for p in answer["people"]} == {"email"}
    lead_given = {("gt target.png", "lead"): "dog"}  # the ground truth, as an annotation
    assert credited(project) == {
        (name, f"{who}-here"): [label] for (name, who), label in {**given, **lead_given}.items()
    }
    assert not FinalLabel.objects.filter(image__project=project, method="gold").exists()
    index = {photo.name: n for n, photo in enumerate(PHOTOS)}
    spent = {
        (a.image.original_name, a.annotator.username.removesuffix("-here")): a.time_spent_ms
        for a in Annotation.objects.filter(project=project).select_related("image", "annotator")
    }
    assert spent == {(name, who): round(lead_time(index[name], who) * 1000) for name, who in spent}
    assert len(spent) == len(given) + 1

    quick = label_studio.export(ls_project, emails=False)
    ids = {who: f"ls:{person.id}" for who, person in ls_people.items()}
    other, others = labeler_project(ls_people, members=("lead", "anna", "ben"), suffix="other")
    preview = archive_import(
        other,
        others["lead"],
        quick,
        "label-studio",
        django_capture_on_commit_callbacks,
        dry_run="true",
    )
    assert {p["key"]: p["how"] for p in preview["people"]} == dict.fromkeys(ids.values(), "new")
    assert not Annotation.objects.filter(project=other).exists()
    chosen = {ids["anna"]: "anna-other", ids["ben"]: "ben-other", ids["lead"]: "lead-other"}
    answer = archive_import(
        other,
        others["lead"],
        quick,
        "label-studio",
        django_capture_on_commit_callbacks,
        annotators=json.dumps(chosen),
    )
    hows = {p["key"]: (p["how"], p["account"]) for p in answer["people"]}
    assert hows == {
        **{key: ("chosen", account) for key, account in chosen.items()},
        ids["cora"]: ("new", hows[ids["cora"]][1]),
    }
    account = {"anna": "anna-other", "ben": "ben-other", "cora": hows[ids["cora"]][1]}
    assert credited(other) == {
        (name, account[who]): [label] for (name, who), label in given.items()
    }
    gold = FinalLabel.objects.get(image__project=other, image__original_name="gt target.png")
    assert (gold.method, gold.decided_by) == (FinalLabelMethod.GOLD, others["lead"])


@pytest.fixture(scope="session")
def ls_team(label_studio: LabelStudio) -> dict[str, LabelStudioUser]:
    """The team of ``labelled_project`` in Label Studio: the same e-mails (signed up
    there, so lower case)."""
    return {
        who: label_studio.user_add(f"{who}@example.org") for who in ("lead", "anna", "ben", "cora")
    }


def labeler_export(project: Project, lead: Any, **options: str) -> bytes:
    response = client_for(lead).get(f"/api/v1/projects/{project.pk}/export/", options)
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def ls_given(label_studio: LabelStudio, ls_project: int) -> dict[tuple[str, str, bool], list[str]]:
    """``{(file name, e-mail, ground truth): choices}`` of a Label Studio project's tasks."""
    emails = label_studio.users()
    return {
        (task["data"]["file_name"], emails[a["completed_by"]], a["ground_truth"]): choices_of(a)
        for task in label_studio.tasks(ls_project)
        for a in task["annotations"]
    }


def team_given() -> dict[tuple[str, str, bool], list[str]]:
    """What ``ls_given`` should find: every annotation, then each person's decision as
    the lead's ground truth."""
    given = {
        (name, f"{who}@example.org", False): [label]
        for name, by in GIVEN.items()
        for who, label in by.items()
    }
    for name, label in {**ADJUDICATED, **GOLD}.items():
        given[(name, "lead@example.org", True)] = [label]
    return given


def back_from_label_studio(
    label_studio: LabelStudio, ls_project: int, archive: bytes, capture: Any
) -> tuple[Project, dict[str, Any]]:
    """Label Studio's export imported into a fresh project of the same team, by a lead
    who decided nothing there."""
    fresh = new_project("Pets back")
    again = team(fresh, tag="back", importer=True, confirmed=True)
    exported = label_studio.export(ls_project)
    with capture(execute=True):
        response = client_for(again["importer"]).post(
            f"/api/v1/projects/{fresh.pk}/imports/archive/",
            {
                "archive": SimpleUploadedFile("images.zip", archive),
                "labels_file": SimpleUploadedFile("export.json", exported),
                "labels_format": "label-studio",
            },
            format="multipart",
        )
    assert response.status_code == 201, response.content
    return fresh, response.json()


def assert_same_people_and_decisions(project: Project, fresh: Project, *, zipped: bool) -> None:
    """Every annotation its person's (by e-mail) with its time spent, every decision kept
    with its decider, the undecided ties waiting for review, the same consensus. The
    label-studio-zip names each file with its format's extension (``IMG 0001.png``)."""
    name = zip_name if zipped else str

    def renamed(found: dict[Any, Any]) -> dict[Any, Any]:
        return {
            (name(key[0]), *key[1:]) if isinstance(key, tuple) else name(key): value
            for key, value in found.items()
        }

    assert by_email(fresh) == renamed(by_email(project))
    assert time_spent(fresh) == renamed(time_spent(project))  # Label Studio keeps lead_time
    assert decisions(fresh) == renamed(decisions(project))
    assert set(decisions(project)) == set(ADJUDICATED) | set(GOLD)
    undecided = {name(n) for n in UNDECIDED}
    assert not FinalLabel.objects.filter(image__project=fresh, image__original_name__in=undecided)
    tied = Image.objects.filter(pk__in=[e.image_id for e in review_queue(fresh, reason="tie")])
    assert set(tied.values_list("original_name", flat=True)) == undecided
    assert consensus(fresh) == renamed(consensus(project))


def zip_name(name: str) -> str:
    """A file's name in the label-studio-zip: its format's extension, in lower case."""
    stem, extension = posixpath.splitext(name)
    return stem + {".jpeg": ".jpg"}.get(extension.lower(), extension.lower())


def test_to_label_studio_with_signed_links_and_back(
    label_studio: LabelStudio,
    ls_team: dict[str, LabelStudioUser],
    django_capture_on_commit_callbacks: Any,
    media_root: Any,
):
    project, users = labelled_project()
    exported = labeler_export(
        project, users["lead"], format="label-studio", label_studio_origin=label_studio.url
    )
    ls_project = label_studio.project_create("Pets signed", ["cat", "dog"])
    answer = label_studio.tasks_import(ls_project, exported)
    assert answer["task_count"] == len(GIVEN)

    assert ls_given(label_studio, ls_project) == team_given()
    browser = Client()
    for task in label_studio.tasks(ls_project):
        url = urlsplit(task["data"]["image"])
        assert url.path.startswith("/export-files/")
        image = browser.get(url.path, HTTP_ORIGIN=label_studio.url)
        assert image.status_code == 200, image.content
        assert image["Access-Control-Allow-Origin"] == label_studio.url
        served = b"".join(image.streaming_content)  # type: ignore[attr-defined]
        assert served.startswith((b"\x89PNG", b"\xff\xd8\xff"))
        elsewhere = browser.get(url.path, HTTP_ORIGIN="https://elsewhere.example.org")
        assert "Access-Control-Allow-Origin" not in elsewhere

    fresh, report = back_from_label_studio(
        label_studio, ls_project, team_zip(), django_capture_on_commit_callbacks
    )
    assert_same_people_and_decisions(project, fresh, zipped=False)
    assert {p["how"] for p in report["people"]} == {"email"}


def test_to_label_studio_as_local_files_and_back(
    label_studio: LabelStudio,
    ls_team: dict[str, LabelStudioUser],
    django_capture_on_commit_callbacks: Any,
    media_root: Any,
):
    project, users = labelled_project()
    exported = labeler_export(project, users["lead"], format="label-studio-zip")
    with zipfile.ZipFile(io.BytesIO(exported)) as archive:
        archive.extractall(label_studio.files_root)
        (folder,) = {name.split("/")[0] for name in archive.namelist()}
        tasks = archive.read(f"{folder}/tasks.json")
    ls_project = label_studio.project_create("Pets local", ["cat", "dog"])
    label_studio.local_storage_add(ls_project, label_studio.files_root / folder / "images")
    assert label_studio.tasks_import(ls_project, tasks)["task_count"] == len(GIVEN)

    assert ls_given(label_studio, ls_project) == team_given()
    for task in label_studio.tasks(ls_project):
        image = label_studio.call("GET", task["data"]["image"], raw=True)
        assert image.headers["Content-Type"].startswith("image/")
        name = unquote(task["data"]["image"].split("?d=", 1)[1])
        assert image.content == (label_studio.files_root / name).read_bytes()

    fresh, report = back_from_label_studio(
        label_studio, ls_project, exported, django_capture_on_commit_callbacks
    )
    assert_same_people_and_decisions(project, fresh, zipped=True)
    # The zip's tasks and README are reported, not imported.
    rejected = {
        r["name"].rsplit("/", 1)[-1] for r in report["results"] if r["status"] == "rejected"
    }
    assert rejected == {"tasks.json", "README.md"}
