"""The per-person imports as an attacker and a careless user send them, through
POST /api/v1/projects/{id}/imports/archive/.

Whatever comes in answers a 400 naming what is wrong, or an import whose every record is
either recorded or listed as not applied: nothing answers 500, nothing stored is lost or
half-written, no label goes to someone else, and the counts in and out add up. Exports
that are generated (hypothesis) come with a fixed seed and a bounded number of examples.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labeler.annotations.models import Annotation, FinalLabel, FinalLabelMethod
from labeler.projects import addresses
from labeler.projects.models import AddressConfirmed
from tests.factories import image_bytes

pytestmark = pytest.mark.django_db

CHOICES = {"type": "choices", "value": {"choices": []}}


def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/imports/archive/"


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def send(client, project, files: dict[str, bytes], labels: Any, fmt="label-studio", **options):
    """Import a zip of ``files`` with ``labels`` (JSON, unless bytes) beside it."""
    text = labels if isinstance(labels, bytes) else json.dumps(labels).encode()
    body = {
        "archive": SimpleUploadedFile("data.zip", zipped(files)),
        "labels_format": fmt,
        "labels_file": SimpleUploadedFile("labels", text),
        **options,
    }
    return client.post(url(project), body, format="multipart")


def annotation(by: Any, choices: list[str], **fields: Any) -> dict[str, Any]:
    result = [{"type": "choices", "value": {"choices": choices}}]
    return {"completed_by": by, "result": result, **fields}


def task(image: str, *annotations: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {"data": {"image": image, **data}, "annotations": list(annotations)}


def stored() -> list[tuple[str, str, str]]:
    rows = Annotation.objects.values_list(
        "annotator__username", "image__source_key", "labels__name"
    )
    return sorted(rows)


def nothing_stored(project) -> bool:
    return not (project.images.exists() or Annotation.objects.exists())


@pytest.fixture
def members(project, annotator, annotator2):
    """ann1 is alice@example.org, ann2 bob@example.org (composed: ``José``'s é is one
    code point)."""
    annotator.email, annotator2.email = "alice@example.org", "jos\u00e9@example.org"
    for member in (annotator, annotator2):
        member.save()
        addresses.email_mark_verified(user=member, how=AddressConfirmed.ADMIN)
    return project


# The lead's choice of accounts


@pytest.mark.parametrize(
    "annotators",
    [
        "[" * 40_000 + "]" * 40_000,  # past the decoder's recursion
        '{"a":' * 15_000 + '"x"' + "}" * 15_000,
        "[" * 33 + "]" * 33,  # past the nesting every JSON from outside may have
    ],
)
def test_annotators_nested_deep_are_a_400_naming_the_field(api_as, lead, project, annotators):
    labels = [task("a.png", annotation(1, ["cat"]))]
    response = send(api_as(lead), project, {"a.png": image_bytes()}, labels, annotators=annotators)
    assert response.status_code == 400, response.content
    assert "nest more than 32 levels" in response.json()["errors"]["annotators"][0]
    assert nothing_stored(project)


# Dates


@pytest.mark.parametrize(
    ("fmt", "labels", "where"),
    [
        (
            "label-studio",
            [task("a.png", annotation(1, ["cat"], created_at="0001-01-01T00:00:00+01:00"))],
            "Task 1: annotation 1: created_at: 0001-01-01T00:00:00+01:00",
        ),
        (
            "label-studio",
            [task("a.png", annotation(1, ["cat"], updated_at="9999-12-31T23:59:59-12:00"))],
            "Task 1: annotation 1: updated_at: 9999-12-31T23:59:59-12:00",
        ),
        (
            "label-studio-csv",
            b"annotation_id,annotator,choice,created_at,id,image\n"
            b"1,1,cat,9999-12-31T23:59:59,1,a.png\n",
            "line 2: created_at: 9999-12-31T23:59:59",
        ),
        (
            "labelbox-ndjson",
            json.dumps(
                {
                    "data_row": {"external_id": "a.png"},
                    "projects": {
                        "p": {
                            "labels": [
                                {
                                    "label_details": {
                                        "created_by": "a@x.org",
                                        "created_at": "0001-01-01T00:00:00+05:00",
                                    },
                                    "annotations": {
                                        "classifications": [{"radio_answer": {"name": "cat"}}]
                                    },
                                }
                            ]
                        }
                    },
                }
            ).encode(),
            "line 1: label 1: created_at: 0001-01-01T00:00:00+05:00",
        ),
    ],
)
def test_a_date_no_time_zone_can_show_is_a_400_naming_the_record(
    api_as, lead, project, fmt, labels, where
):
    """Year 1 an hour east of Greenwich is before the calendar begins in UTC; year 9999 is
    past the years a date may have (1000 to 9998)."""
    response = send(api_as(lead), project, {"a.png": image_bytes()}, labels, fmt=fmt)
    assert response.status_code == 400, response.content
    message = response.json()["errors"]["labels_file"][0]
    assert where in message and "is out of range: give a date from 1000-01-01" in message
    assert nothing_stored(project)


def test_a_labelbox_date_without_a_zone_is_in_utc(api_as, lead, project, settings):
    """As Label Studio's are, whatever the server's time zone."""
    settings.TIME_ZONE = "America/New_York"
    row = {
        "data_row": {"external_id": "a.png"},
        "projects": {
            "p": {
                "labels": [
                    {
                        "label_details": {
                            "created_by": "a@x.org",
                            "created_at": "2024-01-02T03:04:05",
                        },
                        "annotations": {"classifications": [{"radio_answer": {"name": "cat"}}]},
                    }
                ]
            }
        },
    }
    text = json.dumps(row).encode()
    response = send(api_as(lead), project, {"a.png": image_bytes()}, text, fmt="labelbox-ndjson")
    assert response.status_code == 201, response.content
    made = Annotation.objects.get()
    assert made.created_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


# Lead times


@pytest.mark.parametrize(
    ("fmt", "labels", "record", "shown"),
    [
        (
            "label-studio",
            [task("a.png", annotation(1, ["cat"], lead_time=3e6))],
            "Task 1: annotation 1: lead_time",
            "3,000,000 s",
        ),
        (
            "label-studio",
            [task("a.png", annotation(1, ["cat"], lead_time=1e308))],
            "Task 1: annotation 1: lead_time",
            "1e+308 s",
        ),
        (
            "label-studio-csv",
            b"annotation_id,annotator,choice,id,image,lead_time\n1,1,cat,1,a.png,3e6\n",
            "line 2: lead_time",
            "3,000,000 s",
        ),
    ],
)
def test_a_lead_time_too_long_to_keep_is_listed_and_the_labels_kept(
    api_as, lead, project, fmt, labels, record, shown
):
    """Past 24 days (what the database holds) the time is left out, and the report says
    so, as it does for one past a day."""
    response = send(api_as(lead), project, {"a.png": image_bytes()}, labels, fmt=fmt)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["not_applied"] == [
        {
            "record": record,
            "reason": f"{shown} is past a day: the annotation is kept without its time",
        }
    ]
    assert body["counts"]["out"]["annotations"] == 1
    assert Annotation.objects.get().time_spent_ms is None


# Who labelled it


def test_an_email_in_another_case_or_composition_is_the_members(api_as, lead, members):
    """``JOSÉ@…`` and ``jose\\u0301@…`` (decomposed, as some exports write it) are both
    the member whose e-mail is ``josé@…``: one person, not a stranger given an account."""
    labels = [
        task("a.png", annotation("JOS\u00c9@example.org", ["cat"])),
        task("b.png", annotation("jose\u0301@example.org", ["dog"])),
    ]
    files = {"a.png": image_bytes(), "b.png": image_bytes()}
    response = send(api_as(lead), members, files, labels)
    assert response.status_code == 201, response.content
    people = response.json()["people"]
    assert [(p["account"], p["how"]) for p in people] == [("ann2", "email")]
    assert stored() == [("ann2", "a.png", "cat"), ("ann2", "b.png", "dog")]
    assert User.objects.count() == 3  # lead, ann1 and ann2: no account was made


def test_labelbox_emails_in_two_cases_are_one_person(api_as, lead, members):
    def row(email: str, label: str, when: str) -> dict[str, Any]:
        details = {"created_by": email, "created_at": when}
        answer = {"classifications": [{"radio_answer": {"name": label}}]}
        return {"label_details": details, "annotations": answer}

    line = {
        "data_row": {"external_id": "a.png"},
        "projects": {
            "p": {
                "labels": [
                    row("Alice@Example.org", "cat", "2024-01-01T00:00:00Z"),
                    row("alice@example.org", "dog", "2024-01-02T00:00:00Z"),
                ]
            }
        },
    }
    text = json.dumps(line).encode()
    response = send(api_as(lead), members, {"a.png": image_bytes()}, text, fmt="labelbox-ndjson")
    assert response.status_code == 201, response.content
    body = response.json()
    assert [(p["account"], p["how"]) for p in body["people"]] == [("ann1", "email")]
    assert stored() == [("ann1", "a.png", "dog")]
    assert body["not_applied"] == [
        {
            "record": "line 1: label 1",
            "reason": "alice@example.org labelled this image again (line 1: label 2); "
            "their later annotation is kept.",
        }
    ]


def test_a_person_named_by_id_then_by_their_object_is_matched_by_its_email(api_as, lead, members):
    """Label Studio names one user by id in one place and by the expanded object (with
    the e-mail) in another: the e-mail still finds the member."""
    labels = [
        task("a.png", annotation(7, ["cat"])),
        task("b.png", annotation({"id": 7, "email": "Alice@example.org"}, ["dog"])),
    ]
    files = {"a.png": image_bytes(), "b.png": image_bytes()}
    response = send(api_as(lead), members, files, labels)
    assert response.status_code == 201, response.content
    assert [(p["key"], p["account"]) for p in response.json()["people"]] == [("ls:7", "ann1")]
    assert stored() == [("ann1", "a.png", "cat"), ("ann1", "b.png", "dog")]


def test_one_person_by_id_with_email_and_by_email_alone_is_one_person(api_as, lead, members):
    """Label Studio expands ``completed_by`` to the id with the e-mail; our own export's
    final label, carried through it, names who decided by e-mail alone. One person: the
    import goes in, rather than being refused as two people on one member."""
    alice = {"id": 3, "email": "alice@example.org"}
    meta = {
        "final_method": "adjudicated",
        "final_labels": ["cat"],
        "final_decided_by": "Alice@example.org",
    }
    labels = [
        {
            "data": {"image": "a.png"},
            "meta": meta,
            "annotations": [
                annotation(alice, ["cat"]),
                annotation(alice, ["cat"], ground_truth=True),
            ],
        },
        task("b.png", annotation(alice, ["dog"]), annotation("alice@example.org", ["cat"])),
    ]
    files = {"a.png": image_bytes(), "b.png": image_bytes()}
    response = send(api_as(lead), members, files, labels)
    assert response.status_code == 201, response.content
    body = response.json()
    assert [(p["key"], p["account"], p["how"]) for p in body["people"]] == [
        ("ls:3", "ann1", "email")
    ]
    assert stored() == [("ann1", "a.png", "cat"), ("ann1", "b.png", "cat")]
    decided = FinalLabel.objects.filter(image__source_key="a.png")
    assert list(decided.values_list("decided_by__username", flat=True)) == ["ann1"]
    assert body["not_applied"] == [
        {
            "record": "Task 2: annotation 1",
            "reason": "alice@example.org labelled this image again (Task 2: annotation 2); "
            "their later annotation is kept.",
        }
    ]


def test_an_empty_labelbox_file_is_a_400(api_as, lead, project):
    """As every other format's: importing it would store the images with no label."""
    response = send(api_as(lead), project, {"a.png": image_bytes()}, b"\n\n", fmt="labelbox-ndjson")
    assert response.status_code == 400, response.content
    assert "The file is empty" in response.json()["errors"]["labels_file"][0]
    assert nothing_stored(project)


# One image, named twice


def test_one_file_named_composed_and_decomposed_is_one_image(api_as, lead, members):
    """Rows naming ``é.png`` composed and decomposed are the same file's, not an ambiguity
    that would refuse them all."""
    text = b"file,ann1,ann2\n\xc3\xa9.png,cat,\ne\xcc\x81.png,,dog\n"
    response = send(
        api_as(lead), members, {"\u00e9.png": image_bytes()}, text, fmt="csv-annotators"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["not_applied"] == []
    assert body["counts"]["out"]["annotations"] == 2
    assert stored() == [("ann1", "\u00e9.png", "cat"), ("ann2", "\u00e9.png", "dog")]


def test_the_same_content_under_two_names_keeps_each_persons_later_annotation(
    api_as, lead, members
):
    """Two files with one content are one image: each person's later annotation of it is
    kept, the other listed, and the counts say so (out + not applied = in)."""
    data = image_bytes()
    labels = [
        task("a.png", annotation(1, ["cat"], updated_at="2024-01-02T00:00:00Z")),
        task("b.png", annotation(1, ["dog"], updated_at="2024-01-01T00:00:00Z")),
        task("c.png", annotation(2, ["dog"], updated_at="2024-01-01T00:00:00Z")),
        task("d.png", annotation(2, ["bird"], updated_at="2024-01-03T00:00:00Z")),
    ]
    other = image_bytes()
    files = {"a.png": data, "b.png": data, "c.png": other, "d.png": other}
    response = send(api_as(lead), members, files, labels)
    assert response.status_code == 201, response.content
    body = response.json()
    assert stored() == [("ls-1", "a.png", "cat"), ("ls-2", "c.png", "bird")]
    assert body["not_applied"] == [
        {
            "record": "Task 2: annotation 1",
            "reason": "ls:1 labelled this image again (Task 1: annotation 1, a file with the "
            "same content); their later annotation is kept.",
        },
        {
            "record": "Task 3: annotation 1",
            "reason": "ls:2 labelled this image again (Task 4: annotation 1, a file with the "
            "same content); their later annotation is kept.",
        },
    ]
    counts = body["counts"]
    assert counts["in"]["annotations"] == 4
    assert counts["out"]["annotations"] == 2 == Annotation.objects.count()
    assert counts["out"]["labels"] == 2


def test_the_same_content_under_two_names_keeps_the_first_decision(api_as, lead, members):
    data = image_bytes()
    gold = {"ground_truth": True}
    labels = [
        task("a.png", annotation(1, ["cat"], **gold)),
        task("b.png", annotation(1, ["dog"], **gold)),
    ]
    response = send(api_as(lead), members, {"a.png": data, "b.png": data}, labels)
    assert response.status_code == 201, response.content
    body = response.json()
    final = FinalLabel.objects.get()
    assert (final.method, [label.name for label in final.labels.all()]) == ("gold", ["cat"])
    assert body["not_applied"] == [
        {
            "record": "Task 2: annotation 1",
            "reason": "A second decision for this image (b.png has the content of an earlier "
            "file); the first (Task 1: annotation 1) is kept.",
        }
    ]
    assert body["counts"]["out"]["decisions"] == 1


# Ground truth beside our own export's final label


def test_ground_truth_other_than_our_final_label_is_listed_not_dropped(api_as, lead, members):
    """Our export writes its final label in the task and as ground truth: that annotation
    is the same decision. Ground truth with other labels was set in Label Studio since:
    the final label is carried and the other is listed."""
    final = {"final_method": "adjudicated", "final_labels": ["cat"]}
    labels = [
        task(
            "a.png",
            annotation(1, ["dog"]),
            annotation(9, ["cat"], ground_truth=True),  # our export's: the same decision
            annotation(8, ["dog"], ground_truth=True),  # set in Label Studio since
            **final,
        )
    ]
    response = send(api_as(lead), members, {"a.png": image_bytes()}, labels)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["not_applied"] == [
        {
            "record": "Task 1: annotation 3",
            "reason": "not carried: the task's decision is Task 1: final label (adjudicated)",
        }
    ]
    assert FinalLabel.objects.get().method == FinalLabelMethod.ADJUDICATED


# Many records, and the same file again


def test_a_thousand_annotations_by_one_person_keep_the_latest_and_list_the_rest(
    api_as, lead, members
):
    given = [
        annotation(
            1, ["dog" if n % 2 else "cat"], updated_at=f"2024-01-01T{n // 60:02d}:{n % 60:02d}:00Z"
        )
        for n in range(1000)
    ]
    response = send(api_as(lead), members, {"a.png": image_bytes()}, [task("a.png", *given)])
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["counts"]["in"]["annotations"] == 1000
    assert body["counts"]["out"]["annotations"] == 1
    assert len(body["not_applied"]) == 999
    assert stored() == [("ls-1", "a.png", "dog")]  # annotation 1000, the latest


def test_importing_again_with_changed_labels_changes_them_and_adds_nothing(api_as, lead, members):
    client = api_as(lead)
    files = {"a.png": image_bytes(), "b.png": image_bytes()}
    first = [
        task("a.png", annotation(1, ["cat"]), annotation("alice@example.org", ["dog"])),
        task("b.png", annotation(1, ["cat"], ground_truth=True)),
    ]
    changed = [
        task("a.png", annotation(1, ["dog"]), annotation("alice@example.org", ["dog"])),
        task("b.png", annotation(1, ["bird"], ground_truth=True)),
    ]
    for labels in (first, first):
        assert send(client, members, files, labels).status_code in (200, 201)
    accounts = User.objects.count()
    body = send(client, members, files, changed).json()
    assert body["counts"]["out"]["annotations_written"] == 1
    assert body["counts"]["out"]["decisions_written"] == 1
    assert body["not_applied"] == []
    assert [(p["account"], p["how"]) for p in body["people"]] == [
        ("ls-1", "imported"),
        ("ann1", "email"),
    ]
    assert stored() == [("ann1", "a.png", "dog"), ("ls-1", "a.png", "dog")]
    final = FinalLabel.objects.get(image__source_key="b.png")
    assert [label.name for label in final.labels.all()] == ["bird"]
    assert User.objects.count() == accounts


# Generated Label Studio exports

PEOPLE = [
    1,
    2,
    None,
    {"id": 1, "email": "Alice@example.org"},
    "bob@example.org",
    "BOB@example.org",
    "ann1",
]
DATES = [None, "2024-01-01T00:00:00Z", "2024-01-02T00:00:00+02:00", "2024-01-01T12:00:00"]
IMAGES = ["a.png", "b.png", "c.png"]

annotation_given = st.fixed_dictionaries(
    {
        "completed_by": st.sampled_from(PEOPLE),
        "result": st.lists(st.sampled_from(["cat", "dog", "zebra"]), max_size=2).map(
            lambda names: [{"type": "choices", "value": {"choices": names}}]
        ),
        "was_cancelled": st.booleans(),
        "ground_truth": st.booleans(),
        "updated_at": st.sampled_from(DATES),
        "lead_time": st.sampled_from([None, 0, 1.5, 3e6]),
    }
)
tasks = st.lists(
    st.fixed_dictionaries(
        {
            "data": st.fixed_dictionaries({"image": st.sampled_from(IMAGES)}),
            "annotations": st.lists(annotation_given, max_size=4),
        }
    ),
    max_size=5,
)


def _annotation_wheres(export: list[dict[str, Any]]) -> set[str]:
    """The records the reader counts as annotations: not cancelled, choices, not gold."""
    return {
        f"Task {t}: annotation {a}"
        for t, one in enumerate(export, start=1)
        for a, given in enumerate(one["annotations"], start=1)
        if not given["was_cancelled"]
        and not given["ground_truth"]
        and any(name.strip() for name in given["result"][0]["value"]["choices"])
    }


@settings(
    derandomize=True,
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(export=tasks, create_labels=st.booleans())
@pytest.mark.slow
def test_generated_exports_import_every_record_or_list_it(
    api_as, lead, members, export, create_labels
):
    """Any such export answers 201 or 200 (never 500); every annotation is recorded or
    listed (in = out + not applied), the database holds what the counts say, and a second
    import of the same archive writes nothing and makes no account."""
    files = {name: image_bytes(seed=number) for number, name in enumerate(IMAGES)}
    client = api_as(lead)
    with transaction.atomic():
        first = send(client, members, files, export, create_labels=create_labels)
        body = first.json()
        if first.status_code == 400:  # ann1 named by e-mail and by username: two people
            assert list(body["errors"]) == ["annotators"], body
            assert "would all be 'ann1'" in body["detail"]
            assert nothing_stored(members)
            return
        assert first.status_code in (200, 201), first.content
        counts = body["counts"]
        listed = [
            line for line in body["not_applied"] if line["record"] in _annotation_wheres(export)
        ]
        assert counts["in"]["annotations"] == len(_annotation_wheres(export))
        assert counts["in"]["annotations"] == counts["out"]["annotations"] + len(listed)
        assert Annotation.objects.count() == counts["out"]["annotations"]
        decided = FinalLabel.objects.exclude(method=FinalLabelMethod.CONSENSUS).count()
        assert decided == counts["out"]["decisions"] <= counts["in"]["decisions"]
        accounts = User.objects.count()
        before = stored()

        again = send(client, members, files, export, create_labels=create_labels).json()
        assert again["counts"]["out"]["annotations_written"] == 0
        assert again["counts"]["out"]["decisions_written"] == 0
        assert again["counts"]["out"]["annotations"] == counts["out"]["annotations"]
        assert stored() == before
        assert User.objects.count() == accounts
        transaction.set_rollback(True)
