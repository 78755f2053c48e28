"""A project labelled by a team, whose labels travel to Label Studio and back.

Three annotators with e-mails (two per image, overlap 2) agree on some images and tie on
others; a lead adjudicates two ties and makes one image gold; two ties stay undecided.
The names are the kind Label Studio renames on upload. The round trips, with a Label
Studio server (``tests/label_studio``) and without (``test_label_studio_round_trip``),
compare what comes back with what went out through the readers below.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.agreement.final_labels import final_labels_refresh
from labeler.agreement.services import image_decide
from labeler.annotations.models import Annotation, FinalLabel, FinalLabelMethod
from labeler.images.models import Image
from labeler.projects.models import Label, Project, Role
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit, image_bytes

PEOPLE = ("anna", "ben", "cora")
# Each image's two annotators (overlap 2) and what they gave it.
GIVEN: dict[str, dict[str, str]] = {
    "holiday photo 4.jpg": {"anna": "cat", "ben": "cat"},
    "Été-5.png": {"ben": "dog", "cora": "dog"},
    "john's (2).jpg": {"anna": "cat", "cora": "dog"},  # a tie, adjudicated
    "a+b&c #1.png": {"anna": "dog", "ben": "cat"},  # a tie, adjudicated
    "IMG 0001.PNG": {"ben": "cat", "cora": "dog"},  # a tie, left undecided
    "photo.final.v2.png": {"anna": "dog", "cora": "cat"},  # a tie, left undecided
    "plain.png": {"anna": "cat", "ben": "cat"},
    "gold one.png": {"ben": "dog", "cora": "dog"},  # made gold as cat by the lead
}
ADJUDICATED = {"john's (2).jpg": "dog", "a+b&c #1.png": "cat"}
GOLD = {"gold one.png": "cat"}
UNDECIDED = {"IMG 0001.PNG", "photo.final.v2.png"}


def file_bytes(name: str) -> bytes:
    seed = sorted(GIVEN).index(name) + 1
    return image_bytes("JPEG" if name.endswith(".jpg") else "PNG", seed=seed)


def team(
    project: Project, *, tag: str, importer: bool = False, confirmed: bool = False
) -> dict[str, Any]:
    """The lead and the three annotators, e-mails as everywhere, usernames of this site;
    with ``importer``, one more lead, who imports (so that a decision carried is told
    apart from one the importing user would be credited with); ``confirmed``: their
    addresses confirmed here (what an import matches people by)."""
    users = {}
    for who in ("lead", *PEOPLE, *(["importer"] if importer else [])):
        # Django keeps an e-mail as typed; Label Studio's sign-up lowers it.
        email = "Anna@Example.org" if who == "anna" else f"{who}@example.org"
        user = UserFactory(username=f"{who}-{tag}", email=email, email_verified=confirmed)
        add_member(project, user, Role.LEAD if who in ("lead", "importer") else Role.ANNOTATOR)
        users[who] = user
    return users


def new_project(name: str) -> Project:
    project: Project = ProjectFactory.create(name=name, overlap=2)
    for position, label in enumerate(("cat", "dog")):
        Label.objects.get_or_create(project=project, name=label, defaults={"position": position})
    return project


def labelled_project() -> tuple[Project, dict[str, Any]]:
    """A project labelled by three annotators, with two adjudications and a gold image."""
    project = new_project("Pets out")
    users = team(project, tag="out")
    files = [SimpleUploadedFile(name, file_bytes(name)) for name in GIVEN]
    results = flows.images_ingest(project=project, files=files)
    ids = {
        image.original_name: image.pk
        for image in Image.objects.filter(pk__in=[r.image_id for r in results])
    }
    for minute, (name, given) in enumerate(GIVEN.items()):
        for who, label in given.items():
            annotation_submit(
                project=project,
                annotator=users[who],
                image_id=ids[name],
                labels=[label],
                time_spent_ms=1000 + minute * 10 + PEOPLE.index(who),
            )
    for decisions, method in ((ADJUDICATED, "adjudicated"), (GOLD, "gold")):
        for name, label in decisions.items():
            image_decide(
                project=project,
                image_id=ids[name],
                labels=[label],
                decided_by=users["lead"],
                method=method,
            )
    final_labels_refresh(project=project)
    return project, users


def originals_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in GIVEN:
            archive.writestr(name, file_bytes(name))
    return buffer.getvalue()


def by_email(project: Project) -> dict[tuple[str, str], list[str]]:
    """``{(original name, annotator's e-mail): labels}``."""
    return {
        (a.image.original_name, a.annotator.email.lower()): sorted(
            a.labels.values_list("name", flat=True)
        )
        for a in Annotation.objects.filter(project=project).select_related("image", "annotator")
    }


def decisions(project: Project) -> dict[str, tuple[str, list[str], str]]:
    """``{original name: (method, labels, decider's e-mail)}`` of people's decisions."""
    return {
        f.image.original_name: (
            f.method,
            sorted(f.labels.values_list("name", flat=True)),
            f.decided_by.email.lower() if f.decided_by else "",
        )
        for f in FinalLabel.objects.filter(
            image__project=project, method__in=[FinalLabelMethod.ADJUDICATED, FinalLabelMethod.GOLD]
        ).select_related("image", "decided_by")
    }


def consensus(project: Project) -> dict[str, list[str]]:
    return {
        f.image.original_name: sorted(f.labels.values_list("name", flat=True))
        for f in FinalLabel.objects.filter(
            image__project=project, method=FinalLabelMethod.CONSENSUS
        ).select_related("image")
    }


def time_spent(project: Project) -> dict[tuple[str, str], int | None]:
    return {
        (a.image.original_name, a.annotator.email.lower()): a.time_spent_ms
        for a in Annotation.objects.filter(project=project).select_related("image", "annotator")
    }
