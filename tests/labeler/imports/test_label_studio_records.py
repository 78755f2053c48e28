"""Label Studio's JSON, CSV and TSV exports are read person by person, without Django.

The fixtures are real exports of Label Studio 1.23.2: one project, two annotators
(a@x.org is user 1, b@x.org user 2), seven tasks. Task 1 (skip_me.png) was cancelled by
user 1; task 2 (uploaded as "Kätzchen 1.jpg") has both users' labels, user 2's two
choices; task 3 (dog.jpg) has user 1's ground truth and user 2's label; task 4 (bird.png)
user 2's label and user 1's cancelled one; task 5 (empty.png) nothing; tasks 6 and 7 are
local files ("photos/Löwe groß.jpg", "photos/cat+1.jpg"). ``export.json`` and
``export.csv`` are the quick export (users by id); ``export_people.json`` and
``export_people.tsv`` a snapshot with ``completed_by`` expanded (users by e-mail).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from labeler.imports.reading.label_studio import (
    UNKNOWN,
    label_studio_file_key,
    label_studio_records_of,
)
from labeler.imports.reading.label_studio_csv import label_studio_csv_records_of
from labeler.imports.reading.records import Person, RecordsFile, Skipped
from labeler.imports.reading.sources import (
    PER_PERSON_FORMATS,
    LabelSourceError,
    label_studio_labels,
    labels_file_load,
    records_file_load,
)

FIXTURES = Path(__file__).parent / "fixtures" / "label_studio"
KATZE, DOG, BIRD = "9f0e7fa3-Kätzchen_1.jpg", "7da73270-dog.jpg", "711495b1-bird.png"
LOWE, CAT_PLUS = "photos/Löwe groß.jpg", "photos/cat+1.jpg"
ANN, BOB = Person("ls:1"), Person("ls:2")


def by_person(records: RecordsFile, key: str) -> dict[str, list[str]]:
    return {a.person.key: a.labels for a in records.images[key].annotations}


def task(*annotations: dict[str, Any], image: str = "/data/upload/1/ab12cd34-a.png", **extra):
    return {"data": {"image": image}, "annotations": list(annotations), **extra}


def annotation(choices: Any = ("cat",), **fields: Any) -> dict[str, Any]:
    value = {"choices": list(choices) if isinstance(choices, tuple) else choices}
    return {"result": [{"type": "choices", "value": value}], **fields}


def one(*annotations: dict[str, Any], **extra: Any) -> RecordsFile:
    return label_studio_records_of([task(*annotations, **extra)])


# The real exports


def test_the_json_export_gives_each_persons_labels_and_lists_what_it_does_not_use():
    records = records_file_load(FIXTURES / "export.json", labels_format="label-studio")

    assert records.tasks == 7
    assert list(records.images) == [KATZE, DOG, BIRD, LOWE, CAT_PLUS]
    assert by_person(records, KATZE) == {"ls:1": ["cat"], "ls:2": ["cat", "dog"]}
    assert by_person(records, BIRD) == {"ls:2": ["bird"]}
    assert by_person(records, LOWE) == {"ls:1": ["Bär"], "ls:2": ["cat"]}
    assert by_person(records, CAT_PLUS) == {"ls:1": ["cat"]}
    # User 1's ground truth on dog.jpg is its gold decision, not one more annotation.
    assert by_person(records, DOG) == {"ls:2": ["cat"]}
    gold = records.images[DOG].decision
    assert gold is not None and (gold.labels, gold.method, gold.by) == (["dog"], "gold", ANN)
    assert gold.where == "Task 3: annotation 1"
    assert gold.decided_at == datetime(2026, 11, 26, 10, 55, 7, 947093, tzinfo=UTC)
    assert records.skipped == [
        Skipped("Task 1: annotation 1", "cancelled in Label Studio (skipped by the annotator)"),
        Skipped("Task 4: annotation 2", "cancelled in Label Studio (skipped by the annotator)"),
        Skipped("Task 5", "no annotations: the task was not labelled"),
    ]
    assert records.people() == [ANN, BOB]


def test_an_annotation_keeps_its_dates_lead_time_and_record():
    records = label_studio_records_of(json.loads((FIXTURES / "export.json").read_text()))

    bob = records.images[KATZE].annotations[1]
    assert bob.where == "Task 2: annotation 2"
    assert bob.created_at == datetime(2026, 11, 26, 10, 55, 4, 402327, tzinfo=UTC)
    assert bob.updated_at == datetime(2026, 11, 26, 10, 55, 4, 402371, tzinfo=UTC)
    assert bob.lead_time_ms == 7500
    assert records.images[BIRD].annotations[0].lead_time_ms == 5125


def test_the_snapshot_export_names_each_person_by_id_and_email():
    records = records_file_load(FIXTURES / "export_people.json", labels_format="label-studio")

    ann, bob = Person("ls:1", email="a@x.org"), Person("ls:2", email="b@x.org")
    assert records.people() == [ann, bob]
    assert records.images[DOG].decision.by == ann  # type: ignore[union-attr]
    assert by_person(records, LOWE) == {"ls:1": ["Bär"], "ls:2": ["cat"]}


def test_the_csv_export_gives_the_same_labels_but_knows_no_ground_truth():
    records = records_file_load(FIXTURES / "export.csv", labels_format="label-studio-csv")

    assert records.tasks == 6  # a task whose annotations were all cancelled has no row
    assert by_person(records, KATZE) == {"ls:2": ["cat", "dog"], "ls:1": ["cat"]}
    assert by_person(records, DOG) == {"ls:2": ["cat"], "ls:1": ["dog"]}
    assert by_person(records, LOWE) == {"ls:2": ["cat"], "ls:1": ["Bär"]}
    assert records.decision_count() == 0
    assert records.skipped == [Skipped("line 7", "no annotations: the task was not labelled")]
    katze = records.images[KATZE].annotations[0]
    assert (katze.where, katze.lead_time_ms) == ("line 2", 7500)
    assert katze.created_at == datetime(2026, 11, 26, 10, 55, 4, 402327, tzinfo=UTC)


def test_the_tsv_export_names_people_by_email_when_the_snapshot_expanded_them():
    records = records_file_load(FIXTURES / "export_people.tsv", labels_format="label-studio-tsv")

    assert records.people() == [
        Person("b@x.org", email="b@x.org"),
        Person("a@x.org", email="a@x.org"),
    ]
    assert by_person(records, LOWE) == {"b@x.org": ["cat"], "a@x.org": ["Bär"]}
    assert by_person(records, CAT_PLUS) == {"a@x.org": ["cat"]}


def test_the_json_and_csv_exports_of_one_project_agree_label_for_label():
    from_json = records_file_load(FIXTURES / "export.json", labels_format="label-studio")
    from_csv = records_file_load(FIXTURES / "export.csv", labels_format="label-studio-csv")

    def labels(records: RecordsFile) -> dict[str, list[tuple[str, ...]]]:
        found: dict[str, list[tuple[str, ...]]] = {}
        for key, image in records.images.items():
            found[key] = sorted(tuple(a.labels) for a in image.annotations)
            if image.decision is not None:  # the CSV has the ground truth as an annotation
                found[key] = sorted([*found[key], tuple(image.decision.labels)])
        return found

    assert labels(from_json) == labels(from_csv)


def test_the_flat_reader_takes_the_decision_else_the_latest_annotation():
    assert label_studio_labels(FIXTURES / "export.json") == {
        KATZE: ["cat", "dog"],
        DOG: ["dog"],
        BIRD: ["bird"],
        LOWE: ["cat"],
        CAT_PLUS: ["cat"],
    }
    # The CSV knows no ground truth: the latest annotation, here the one marked as such.
    flat_csv = labels_file_load(FIXTURES / "export.csv", labels_format="label-studio-csv")
    assert flat_csv == label_studio_labels(FIXTURES / "export.json")


def test_the_label_studio_formats_are_read_person_by_person():
    assert {"label-studio", "label-studio-csv", "label-studio-tsv"} <= PER_PERSON_FORMATS
    data = json.dumps([task(annotation(completed_by=3))]).encode()
    records = records_file_load(data, labels_format="label-studio")
    assert by_person(records, "ab12cd34-a.png") == {"ls:3": ["cat"]}


# Who, and what


@pytest.mark.parametrize(
    ("completed_by", "person"),
    [
        (7, Person("ls:7")),
        (
            {"id": 7, "email": "Zoë@Example.org", "first_name": "Zoë", "last_name": "Ü"},
            Person("ls:7", email="Zoë@Example.org"),
        ),
        ("Zoë@Example.org", Person("zoë@example.org", email="Zoë@Example.org")),
        ({"email": "z@x.org"}, Person("z@x.org", email="z@x.org")),
        ("zoe", Person("zoe", username="zoe")),
        (None, UNKNOWN),  # a user Label Studio deleted
    ],
)
def test_completed_by_is_an_id_an_object_or_an_email(completed_by, person):
    records = one(annotation(completed_by=completed_by))
    assert records.images["ab12cd34-a.png"].annotations[0].person == person


@pytest.mark.parametrize(
    ("completed_by", "message"),
    [
        ([1], "Task 1: annotation 1: completed_by must be a user's id, e-mail or object"),
        ({"first_name": "A"}, "completed_by names nobody: it needs an id or an email"),
        ({"id": [1]}, "completed_by.id must be a whole number or text, not a list"),
        ({"id": 1, "email": "a" * 300}, "completed_by.email is longer than 254 characters"),
        (-1, "completed_by -1 is no user id"),
        ("x\x00y", "completed_by holds the NUL character"),
    ],
)
def test_a_bad_completed_by_is_refused_naming_the_annotation(completed_by, message):
    with pytest.raises(LabelSourceError, match=message):
        one(annotation(completed_by=completed_by))


def test_a_single_choice_given_as_text_is_one_label_not_its_letters():
    records = one(annotation("cat", completed_by=1), annotation(" dog ", completed_by=2))
    assert by_person(records, "ab12cd34-a.png") == {"ls:1": ["cat"], "ls:2": ["dog"]}


def test_choices_of_several_results_are_kept_once_each_in_their_order():
    result = [
        {"type": "choices", "value": {"choices": ["cat", "dog"]}},
        {"type": "choices", "value": {"choices": ["dog", "", "bird"]}},
    ]
    records = one({"result": result, "completed_by": 1})
    assert by_person(records, "ab12cd34-a.png") == {"ls:1": ["cat", "dog", "bird"]}


def test_annotations_without_choices_are_listed_with_why():
    boxes = {"result": [{"type": "rectanglelabels", "value": {"x": 1}}], "completed_by": 1}
    records = one(boxes, {"result": [], "completed_by": 2}, annotation(completed_by=3))

    assert records.skipped == [
        Skipped(
            "Task 1: annotation 1",
            "no choices in its result (only rectanglelabels, which an import does not read)",
        ),
        Skipped("Task 1: annotation 2", "no choices in its result: nothing to import"),
    ]
    assert by_person(records, "ab12cd34-a.png") == {"ls:3": ["cat"]}


def test_a_skipped_annotation_of_an_old_export_is_cancelled_too():
    records = one(annotation(completed_by=1, skipped=True), annotation(completed_by=2))
    assert records.skipped[0].reason.startswith("cancelled in Label Studio")
    assert by_person(records, "ab12cd34-a.png") == {"ls:2": ["cat"]}


# Decisions


def test_a_second_ground_truth_is_listed_as_not_carried():
    records = one(
        annotation(["cat"], completed_by=1, ground_truth=True),
        annotation(["dog"], completed_by=2, ground_truth=True),
    )
    image = records.images["ab12cd34-a.png"]
    assert image.annotations == []
    assert image.decision is not None and image.decision.labels == ["cat"]
    assert records.skipped == [
        Skipped(
            "Task 1: annotation 2",
            "not carried: the task's decision is Task 1: annotation 1 (gold)",
        )
    ]


def test_an_accepted_review_is_the_reviewers_adjudicated_decision():
    reviewer = {"id": 9, "email": "lead@x.org", "first_name": "L", "last_name": "R"}
    reviews = [
        {"id": 1, "created_by": reviewer, "accepted": False, "created_at": "2024-01-01T09:00:00Z"},
        {"id": 2, "created_by": reviewer, "accepted": True, "created_at": "2024-01-02T09:00:00Z"},
    ]
    records = one(
        annotation(["cat"], completed_by=1, reviews=reviews),
        annotation(["dog"], completed_by=2, reviews=[{**reviews[0], "accepted": False}]),
    )

    image = records.images["ab12cd34-a.png"]
    assert by_person(records, "ab12cd34-a.png") == {"ls:1": ["cat"], "ls:2": ["dog"]}
    decision = image.decision
    assert decision is not None
    assert (decision.labels, decision.method) == (["cat"], "adjudicated")
    assert decision.by == Person("ls:9", email="lead@x.org")
    assert decision.where == "Task 1: annotation 1: review 2"
    assert decision.decided_at == datetime(2024, 1, 2, 9, tzinfo=UTC)
    assert records.skipped == []


def test_ground_truth_wins_over_a_review_which_is_listed():
    review = {"created_by": 9, "accepted": True}
    records = one(
        annotation(["cat"], completed_by=1, ground_truth=True),
        annotation(["dog"], completed_by=2, reviews=[review]),
    )
    assert records.images["ab12cd34-a.png"].decision.method == "gold"  # type: ignore[union-attr]
    assert records.skipped == [
        Skipped(
            "Task 1: annotation 2: review 1",
            "not carried: the task's decision is Task 1: annotation 1 (gold)",
        )
    ]


@pytest.mark.parametrize(
    ("method", "carried"),
    [
        ("gold", "gold"),
        ("adjudicated", "adjudicated"),
        ("imported", "imported"),
        ("machine", "imported"),
        ("Gold", "gold"),
    ],
)
def test_our_own_exports_final_label_is_carried_with_its_method(method, carried):
    meta = {
        "sha256": "AB" * 32,
        "final_method": method,
        "final_labels": ["dog"],
        "decided_by": "lead@x.org",
        "decided_at": "2024-03-01T12:00:00+01:00",
    }
    own = {"image": "http://host/api/v1/projects/3/images/17/file/", "file_name": "pets/a b.jpg"}
    records = one(annotation(["cat"], completed_by=1), meta=meta, data=own)

    image = records.images["pets/a b.jpg"]
    assert image.sha256 == "ab" * 32
    assert by_person(records, "pets/a b.jpg") == {"ls:1": ["cat"]}
    decision = image.decision
    assert decision is not None
    assert (decision.labels, decision.method, decision.where) == (
        ["dog"],
        carried,
        "Task 1: final label",
    )
    assert decision.by == Person("lead@x.org", email="lead@x.org")
    assert decision.decided_at == datetime(2024, 3, 1, 11, tzinfo=UTC)


def test_a_consensus_final_label_is_not_carried_but_listed():
    meta = {"final_method": "consensus", "final_labels": ["cat"]}
    records = one(annotation(["cat"], completed_by=1), meta=meta)
    assert records.images["ab12cd34-a.png"].decision is None
    assert records.skipped == [
        Skipped(
            "Task 1: meta.final_method",
            "a consensus final label is not carried: it is worked out again",
        )
    ]


def test_our_final_label_may_sit_in_the_tasks_data_its_labels_as_one_text():
    data = {"image": "a.png", "final_method": "adjudicated", "final_labels": '["cat", "dog"]'}
    records = label_studio_records_of([{"data": data, "annotations": []}])
    assert records.images["a.png"].decision.labels == ["cat", "dog"]  # type: ignore[union-attr]


def test_our_final_only_export_carries_its_ground_truth_with_the_method_it_names():
    final = {"result": [{"type": "choices", "value": {"choices": ["cat"]}}], "ground_truth": True}
    adjudicated = one(final, meta={"final_method": "adjudicated"})
    decision = adjudicated.images["ab12cd34-a.png"].decision
    assert decision is not None and (decision.labels, decision.method) == (["cat"], "adjudicated")
    assert adjudicated.skipped == []

    # A consensus with no annotations to work it out from again comes in as imported.
    consensus = one(final, meta={"final_method": "consensus"})
    decision = consensus.images["ab12cd34-a.png"].decision
    assert decision is not None and (decision.labels, decision.method) == (["cat"], "imported")
    assert consensus.skipped == []
    # Beside its annotations, it is worked out again and not carried.
    annotated = one(annotation(["cat"], completed_by=1), final, meta={"final_method": "consensus"})
    assert annotated.images["ab12cd34-a.png"].decision is None
    assert [s.record for s in annotated.skipped] == ["Task 1: meta.final_method"]

    # An older export names no method: the ground truth is gold, by nobody.
    gold = one(final).images["ab12cd34-a.png"].decision
    assert gold is not None and (gold.method, gold.by) == ("gold", None)


def test_our_exports_ground_truth_beside_its_final_label_is_that_decision_not_a_second():
    """Our export names people by ``{"email": ...}``, as Label Studio imports them, and
    writes a person's decision twice: in ``meta`` and as their ground truth annotation."""
    lead = {"email": "lead@x.org"}
    meta = {"final_method": "adjudicated", "final_labels": ["dog"]}
    records = one(
        annotation(["cat"], completed_by={"email": "ann@x.org"}, ground_truth=False),
        annotation(["dog"], completed_by=lead, ground_truth=True),
        meta={**meta, "final_decided_by": "lead@x.org", "final_confidence": None},
    )
    image = records.images["ab12cd34-a.png"]
    assert by_person(records, "ab12cd34-a.png") == {"ann@x.org": ["cat"]}
    assert image.decision is not None
    assert (image.decision.method, image.decision.by) == (
        "adjudicated",
        Person("lead@x.org", email="lead@x.org"),
    )
    assert records.skipped == []


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"final_method": "vote"}, "Task 1: meta.final_method must be one of gold, adjudicated"),
        ({"final_method": 3}, "Task 1: meta.final_method must be text, not the number 3"),
        ({"sha256": "abc"}, "Task 1: meta.sha256 must be 64 hexadecimal digits"),
        ({"final_method": "gold", "final_labels": [1]}, "meta.final_labels\\[0\\] must be text"),
        ({"final_method": "gold", "final_labels": ["a"], "decided_by": 5}, "decided_by must be"),
    ],
)
def test_a_bad_final_label_field_is_refused(meta, message):
    with pytest.raises(LabelSourceError, match=message):
        one(annotation(completed_by=1), meta=meta)


# Dates, times, flags


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"created_at": "yesterday"}, "annotation 1: created_at: 'yesterday' is not a date"),
        ({"updated_at": 5}, "annotation 1: updated_at must be text, not the number 5"),
        ({"lead_time": -1}, "annotation 1: lead_time must be a number from 0 up, not -1"),
        ({"lead_time": "3"}, None),
        ({"lead_time": True}, "annotation 1: lead_time must be a number, not true"),
        ({"lead_time": float("nan")}, "lead_time must be a number from 0 up, not nan"),
        ({"was_cancelled": "no"}, "annotation 1: was_cancelled must be true or false, not text"),
        ({"ground_truth": 1}, "annotation 1: ground_truth must be true or false"),
        ({"reviews": {"accepted": True}}, "annotation 1: reviews must be a list"),
        ({"reviews": [{"accepted": "yes"}]}, "review 1: accepted must be true or false"),
    ],
)
def test_a_bad_annotation_field_is_refused_naming_it(fields, message):
    if message is None:  # a lead time the CSV writes as text is read as seconds
        found = one(annotation(completed_by=1, **fields)).images["ab12cd34-a.png"]
        assert found.annotations[0].lead_time_ms == 3000
        return
    with pytest.raises(LabelSourceError, match=message):
        one(annotation(completed_by=1, **fields))


def test_dates_without_a_zone_are_utc_and_a_lead_time_past_24_days_is_left_out():
    records = one(annotation(completed_by=1, created_at="2024-05-01T10:00:00", lead_time=3e6))
    found = records.images["ab12cd34-a.png"].annotations[0]
    assert found.created_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert found.lead_time_ms is None
    huge = one(annotation(completed_by=1, lead_time=1e308)).images["ab12cd34-a.png"]
    assert huge.annotations[0].lead_time_ms is None


# The file an image is


@pytest.mark.parametrize(
    ("reference", "key"),
    [
        ("/data/upload/3/1a2b3c4d-cat.jpg", "1a2b3c4d-cat.jpg"),
        ("http://ls:8080/data/upload/3/1a2b3c4d-K%C3%A4tzchen_1.jpg", "1a2b3c4d-Kätzchen_1.jpg"),
        ("/data/local-files/?d=photos/L%C3%B6we%20gro%C3%9F.jpg", "photos/Löwe groß.jpg"),
        ("http://ls:8080/data/local-files/?d=photos%2Fcat%2B1.jpg", "photos/cat+1.jpg"),
        ("/data/local-files?d=a+b.jpg", "a b.jpg"),  # as Label Studio's own view reads it
        ("s3://bucket/photos/dog%20two.png?X-Amz=1", "photos/dog two.png"),
        ("gs://bucket/train/%E7%8C%AB.png", "train/猫.png"),
        ("azure-blob://container/x/y.png", "x/y.png"),
        ("https://cdn.example.org/pets/cat%201.jpg?sig=2", "pets/cat 1.jpg"),
        ("images\\a.jpg", "images/a.jpg"),
    ],
)
def test_the_file_key_is_the_decoded_name_or_path_label_studio_gives(reference, key):
    assert label_studio_file_key(reference, "data.image") == key
    assert list(label_studio_records_of([task(annotation(), image=reference)]).images) == [key]


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("http://[::1", "data.image 'http://\\[::1' is not a valid URL or path"),
        ("/data/upload/3/", "data.image '/data/upload/3/' names no file"),
        ("/data/local-files/?x=1", "names no file"),
        ("/data/local-files/?d=a%00.jpg", "the file name in it holds the NUL character"),
        ("/data/upload/3/%FF.jpg", "is not a valid URL or path"),
    ],
)
def test_a_reference_naming_no_file_is_refused(reference, message):
    with pytest.raises(LabelSourceError, match=message):
        label_studio_file_key(reference, "data.image")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tasks": []}, "A Label Studio export is a JSON list of tasks"),
        ([{"data": {}}], "Task 1: data.image must be text, not null"),
        ([{"data": {"image": "a.png"}, "meta": [1]}], "Task 1: meta must be an object"),
        ([{"data": {"image": "a.png"}, "annotations": {}}], "Task 1: annotations must be a list"),
        ([{"image": "a.png", "annotator": 1, "choice": "cat"}], "this is Label Studio's JSON-MIN"),
    ],
)
def test_a_bad_export_is_refused_naming_the_task(data, message):
    with pytest.raises(LabelSourceError, match=message):
        label_studio_records_of(data)


def test_tasks_naming_one_file_add_their_annotations():
    records = label_studio_records_of(
        [task(annotation(["cat"], completed_by=1)), task(annotation(["dog"], completed_by=2))]
    )
    assert records.tasks == 2
    assert by_person(records, "ab12cd34-a.png") == {"ls:1": ["cat"], "ls:2": ["dog"]}


# The CSV and TSV exports

HEADER = '"annotation_id","annotator","choice","created_at","id","image","lead_time","updated_at"'


def csv_row(choice: str, annotator: str = '"1"', image: str = "/data/upload/1/ab12cd34-a.png"):
    return f'4,{annotator},{choice},"2024-01-01T10:00:00Z",3,"{image}",2.5,"2024-01-01T10:00:00Z"'


@pytest.mark.parametrize(
    ("cell", "labels"),
    [
        ('"cat"', ["cat"]),
        ('"{""choices"":[""cat"",""dog""]}"', ["cat", "dog"]),
        ('"[""cat"",{""choices"":[""dog""]}]"', ["cat", "dog"]),
        ('"[draft] cat"', ["[draft] cat"]),
        ('"[1, 2]"', ["[1, 2]"]),
        ('"' + "[" * 5000 + '"', ["[" * 5000]),  # no JSON: one odd label, no crash
    ],
)
def test_a_csv_choice_cell_is_one_choice_or_the_converters_json(cell, labels):
    records = label_studio_csv_records_of(f"{HEADER}\n{csv_row(cell)}\n")
    assert by_person(records, "ab12cd34-a.png") == {"ls:1": labels}


def test_csv_rows_of_deleted_users_and_empty_choices():
    text = "\n".join(
        [HEADER, csv_row('"cat"', annotator='"None"'), csv_row('""', annotator='"2"'), ""]
    )
    records = label_studio_csv_records_of(text)
    assert records.images["ab12cd34-a.png"].annotations[0].person == UNKNOWN
    assert records.skipped == [Skipped("line 3", "no choices in this row: nothing to import")]


def test_the_csv_carries_our_own_final_label_once_a_task():
    header = "annotator,choice,decided_by,file_name,final_labels,final_method,id,image"
    rows = [
        '1,cat,lead@x.org,a b.jpg,"[""dog""]",gold,3,http://host/f/1/',
        '2,dog,lead@x.org,a b.jpg,"[""dog""]",gold,3,http://host/f/1/',
    ]
    records = label_studio_csv_records_of("\n".join([header, *rows]))

    image = records.images["a b.jpg"]
    assert by_person(records, "a b.jpg") == {"ls:1": ["cat"], "ls:2": ["dog"]}
    assert image.decision is not None
    assert (image.decision.labels, image.decision.method) == (["dog"], "gold")
    assert image.decision.by == Person("lead@x.org", email="lead@x.org")
    assert records.tasks == 1 and records.skipped == []


@pytest.mark.parametrize(
    ("text", "delimiter", "message"),
    [
        (
            (FIXTURES / "export_people.tsv").read_text(),
            ",",
            "line 1: a quoted cell goes on after its closing quote instead of ending at a comma: "
            "is this a TSV file\\? Use labels_format=label-studio-tsv",
        ),
        (
            (FIXTURES / "export.csv").read_text(),
            "\t",
            "line 1: .* instead of ending at a tab: is this a CSV file\\? "
            "Use labels_format=label-studio-csv",
        ),
        (f'{HEADER}\n4,"1","cat\n', ",", "line 2: a quoted cell is never closed"),
        ("file,label\na.png,cat\n", ",", "line 1: The header has no annotator column"),
        ("annotator,choice\n1,cat\n", ",", "line 1: The header has no image column"),
        (
            "annotator,image,mood,kind\n1,a.png,x,y\n",
            ",",
            "line 1: Which column holds the choices: 'mood', 'kind'\\?",
        ),
        (f"{HEADER}\n{csv_row('cat').replace('2.5', 'slow')}\n", ",", "line 2: lead_time 'slow'"),
        ("", ",", "line 1: The file is empty"),
    ],
)
def test_a_bad_csv_export_says_which_line_and_what_to_do(text, delimiter, message):
    with pytest.raises(LabelSourceError, match=message):
        label_studio_csv_records_of(text, delimiter=delimiter)


# The flat CSV source


def test_the_flat_csv_source_reads_tsv_and_decodes_links_like_the_json():
    tsv = "file\tlabel\n/data/local-files/?d=photos/L%C3%B6we%20gro%C3%9F.jpg\tcat\nb c.png\tdog\n"
    assert labels_file_load(tsv.encode(), labels_format="tsv") == {
        LOWE: ["cat"],
        "b c.png": ["dog"],
    }
    csv_text = "image,label\ns3://bucket/x/a%20b.png,cat\nhttps://h/p/%E7%8C%AB.png,dog\n"
    assert labels_file_load(csv_text.encode(), labels_format="csv") == {
        "x/a b.png": ["cat"],
        "p/猫.png": ["dog"],
    }


@pytest.mark.parametrize(
    ("text", "labels_format", "message"),
    [
        (
            (FIXTURES / "export.csv").read_text(),
            "csv",
            "line 1: The header has no label column .* This is Label Studio's export, a row per "
            "annotation: use labels_format=label-studio-csv",
        ),
        ("file\tlabel\na.png\tcat\n", "csv", "The header holds tabs: is this a TSV file"),
        ('"file","label"\n', "tsv", "is this a CSV file\\? Use labels_format=csv"),
    ],
)
def test_the_flat_csv_source_says_which_format_a_file_looks_like(text, labels_format, message):
    with pytest.raises(LabelSourceError, match=message):
        labels_file_load(text.encode(), labels_format=labels_format)


def test_a_csv_task_whose_rows_disagree_on_its_final_label_keeps_the_first_and_says_so():
    text = (
        "id,annotator,image,choice,final_method,final_labels\n"
        "7,1,/data/upload/1/ab12cd34-a.png,cat,adjudicated,cat\n"
        "7,2,/data/upload/1/ab12cd34-a.png,dog,adjudicated,dog\n"
    )
    records = label_studio_csv_records_of(text)

    decision = records.images["ab12cd34-a.png"].decision
    assert decision is not None and decision.labels == ["cat"]
    assert [(s.record, "differs" in s.reason) for s in records.skipped] == [("line 3", True)]
