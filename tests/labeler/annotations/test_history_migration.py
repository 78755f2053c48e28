"""The label history migration writes the history of what was stored before it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from labeler.annotations.models import LabelChange
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(transaction=True)]
BEFORE = [("annotations", "0004_final_label_imported")]
AFTER = [("annotations", "0005_label_history")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def test_revisions_and_final_labels_stored_before_get_their_history(make_images):
    project = ProjectFactory()
    user = UserFactory(username="early")
    add_member(project, user)
    image, decided = make_images(project, 2)
    cat, dog = project.labels.get(name="cat"), project.labels.get(name="dog")
    apps = migrate(BEFORE)
    annotation = apps.get_model("annotations", "Annotation").objects.create(
        project_id=project.pk, image_id=image.pk, annotator_id=user.pk
    )
    revisions = apps.get_model("annotations", "AnnotationRevision").objects
    kept = [
        revisions.create(annotation=annotation, label_ids=[cat.pk]),
        revisions.create(annotation=annotation, label_ids=[dog.pk]),
    ]
    final = apps.get_model("annotations", "FinalLabel").objects.create(
        image_id=decided.pk, method="adjudicated", decided_by_id=user.pk
    )
    final.labels.set([dog.pk])
    migrate(AFTER)
    rows = LabelChange.objects.order_by("id")
    assert [(r.kind, r.image_id, r.from_label_ids, r.to_label_ids) for r in rows] == [
        ("annotation_created", image.pk, [], [cat.pk]),
        ("annotation_changed", image.pk, [cat.pk], [dog.pk]),
        ("final_set", decided.pk, [], [dog.pk]),
    ]
    assert {r.changed_by_id for r in rows} == {user.pk}
    # Each change is dated when it happened, not when the migration ran.
    final.refresh_from_db()
    assert [r.created_at for r in rows] == [*(r.created_at for r in kept), final.updated_at]
    # The trigger is back in place: a submit after the migration (and those after it) is
    # kept too.
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    other = UserFactory()
    add_member(project, other)
    annotation_submit(project=project, annotator=other, image_id=image.pk, labels=["cat"])
    assert LabelChange.objects.filter(annotator=other).get().kind == "annotation_created"
