"""Progress (/projects/{id}/progress/) and the caller's own history (/projects/{id}/history/)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from labeler.annotations.models import Annotation, Assignment, Skip
from labeler.images.models import Image
from labeler.projects.models import Project
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit, skip_create
from tests.rows import row_counts


def label(project: Project, user, image: Image, name: str = "cat") -> Annotation:
    annotation, _ = annotation_submit(
        project=project, annotator=user, image_id=image.pk, labels=[name]
    )
    return annotation


def lease(project: Project, user, image: Image, seconds: int) -> None:
    Assignment.objects.create(
        project=project,
        image=image,
        annotator=user,
        expires_at=timezone.now() + timedelta(seconds=seconds),
    )


@pytest.fixture
def third(project):
    user = UserFactory(username="ann3")
    add_member(project, user)
    return user


@pytest.fixture
def scenario(project, annotator, annotator2, third, outsider, make_images) -> list[Image]:
    """Overlap 2, five images:

    A labelled by ann1 and ann2 (complete) and skipped by ann3; B labelled by ann1;
    C leased to ann2; D skipped by ann1; E untouched but for ann3's expired lease.
    Another project's labels and skips must not count.
    """
    a, b, c, d, e = make_images(project, 5)
    label(project, annotator, a)
    label(project, annotator2, a, "dog")
    skip_create(project=project, annotator=third, image_id=a.pk, reason="unsure")
    label(project, annotator, b)
    lease(project, annotator2, c, seconds=600)
    skip_create(project=project, annotator=annotator, image_id=d.pk, reason="blurry")
    lease(project, third, e, seconds=-1)
    other = ProjectFactory(name="Other")
    add_member(other, annotator)
    (elsewhere, skipped_elsewhere) = make_images(other, 2)
    label(other, annotator, elsewhere)
    skip_create(project=other, annotator=annotator, image_id=skipped_elsewhere.pk)
    return [a, b, c, d, e]


def progress(project: Project, user) -> dict:
    response = client_for(user).get(f"/api/v1/projects/{project.pk}/progress/")
    assert response.status_code == 200, response.content
    return response.json()


def test_the_project_counts_each_image_once_by_its_state(project, annotator, scenario):
    """1 complete (A), 2 in progress (B labelled, C leased), 2 not started (D, E).

    Skipped counts open images someone skipped (D); a skip of a complete image (A) does
    not. An expired lease (E) starts nothing.
    """
    assert progress(project, annotator)["project"] == {
        "images": 5,
        "complete": 1,
        "in_progress": 2,
        "not_started": 2,
        "skipped": 1,
        "annotations": 3,
    }


@pytest.mark.parametrize(
    "who, mine",
    [
        ("annotator", {"labelled": 2, "skipped": 1, "remaining": 2}),
        ("annotator2", {"labelled": 1, "skipped": 0, "remaining": 4}),
        ("third", {"labelled": 0, "skipped": 1, "remaining": 4}),
        ("lead", {"labelled": 0, "skipped": 0, "remaining": 4}),
    ],
)
def test_mine_counts_the_callers_own_work(
    project, annotator, annotator2, third, lead, scenario, who, mine
):
    """Labelled and skipped are the caller's own in this project; remaining is every open
    image they have neither labelled nor skipped (ann1: C and E; ann2: B to E)."""
    user = {"annotator": annotator, "annotator2": annotator2, "third": third, "lead": lead}[who]
    body = progress(project, user)
    assert body["mine"] == mine
    assert body["project"]["images"] == 5


def test_an_admin_who_is_no_member_sees_the_project_and_no_work_of_their_own(
    project, admin_user, scenario
):
    """Admins get the project's counts and zeros for themselves."""
    body = progress(project, admin_user)
    assert body["project"]["complete"] == 1
    assert body["mine"] == {"labelled": 0, "skipped": 0, "remaining": 4}


def test_an_empty_project_is_all_zeros(project, annotator):
    """No images, nothing to count."""
    assert progress(project, annotator) == {
        "project": {
            "images": 0,
            "complete": 0,
            "in_progress": 0,
            "not_started": 0,
            "skipped": 0,
            "annotations": 0,
        },
        "mine": {"labelled": 0, "skipped": 0, "remaining": 0},
    }


def test_a_complete_project_has_nothing_in_progress(project, annotator, annotator2, make_images):
    """Every image labelled to overlap: all complete, none open, nothing remaining."""
    images = make_images(project, 2)
    for image in images:
        label(project, annotator, image)
        label(project, annotator2, image)
    body = progress(project, annotator)
    assert body["project"] == {
        "images": 2,
        "complete": 2,
        "in_progress": 0,
        "not_started": 0,
        "skipped": 0,
        "annotations": 4,
    }
    assert body["mine"] == {"labelled": 2, "skipped": 0, "remaining": 0}


def test_progress_follows_undo(project, annotator, annotator2, scenario):
    """Taking back a label of the complete image reopens it and holds it for the withdrawer."""
    a = scenario[0]
    mine = Annotation.objects.get(image=a, annotator=annotator)
    response = client_for(annotator).delete(f"/api/v1/projects/{project.pk}/annotations/{mine.pk}/")
    assert response.status_code == 204
    body = progress(project, annotator)
    assert body["project"] == {
        "images": 5,
        "complete": 0,
        "in_progress": 3,
        "not_started": 2,
        "skipped": 2,
        "annotations": 2,
    }
    assert body["mine"] == {"labelled": 1, "skipped": 1, "remaining": 3}


def test_progress_writes_nothing(project, annotator, scenario):
    """Reading progress leases nothing and changes nothing."""
    before = row_counts()
    progress(project, annotator)
    assert row_counts() == before


# History


@pytest.fixture
def history_url(project) -> str:
    return f"/api/v1/projects/{project.pk}/history/"


def at(minute: int) -> datetime:
    return datetime(2026, 1, 1, 12, minute, tzinfo=UTC)


@pytest.fixture
def done(project, annotator, annotator2, make_images) -> dict[str, object]:
    """ann1 labelled A at 12:01, skipped B at 12:02, labelled C at 12:03 and skipped D at 12:00;
    ann2 labelled B and skipped C later than all of those."""
    a, b, c, d = make_images(project, 4)
    items = {
        "a": label(project, annotator, a, "cat"),
        "b": skip_create(project=project, annotator=annotator, image_id=b.pk, reason="blurry"),
        "c": label(project, annotator, c, "dog"),
        "d": skip_create(project=project, annotator=annotator, image_id=d.pk),
    }
    Annotation.objects.filter(pk=items["a"].pk).update(updated_at=at(1))
    Skip.objects.filter(pk=items["b"].pk).update(created_at=at(2))
    Annotation.objects.filter(pk=items["c"].pk).update(updated_at=at(3))
    Skip.objects.filter(pk=items["d"].pk).update(created_at=at(0))
    theirs = label(project, annotator2, b, "bird")
    their_skip = skip_create(project=project, annotator=annotator2, image_id=c.pk)
    Annotation.objects.filter(pk=theirs.pk).update(updated_at=at(30))
    Skip.objects.filter(pk=their_skip.pk).update(created_at=at(31))
    return {**items, "images": [a, b, c, d]}


def history(project: Project, user, query: str = "") -> list[dict]:
    response = client_for(user).get(f"/api/v1/projects/{project.pk}/history/{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_history_lists_my_labels_and_skips_newest_first(project, annotator, done):
    """Both kinds, merged by time, newest first, with labels or the reason."""
    a, b, c, d = done["images"]
    cat, dog = (project.labels.get(name=n).pk for n in ("cat", "dog"))
    items = history(project, annotator)
    assert [(i["kind"], i["id"], i["image_id"]) for i in items] == [
        ("annotation", done["c"].pk, c.pk),
        ("skip", done["b"].pk, b.pk),
        ("annotation", done["a"].pk, a.pk),
        ("skip", done["d"].pk, d.pk),
    ]
    assert items[0]["label_ids"] == [dog]
    assert items[2]["label_ids"] == [cat]
    assert [i["reason"] for i in items] == ["", "blurry", "", ""]
    assert [i["label_ids"] for i in items if i["kind"] == "skip"] == [[], []]
    assert [parse_datetime(i["at"]) for i in items] == [at(3), at(2), at(1), at(0)]
    assert set(items[0]) == {
        "kind", "id", "image_id", "image_name", "width", "height", "label_ids", "reason", "at",
        "file_url", "display_url",
    }  # fmt: skip
    # Annotators label blind: the name is blank unless the project shows them names.
    assert (items[0]["image_name"], items[0]["width"]) == ("", c.width)
    project.annotators_see_file_names = True
    project.save(update_fields=["annotators_see_file_names"])
    assert history(project, annotator)[0]["image_name"] == c.original_name


def test_history_never_shows_another_annotators_work(project, annotator, annotator2, done):
    """ann2's label of B and skip of C are theirs alone; ann1's are not in theirs."""
    _, b, c, _ = done["images"]
    theirs = history(project, annotator2)
    assert [(i["kind"], i["image_id"]) for i in theirs] == [("skip", c.pk), ("annotation", b.pk)]
    mine = history(project, annotator)
    assert ("annotation", b.pk) not in [(i["kind"], i["image_id"]) for i in mine]


def test_a_lead_sees_only_their_own_history(project, lead, done):
    """History is the caller's own, whatever the role."""
    assert history(project, lead) == []


def test_an_edit_moves_the_annotation_to_the_top(project, annotator, done):
    """Changing a label is the newest thing the annotator did."""
    a = done["images"][0]
    label(project, annotator, a, "bird")
    items = history(project, annotator)
    assert (items[0]["kind"], items[0]["image_id"]) == ("annotation", a.pk)
    assert items[0]["label_ids"] == [project.labels.get(name="bird").pk]
    assert len(items) == 4


def test_history_of_another_project_is_left_out(project, annotator, done, make_images):
    """Only this project's items."""
    other = ProjectFactory(name="Other")
    add_member(other, annotator)
    (image,) = make_images(other, 1)
    label(other, annotator, image)
    assert image.pk not in {i["image_id"] for i in history(project, annotator)}


def test_withdrawn_items_leave_the_history(project, annotator, done):
    """Undoing a label or a skip takes it out of the history."""
    client = client_for(annotator)
    base = f"/api/v1/projects/{project.pk}"
    assert client.delete(f"{base}/annotations/{done['c'].pk}/").status_code == 204
    assert client.delete(f"{base}/skips/{done['b'].pk}/").status_code == 204
    assert [i["id"] for i in history(project, annotator)] == [done["a"].pk, done["d"].pk]


@pytest.mark.parametrize(
    "limit, kinds",
    [
        ("1", ["annotation"]),
        ("2", ["annotation", "skip"]),
        ("3", ["annotation", "skip", "annotation"]),
        ("200", ["annotation", "skip", "annotation", "skip"]),
    ],
)
def test_limit_keeps_the_newest_items(project, annotator, done, limit, kinds):
    """?limit=N keeps the N newest items across both kinds."""
    assert [i["kind"] for i in history(project, annotator, f"?limit={limit}")] == kinds


def test_history_without_work_is_empty(project, annotator):
    """A newcomer has no history."""
    assert history(project, annotator) == []


@pytest.mark.parametrize(
    "limit",
    ["0", "201", "abc", "-1", "1.5", "", " 5", "²", "\u0661", "9" * 5000],
)
def test_a_bad_limit_is_refused(project, annotator, done, limit):
    """400 naming the limit and its range, never a 500."""
    response = client_for(annotator).get(
        f"/api/v1/projects/{project.pk}/history/", {"limit": limit}
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"] == {"limit": ["'limit' must be a whole number from 1 to 200."]}
    assert "1 to 200" in body["detail"]
