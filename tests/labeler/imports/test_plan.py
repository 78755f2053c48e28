"""The import plan: a value that can be printed, checked by the dry run without writing,
and applied by ``labeler.flows.images_import``."""

from __future__ import annotations

import dataclasses

import pytest

from labeler.errors import ValidationFailed
from labeler.flows import images_import
from labeler.images.models import Image
from labeler.imports.planning.labels_in import ImportItem, LabelsIn, NotApplied
from labeler.imports.planning.plan import ImportOptions, ImportPlan, import_plan, plan_preview
from labeler.imports.reading.records import Person
from labeler.projects import addresses
from labeler.projects.models import AddressConfirmed
from tests.factories import image_bytes
from tests.rows import row_counts


@pytest.mark.django_db
def test_a_plan_is_a_frozen_value_printed_without_its_files(project):
    plan = import_plan(project=project, items=[ImportItem("a.png", image_bytes(), ["cat"])])

    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.files = 3  # type: ignore[misc]
    shown = repr(plan)
    assert "ImportOptions(labels_as='final'" in shown and "a.png" not in shown
    assert plan == dataclasses.replace(plan, items=())


@pytest.mark.django_db
def test_the_dry_run_answers_the_plan_and_writes_nothing(project, annotator):
    annotator.email = "alice@example.org"
    annotator.save()
    addresses.email_mark_verified(user=annotator, how=AddressConfirmed.ADMIN)
    people = [Person("ls:1", email="alice@example.org"), Person("ls:2", email="x@y.org")]
    plan = ImportPlan(
        project,
        ImportOptions(),
        LabelsIn(records=2, annotations=2, labels=2, people=people, per_person=True),
        files=2,
        not_applied=(NotApplied("b.png", "Ambiguous"),),
    )
    before = row_counts()

    preview = plan_preview(plan)

    assert row_counts() == before
    assert preview.counts_in == {
        "files": 2, "records": 2, "annotations": 2, "decisions": 0, "labels": 2,
    }  # fmt: skip
    assert [(p.key, p.account, p.how) for p in preview.people] == [
        ("ls:1", "ann1", "email"),
        ("ls:2", "x@y.org", "new"),
    ]
    assert preview.not_applied == [NotApplied("b.png", "Ambiguous")]


@pytest.mark.django_db
def test_the_dry_run_refuses_what_the_import_would_refuse(project, lead):
    """A per-person file's labels go to their people: an annotator is refused by the
    dry run as by the import, which writes nothing either."""
    labels_in = LabelsIn(people=[Person("ls:1")], per_person=True)
    plan = import_plan(project=project, labels_in=labels_in, annotator="someone")

    with pytest.raises(ValidationFailed, match="names each annotation's person"):
        plan_preview(plan)
    items = [ImportItem("a.png", image_bytes(), None)]
    with pytest.raises(ValidationFailed, match="names each annotation's person"):
        images_import(plan=dataclasses.replace(plan, items=items), actor=lead)
    assert not Image.objects.exists()
