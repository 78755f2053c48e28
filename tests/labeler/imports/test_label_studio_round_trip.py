"""A project's labels out to Label Studio and back, without a Label Studio server.

Our label-studio export is changed as a Label Studio server changes it on the way through
(an import, then its snapshot export): ``completed_by`` becomes the object it writes, with
its own user ids beside the e-mails; annotations get its ids, ``was_cancelled`` and the
dates of its import (ours are not kept there); task ids are its own; and the images are
its uploads, renamed as it renames them (``1a2b3c4d-holiday_photo_4.jpg``). Imported into
a fresh project whose members have the same e-mails (other usernames), every annotation
must be its person's again and every decision kept: adjudications and gold with their
labels and their decider, ties undecided and waiting for review.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler.agreement.review import review_queue
from labeler.annotations.models import FinalLabel
from labeler.images.models import Image
from labeler.imports.reading.matching import label_studio_upload_name
from tests.conftest import client_for
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
    originals_zip,
    team,
    time_spent,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def labelled(media_root):
    return labelled_project()


def through_label_studio(tasks: list[dict[str, Any]], emails: list[str]) -> list[dict[str, Any]]:
    """What Label Studio's snapshot export gives back after importing these tasks, the
    images uploaded there, its people signed up with these e-mails (which its sign-up
    lowers, and its import looks up exactly as written: another is refused)."""
    ls_ids = {email.lower(): n for n, email in enumerate(sorted(emails), start=2)}
    back = []
    annotation_id = 0
    for number, task in enumerate(tasks, start=1):
        name = task["data"]["file_name"]
        prefix = hashlib.sha256(name.encode()).hexdigest()[:8]
        annotations = []
        for annotation in task["annotations"]:
            annotation_id += 1
            email = annotation["completed_by"]["email"]  # every one is someone's here
            assert email in ls_ids, f"Label Studio refuses the import: unknown {email}"
            annotations.append(
                {
                    "id": annotation_id,
                    "completed_by": {
                        "id": ls_ids[email],
                        "email": email,
                        "first_name": "",
                        "last_name": "",
                    },
                    "result": annotation["result"],
                    "was_cancelled": False,
                    "ground_truth": annotation["ground_truth"],
                    "created_at": "2026-01-02T03:04:05.123456Z",  # the import's moment
                    "updated_at": "2026-01-02T03:04:05.123456Z",
                    "lead_time": annotation.get("lead_time"),
                    "task": 100 + number,
                    "project": 7,
                }
            )
        data = {"image": f"/data/upload/7/{prefix}-{label_studio_upload_name(name)}"}
        back.append(
            {"id": 100 + number, "annotations": annotations, "data": data, "meta": task["meta"]}
        )
    return back


@pytest.mark.slow
def test_to_label_studio_and_back_every_label_stays_its_persons(
    labelled, django_capture_on_commit_callbacks
):
    project, users = labelled
    response = client_for(users["lead"]).get(
        f"/api/v1/projects/{project.pk}/export/", {"format": "label-studio", "image_urls": "api"}
    )
    assert response.status_code == 200, response.content
    exported = json.loads(b"".join(response.streaming_content))  # type: ignore[attr-defined]
    back = through_label_studio(exported, [u.email.lower() for u in users.values()])

    fresh = new_project("Pets back")
    again = team(fresh, tag="back", importer=True, confirmed=True)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client_for(again["importer"]).post(
            f"/api/v1/projects/{fresh.pk}/imports/archive/",
            {
                "archive": SimpleUploadedFile("originals.zip", originals_zip()),
                "labels_file": SimpleUploadedFile("export.json", json.dumps(back).encode()),
                "labels_format": "label-studio",
            },
            format="multipart",
        )
    assert answer.status_code == 201, answer.content
    report = answer.json()

    assert by_email(fresh) == by_email(project)
    assert {p["how"] for p in report["people"]} == {"email"}
    assert decisions(fresh) == decisions(project)
    assert set(decisions(project)) == set(ADJUDICATED) | set(GOLD)
    assert not FinalLabel.objects.filter(image__project=fresh, image__original_name__in=UNDECIDED)
    tied = Image.objects.filter(
        pk__in=[entry.image_id for entry in review_queue(fresh, reason="tie")]
    )
    assert set(tied.values_list("original_name", flat=True)) == UNDECIDED
    # The agreed images get their consensus again from the same annotations.
    assert (
        consensus(fresh)
        == consensus(project)
        == {
            "holiday photo 4.jpg": ["cat"],
            "Été-5.png": ["dog"],
            "plain.png": ["cat"],
        }
    )
    assert time_spent(fresh) == time_spent(project)
    # Only the consensus final labels are not carried: they are worked out again.
    agreed = [
        n for n, t in enumerate(exported, start=1) if t["meta"]["final_method"] == "consensus"
    ]
    assert len(agreed) == 3
    assert {(line["record"], line["reason"]) for line in report["not_applied"]} == {
        (
            f"Task {n}: meta.final_method",
            "a consensus final label is not carried: it is worked out again",
        )
        for n in agreed
    }
    counts = report["counts"]
    annotations = sum(len(given) for given in GIVEN.values())
    assert counts["in"]["annotations"] == counts["out"]["annotations"] == annotations
    assert counts["out"]["decisions"] == len(ADJUDICATED) + len(GOLD)
