"""The import page: a zip of images and its labels, checked first (the counts in, whose
account each person's labels go to, what will not apply), then imported with the lead's
choices and answered with the counts in and out and each file's fate."""

from __future__ import annotations

import re
import time
from html import unescape

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from labeler.annotations.models import Annotation
from labeler.images.models import Image
from labeler.imports import stash
from labeler.projects import addresses
from labeler.projects.models import AddressConfirmed
from tests.factories import ProjectFactory, UserFactory, add_member, image_bytes
from tests.labeler.imports.test_archive import zipped
from worker import tasks

pytestmark = pytest.mark.django_db

# ann1 is a member by username; zoe@x.org is no member; "ghost.png" is in no archive.
PEOPLE_CSV = b"file,ann1,zoe@x.org\na.png,cat,dog\nb.png,dog,\nghost.png,cat,\n"
ZOE_CSV = PEOPLE_CSV.replace(b"zoe@x.org", b"Zoe")


def client_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(project) -> str:
    return reverse("project-import", args=[project.pk])


def check(client, project, files, labels_format, labels=None, **fields):
    sent = {
        "archive": SimpleUploadedFile("set.zip", zipped(files).getvalue()),
        "labels_format": labels_format,
        "labels_as": "final",
    }
    sent.update(fields)
    if labels is not None:
        sent["labels_file"] = SimpleUploadedFile("labels.csv", labels)
    return client.post(url(project), sent)


def stash_id(response) -> str:
    found = re.search(r'name="stash" value="([^"]+)"', response.content.decode())
    assert found, response.content.decode()
    return found[1]


def choices(response) -> dict[str, str]:
    """The form's people: each hidden key's select, with the option preselected."""
    html = response.content.decode()
    keys = dict(re.findall(r'name="(person-\d+)-key" value="([^"]*)"', html))
    chosen = {}
    for name, key in keys.items():
        select = re.search(rf'<select name="{name}".*?</select>', html, re.S)
        assert select is not None
        picked = re.search(r'<option value="([^"]*)" selected>', select[0])
        chosen[key] = picked[1] if picked else ""
    return chosen


def stashed() -> list[str]:
    try:
        return default_storage.listdir(stash.STASH_FOLDER)[1]
    except FileNotFoundError:
        return []


def people_archive() -> dict[str, bytes]:
    return {"a.png": image_bytes(seed=1), "b.png": image_bytes(seed=2), "notes.txt": b"x"}


def test_the_check_shows_what_came_in_who_is_who_and_what_will_not_apply(lead, project):
    response = check(client_as(lead), project, people_archive(), "csv-annotators", PEOPLE_CSV)
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'data-counts="in"><td>3</td><td>3</td><td>4</td><td>0</td><td>4</td>', html)
    assert choices(response) == {"ann1": "ann1", "zoe@x.org": "new"}
    assert "a member, by username: ann1" in html and "a new inactive account: zoe@x.org" in html
    assert "ghost.png" in html and "No imported file matches this entry" in html
    assert "notes.txt" in html
    # Nothing is written before the import; the archive waits, and only for its owner.
    assert not Image.objects.exists() and not User.objects.filter(username="zoe@x.org").exists()
    assert len(stashed()) == 3
    kept = stash_id(response)
    assert str(lead.pk) in stashed()[0] and kept.split("-")[1] in stashed()[0]


def test_the_import_honours_the_leads_choices_and_removes_the_kept_archive(
    lead, annotator2, project
):
    client = client_as(lead)
    checked = check(client, project, people_archive(), "csv-annotators", PEOPLE_CSV)
    response = client.post(
        url(project),
        {
            "stash": stash_id(checked),
            "person-0-key": "ann1",
            "person-0": "ann1",
            "person-1-key": "zoe@x.org",
            "person-1": annotator2.username,
        },
    )
    assert response.status_code == 200, response.content.decode()
    html = response.content.decode()
    annotations = {
        (a.image.original_name, a.annotator.username)
        for a in Annotation.objects.select_related("image", "annotator")
    }
    assert annotations == {("a.png", "ann1"), ("a.png", "ann2"), ("b.png", "ann1")}
    assert re.search(r'data-key="ann1" data-how="username"', html)
    assert re.search(r'data-key="zoe@x.org" data-how="chosen"', html)
    assert '<tr data-counts="out"><th scope="row">Out</th><td>2 images (2 new)</td>' in html
    assert "ghost.png" in html and "No imported file matched this entry" in html
    assert "notes.txt" in html
    assert stashed() == []
    again = client.post(url(project), {"stash": stash_id(checked)})
    assert again.status_code == 400
    assert "no longer kept" in again.content.decode()


def test_two_people_on_one_account_are_asked_for_again_and_nothing_is_written(lead, project):
    client = client_as(lead)
    checked = check(client, project, people_archive(), "csv-annotators", PEOPLE_CSV)
    kept = stash_id(checked)
    response = client.post(
        url(project),
        {
            "stash": kept,
            "person-0-key": "ann1",
            "person-0": "ann1",
            "person-1-key": "zoe@x.org",
            "person-1": "ann1",
        },
    )
    assert response.status_code == 400
    html = unescape(response.content.decode())
    assert 'id="check-problem"' in html and "would all be 'ann1'" in html
    assert choices(response) == {"ann1": "ann1", "zoe@x.org": "ann1"}
    assert not Image.objects.exists() and not Annotation.objects.exists()
    assert stash_id(response) == kept and len(stashed()) == 3


@pytest.mark.parametrize(
    "choice, words",
    [
        ({"person-0-key": "ann1", "person-0": "outsider"}, "No active member"),
        ({"person-0-key": "nobody@x.org", "person-0": "ann1"}, "The file names no person"),
    ],
)
def test_a_choice_the_import_refuses_is_shown_with_the_check(
    lead, outsider, project, choice, words
):
    client = client_as(lead)
    kept = stash_id(check(client, project, people_archive(), "csv-annotators", PEOPLE_CSV))
    response = client.post(url(project), {"stash": kept, **choice})
    assert response.status_code == 400
    assert words in unescape(response.content.decode())
    assert stash_id(response) == kept
    assert not Image.objects.exists() and not User.objects.filter(username="zoe@x.org").exists()


def test_a_person_two_members_could_be_is_left_for_the_lead_to_choose(lead, project):
    """The file's "Zoe" could be the member "zoe" or "ZOE" (their names differ in case
    only): the page says so and leaves the choice to the lead, who confirms it (the file's
    name is the other one's too)."""
    for name in ("zoe", "ZOE"):
        add_member(project, UserFactory(username=name))
    client = client_as(lead)
    checked = check(client, project, people_archive(), "csv-annotators", ZOE_CSV)
    assert checked.status_code == 200
    html = unescape(checked.content.decode())
    named = re.search(r"'Zoe' could be any of the members ('\w+'), ('\w+') \(by username\)", html)
    assert named and {named[1], named[2]} == {"'zoe'", "'ZOE'"}
    assert choices(checked) == {"ann1": "ann1", "Zoe": ""}
    chosen = {
        "stash": stash_id(checked),
        "person-0-key": "ann1",
        "person-0": "ann1",
        "person-1-key": "Zoe",
        "person-1": "ZOE",
        "person-confirmed": "Zoe",
    }
    response = client.post(url(project), chosen)
    assert response.status_code == 200, unescape(response.content.decode())
    assert ("a.png", "ZOE") in set(
        Annotation.objects.values_list("image__original_name", "annotator__username")
    )


def test_a_flat_format_is_checked_then_imported(lead, project):
    client = client_as(lead)
    files = {"cat/a.png": image_bytes(seed=1), "dog/b.png": b"junk"}
    checked = check(client, project, files, "imagefolder")
    assert checked.status_code == 200
    assert 'id="check-people"' not in checked.content.decode()
    response = client.post(url(project), {"stash": stash_id(checked)})
    html = response.content.decode()
    assert "1 created, 0 duplicates, 1 rejected; labels: 1 applied, 1 refused" in html
    assert 'data-status="created" data-labels="applied"' in html
    assert "The file was not stored." in html
    assert "dog/b.png" in html.split('class="import-not-applied"')[1]


def test_missing_labels_are_shown_beside_the_form_and_nothing_is_kept(lead, project):
    response = check(client_as(lead), project, {"a.png": image_bytes()}, "coco")
    assert response.status_code == 400
    assert "The archive holds no .json files" in response.content.decode()
    assert not project.images.exists() and stashed() == []


def test_a_file_that_names_its_people_is_not_recorded_as_gold(lead, project):
    response = check(
        client_as(lead), project, people_archive(), "csv-annotators", PEOPLE_CSV, labels_as="gold"
    )
    assert response.status_code == 400
    assert "names each annotation&#x27;s person" in response.content.decode()
    assert stashed() == []


@pytest.mark.parametrize("kind", ["malformed", "another user's", "another project's", "old"])
def test_a_kept_archive_opens_only_for_its_owner_in_its_project_within_the_hour(
    lead, project, kind, monkeypatch
):
    client = client_as(lead)
    kept = stash_id(check(client, project, people_archive(), "csv-annotators", PEOPLE_CSV))
    target = project
    if kind == "malformed":
        kept = "../../etc/passwd"
    elif kind == "another user's":
        client = client_as(UserFactory(username="lead2"))
        add_member(project, User.objects.get(username="lead2"), "lead")
    elif kind == "another project's":
        target = ProjectFactory(name="Other")
        add_member(target, lead, "lead")
    else:
        monkeypatch.setattr(time, "time", lambda: float(kept.split("-")[0]) + 3601)
    response = client.post(url(target), {"stash": kept})
    assert response.status_code == 400
    assert re.search(r"no longer kept|Not an id", response.content.decode())
    assert not Image.objects.exists()


def test_archives_kept_over_an_hour_are_purged(lead, project, settings, monkeypatch):
    client = client_as(lead)
    kept = stash_id(check(client, project, people_archive(), "csv-annotators", PEOPLE_CSV))
    made = int(kept.split("-")[0])
    assert stash.stash_purge(now=made + 3000) == 0 and len(stashed()) == 3
    monkeypatch.setattr(time, "time", lambda: made + 3601.0)
    assert tasks.import_stashes_purge() == 3 and stashed() == []
    schedule = settings.CELERY_BEAT_SCHEDULE["purge-import-stashes"]
    assert schedule["task"] == tasks.import_stashes_purge.name
    assert schedule["schedule"] <= stash.STASH_SECONDS / 2


def test_only_leads_open_it(annotator, lead, project):
    assert client_as(annotator).get(url(project)).status_code == 403
    assert client_as(annotator).post(url(project), {"stash": "1-x"}).status_code == 403
    assert client_as(lead).get(url(project)).status_code == 200
    detail = client_as(lead).get(reverse("project-detail", args=[project.pk])).content.decode()
    assert f'href="{url(project)}"' in detail


def test_a_choice_that_contradicts_the_file_is_confirmed_by_a_tick_first(lead, annotator2, project):
    """zoe@x.org given to ann2, whose e-mail is another: the import asks again, saying
    so beside her with a box to tick, and writes nothing; ticked, it imports."""
    annotator2.email = "ann2@x.org"
    annotator2.save()
    addresses.email_mark_verified(user=annotator2, how=AddressConfirmed.ADMIN)
    client = client_as(lead)
    checked = check(client, project, people_archive(), "csv-annotators", PEOPLE_CSV)
    chosen = {
        "stash": stash_id(checked),
        "person-0-key": "ann1",
        "person-0": "ann1",
        "person-1-key": "zoe@x.org",
        "person-1": annotator2.username,
    }

    asked = client.post(url(project), chosen)

    assert asked.status_code == 400
    html = unescape(asked.content.decode())
    assert 'data-contradiction="zoe@x.org"' in html and "people_confirmed" in html
    assert 'name="person-confirmed" value="zoe@x.org"' in html
    assert not Image.objects.exists() and not Annotation.objects.exists()

    done = client.post(url(project), {**chosen, "person-confirmed": "zoe@x.org"})

    assert done.status_code == 200, done.content.decode()
    assert Annotation.objects.filter(annotator=annotator2).count() == 1
