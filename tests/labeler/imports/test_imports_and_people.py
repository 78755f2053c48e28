"""Imports never credit a person with labels that are not theirs.

Every format the product reads (found from the readers' registry, so a format added later
is tried too) is imported over a member's own newer label through the archive route: the
member's label is kept, no date from the file that lies in the future is stored, and the
label history never names the member as the author of what the import did. A record that
is known to be newer does replace it, credited to the import and its lead. A mapping of
people that contradicts the file (two people swapped) is listed by the dry run and
refused until the lead confirms each; two authors Label Studio no longer names stay two.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from labeler.annotations.imported import CLOCK_SKEW
from labeler.annotations.models import Annotation, LabelChange
from labeler.annotations.submit import annotation_record
from labeler.images.models import Image
from labeler.imports.reading.archive import LABEL_FORMATS, NONE
from labeler.projects import addresses
from labeler.projects.models import AddressConfirmed, Label
from tests.factories import image_bytes
from tests.labeler.imports.test_archive import zipped

pytestmark = pytest.mark.django_db

PICTURE = image_bytes(seed=7)
ALICE = "alice@example.org"
FUTURE = "2099-01-01T00:00:00Z"
LS_IMAGE = "/data/upload/1/ab12cd34-a.png"


def _ls_task(*annotations: dict) -> dict:
    return {"id": 1, "data": {"image": LS_IMAGE}, "annotations": list(annotations)}


def _ls_annotation(by: object, label: str, when: str | None = FUTURE) -> dict:
    found: dict = {"completed_by": by, "result": [_choice(label)]}
    if when is not None:
        found |= {"created_at": when, "updated_at": when}
    return found


def _choice(label: str) -> dict:
    return {"type": "choices", "value": {"choices": [label]}}


def _ls_csv(separator: str) -> bytes:
    header = ["annotation_id", "annotator", "choice", "created_at", "id", "image", "updated_at"]
    row = ["1", ALICE, "cat", FUTURE, "1", LS_IMAGE, FUTURE]
    return "\n".join(separator.join(cells) for cells in (header, row)).encode() + b"\n"


_LABELBOX_LABEL = {
    "id": "l1",
    "label_details": {"created_by": ALICE, "created_at": FUTURE, "updated_at": FUTURE},
    "annotations": {
        "objects": [],
        "classifications": [{"name": "species", "radio_answer": {"name": "cat"}}],
    },
}

# Every format, with alice labelling a.png "cat" where it names people (dated 2099 where
# it carries dates): (the archive's files, the labels file or None, whether alice is named).
SAMPLES: dict[str, tuple[dict[str, bytes], bytes | None, bool]] = {
    "imagefolder": ({"cat/a.png": PICTURE}, None, False),
    "csv": ({"a.png": PICTURE}, b"file,label\na.png,cat\n", False),
    "tsv": ({"a.png": PICTURE}, b"file\tlabel\na.png\tcat\n", False),
    "json": (
        {"a.png": PICTURE},
        json.dumps({"images": [{"file_name": "a.png", "final_labels": ["cat"]}]}).encode(),
        False,
    ),
    "jsonl": ({"a.png": PICTURE}, b'{"file_name": "a.png", "final_labels": ["cat"]}\n', False),
    "coco": (
        {"a.png": PICTURE},
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "a.png"}],
                "categories": [{"id": 1, "name": "cat"}],
                "annotations": [{"image_id": 1, "category_id": 1}],
            }
        ).encode(),
        False,
    ),
    "label-studio": (
        {"a.png": PICTURE},
        json.dumps([_ls_task(_ls_annotation({"id": 7, "email": ALICE}, "cat"))]).encode(),
        True,
    ),
    "label-studio-csv": ({"a.png": PICTURE}, _ls_csv(","), True),
    "label-studio-tsv": ({"a.png": PICTURE}, _ls_csv("\t"), True),
    "cvat-xml": (
        {"a.png": PICTURE},
        (
            '<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version>'
            "<meta><task><id>1</id><assignee><username>alice</username>"
            f"<email>{ALICE}</email></assignee></task></meta>"
            '<image id="0" name="a.png"><tag label="cat"></tag></image></annotations>\n'
        ).encode(),
        True,
    ),
    "labelbox-ndjson": (
        {"a.png": PICTURE},
        json.dumps(
            {
                "data_row": {"id": "r1", "external_id": "a.png"},
                "projects": {"p": {"labels": [_LABELBOX_LABEL]}},
            }
        ).encode()
        + b"\n",
        True,
    ),
    "fiftyone": ({"a.png": PICTURE}, b'{"classes": ["cat"], "labels": {"a": 0}}', False),
    "csv-annotators": ({"a.png": PICTURE}, f"FileName,{ALICE}\na.png,cat\n".encode(), True),
}


def url(project, archive: bool = True) -> str:
    return f"/api/v1/projects/{project.pk}/imports/{'archive/' if archive else ''}"


def post_archive(client, project, labels_format, files, labels_file=None, **fields):
    body = {
        "archive": SimpleUploadedFile("data.zip", zipped(files).getvalue(), "application/zip"),
        "labels_format": labels_format,
        **fields,
    }
    if labels_file is not None:
        body["labels_file"] = SimpleUploadedFile("labels", labels_file)
    return client.post(url(project), body, format="multipart")


@pytest.fixture
def alice(project, annotator):
    """A member of the project who labelled a.png "dog" herself."""
    annotator.email = ALICE
    annotator.save()
    addresses.email_mark_verified(user=annotator, how=AddressConfirmed.ADMIN)
    return annotator


@pytest.fixture
def alices_label(api_as, lead, project, alice, media_root):
    response = api_as(lead).post(
        url(project, archive=False),
        {"files": [SimpleUploadedFile("a.png", PICTURE)]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    image = Image.objects.get(project=project)
    dog = Label.objects.get(project=project, name="dog")
    annotation_record(project=project, annotator=alice, image_id=image.pk, labels=[dog.pk])
    return Annotation.objects.get(image=image, annotator=alice)


def labels_of(annotation: Annotation) -> list[str]:
    return sorted(annotation.labels.values_list("name", flat=True))


def test_every_format_the_product_reads_has_a_sample():
    """A format added later fails here until this module tries it."""
    assert set(SAMPLES) == set(LABEL_FORMATS) - {NONE}


@pytest.mark.parametrize("labels_format", sorted(SAMPLES))
def test_no_format_replaces_a_members_newer_label_or_credits_her_with_the_import(
    api_as, lead, project, alice, alices_label, labels_format
):
    """Imported over alice's own label of a.png (the file's date 2099, or none): her label
    stays, her annotation's dates stay, no date in the future is stored anywhere, and no
    row of the label history the import wrote names her as its author."""
    files, labels_file, names_alice = SAMPLES[labels_format]
    last_change = LabelChange.objects.order_by("-id").values_list("id", flat=True).first()
    latest = timezone.now() + CLOCK_SKEW

    response = post_archive(api_as(lead), project, labels_format, files, labels_file)

    assert response.status_code in (200, 201), response.content
    mine = Annotation.objects.get(pk=alices_label.pk)
    assert labels_of(mine) == ["dog"]
    assert (mine.created_at, mine.updated_at) == (alices_label.created_at, alices_label.updated_at)
    assert not Annotation.objects.filter(created_at__gt=latest).exists()
    assert not Annotation.objects.filter(updated_at__gt=latest).exists()
    written = LabelChange.objects.filter(id__gt=last_change)
    assert not written.filter(changed_by=alice).exists()
    assert not written.filter(annotator=alice).exists()
    kept = [n for n in response.json()["not_applied"] if "is kept" in n["reason"]]
    assert bool(kept) == names_alice, response.json()["not_applied"]
    if names_alice:
        assert "2099-01-01 00:00 UTC" in kept[0]["reason"] or "not given" in kept[0]["reason"]


def test_the_dry_run_lists_the_members_label_that_would_be_kept(
    api_as, lead, project, alices_label
):
    """The dry run asks the same rule: alice's record dated 2099 is listed, with both
    dates, and nothing is written."""
    files, labels_file, _ = SAMPLES["label-studio"]
    before = LabelChange.objects.count()

    response = post_archive(
        api_as(lead), project, "label-studio", files, labels_file, dry_run="true"
    )

    assert response.status_code == 200, response.content
    [kept] = [n for n in response.json()["not_applied"] if "is kept" in n["reason"]]
    assert kept["record"] == "Task 1: annotation 1"
    assert f"{alices_label.updated_at:%Y-%m-%d %H:%M} UTC" in kept["reason"]
    assert "2099-01-01 00:00 UTC" in kept["reason"]
    assert LabelChange.objects.count() == before


def test_a_record_without_a_date_keeps_the_members_label(
    api_as, lead, project, alice, alices_label
):
    """No date: the record cannot be shown to be newer, so alice's label stays."""
    task = _ls_task(_ls_annotation({"id": 7, "email": ALICE}, "cat", when=None))

    response = post_archive(
        api_as(lead), project, "label-studio", {"a.png": PICTURE}, json.dumps([task]).encode()
    )

    assert labels_of(Annotation.objects.get(pk=alices_label.pk)) == ["dog"]
    assert any("not given" in n["reason"] for n in response.json()["not_applied"])


def test_a_newer_record_replaces_it_credited_to_the_import_and_its_lead(
    api_as, lead, project, alice, alices_label
):
    """A record dated after alice's label, not in the future, replaces it: the history
    names the lead and the import, her annotation keeps its creation date."""
    made = datetime(2025, 1, 1, tzinfo=UTC)
    Annotation.objects.filter(pk=alices_label.pk).update(created_at=made, updated_at=made)
    when = "2025-06-01T10:00:00Z"
    task = _ls_task(_ls_annotation({"id": 7, "email": ALICE}, "cat", when=when))

    response = post_archive(
        api_as(lead), project, "label-studio", {"a.png": PICTURE}, json.dumps([task]).encode()
    )

    assert response.status_code == 200, response.content
    mine = Annotation.objects.get(pk=alices_label.pk)
    assert labels_of(mine) == ["cat"]
    assert (mine.created_at, mine.updated_at) == (made, datetime(2025, 6, 1, 10, tzinfo=UTC))
    change = LabelChange.objects.filter(annotation_id=mine.pk).latest("id")
    assert (change.kind, change.changed_by, change.method) == (
        "annotation_changed",
        lead,
        "imported",
    )


def test_a_future_date_is_never_stored_on_a_new_annotation(api_as, lead, project, media_root):
    """A new person's record dated 2099 is recorded with the import's date, and the
    report says its date was not kept."""
    task = _ls_task(_ls_annotation({"id": 8, "email": "zoe@example.org"}, "cat"))

    response = post_archive(
        api_as(lead), project, "label-studio", {"a.png": PICTURE}, json.dumps([task]).encode()
    )

    assert response.status_code == 201, response.content
    [annotation] = Annotation.objects.all()
    assert annotation.created_at < timezone.now() + timedelta(seconds=1)
    assert annotation.updated_at < timezone.now() + timedelta(seconds=1)
    assert any("in the future" in n["reason"] for n in response.json()["not_applied"])


SWAPPED = [
    _ls_task(
        _ls_annotation({"id": 1, "email": ALICE}, "cat", when="2025-01-01T00:00:00Z"),
        _ls_annotation({"id": 2, "email": "bob@example.org"}, "dog", when="2025-01-01T00:00:00Z"),
    )
]


@pytest.fixture
def bob(project, annotator2):
    annotator2.email = "bob@example.org"
    annotator2.save()
    addresses.email_mark_verified(user=annotator2, how=AddressConfirmed.ADMIN)
    return annotator2


def test_a_mapping_that_swaps_two_people_is_flagged_and_refused_until_confirmed(
    api_as, lead, project, alice, bob, media_root
):
    """The lead's choices give alice's labels to bob and bob's to alice: the dry run
    flags both, the import answers 400 naming both and writes nothing; confirmed by
    e-mail and key, it goes in as chosen."""
    client = api_as(lead)
    labels_file = json.dumps(SWAPPED).encode()
    swap = json.dumps({"ls:1": "ann2", "ls:2": "ann1"})
    files = {"a.png": PICTURE}

    dry = post_archive(
        client, project, "label-studio", files, labels_file, annotators=swap, dry_run="true"
    )
    refused = post_archive(client, project, "label-studio", files, labels_file, annotators=swap)

    flagged = {c["key"]: (c["account"], c["confirmed"]) for c in dry.json()["contradictions"]}
    assert flagged == {"ls:1": ("ann2", False), "ls:2": ("ann1", False)}
    assert refused.status_code == 400, refused.content
    body = refused.json()
    assert list(body["errors"]) == ["people_confirmed"]
    assert [(u["key"], u["account"]) for u in body["unconfirmed"]] == [
        ("ls:1", "ann2"),
        ("ls:2", "ann1"),
    ]
    assert ALICE in body["detail"] and "bob@example.org" in body["detail"]
    assert (Image.objects.count(), Annotation.objects.count()) == (0, 0)

    confirmed = post_archive(
        client,
        project,
        "label-studio",
        files,
        labels_file,
        annotators=swap,
        people_confirmed=json.dumps([ALICE, "ls:2"]),
    )

    assert confirmed.status_code == 201, confirmed.content
    assert {a.annotator.username: labels_of(a) for a in Annotation.objects.all()} == {
        "ann2": ["cat"],
        "ann1": ["dog"],
    }


def test_a_username_match_with_another_email_is_flagged(api_as, lead, project, alice, media_root):
    """A person the file calls ann1, with an e-mail ann1 (alice) does not have, matches
    ann1 by username: flagged for the lead to confirm."""
    task = _ls_task(_ls_annotation({"id": 3, "username": "ann1", "email": "x@else.org"}, "cat"))
    response = post_archive(
        api_as(lead),
        project,
        "label-studio",
        {"a.png": PICTURE},
        json.dumps([task]).encode(),
        dry_run="true",
    )
    [flagged] = response.json()["contradictions"]
    assert (flagged["account"], flagged["confirmed"]) == ("ann1", False)


def test_a_username_match_whose_member_confirmed_no_address_is_flagged(
    api_as, lead, project, annotator, media_root
):
    """The file's carol (carol@corp.example) and a member who picked the username carol
    with no confirmed address: flagged, never credited unasked (a username is anyone's
    to pick; not confirming an address must not dodge the check)."""
    annotator.username, annotator.email = "carol", "carol@evil.example"
    annotator.save()
    task = _ls_task(
        _ls_annotation({"id": 42, "username": "carol", "email": "carol@corp.example"}, "cat")
    )
    body = json.dumps([task]).encode()
    checked = post_archive(
        api_as(lead), project, "label-studio", {"a.png": PICTURE}, body, dry_run="true"
    )
    [flagged] = checked.json()["contradictions"]
    assert flagged["account"] == "carol" and "confirmed none" in flagged["says"]
    refused = post_archive(api_as(lead), project, "label-studio", {"a.png": PICTURE}, body)
    assert refused.status_code == 400 and "carol@corp.example" in refused.json()["detail"]
    assert not Annotation.objects.exists()


def test_two_authors_label_studio_no_longer_names_stay_two_people(
    api_as, lead, project, media_root
):
    """Two deleted users' annotations of one task are two people's: both recorded, none
    dropped as labelled again."""
    task = _ls_task(_ls_annotation(None, "cat", when=None), _ls_annotation(None, "dog", when=None))

    response = post_archive(
        api_as(lead), project, "label-studio", {"a.png": PICTURE}, json.dumps([task]).encode()
    )

    assert response.status_code == 201, response.content
    assert sorted(labels_of(a) for a in Annotation.objects.all()) == [["cat"], ["dog"]]
    assert len({a.annotator_id for a in Annotation.objects.all()}) == 2
    assert not [n for n in response.json()["not_applied"] if "again" in n["reason"]]
