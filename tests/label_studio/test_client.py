"""The Label Studio the round trips run against: people, uploads, annotations, exports.

These pin what the round trips rely on of Label Studio itself: an uploaded file is renamed
(an 8-hex prefix, spaces to underscores, other punctuation dropped), each person's
annotation is theirs, and only the snapshot export names people by e-mail.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
import requests

from tests.factories import image_bytes
from tests.label_studio.client import LabelStudio, choices_of
from tests.label_studio.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = [pytest.mark.label_studio, pytest.mark.slow]


def test_uploads_are_renamed_and_annotations_are_each_persons(label_studio: LabelStudio):
    ann = label_studio.user_add("Client.Ann@example.org")
    project = label_studio.project_create("Client check", ["cat", "dog"])
    label_studio.files_upload(
        project, {"holiday photo 4.png": image_bytes(seed=1), "Été-5.png": image_bytes(seed=2)}
    )
    tasks = label_studio.tasks(project)
    names = sorted(task["data"]["image"].rsplit("/", 1)[1][9:] for task in tasks)
    assert names == ["%C3%89t%C3%A9-5.png", "holiday_photo_4.png"]

    label_studio.annotate(tasks[0]["id"], ["cat"], user=ann, lead_time=4.5)
    label_studio.annotate(tasks[1]["id"], [], user=ann, cancelled=True)
    (annotation,) = label_studio.tasks(project)[0]["annotations"]
    assert annotation["completed_by"] == ann.id and choices_of(annotation) == ["cat"]

    exported = json.loads(label_studio.export(project))
    by_email = [a["completed_by"] for task in exported for a in task["annotations"]]
    assert {person["email"] for person in by_email} == {"client.ann@example.org"}  # lowered
    quick = json.loads(label_studio.export(project, emails=False))
    assert {a["completed_by"] for task in quick for a in task["annotations"]} == {ann.id}

    rows = list(csv.DictReader(io.StringIO(label_studio.export(project, "CSV").decode())))
    labelled = [row for row in rows if row["label"]]
    assert [(r["annotator"], r["label"], r["lead_time"]) for r in labelled] == [
        ("client.ann@example.org", "cat", "4.5")
    ]


def test_its_error_reporting_is_off(label_studio: LabelStudio):
    """The test server never sends error reports out of the machine: its pages name no
    reporting address (Label Studio's own default is one of Sentry's)."""
    browser = requests.Session()
    login = label_studio.url + "/user/login/"
    browser.get(login, timeout=60)
    signed_in = browser.post(
        login,
        data={
            "email": ADMIN_EMAIL,
            "password": ADMIN_PASSWORD,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
        headers={"Referer": login},
        timeout=60,
    )
    assert signed_in.status_code == 200
    page = browser.get(label_studio.url + "/projects/", timeout=60)
    assert page.status_code == 200 and "sentry_dsn:" in page.text, page.text[:300]
    assert "sentry_dsn: null" in page.text
    assert "ingest.sentry.io" not in page.text
