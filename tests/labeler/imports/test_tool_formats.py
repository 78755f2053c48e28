"""The other tools' labels files read person by person: CVAT's XML, a Labelbox export,
FiftyOne's classification dataset and a CSV with a column per annotator. Plain Python,
no database: the fixtures are files as each tool writes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from labeler.imports.reading.loader import LabelSourceError, labels_path_read
from labeler.imports.reading.records import ADJUDICATED, GOLD, IMPORTED, Person, RecordsFile
from labeler.imports.reading.sources import (
    LABEL_FILE_SUFFIX,
    PER_PERSON_FORMATS,
    imagefolder_labels_of,
    records_file_load,
)
from labeler.imports.reading.tool_formats import (
    annotator_columns_records,
    cvat_xml_records,
    fiftyone_records,
    labelbox_ndjson_records,
)
from labeler.json_depth import MAX_DEPTH

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(path: str) -> str:
    return labels_path_read(FIXTURES / path)


def by_person(records: RecordsFile, key: str) -> dict[str, list[str]]:
    """The labels each person gave the image."""
    return {a.person.key: a.labels for a in records.images[key].annotations}


def skipped(records: RecordsFile) -> dict[str, str]:
    return {s.record: s.reason for s in records.skipped}


# CVAT


def test_cvat_task_export_credits_the_assignee_with_every_image_tags():
    records = cvat_xml_records(fixture("cvat/task_annotations.xml"))

    zoe = Person("cvat:zoë.brontë", email="zoe@example.org", username="zoë.brontë")
    assert records.tasks == 5
    assert records.people() == [zoe]
    assert by_person(records, "a.jpg") == {zoe.key: ["cat"]}
    assert by_person(records, "b b.jpg") == {zoe.key: ["dog"]}  # the model's cat is not hers
    assert by_person(records, "c.jpg") == {zoe.key: ["dog"]}  # semi-auto: drawn by her
    assert by_person(records, "photos/été/e.jpg") == {zoe.key: ["cat", "dog"]}
    assert records.decision_count() == 0


def test_cvat_lists_what_it_does_not_apply_with_its_reason():
    records = cvat_xml_records(fixture("cvat/task_annotations.xml"))

    assert skipped(records) == {
        "Image 'b b.jpg': tag 'cat'": 'made by a model in CVAT (source="auto"), not by a person',
        "Image 'c.jpg'": "2 shapes (box, polygon) ignored: not image labels",
        "Image 'd.jpg'": "no tag: not labelled in CVAT",
        "Image 'photos/été/e.jpg': tag 'cat'": (
            'uploaded into CVAT from a file (source="file"): who made it is unknown'
        ),
    }
    assert "d.jpg" not in records.images


def test_cvat_job_export_credits_the_job_assignee_and_carries_consensus_as_imported():
    records = cvat_xml_records(fixture("cvat/job_annotations.xml"))

    assert records.people() == [Person("cvat:bob", username="bob")]
    assert by_person(records, "a.jpg") == {"cvat:bob": ["dog"]}
    merged = records.images["b b.jpg"]
    assert merged.annotations == []
    assert merged.decision is not None
    assert (merged.decision.labels, merged.decision.method) == (["dog"], IMPORTED)
    assert merged.decision.by is None


def test_cvat_project_export_gives_each_task_assignee_their_labels_of_the_same_image():
    records = cvat_xml_records(fixture("cvat/project_annotations.xml"))

    assert by_person(records, "a.jpg") == {"cvat:alice": ["cat"], "cvat:bob": ["dog"]}
    assert by_person(records, "b b.jpg") == {"cvat:alice": ["dog"], "cvat:bob": ["dog"]}
    assert [a.where for a in records.images["a.jpg"].annotations] == [
        "Task 12: image 'a.jpg'",
        "Task 13: image 'a.jpg'",
    ]
    unassigned = records.images["f.jpg"]  # its task names no assignee
    assert unassigned.annotations == []
    assert unassigned.decision is not None and unassigned.decision.method == IMPORTED
    assert unassigned.decision.labels == ["cat"]
    assert records.annotation_count() == 4 and records.tasks == 5


def cvat(images: str, meta: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n<version>1.1</version>\n'
        f"<meta>{meta}</meta>\n{images}\n</annotations>\n"
    )


ASSIGNED = "<task><id>1</id><assignee><username>ann</username><email/></assignee></task>"


def test_cvat_tags_without_source_are_a_person_s_and_tracks_are_skipped():
    text = cvat(
        '<image id="0" name="x.png"><tag label="cat"></tag></image>'
        '<track id="0" label="cat" source="manual"><box frame="0" outside="0" occluded="0" '
        'keyframe="1" xtl="1" ytl="1" xbr="2" ybr="2" z_order="0"></box></track>',
        ASSIGNED,
    )

    records = cvat_xml_records(text)

    assert by_person(records, "x.png") == {"cvat:ann": ["cat"]}
    assert skipped(records) == {
        "Track 0": "a video track is no image label: a classification project takes tags"
    }


def test_cvat_tags_of_a_file_naming_no_assignee_are_an_imported_decision():
    records = cvat_xml_records(cvat('<image id="0" name="x.png"><tag label="dog"/></image>'))

    decision = records.images["x.png"].decision
    assert decision is not None and (decision.labels, decision.method) == (["dog"], IMPORTED)
    assert records.people() == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<annotations><image name='a.jpg'>", "line 1: Not valid XML: no element found."),
        (
            "<annotations>\n<image name='a.jpg'/>\n</annotation>",
            "line 3: Not valid XML: mismatched",
        ),
        (" \n", "The XML file is empty."),
        ("<labels/>", "A CVAT XML file has <annotations> at its root, not <labels>."),
        (cvat('<image id="7"><tag label="cat"/></image>'), "Image 1 (id '7') has no name."),
        (cvat('<image id="0" name="a.jpg"><tag label=" "/></image>'), "Image 'a.jpg': a tag"),
    ],
)
def test_cvat_bad_files_are_refused_naming_the_record(text, message):
    with pytest.raises(LabelSourceError) as refused:
        cvat_xml_records(text)
    assert str(refused.value).startswith(message)


def test_cvat_refuses_entity_expansion_and_external_entities():
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
        "<annotations><image id='0' name='a.jpg'><tag label='&lol2;'/></image></annotations>"
    )
    external = (
        '<?xml version="1.0"?>\n<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        "<annotations><image id='0' name='&x;'/></annotations>"
    )
    for text in (bomb, external):
        with pytest.raises(LabelSourceError, match="declares a document type or entities"):
            cvat_xml_records(text)


def test_cvat_refuses_elements_nested_deeper_than_the_json_limit():
    deep = "<annotations>" + "<x>" * MAX_DEPTH + "</x>" * MAX_DEPTH + "</annotations>"

    with pytest.raises(LabelSourceError, match=f"nest more than {MAX_DEPTH} levels"):
        cvat_xml_records(deep)
    shallow = "<annotations>" + "<x>" * (MAX_DEPTH - 1) + "</x>" * (MAX_DEPTH - 1)
    assert cvat_xml_records(shallow + "</annotations>").images == {}


# Labelbox


def test_labelbox_labels_are_their_authors_annotations_with_dates_and_time_spent():
    records = labelbox_ndjson_records(fixture("labelbox/export.ndjson"))

    assert records.tasks == 7
    alice, zoe = records.images["a.jpg"].annotations  # two labellers disagree
    assert (alice.person, alice.labels) == (
        Person("alice@example.org", email="alice@example.org"),
        ["Cat"],
    )
    assert alice.created_at == datetime(2024, 3, 2, 10, 0, tzinfo=UTC)
    assert alice.updated_at == datetime(2024, 3, 2, 10, 0, 12, tzinfo=UTC)
    assert alice.lead_time_ms == 12400
    assert alice.where == "line 1: label 1"
    assert (zoe.person.email, zoe.labels, zoe.lead_time_ms) == (
        "zoë.brontë@example.org",
        ["Dog"],
        7000,
    )
    assert by_person(records, "b b.jpg") == {"alice@example.org": ["Cat", "Dog"]}  # checklist
    assert by_person(records, "dog two.png") == {"alice@example.org": ["Dog"]}  # row_data


def test_labelbox_approved_review_is_an_adjudicated_decision_by_the_reviewer():
    records = labelbox_ndjson_records(fixture("labelbox/export.ndjson"))

    decision = records.images["b b.jpg"].decision
    assert decision is not None
    assert (decision.labels, decision.method) == (["Cat", "Dog"], ADJUDICATED)
    assert decision.by == Person("lead@example.org", email="lead@example.org")
    assert decision.decided_at == datetime(2024, 3, 3, 8, 0, tzinfo=UTC)


def test_labelbox_benchmark_label_is_gold_and_not_an_annotation():
    records = labelbox_ndjson_records(fixture("labelbox/export.ndjson"))

    image = records.images["c.jpg"]
    assert by_person(records, "c.jpg") == {"alice@example.org": ["Dog"]}
    assert image.decision is not None
    assert (image.decision.labels, image.decision.method) == (["Cat"], GOLD)
    assert image.decision.by == Person("lead@example.org", email="lead@example.org")


def test_labelbox_lists_labels_and_rows_that_give_no_classification():
    records = labelbox_ndjson_records(fixture("labelbox/export.ndjson"))

    assert skipped(records) == {
        "line 4: label 1": "1 object (boxes, masks...) but no classification",
        "line 5: label 1": "skipped in Labelbox by zoë.brontë@example.org",
        "line 6": "no label on 'f.jpg' in the export",
    }
    assert {"d.jpg", "e.jpg", "f.jpg"}.isdisjoint(records.images)


def labelbox_row(**label_fields) -> str:
    label = {
        "id": "l1",
        "label_details": {"created_by": "ann@example.org", "created_at": "2024-01-02T03:04:05Z"},
        "performance_details": {"seconds_to_create": 2},
        "annotations": {"objects": [], "classifications": []},
    }
    label.update(label_fields)
    row = {"data_row": {"id": "r1", "external_id": "x.jpg"}, "projects": {"p": {"labels": [label]}}}
    return json.dumps(row) + "\n"


def radio(name: str) -> dict:
    return {"name": "species", "radio_answer": {"name": name, "value": name.lower()}}


def test_labelbox_free_text_is_no_label_and_a_day_long_time_is_not_kept():
    text = labelbox_row(annotations={"classifications": [{"text_answer": {"content": "hm"}}]})
    text += labelbox_row(
        performance_details={"seconds_to_create": 90_000},
        annotations={"classifications": [radio("Cat")]},
    )

    records = labelbox_ndjson_records(text)

    annotation = records.images["x.jpg"].annotations[0]
    assert (annotation.labels, annotation.lead_time_ms) == (["Cat"], None)
    assert skipped(records) == {
        "line 1: label 1": "no radio or checklist answer (free text names no label)",
        "line 2: label 1: seconds_to_create": (
            "90,000 s is over a day: the annotation is kept without its time"
        ),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (labelbox_row() + "{not json\n", "line 2: Not valid JSON"),
        ("[]\n", "line 1 must be an object, not a list."),
        ('{"projects": {}}\n', "line 1: data_row must be an object, not null."),
        (
            labelbox_row(label_details={"created_at": "2024-01-02"}),
            "line 1: label 1: label_details.created_by (the labeller's e-mail) is missing",
        ),
        (
            labelbox_row(
                label_details={"created_by": "a@b.c", "created_at": "yesterday"},
                annotations={"classifications": [radio("Cat")]},
            ),
            "line 1: label 1: created_at: 'yesterday' is not a date and time (ISO 8601: "
            "2024-05-01T10:00:00Z or 2024-05-01); give one from 1000-01-01 to 9998-12-31.",
        ),
        (
            labelbox_row(
                performance_details={"seconds_to_create": -3},
                annotations={"classifications": [radio("Cat")]},
            ),
            "line 1: label 1: seconds_to_create must be 0 or more.",
        ),
        (
            labelbox_row(annotations={"classifications": [{"radio_answer": {"name": 7}}]}),
            "line 1: label 1: classification 1: radio_answer: name must be text",
        ),
    ],
)
def test_labelbox_bad_lines_are_refused_naming_the_line(text, message):
    with pytest.raises(LabelSourceError) as refused:
        labelbox_ndjson_records(text)
    assert str(refused.value).startswith(message)


# FiftyOne


def test_fiftyone_labels_are_imported_decisions_by_no_one():
    records = fiftyone_records(fixture("fiftyone/labels.json"))

    decisions = {key: r.decision for key, r in records.images.items()}
    assert {key: d.labels for key, d in decisions.items() if d} == {
        "a": ["cat"],
        "b b": ["dog"],
        "photos/été/e": ["cat", "rabbit"],
        "f": ["dog"],  # an object with its confidence
    }
    assert {d.method for d in decisions.values() if d} == {IMPORTED}
    assert records.people() == [] and records.annotation_count() == 0
    assert records.tasks == 5
    assert skipped(records) == {"Image 'c'": "no label: unlabelled in FiftyOne"}


def test_fiftyone_labels_without_classes_are_the_names_themselves():
    records = fiftyone_records(fixture("fiftyone/labels_without_classes.json"))

    assert {k: r.decision.labels for k, r in records.images.items() if r.decision} == {
        "a": ["cat"],
        "g": ["dog", "rabbit"],
    }
    assert skipped(records) == {"Image 'h'": "no label: unlabelled in FiftyOne"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "A FiftyOne labels.json is an object with 'classes' and 'labels'"),
        ({"classes": ["cat"]}, "A FiftyOne labels.json is an object"),
        ({"classes": ["cat"], "labels": {"a": 1}}, "Image 'a': class index 1 is not one of"),
        ({"classes": None, "labels": {"a": 0}}, "Image 'a': class index 0, but the file lists"),
        ({"classes": ["cat"], "labels": {"a": True}}, "Image 'a': a label is a class index"),
        ({"classes": ["cat"], "labels": {"a": {"confidence": 1}}}, "Image 'a': a label object"),
        ({"classes": "cat", "labels": {}}, "classes must be a list, not text."),
    ],
)
def test_fiftyone_bad_files_are_refused_naming_the_image(data, message):
    with pytest.raises(LabelSourceError) as refused:
        fiftyone_records(json.dumps(data))
    assert str(refused.value).startswith(message)


def test_fiftyone_directory_tree_is_an_imagefolder_without_its_unlabelled_folder():
    labels = imagefolder_labels_of(["cat/1.jpg", "dog/2.jpg", "_unlabeled/3.jpg"])

    assert labels == {"cat/1.jpg": ["cat"], "dog/2.jpg": ["dog"]}


# A CSV with a column per annotator


def test_annotator_columns_give_each_person_their_labels():
    records = annotator_columns_records(fixture("annotator_csv/annotators.csv"))

    alice = Person("alice@example.org", email="alice@example.org")
    zoe = Person("Zoë Brontë", username="Zoë Brontë")
    assert records.people() == [alice, zoe, Person("bob", username="bob")]
    assert records.tasks == 5
    assert by_person(records, "a.jpg") == {  # bob's second row adds to his first
        alice.key: ["cat"],
        zoe.key: ["dog"],
        "bob": ["cat", "dog"],
    }
    assert by_person(records, "b b.jpg") == {alice.key: ["cat", "dog"]}
    assert by_person(records, "photos/été/e.jpg") == {alice.key: ["dog"], zoe.key: ["dog", "cat"]}
    assert [a.where for a in records.images["photos/été/e.jpg"].annotations] == ["line 5"] * 2
    assert skipped(records) == {
        "line 4": "no one labelled 'c.jpg': every annotator's cell is empty"
    }


def test_annotator_columns_take_off_the_quote_of_a_formula_like_cell():
    records = annotator_columns_records("image,ann\n'=x.jpg,'-1\n")

    assert by_person(records, "=x.jpg") == {"ann": ["-1"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: The CSV file is empty"),
        ("name,alice\na.jpg,cat\n", "line 1: The header has no file column"),
        ("file\na.jpg\n", "line 1: The header names no annotator"),
        ("file,label\na.jpg,cat\n", "line 1: Column 2 is 'label': here every column"),
        ("file,alice,,bob\n", "line 1: Column 3 has no header: name its annotator."),
        ("file,Alice,alice\n", "line 1: 'alice' heads columns 2 and 3."),
        ("file,alice\na.jpg,cat,dog\n", "line 2: 3 cells, but the header names 2 columns."),
        ("file,alice\na.jpg,cat\n ,dog\n", "line 3: The file name is empty."),
        ('file,alice\n"a.jpg"x,cat\n', "line 2: Not a readable CSV file"),
    ],
)
def test_annotator_columns_bad_files_are_refused_naming_the_line(text, message):
    with pytest.raises(LabelSourceError) as refused:
        annotator_columns_records(text)
    assert str(refused.value).startswith(message)


# Through the loader


@pytest.mark.parametrize(
    ("labels_format", "path", "suffix"),
    [
        ("cvat-xml", "cvat/task_annotations.xml", ".xml"),
        ("labelbox-ndjson", "labelbox/export.ndjson", ".ndjson"),
        ("fiftyone", "fiftyone/labels.json", ".json"),
        ("csv-annotators", "annotator_csv/annotators.csv", ".csv"),
    ],
)
def test_each_format_is_read_by_the_loader_as_per_person_records(labels_format, path, suffix):
    assert labels_format in PER_PERSON_FORMATS
    assert LABEL_FILE_SUFFIX[labels_format] == suffix

    from_path = records_file_load(FIXTURES / path, labels_format=labels_format)
    from_bytes = records_file_load((FIXTURES / path).read_bytes(), labels_format=labels_format)

    assert from_path == from_bytes
    assert from_path.images
