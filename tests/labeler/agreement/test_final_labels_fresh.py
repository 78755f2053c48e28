"""Final labels are read fresh in one place: ``final_labels.final_labels_fresh`` refreshes
the consensus when labels changed since the last refresh, then gives the project's final
labels.

Readers of final labels are everywhere (the queue's gold, the browser's filters,
exports, training sets), and most read settled ones (gold, imported, decided) that no
refresh changes, so the walk does not forbid reading ``FinalLabel``: it holds the
refresh-then-read pattern to its one home. No module but ``final_labels`` calls the
refresh-if-stale (``final_labels_current``) itself, and each reader that shows or uses
consensus final labels (the review queue and its items, exports, training runs, the
slice report, an image's page, the final-label count) reads through
``final_labels_fresh``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from labeler.agreement.final_labels import final_labels_fresh
from labeler.annotations.models import FinalLabelMethod
from tests.ast_parse import ast_parse
from tests.conftest import client_for
from tests.factories import ProjectFactory, add_member
from tests.labeler.agreement.test_final_labels import api, give

ROOT = Path(__file__).resolve().parents[3]
WALKED = ("labeler", "api", "worker")
HOME = "labeler/agreement/final_labels.py"
REFRESH = "final_labels_current"
FRESH = "final_labels_fresh"
READERS = (
    "labeler/agreement/review.py",
    "labeler/exports/services.py",
    "labeler/predictions/runs.py",
    "labeler/slices/report.py",
    "labeler/web/browse.py",
    HOME,
)


def _called(path: Path) -> set[str]:
    """The names of the functions the module calls (``f(...)``, ``module.f(...)``)."""
    names = set()
    for node in ast.walk(ast_parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                names.add(func.id)
            elif isinstance(func, ast.Attribute):
                names.add(func.attr)
    return names


def _modules() -> list[Path]:
    return sorted(
        path
        for top in WALKED
        for path in (ROOT / top).rglob("*.py")
        if "migrations" not in path.parts
    )


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_fresh_read_refreshes_before_reading(path: Path):
    """Every module but ``final_labels`` reads fresh final labels through
    ``final_labels_fresh``, never by calling the refresh-if-stale itself."""
    if path.relative_to(ROOT).as_posix() != HOME:
        assert REFRESH not in _called(path)


@pytest.mark.parametrize("reader", READERS)
def test_each_reader_of_consensus_final_labels_reads_them_fresh(reader: str):
    assert FRESH in _called(ROOT / reader)


@pytest.mark.django_db
def test_a_fresh_read_holds_the_label_given_a_moment_ago(
    lead, annotator, make_images, settings, django_capture_on_commit_callbacks
):
    """The background refresh waits an hour here; the read does not wait for it."""
    settings.AGREEMENT_REFRESH_SECONDS = 3600
    project = ProjectFactory(name="Birds", overlap=1, gold_rate=0)
    add_member(project, annotator)
    images = make_images(project, 2)
    client = client_for(annotator)
    for image in images:
        client.get(api(project, "next/"))
        give(client, project, image.pk, "cat", django_capture_on_commit_callbacks)
    finals = final_labels_fresh(project=project)
    assert sorted(finals.values_list("image_id", flat=True)) == sorted(i.pk for i in images)
    assert set(finals.values_list("method", flat=True)) == {FinalLabelMethod.CONSENSUS}
