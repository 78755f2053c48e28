"""A per-person file's records imported: each annotation credited to its person (a member
matched by e-mail, or an inactive account of their own), ties left to review, decisions
carried with their method, dates and time spent kept, and every record that does not go
in listed, with counts in and out that add up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from labeler.agreement.services import final_labels_refresh
from labeler.annotations.imported import (
    AnnotationsBefore,
    ImportCredits,
    RecordKept,
    annotation_import_write,
)
from labeler.annotations.models import (
    Annotation,
    AnnotationRevision,
    Assignment,
    FinalLabel,
    FinalLabelMethod,
    LabelChange,
    Skip,
)
from labeler.annotations.submit import annotation_record
from labeler.flows import images_import
from labeler.images.counts import image_counts
from labeler.images.models import Image
from labeler.imports.applying import apply
from labeler.imports.planning.labels_in import ImportItem, LabelsIn
from labeler.imports.planning.plan import import_plan
from labeler.imports.reading.records import (
    AnnotationIn,
    DecisionIn,
    ImageRecords,
    Person,
    RecordsFile,
    Skipped,
)
from labeler.predictions.models import ModelVersion
from labeler.projects import addresses
from labeler.projects.models import AddressConfirmed, Label, Role
from tests.factories import ProjectFactory, add_member, image_bytes

ALICE = Person("ls:1", email="Alice@Example.org")
BOB = Person("ls:2", email="bob@example.org")
CAROL = Person("ls:3", email="carol@elsewhere.org")
LEAD = Person("ls:9", email="lead@example.org")
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def made(person: Person, labels: list[str], minute: int, where: str) -> AnnotationIn:
    when = T0.replace(minute=minute)
    return AnnotationIn(person, labels, where, when, when, lead_time_ms=1500 + minute)


@pytest.fixture
def members(project, lead, annotator, annotator2):
    for user, email in ((annotator, "alice@example.org"), (annotator2, "bob@example.org")):
        user.email = email
        user.save()
    lead.email = "lead@example.org"
    lead.save()
    for user in (annotator, annotator2, lead):
        addresses.email_mark_verified(user=user, how=AddressConfirmed.ADMIN)
    for name in ("cat", "dog"):
        Label.objects.get_or_create(project=project, name=name, defaults={"position": 0})
    return project


def records_file() -> RecordsFile:
    file = RecordsFile(tasks=5)
    file.add(
        "agree.png",
        ImageRecords(
            [
                made(ALICE, ["cat"], 1, "Task 1: annotation 1"),
                made(BOB, ["cat"], 2, "Task 1: annotation 2"),
            ]
        ),
    )
    file.add(
        "tie.png",
        ImageRecords(
            [
                made(ALICE, ["cat"], 3, "Task 2: annotation 1"),
                made(BOB, ["dog"], 4, "Task 2: annotation 2"),
            ]
        ),
    )
    file.add(
        "decided.png",
        ImageRecords(
            [
                made(ALICE, ["cat"], 5, "Task 3: annotation 1"),
                made(CAROL, ["dog"], 6, "Task 3: annotation 2"),
            ],
            DecisionIn(["dog"], "adjudicated", "Task 3: meta", by=LEAD),
        ),
    )
    file.add(
        "twice.png",
        ImageRecords(
            [
                made(BOB, ["cat"], 9, "Task 4: annotation 2"),
                made(BOB, ["dog"], 7, "Task 4: annotation 1"),
                made(CAROL, ["cat", "dog"], 8, "Task 4: annotation 3"),
            ]
        ),
    )
    file.add("gone.png", ImageRecords([made(ALICE, ["dog"], 10, "Task 5: annotation 1")]))
    file.skipped.append(Skipped("Task 5: annotation 2", "cancelled in Label Studio"))
    return file


def run(project, file: RecordsFile, names: list[str], user, **options):
    from labeler.imports.reading.matching import LabelMatcher

    matcher = LabelMatcher(file.images, files=names)
    items = [
        ImportItem(n, image_bytes(seed=i + 1), matcher.match(n).labels) for i, n in enumerate(names)
    ]
    labels_in = LabelsIn.of(file, labels_as="final", unmatched=matcher.unmatched)
    plan = import_plan(project=project, items=items, labels_in=labels_in, **options)
    return images_import(plan=plan, actor=user)


def labels(record) -> list[str]:
    return sorted(record.labels.values_list("name", flat=True))


NAMES = ["agree.png", "tie.png", "decided.png", "twice.png"]


@pytest.mark.django_db
@pytest.mark.parametrize("files", [1, 100])
def test_every_change_an_import_writes_is_credited_to_it_batch_by_batch(
    members, lead, media_root, monkeypatch, files
):
    """The history's credit of the import's writes is made a batch of files at a time:
    every annotation's change names the lead who ran the import and the method imported,
    whether the files came one a batch or all in one."""
    monkeypatch.setattr(apply, "STORE_FILES", files)
    summary = run(members, records_file(), NAMES, lead)

    changes = LabelChange.objects.filter(project=members, annotation_id__isnull=False)
    assert changes.count() == summary.annotations_written == 7
    assert set(changes.values_list("changed_by", "method")) == {
        (lead.pk, FinalLabelMethod.IMPORTED)
    }


@pytest.mark.django_db
def test_every_annotation_goes_to_its_person_and_decisions_keep_their_method(
    members, lead, annotator, annotator2, media_root
):
    summary = run(members, records_file(), NAMES, lead)

    by_person = {
        (a.image.original_name, a.annotator.username): labels(a)
        for a in Annotation.objects.select_related("image", "annotator")
    }
    carol = next(p for p in summary.people if p.key == "ls:3")
    assert (carol.how, carol.account) == ("new", "carol@elsewhere.org")
    assert by_person == {
        ("agree.png", "ann1"): ["cat"],
        ("agree.png", "ann2"): ["cat"],
        ("tie.png", "ann1"): ["cat"],
        ("tie.png", "ann2"): ["dog"],
        ("decided.png", "ann1"): ["cat"],
        ("decided.png", carol.account): ["dog"],
        ("twice.png", "ann2"): ["cat"],  # Bob's later annotation (minute 9) is kept
    }
    hows = {p.key: p.how for p in summary.people}
    assert hows == {"ls:1": "email", "ls:2": "email", "ls:3": "new", "ls:9": "email"}
    carol_user = Annotation.objects.get(
        image__original_name="decided.png", annotator__username=carol.account
    ).annotator
    assert not carol_user.is_active and not carol_user.has_usable_password()

    decided = FinalLabel.objects.get(image__original_name="decided.png")
    assert (decided.method, labels(decided), decided.decided_by) == (
        FinalLabelMethod.ADJUDICATED,
        ["dog"],
        lead,
    )
    # The tie is not settled by the import, nor by consensus once it refreshes: review has it.
    final_labels_refresh(project=members)
    finals = {f.image.original_name: (f.method, labels(f)) for f in FinalLabel.objects.all()}
    assert "tie.png" not in finals
    assert finals["agree.png"] == (FinalLabelMethod.CONSENSUS, ["cat"])
    assert finals["decided.png"] == (FinalLabelMethod.ADJUDICATED, ["dog"])

    first = Annotation.objects.get(image__original_name="agree.png", annotator__username="ann1")
    assert first.created_at == T0.replace(minute=1) and first.updated_at == T0.replace(minute=1)
    assert first.time_spent_ms == 1501

    lost = {n.record: n.reason for n in summary.not_applied}
    assert "already" not in " ".join(lost.values()).lower()
    assert "Task 5: annotation 2" in lost  # skipped by the reader
    assert "gone.png" in lost  # no file matched it
    assert (
        "Task 4: annotation 1" in lost
        and "later annotation is kept" in lost["Task 4: annotation 1"]
    )
    assert "single-label" in lost["Task 4: annotation 3"]  # two labels from one person

    counts = summary.counts()
    assert counts["in"] == {
        "files": 4,
        "records": 5,
        "annotations": 10,
        "decisions": 1,
        "labels": 12,
    }
    out = counts["out"]
    assert (out["annotations_written"], out["decisions_written"]) == (7, 1)
    assert out["not_applied"] == len(summary.not_applied) == 4
    # Every annotation in is written, or listed: 7 written + Bob's earlier one + Carol's
    # two-label one + the one no file matched.
    assert counts["in"]["annotations"] == out["annotations"] + 3


@pytest.mark.django_db
def test_a_second_import_of_the_same_file_changes_nothing(members, lead, media_root):
    run(members, records_file(), NAMES, lead)
    before = Annotation.objects.count(), FinalLabel.objects.filter(method="adjudicated").count()

    again = run(members, records_file(), NAMES, lead)

    assert (
        Annotation.objects.count(),
        FinalLabel.objects.filter(method="adjudicated").count(),
    ) == before
    out = again.counts()["out"]
    assert (out["annotations_written"], out["annotations"], out["decisions_written"]) == (0, 7, 0)
    assert {p.how for p in again.people if p.key == "ls:3"} == {"imported"}


@pytest.mark.django_db
def test_the_leads_choice_of_account_is_honoured(members, lead, annotator2, media_root):
    """The lead gives carol (carol@elsewhere.org) to ann2, whose e-mail is another: the
    import takes it once the lead confirms it."""
    summary = run(
        members,
        records_file(),
        NAMES,
        lead,
        annotators={"ls:3": "ann2", "ls:2": "new"},
        people_confirmed=["carol@elsewhere.org"],
    )

    hows = {p.key: (p.how, p.account) for p in summary.people}
    assert hows["ls:3"] == ("chosen", "ann2")
    assert hows["ls:2"][0] == "new"
    carols = Annotation.objects.filter(image__original_name="decided.png", annotator=annotator2)
    assert [labels(a) for a in carols] == [["dog"]]


@pytest.mark.django_db
def test_a_decision_never_replaces_a_final_label_a_person_settled(members, lead, media_root):
    file = RecordsFile(tasks=1)
    file.add("a.png", ImageRecords([], DecisionIn(["cat"], "gold", "Task 1", by=LEAD)))
    run(members, file, ["a.png"], lead)
    other = RecordsFile(tasks=1)
    other.add("a.png", ImageRecords([], DecisionIn(["dog"], "adjudicated", "Task 1", by=LEAD)))

    summary = run(members, other, ["a.png"], lead)

    final = FinalLabel.objects.get(image__original_name="a.png")
    assert (final.method, labels(final)) == ("gold", ["cat"])
    assert [n.record for n in summary.not_applied] == ["Task 1"]
    assert "does not replace" in summary.not_applied[0].reason


@pytest.mark.django_db
def test_a_files_decision_meets_the_final_label_a_file_before_it_is_waiting_to_write(
    members, lead, media_root
):
    """A file's final label waits for its batch; a later file of the same content whose
    records carry a decision is weighed against it all the same, as one by one."""
    file = RecordsFile(tasks=1)
    file.add("again.png", ImageRecords([], DecisionIn(["cat"], "gold", "Task 1", by=LEAD)))
    data = image_bytes()
    items = [
        ImportItem("plain.png", data, ["dog"]),
        ImportItem("again.png", data, file.images["again.png"]),
    ]
    labels_in = LabelsIn.of(file, labels_as="final", unmatched=None)
    plan = import_plan(project=members, items=items, labels_in=labels_in)

    summary = images_import(plan=plan, actor=lead)

    final = FinalLabel.objects.get(image__project=members)
    assert (final.method, labels(final)) == ("imported", ["dog"])
    assert [n.record for n in summary.not_applied] == ["Task 1"]
    assert "(imported)" in summary.not_applied[0].reason


@pytest.mark.django_db
def test_a_members_newer_annotation_here_is_kept_over_an_older_one_in_the_file(
    members, lead, annotator, media_root
):
    run(members, records_file(), NAMES, lead)
    mine = Annotation.objects.get(image__original_name="tie.png", annotator=annotator)
    dog = Label.objects.get(project=members, name="dog")
    annotation_record(project=members, annotator=annotator, image_id=mine.image_id, labels=[dog.pk])

    again = run(members, records_file(), NAMES, lead)

    assert labels(Annotation.objects.get(pk=mine.pk)) == ["dog"]
    (kept,) = [n for n in again.not_applied if n.record == "Task 2: annotation 1"]
    assert "newer than the file's" in kept.reason and "is kept" in kept.reason


def _marginal_statements(project, user, annotators: list[Person], seed: int) -> list[str]:
    """The statements of importing three new images, each labelled by ``annotators``."""
    from labeler.imports.reading.matching import LabelMatcher

    file = RecordsFile(tasks=3)
    names = [f"batch-{seed}-{i}.png" for i in range(3)]
    for i, name in enumerate(names):
        file.add(
            name,
            ImageRecords(
                [made(p, ["cat"], 10 * i + k, f"{name}: {k}") for k, p in enumerate(annotators)]
            ),
        )
    matcher = LabelMatcher(file.images, files=names)
    items = [
        ImportItem(n, image_bytes(seed=seed + i), matcher.match(n).labels)
        for i, n in enumerate(names)
    ]
    labels_in = LabelsIn.of(file, labels_as="final", unmatched=matcher.unmatched)
    plan = import_plan(project=project, items=items, labels_in=labels_in)
    with CaptureQueriesContext(connection) as queries:
        summary = images_import(plan=plan, actor=user)
    assert summary.counts()["out"]["annotations_written"] == 3 * len(annotators)
    return [query["sql"].lstrip().upper() for query in queries.captured_queries]


@pytest.mark.django_db
def test_an_imported_annotation_takes_no_savepoint_and_reads_no_labels(members, lead, media_root):
    """A person's annotation is written without a savepoint of its own (its writer refuses
    before it writes: see the test below), and the file's label names are resolved once
    per import, not read again for each annotation: three images with two annotations each
    cost no savepoint and no label read more than with one each. Their credits in the
    history are made together."""
    one = _marginal_statements(members, lead, [ALICE], seed=100)
    two = _marginal_statements(members, lead, [ALICE, BOB], seed=200)

    def count(statements: list[str], test) -> int:
        return sum(1 for statement in statements if test(statement))

    def savepoint(statement: str) -> bool:
        return statement.startswith("SAVEPOINT")

    def label_read(statement: str) -> bool:
        return statement.startswith("SELECT") and '"PROJECTS_LABEL"' in statement.split("WHERE")[0]

    def credit(statement: str) -> bool:
        return "UPDATE" in statement and '"ANNOTATIONS_LABELCHANGE"' in statement

    def annotation_read(statement: str) -> bool:
        return statement.startswith("SELECT A.*, AL.LABEL_ID AS LABEL_ROW")

    assert count(two, savepoint) - count(one, savepoint) == 0
    assert count(two, label_read) - count(one, label_read) == 0
    # The people's annotations here are read once for the batch of files, not once each.
    assert count(one, annotation_read) == count(two, annotation_read) == 1
    # The history's credit of the writes to the import: one statement for the batch.
    assert count(one, credit) == count(two, credit) == 1
    assert count(one, savepoint) > 0  # the statements were seen
    assert len(two) - len(one) > 0


@pytest.mark.django_db
def test_a_batchs_read_answers_each_persons_first_record_and_the_database_after(
    members, lead, annotator, annotator2, make_images, media_root
):
    """The annotations a batch read together answer each (image, person) once, before the
    import writes it; a second record of the same person on the image (a file of the same
    content later in the batch) sees what the first one wrote, and an image of no batch is
    read from the database."""
    first, other = make_images(members, 2)
    cat, dog = (Label.objects.get(project=members, name=name) for name in ("cat", "dog"))
    annotation_record(project=members, annotator=annotator, image_id=first.pk, labels=[cat.pk])
    before = AnnotationsBefore([first.pk])

    def write(image, person, label, when) -> bool:
        return annotation_import_write(
            project=members, image=image, labels=[label], annotator=person, by=lead,
            created_at=when, updated_at=when, before=before,
        ).changed  # fmt: skip

    later = datetime.now(UTC)
    assert write(first, annotator, dog, later)  # the member's older cat, read with the batch
    assert not write(first, annotator, dog, later)  # the dog just written, read again
    assert write(first, annotator2, cat, later)
    assert write(first, annotator2, dog, later + timedelta(seconds=1))
    assert write(other, annotator, cat, later) and not write(other, annotator, cat, later)
    assert labels(Annotation.objects.get(image=first, annotator=annotator)) == ["dog"]
    assert labels(Annotation.objects.get(image=first, annotator=annotator2)) == ["dog"]


@pytest.mark.django_db(transaction=True)
def test_a_batchs_images_are_locked_from_its_read_to_the_imports_commit(
    needs_postgres, members, lead, make_images, media_root
):
    """What the batch read stays true until the import writes: its images' rows are locked
    as a submit locks its image, so no one else labels them in between (PostgreSQL's row
    locks; SQLite lets one writer in at a time)."""
    import psycopg2
    from psycopg2 import errors

    (image,) = make_images(members, 1)
    settings = connection.settings_dict
    other = psycopg2.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
    )  # fmt: skip
    locked = 'SELECT id FROM "images_image" WHERE id = %s FOR UPDATE NOWAIT'
    try:
        with transaction.atomic():
            AnnotationsBefore([image.pk])
            with other, other.cursor() as cursor, pytest.raises(errors.LockNotAvailable):
                cursor.execute(locked, [image.pk])
        with other, other.cursor() as cursor:
            cursor.execute(locked, [image.pk])  # free once the import's transaction ends
            assert cursor.fetchone() == (image.pk,)
    finally:
        other.close()


@pytest.mark.django_db
def test_an_imported_annotation_is_refused_before_anything_is_written(
    members, lead, annotator, make_images, media_root
):
    """Where a member's newer annotation is kept, the import's writer says so having only
    read: the import records its annotations without a savepoint each to undo one."""
    (image,) = make_images(members, 1)
    cat, dog = (Label.objects.get(project=members, name=name) for name in ("cat", "dog"))
    annotation_record(project=members, annotator=annotator, image_id=image.pk, labels=[cat.pk])
    with CaptureQueriesContext(connection) as queries, pytest.raises(RecordKept):
        annotation_import_write(
            project=members,
            image=image,
            labels=[dog],
            annotator=annotator,
            by=lead,
            created_at=T0,
            updated_at=T0,
        )
    statements = [query["sql"].lstrip().split()[0].upper() for query in queries.captured_queries]
    assert statements and set(statements) == {"SELECT"}


@pytest.mark.django_db(transaction=True)
def test_a_label_made_for_a_refused_annotation_stays_for_the_next_one(
    members, lead, annotator, media_root
):
    """With create_labels, the label a refused annotation names (a member's newer one is
    kept) is made all the same, and the next annotation to name it is written with it:
    the label's row is not undone with the refused annotation's writes."""
    first = RecordsFile(tasks=1)
    first.add("tie.png", ImageRecords([made(ALICE, ["cat"], 3, "Task 1: annotation 1")]))
    run(members, first, ["tie.png"], lead)
    mine = Annotation.objects.get(image__original_name="tie.png", annotator=annotator)
    annotation_record(project=members, annotator=annotator, image_id=mine.image_id, labels=["dog"])

    second = RecordsFile(tasks=2)
    second.add("tie.png", ImageRecords([made(ALICE, ["zebra"], 3, "Task 1: annotation 1")]))
    second.add("new.png", ImageRecords([made(BOB, ["zebra"], 4, "Task 2: annotation 1")]))
    summary = run(members, second, ["tie.png", "new.png"], lead, create_labels=True)

    (kept,) = [n for n in summary.not_applied if n.record == "Task 1: annotation 1"]
    assert "is kept" in kept.reason
    assert labels(Annotation.objects.get(pk=mine.pk)) == ["dog"]
    zebra = Label.objects.get(project=members, name="zebra")
    bobs = Annotation.objects.get(image__original_name="new.png")
    assert list(bobs.labels.all()) == [zebra]


def _recorded_together_or_not(lead, annotator, annotator2, make_images, later, together):
    """A project with leases (one handing out a suggestion, one a withheld one on a grid
    page), a skip and an annotation already there, then people's records imported on its
    images through one batch's read, their new annotations written ``together`` or one by
    one; what every table then holds, by image number and person, and the statements."""
    project = ProjectFactory(multi_label=True, overlap=2)
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator)
    add_member(project, annotator2)
    images = make_images(project, 4)
    cat, dog, bird = (Label.objects.get(project=project, name=n) for n in ("cat", "dog", "bird"))
    model = ModelVersion.objects.create(project=project, version=1, is_current=True)
    soon = datetime.now(UTC) + timedelta(minutes=10)
    Assignment.objects.create(
        project=project,
        image=images[0],
        annotator=annotator,
        expires_at=soon,
        suggested_by=model,
        suggested_label_ids=[cat.pk],
    )
    Assignment.objects.create(project=project, image=images[1], annotator=annotator2,
                              expires_at=soon, suggested_by=model, suggested_label_ids=[dog.pk],
                              suggestion_withheld=True, grid=True)  # fmt: skip
    Skip.objects.create(project=project, image=images[2], annotator=annotator2, grid=True)
    annotation_record(project=project, annotator=annotator, image_id=images[3].pk, labels=[cat.pk])
    records = [  # image, person, labels, seconds after ``later``
        (0, annotator, [cat], 1), (0, annotator2, [dog, bird], 2), (1, annotator2, [dog], 3),
        (1, annotator, [cat], 4), (2, annotator2, [cat], 5), (3, annotator, [dog], 6),
        (3, annotator2, [cat], 7), (0, annotator, [bird], 8),
    ]  # fmt: skip
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        before = AnnotationsBefore([i.pk for i in images], project=project if together else None)
        credits = ImportCredits(by=lead)
        for number, person, chosen, seconds in records:
            when = later + timedelta(seconds=seconds)
            annotation_import_write(
                project=project, image=images[number], labels=chosen, annotator=person, by=lead,
                created_at=when, updated_at=when, time_spent_ms=100 * seconds, credits=credits,
                before=before,
            )  # fmt: skip
        before.written()
        credits.made()
    number = {image.pk: n for n, image in enumerate(images)}
    name = {u.pk: u.username for u in (lead, annotator, annotator2)} | {None: None}
    label = {lab.pk: lab.name for lab in (cat, dog, bird)}

    def names(ids) -> tuple[str, ...]:
        return tuple(sorted(label[i] for i in ids))

    annotations = Annotation.objects.filter(project=project)
    held = {
        "annotations": sorted(
            (number[a.image_id], name[a.annotator_id], names(a.labels.values_list("pk", flat=True)),
             a.time_spent_ms, a.suggested_by_id is not None, a.suggestion_accepted,
             a.suggestion_shown, a.suggestion_withheld, a.grid,
             a.created_at if (a.created_at - later).microseconds == 0 else "its own", a.updated_at)
            for a in annotations
        ),
        "revisions": sorted(
            (number[r.annotation.image_id], name[r.annotation.annotator_id], names(r.label_ids),
             r.time_spent_ms)
            for r in AnnotationRevision.objects.filter(annotation__project=project)
        ),
        "changes": sorted(
            (number[c.image_id], c.kind, c.method, name[c.annotator_id], name[c.changed_by_id],
             names(c.from_label_ids), names(c.to_label_ids))
            for c in LabelChange.objects.filter(project=project)
        ),
        "images": [
            (number[i.pk], i.annotation_count, i.is_complete)
            for i in Image.objects.filter(project=project).order_by("pk")
        ],
        "leases": sorted((number[a.image_id], name[a.annotator_id])
                         for a in Assignment.objects.filter(project=project)),
        "skips": sorted((number[s.image_id], name[s.annotator_id])
                        for s in Skip.objects.filter(project=project)),
        "counted": image_counts(project.pk),
    }  # fmt: skip
    creates = sum(
        'INSERT INTO "annotations_annotation" (' in q["sql"] for q in queries.captured_queries
    )
    return held, creates


@pytest.mark.django_db
def test_new_annotations_written_together_are_those_written_one_by_one(
    needs_postgres, lead, annotator, annotator2, make_images, media_root
):
    """The people's new annotations of a batch are written together, in one statement: each
    as the submit's writer writes one (its suggestion from the lease, the lease and the
    skip released, the image counted and complete at its overlap, a revision, the history
    credited to the import); a person's annotation there before, and a second record of a
    person on an image, go one by one, as they did."""
    later = datetime.now(UTC)
    one_by_one, creates_each = _recorded_together_or_not(
        lead, annotator, annotator2, make_images, later, together=False
    )
    together, creates_together = _recorded_together_or_not(
        lead, annotator, annotator2, make_images, later, together=True
    )
    for key in together:
        assert together[key] == one_by_one[key], key
    assert creates_together == 1 and creates_each == 6
    by_person = {(a[0], a[1]): a for a in together["annotations"]}
    accepted, withheld, from_skip = by_person[1, "ann2"], by_person[1, "ann2"], by_person[2, "ann2"]
    assert by_person[0, "ann1"][2] == ("bird",)  # the second record, after the first wrote
    assert accepted[4:8] == (True, True, True, True) and withheld[8] is True  # on a grid page
    assert from_skip[8] is True and from_skip[4] is False
    assert together["leases"] == [] and together["skips"] == []
    assert together["images"] == [(0, 2, True), (1, 2, True), (2, 1, False), (3, 2, True)]
    # Every change the import made is credited to it; ann1's own label before it is theirs.
    authors = [c[4] for c in together["changes"]]
    assert authors.count("ann1") == 1 and set(authors) == {"ann1", "lead"}
