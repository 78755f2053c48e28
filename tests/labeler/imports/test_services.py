"""Importing images with their labels: each source's labels recorded with their origin,
a second run updating rather than adding, and each file stored with its labels or not at all."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeler.agreement.rows import HUMAN_DECISIONS, SETTLED
from labeler.agreement.services import final_labels_refresh
from labeler.annotations.models import (
    Annotation,
    AnnotationRevision,
    FinalLabel,
    FinalLabelMethod,
    LabelChange,
)
from labeler.annotations.submit import annotation_record
from labeler.errors import ValidationFailed
from labeler.flows import agreement_refresh, images_import, project_update
from labeler.images import services as image_services
from labeler.images.models import Image
from labeler.images.pixels.files import RejectedFile
from labeler.imports.applying import apply
from labeler.imports.applying.labels import Decision, DecisionsBatch
from labeler.imports.planning.labels_in import ImportItem
from labeler.imports.planning.plan import import_plan
from labeler.predictions.dataset import training_set
from labeler.projects.models import Label, Membership, Role
from labeler.task_names import Task
from tests.factories import ProjectFactory, add_member, annotation_submit, image_bytes


def item(name: str, labels: list[str] | None = None, data: bytes | None = None) -> ImportItem:
    return ImportItem(name, image_bytes() if data is None else data, labels)


def run(
    project, *items: ImportItem, labels_as: str = "final", user=None, annotator_name=None, **options
):
    plan = import_plan(
        project=project, items=items, labels_as=labels_as, annotator=annotator_name, **options
    )
    return images_import(plan=plan, actor=user)


def labels_of(final: FinalLabel) -> list[str]:
    return sorted(final.labels.values_list("name", flat=True))


def stored_files(media_root: Path) -> set[str]:
    return {
        p.relative_to(media_root).as_posix() for p in Path(media_root).rglob("*") if p.is_file()
    }


@pytest.mark.django_db
def test_final_labels_are_imported_done_and_trained_on(project, lead, media_root):
    summary = run(project, item("a.png", ["cat"]), item("b.png", ["dog"]), user=lead)

    assert (summary.created, summary.labels_applied) == (2, 2)
    a = Image.objects.get(original_name="a.png")
    assert a.is_complete and a.annotation_count == 0
    assert a.final_label.method == FinalLabelMethod.IMPORTED
    assert a.final_label.decided_by == lead and a.final_label.confidence is None
    assert labels_of(a.final_label) == ["cat"]
    cat, dog = (Label.objects.get(project=project, name=n).pk for n in ("cat", "dog"))
    data = training_set(project)
    assert data.image_ids == sorted(Image.objects.values_list("pk", flat=True))
    assert sorted(data.targets) == [[cat], [dog]]


@pytest.mark.django_db
def test_imported_final_label_survives_an_agreement_refresh(
    project, annotator, annotator2, media_root
):
    """Consensus never replaces an imported final label, even where annotators agree on
    another label; the image stays out of the review queue."""
    summary = run(project, item("a.png", ["cat"]))
    image_id = summary.results[0].image_id
    # The queue hands out no complete image: these labels come from outside it.
    for person in (annotator, annotator2):
        annotation_record(project=project, annotator=person, image_id=image_id, labels=["dog"])

    agreement_refresh(project=project)
    final_labels_refresh(project=project)

    final = FinalLabel.objects.get(image_id=image_id)
    assert final.method == FinalLabelMethod.IMPORTED and labels_of(final) == ["cat"]


@pytest.mark.django_db
def test_gold_labels_are_a_leads_gold_decision(project, lead, media_root):
    summary = run(project, item("a.png", ["bird"]), labels_as="gold", user=lead)

    image = Image.objects.get(pk=summary.results[0].image_id)
    assert image.final_label.method == FinalLabelMethod.GOLD
    assert image.final_label.decided_by == lead and image.final_label.confidence == 1.0
    assert not image.is_complete  # gold images stay in the queues to check annotators
    with pytest.raises(ValidationFailed) as caught:
        run(project, item("b.png", ["cat"]), labels_as="gold")
    assert caught.value.field == "user"


@pytest.mark.django_db
def test_annotations_belong_to_an_account_that_cannot_log_in(project, annotator, media_root):
    summary = run(project, item("a.png", ["cat"]), labels_as="annotation")

    account = User.objects.get(username="imported")
    assert not account.is_active and not account.has_usable_password()
    assert Membership.objects.get(project=project, user=account).role == Role.ANNOTATOR
    image = Image.objects.get(pk=summary.results[0].image_id)
    assert (image.annotation_count, image.is_complete) == (1, False)  # overlap is 2
    annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=["cat"])
    image.refresh_from_db()
    assert (image.annotation_count, image.is_complete) == (2, True)
    assert Annotation.objects.get(image=image, annotator=account).time_spent_ms is None
    final_labels_refresh(project=project)
    assert FinalLabel.objects.get(image=image).method == FinalLabelMethod.CONSENSUS


@pytest.mark.django_db
def test_annotator_that_is_a_persons_account_is_refused(project, annotator, media_root):
    for options in ({"annotator_name": annotator.username}, {"annotator_name": "bad name!"}):
        with pytest.raises(ValidationFailed) as caught:
            run(project, item("a.png", ["cat"]), labels_as="annotation", **options)
        assert caught.value.field == "annotator"
    with pytest.raises(ValidationFailed) as caught:
        run(project, item("a.png", ["cat"]), labels_as="elsewhere")
    assert caught.value.field == "labels_as"
    assert Image.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("labels_as", ["final", "annotation"])
def test_a_second_run_updates_and_never_adds(project, lead, media_root, labels_as):
    data = image_bytes()
    run(project, item("a.png", ["cat"], data), labels_as=labels_as, user=lead)
    again = run(project, item("a.png", ["cat"], data), labels_as=labels_as, user=lead)

    [result] = again.results
    assert (result.status, result.labels, result.labels_reason) == (
        "duplicate", "applied", "Already recorded."
    )  # fmt: skip
    assert again.changed == 0
    changed = run(project, item("copy.png", ["dog"], data), labels_as=labels_as, user=lead)
    assert changed.results[0].labels_reason == "" and changed.changed == 1

    image = Image.objects.get()
    assert FinalLabel.objects.count() == (1 if labels_as == "final" else 0)
    assert Annotation.objects.count() == (1 if labels_as == "annotation" else 0)
    if labels_as == "final":
        assert labels_of(image.final_label) == ["dog"]
    else:
        annotation = Annotation.objects.get()
        assert list(annotation.labels.values_list("name", flat=True)) == ["dog"]
        assert AnnotationRevision.objects.count() == 2 and image.annotation_count == 1


@pytest.mark.django_db
def test_unknown_labels_are_refused_unless_created(project, media_root):
    refused = run(project, item("a.png", ["fox"]), item("b.png", ["CAT"]))

    first, second = refused.results
    assert (first.status, first.labels) == ("created", "refused")
    assert "Unknown label 'fox'" in first.labels_reason
    assert not FinalLabel.objects.filter(image_id=first.image_id).exists()
    assert second.labels == "applied"  # names match without regard to case

    created = run(project, item("c.png", ["fox"]), item("d.png", ["fox"]), create_labels=True)
    assert created.labels_created == ["fox"] and created.labels_applied == 2
    fox = Label.objects.get(project=project, name="fox")
    assert fox.hotkey and fox.color.startswith("#") and fox.position == 3


@pytest.mark.django_db
def test_single_label_projects_refuse_several_labels_multi_label_ones_take_them(media_root):
    single = ProjectFactory(multi_label=False)
    multi = ProjectFactory(multi_label=True)

    [refused] = run(single, item("a.png", ["cat", "dog"])).results
    [applied] = run(multi, item("a.png", ["cat", "dog"])).results

    assert refused.labels == "refused" and "single-label project" in refused.labels_reason
    assert applied.labels == "applied"
    assert labels_of(FinalLabel.objects.get(image__project=multi)) == ["cat", "dog"]


@pytest.mark.django_db
def test_a_bad_file_among_good_ones_is_rejected_alone(project, media_root):
    summary = run(
        project,
        item("a.png", ["cat"]),
        item("broken.png", ["dog"], b"not an image"),
        ImportItem("big.png", RejectedFile("File is too big."), None),
        item("pack.zip", None, b"PK\x03\x04"),
        item("c.png"),
    )

    statuses = [(r.name, r.status, r.labels) for r in summary.results]
    assert statuses == [
        ("a.png", "created", "applied"),
        ("broken.png", "rejected", "refused"),
        ("big.png", "rejected", "none"),
        ("pack.zip", "rejected", "none"),
        ("c.png", "created", "none"),
    ]
    assert "Archives are not unpacked" in summary.results[3].reason
    assert (summary.created, summary.rejected, summary.labels_none) == (2, 3, 3)
    assert Image.objects.count() == 2


@pytest.mark.django_db
def test_a_persons_decision_is_not_replaced_by_an_import(project, lead, media_root):
    data = image_bytes()
    [result] = run(project, item("a.png", ["cat"], data), labels_as="gold", user=lead).results

    [again] = run(project, item("a.png", ["dog"], data), user=lead).results

    assert again.labels == "refused" and "(gold)" in again.labels_reason
    final = FinalLabel.objects.get(image_id=result.image_id)
    assert final.method == FinalLabelMethod.GOLD and labels_of(final) == ["cat"]


@pytest.mark.django_db
@pytest.mark.parametrize("batch", [2, DecisionsBatch.SIZE])
def test_final_labels_wait_for_their_batch_and_are_decided_in_the_files_order(
    lead, media_root, monkeypatch, batch
):
    """Whether the files' labels meet in one batch or in several, each is decided after
    the files before it, as writing them one by one decided it: a file of the same content
    adds its labels in a multi-label project, a person's decision is not replaced, a file
    as it was is already recorded; results come in the files' order."""
    monkeypatch.setattr(DecisionsBatch, "SIZE", batch)
    project = ProjectFactory(multi_label=True, labels=["cat", "dog", "bird"])
    add_member(project, lead, Role.LEAD)
    twice, gold, same = image_bytes(), image_bytes(), image_bytes()
    run(project, item("gold.png", ["bird"], gold), labels_as="gold", user=lead)
    run(project, item("same.png", ["cat"], same), user=lead)
    reported: list[tuple[str, str, str, list[str]]] = []
    plan = import_plan(
        project=project,
        items=[
            item("a.png", ["cat"], twice),
            item("gold-again.png", ["dog"], gold),
            item("a-again.png", ["dog"], twice),
            item("same-again.png", ["cat"], same),
            item("b.png", ["bird"]),
        ],
        labels_as="final",
    )
    summary = images_import(
        plan=plan,
        actor=lead,
        report=lambda r: reported.append((r.name, r.labels, r.labels_reason, r.label_names)),
    )

    assert reported == [
        ("a.png", "applied", "", ["cat"]),
        ("gold-again.png", "refused",
         "The image already has a final label (gold); an import does not replace it.", ["dog"]),
        ("a-again.png", "applied", "", ["cat", "dog"]),
        ("same-again.png", "applied", "Already recorded.", ["cat"]),
        ("b.png", "applied", "", ["bird"]),
    ]  # fmt: skip
    counts = summary.counts()["out"]
    assert (counts["decisions_written"], counts["decisions"], summary.changed) == (3, 4, 3)
    finals = {
        f.image.original_name: (f.method, labels_of(f))
        for f in FinalLabel.objects.filter(image__project=project).select_related("image")
    }
    assert finals == {
        "a.png": (FinalLabelMethod.IMPORTED, ["cat", "dog"]),
        "gold.png": (FinalLabelMethod.GOLD, ["bird"]),
        "same.png": (FinalLabelMethod.IMPORTED, ["cat"]),
        "b.png": (FinalLabelMethod.IMPORTED, ["bird"]),
    }
    assert [lost.record for lost in summary.not_applied] == ["gold-again.png"]
    # The history keeps a change for each batch that changed an image's final label (two
    # for a.png where its files met in two batches, one where they met in one), besides
    # the two earlier imports'.
    changes = LabelChange.objects.filter(project=project, changed_by=lead).count()
    assert changes == 2 + (3 if batch == 2 else 2)


@pytest.mark.django_db
def test_final_labels_cost_the_same_statements_for_two_files_or_twenty(project, media_root):
    """A batch of files' final labels is read and written together: the statements that
    touch final labels do not grow with the files."""

    def final_label_statements(files: int) -> int:
        items = [item(f"{files}-{n}.png", ["cat"]) for n in range(files)]
        with CaptureQueriesContext(connection) as queries:
            run(project, *items)
        return sum("finallabel" in q["sql"] for q in queries.captured_queries)

    assert final_label_statements(2) == final_label_statements(20)


def image_inserts(queries: CaptureQueriesContext) -> int:
    return sum(
        q["sql"].lstrip().upper().startswith('INSERT INTO "IMAGES_IMAGE"')
        for q in queries.captured_queries
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("files", "held"), [(3, 64 << 20), (100, 1)])
def test_files_are_stored_a_batch_at_a_time_each_as_one_by_one(
    project, media_root, monkeypatch, files, held
):
    """Files are checked and stored a batch at a time (a few files, or fewer that hold
    many bytes), the batch's new rows in one statement: a file of the same content as one
    before it, in its batch or an earlier one, is that image's duplicate, a file the
    project had is a duplicate, a bad file is rejected alone, and each keeps its path."""
    monkeypatch.setattr(apply, "STORE_FILES", files)
    monkeypatch.setattr(apply, "STORE_BYTES", held)
    had, twice, later = image_bytes(), image_bytes(), image_bytes()
    [earlier] = run(project, item("had.png", None, had)).results
    items = [
        item("a.png", ["cat"], twice),
        item("a-twin.png", ["cat"], twice),
        item("broken.png", ["dog"], b"not an image"),
        item("had-again.png", None, had),
        item("sub\\b.png", ["dog"]),
        item("a-later.png", ["cat"], twice),
        item("c.png", None, later),
    ]
    with CaptureQueriesContext(connection) as queries:
        summary = run(project, *items)

    statuses = [(r.name, r.status) for r in summary.results]
    assert statuses == [
        ("a.png", "created"), ("a-twin.png", "duplicate"), ("broken.png", "rejected"),
        ("had-again.png", "duplicate"), ("sub\\b.png", "created"),
        ("a-later.png", "duplicate"), ("c.png", "created"),
    ]  # fmt: skip
    ids = [r.image_id for r in summary.results]
    assert ids[0] == ids[1] == ids[5] and ids[3] == earlier.image_id
    assert ids[0] < ids[4] < ids[6]  # stored in the order the files came
    keys = dict(Image.objects.filter(source="import").values_list("original_name", "source_key"))
    assert keys["b.png"] == "sub/b.png" and keys["a.png"] == "a.png"
    # Three files a batch: new rows in each of the three batches; one file a batch: one
    # statement each of the three new images.
    assert image_inserts(queries) == 3
    assert Image.objects.count() == 4
    assert sorted(stored_files(media_root)) == sorted(Image.objects.values_list("file", flat=True))


@pytest.mark.django_db
def test_a_batchs_new_rows_are_whole(project, media_root):
    """A batch's new rows go with every column's value: none is left to its database
    default, which the ORM compiles as an expression for each row of the insert."""
    with CaptureQueriesContext(connection) as queries:
        run(project, *[item(f"whole-{n}.png", ["cat"]) for n in range(3)])
    inserts = [
        q["sql"] for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith('INSERT INTO "IMAGES_IMAGE"')
    ]  # fmt: skip
    assert len(inserts) == 1 and "whole-2.png" in inserts[0]
    assert not re.search(r"\bDEFAULT\b", inserts[0].split(" RETURNING ")[0], re.IGNORECASE)


@pytest.mark.django_db
def test_a_file_stored_meanwhile_by_someone_else_is_its_duplicate(project, media_root, monkeypatch):
    """The batch's look-up found none of its files, but one was stored since: the insert
    of them all fails on the unique constraint, each is then written on its own; that one
    is a duplicate of the stored image, its copy removed, the others created."""
    meanwhile = image_bytes()
    [earlier] = run(project, item("first.png", None, meanwhile)).results
    monkeypatch.setattr(image_services, "_stored_images", lambda project, hashes: {})

    summary = run(project, item("a.png", ["cat"]), item("again.png", ["dog"], meanwhile))

    [a, again] = summary.results
    assert (a.status, again.status) == ("created", "duplicate")
    assert again.image_id == earlier.image_id and again.labels == "applied"
    assert labels_of(FinalLabel.objects.get(image_id=earlier.image_id)) == ["dog"]
    assert sorted(stored_files(media_root)) == sorted(Image.objects.values_list("file", flat=True))


@pytest.mark.django_db
def test_an_ambiguous_name_refuses_its_labels_but_stores_the_file(project, media_root):
    [result] = run(project, ImportItem("x.png", image_bytes(), None, "Ambiguous file name")).results

    assert (result.status, result.labels, result.labels_reason) == (
        "created", "refused", "Ambiguous file name"
    )  # fmt: skip


@pytest.mark.django_db
def test_a_file_whose_labels_fail_to_write_leaves_nothing(project, media_root, monkeypatch):
    """File, row and labels are written together: a failure takes the file back too."""

    def fails(self: DecisionsBatch) -> list[Decision]:
        raise RuntimeError("database went away")

    monkeypatch.setattr(DecisionsBatch, "write", fails)
    with pytest.raises(RuntimeError):
        run(project, item("a.png", ["cat"]))

    assert Image.objects.count() == 0 and FinalLabel.objects.count() == 0
    assert stored_files(media_root) == set()


@pytest.mark.django_db
def test_follow_ups_run_once_the_import_committed(
    project, media_root, django_capture_on_commit_callbacks
):
    """Thumbnails of new images, then one agreement refresh when labels changed, and one
    more once the import settled (automatic retraining waits for that one)."""
    with django_capture_on_commit_callbacks() as callbacks:
        run(project, item("a.png", ["cat"]), item("b.png"))
    tasks = [getattr(c, "signature", None) for c in callbacks]
    names = [str(t.task) for t in tasks if t is not None]
    prepared = [t.args[0] for t in tasks if t is not None and t.task == Task.IMAGES_PREPARE]
    # One task for both new images: a send to the broker a few images, not one each.
    assert prepared == [sorted(Image.objects.values_list("pk", flat=True))]
    assert "worker.tasks.image_prepare" not in names
    refreshes = [t for t in tasks if t is not None and t.task == "worker.tasks.agreement_refresh"]
    settle = settings.LABELER_IMPORT_SETTLE_SECONDS + 1
    assert [t.options.get("countdown") for t in refreshes] == [None, settle]

    with django_capture_on_commit_callbacks() as callbacks:
        run(project, item("c.png"))
    names = [str(getattr(c, "signature", None) and c.signature.task) for c in callbacks]
    assert "worker.tasks.agreement_refresh" not in names


@pytest.mark.django_db
def test_imported_images_stay_done_when_the_overlap_changes(project, media_root):
    run(project, item("a.png", ["cat"]), item("b.png"))

    project_update(project=project, overlap=3)

    done = dict(Image.objects.values_list("original_name", "is_complete"))
    assert done == {"a.png": True, "b.png": False}


def test_imported_is_settled_but_not_a_persons_decision():
    """Consensus leaves imports alone; lists of people's decisions leave them out."""
    assert FinalLabelMethod.IMPORTED in SETTLED
    assert FinalLabelMethod.IMPORTED not in HUMAN_DECISIONS
