"""Grid labelling's queue: queue/page/ leases a page of images through the queue's one lease
path, so every rule of next/ holds on pages too, each walked here beside single mode.

Blind labelling, overlap (fixed and adaptive, pages and next/ mixed), the lease cap (two
pages for page leases), reservations, gold mixed in and scored, the qualification test and
the pause, the suggestion held back per tile, the sway measured apart for pages, the time
and the grid flag kept on each label, and the endpoint's own answers (size, grid off,
nothing left).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from labeler.agreement.services import image_decide
from labeler.annotations.models import Annotation, Assignment
from labeler.annotations.reservations import reservations_replace
from labeler.images.models import Image
from labeler.predictions.selectors import suggestion_withheld
from labeler.projects.models import Project, Role
from tests.conftest import client_for
from tests.factories import ModelVersionFactory, ProjectFactory, UserFactory, add_member, predict
from tests.rows import row_counts

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


def url(project: Project, path: str) -> str:
    return f"/api/v1/projects/{project.pk}/{path}"


def ask_page(project: Project, user, size: int | None = None, exclude=()) -> Any:
    params: dict[str, Any] = {"size": size} if size is not None else {}
    if exclude:
        params["exclude"] = ",".join(map(str, sorted(exclude)))
    return client_for(user).get(url(project, "queue/page/"), params)


def page_ids(project: Project, user, size: int | None = None, exclude=()) -> list[int]:
    """The ids of a page the annotator is handed (none: 204)."""
    response = ask_page(project, user, size, exclude)
    if response.status_code == 204:
        return []
    assert response.status_code == 200, response.content
    return [tile["image"]["id"] for tile in response.json()["images"]]


def ask_next(project: Project, user, exclude=()) -> Any:
    params = {"exclude": ",".join(map(str, sorted(exclude)))} if exclude else {}
    return client_for(user).get(url(project, "next/"), params)


def label(project: Project, user, image_id: int, name: str = "cat", **extra: Any) -> Any:
    response = client_for(user).post(
        url(project, "annotations/"), {"image": image_id, "labels": [name], **extra}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def member(project: Project, name: str):
    user = UserFactory(username=name)
    add_member(project, user)
    return user


def mark_gold(project: Project, lead, images: list[Image], name: str = "cat") -> set[int]:
    for image in images:
        image_decide(
            project=project, image_id=image.pk, labels=[name], decided_by=lead, method="gold"
        )
    return {image.pk for image in images}


@pytest.fixture
def grid_project(lead, annotator, annotator2) -> Project:
    """Overlap 1, no gold in the queue, pages of 12."""
    project = ProjectFactory(overlap=1, gold_rate=0.0, grid_size=12)
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator)
    add_member(project, annotator2)
    return project


# The answer


def test_a_page_holds_what_next_answers_for_each_image(grid_project, annotator, make_images):
    """Each tile is next/'s answer; the page holds grid_size images by default, each
    leased once, and the leases say they were handed out on a grid page."""
    make_images(grid_project, 20)
    single = ask_next(grid_project, annotator).json()
    body = ask_page(grid_project, annotator, exclude=[single["image"]["id"]]).json()
    assert set(body) == {"images"}
    tiles = body["images"]
    assert len(tiles) == 12
    assert all(set(tile) == set(single) for tile in tiles)
    assert all(set(tile["image"]) == set(single["image"]) for tile in tiles)
    ids = [tile["image"]["id"] for tile in tiles]
    assert len(set(ids)) == 12 and single["image"]["id"] not in ids
    leases = Assignment.objects.filter(annotator=annotator)
    assert set(leases.filter(grid=True).values_list("image_id", flat=True)) == set(ids)
    assert list(leases.filter(grid=False).values_list("image_id", flat=True)) == [
        single["image"]["id"]
    ]


def test_a_page_asked_again_gives_the_held_images_back(grid_project, annotator, make_images):
    """A reload loses nothing: the held leases are renewed, in the order they were taken;
    the image next/ held joins the page (its lease now a page's)."""
    make_images(grid_project, 30)
    single = ask_next(grid_project, annotator).json()["image"]["id"]
    first = page_ids(grid_project, annotator, size=5, exclude=[single])
    again = page_ids(grid_project, annotator, size=6)
    assert again == [single, *first]
    assert Assignment.objects.filter(annotator=annotator, grid=False).count() == 0


@pytest.mark.parametrize("size", ["0", "49", "-1", "abc", "1.5", "12345"])
def test_a_size_outside_1_to_48_is_400(grid_project, annotator, make_images, size):
    make_images(grid_project, 2)
    before = row_counts()
    response = client_for(annotator).get(url(grid_project, "queue/page/"), {"size": size})
    assert response.status_code == 400, response.content
    assert response.json()["detail"] == "'size' must be a whole number of images from 1 to 48."
    assert "size" in response.json()["errors"]
    assert row_counts() == before


def test_grid_mode_off_is_409_grid_off(grid_project, annotator, make_images):
    make_images(grid_project, 2)
    Project.objects.filter(pk=grid_project.pk).update(grid_mode="off")
    response = ask_page(grid_project, annotator)
    assert response.status_code == 409
    assert response.json()["code"] == "grid_off"
    assert "one image at a time" in response.json()["detail"]
    assert not Assignment.objects.exists()
    assert ask_next(grid_project, annotator).status_code == 200, "single mode goes on"


def test_grid_mode_always_still_serves_next(grid_project, annotator, make_images):
    """ "always" is the labelling page's choice; next/ (a REST client's) is not refused."""
    make_images(grid_project, 2)
    Project.objects.filter(pk=grid_project.pk).update(grid_mode="always")
    assert len(page_ids(grid_project, annotator, size=1)) == 1
    assert ask_next(grid_project, annotator).status_code == 200


def test_nothing_left_is_204_and_a_short_queue_a_short_page(grid_project, annotator, make_images):
    images = make_images(grid_project, 3)
    assert page_ids(grid_project, annotator) == [image.pk for image in images]
    for image in images:
        label(grid_project, annotator, image.pk)
    response = ask_page(grid_project, annotator)
    assert response.status_code == 204
    assert response.content == b""


def test_an_outsider_gets_404_and_a_malformed_exclude_400(
    grid_project, annotator, outsider, make_images
):
    make_images(grid_project, 2)
    assert ask_page(grid_project, outsider).status_code == 404
    response = client_for(annotator).get(url(grid_project, "queue/page/"), {"exclude": "1,x"})
    assert response.status_code == 400


def test_the_settings_are_read_and_changed_over_rest(grid_project, lead, annotator):
    project_url = f"/api/v1/projects/{grid_project.pk}/"
    body = client_for(lead).get(project_url).json()
    assert (body["grid_mode"], body["grid_size"]) == ("choice", 12)
    changed = client_for(lead).patch(
        project_url, {"grid_mode": "always", "grid_size": 48}, format="json"
    )
    assert changed.status_code == 200, changed.content
    for bad in ({"grid_size": 11}, {"grid_size": 49}, {"grid_mode": "sometimes"}):
        refused = client_for(lead).patch(project_url, bad, format="json")
        assert refused.status_code == 400, bad
        assert set(refused.json()["errors"]) == set(bad)
    denied = client_for(annotator).patch(project_url, {"grid_mode": "off"}, format="json")
    assert denied.status_code == 403
    grid_project.refresh_from_db()
    assert (grid_project.grid_mode, grid_project.grid_size) == ("always", 48)


# Blind labelling


def test_a_page_tells_nothing_of_other_annotators_or_the_files(
    grid_project, annotator, annotator2, make_images
):
    """Another annotator's labels, their name and the files' names never reach the page."""
    Project.objects.filter(pk=grid_project.pk).update(overlap=2)
    grid_project.refresh_from_db()
    images = make_images(grid_project, 4)
    Image.objects.filter(project=grid_project).update(original_name="kitten_DSC_1.png")
    for image in images:
        assert ask_next(grid_project, annotator2, exclude=[]).status_code == 200
        label(grid_project, annotator2, image.pk, "bird")
    response = ask_page(grid_project, annotator)
    assert response.status_code == 200
    text = response.content.decode()
    for secret in ("kitten", "DSC_", annotator2.username, "bird", "annotation_count"):
        assert secret not in text, secret
    assert [tile["image"]["original_name"] for tile in response.json()["images"]] == [""] * 4


# Overlap


def test_fixed_overlap_holds_over_pages_and_next_mixed(grid_project, make_images):
    """Overlap 2, three annotators: one takes pages, one next/, the third pages; no image
    is handed to or labelled by more than two, and each gets its two labels."""
    Project.objects.filter(pk=grid_project.pk).update(overlap=2)
    grid_project.refresh_from_db()
    images = make_images(grid_project, 8)
    paging, single, late = (member(grid_project, name) for name in ("p", "s", "l"))
    handed: dict[int, set[int]] = {image.pk: set() for image in images}
    for image_id in page_ids(grid_project, paging, size=5):
        handed[image_id].add(paging.pk)
    taken: list[int] = []
    while (response := ask_next(grid_project, single, exclude=taken)).status_code == 200:
        taken.append(response.json()["image"]["id"])
        handed[taken[-1]].add(single.pk)
    assert len(taken) == 8
    for image_id in page_ids(grid_project, late, size=12):
        handed[image_id].add(late.pk)
    assert all(len(who) <= 2 for who in handed.values()), handed
    for image_id, who in handed.items():
        for user in (paging, single, late):
            if user.pk in who:
                label(grid_project, user, image_id)
    assert page_ids(grid_project, late) == [] and page_ids(grid_project, paging) == []
    counts = Image.objects.filter(project=grid_project).values_list("annotation_count", flat=True)
    assert sorted(counts) == [2] * 8


def test_adaptive_overlap_holds_over_pages_and_next_mixed(grid_project, make_images):
    """Adaptive, overlap 1 to at most 2: a split asks for one more, never a third."""
    Project.objects.filter(pk=grid_project.pk).update(
        overlap=1, overlap_mode="adaptive", overlap_max=2
    )
    grid_project.refresh_from_db()
    images = make_images(grid_project, 4)
    first, second, third = (member(grid_project, name) for name in ("a", "b", "c"))
    assert sorted(page_ids(grid_project, first)) == [image.pk for image in images]
    for image in images:
        label(grid_project, first, image.pk, "cat")
    # One label of an annotator of unknown accuracy leaves doubt: each asks for another.
    for _ in images:
        response = ask_next(grid_project, second, exclude=[])
        assert response.status_code == 200
        label(grid_project, second, response.json()["image"]["id"], "dog")
    assert page_ids(grid_project, third) == [], "two annotators is the most"
    assert ask_next(grid_project, third).status_code == 204
    counts = Image.objects.filter(project=grid_project).values_list("annotation_count", flat=True)
    assert sorted(counts) == [2] * 4


# The lease cap


def test_page_leases_are_capped_at_two_pages(grid_project, annotator, make_images, settings):
    """Cap max(LABELER_MAX_LEASES, 2 * grid_size) = 24: two pages, then 409 lease_limit;
    a bigger page stops at the cap; next/'s own cap (10) still holds for single leases."""
    settings.LABELER_MAX_LEASES = 10
    make_images(grid_project, 40)
    first = page_ids(grid_project, annotator)
    second = page_ids(grid_project, annotator, exclude=first)
    assert (len(first), len(second)) == (12, 12)
    held = first + second
    refused = ask_page(grid_project, annotator, exclude=held)
    assert refused.status_code == 409
    assert refused.json()["code"] == "lease_limit"
    assert "You hold 24 images already" in refused.json()["detail"]
    single = ask_next(grid_project, annotator, exclude=held)
    assert single.status_code == 409 and single.json()["code"] == "lease_limit"
    assert Assignment.objects.filter(annotator=annotator).count() == 24
    # Labelling a page frees its leases for the next.
    for image_id in first:
        label(grid_project, annotator, image_id)
    assert len(page_ids(grid_project, annotator, exclude=second)) == 12


def test_a_page_bigger_than_the_cap_stops_at_it(grid_project, annotator2, make_images, settings):
    settings.LABELER_MAX_LEASES = 10
    make_images(grid_project, 40)
    assert len(page_ids(grid_project, annotator2, size=48)) == 24
    assert Assignment.objects.filter(annotator=annotator2).count() == 24


def test_the_servers_cap_wins_where_it_is_higher(grid_project, annotator, make_images, settings):
    settings.LABELER_MAX_LEASES = 30
    make_images(grid_project, 40)
    assert len(page_ids(grid_project, annotator, size=48)) == 30


def test_a_late_label_on_a_page_lease_counts_the_page_cap(
    grid_project, annotator, make_images, settings
):
    """A page's lease ran out while the annotator holds a second page: the late label is
    taken under the page cap (not next/'s), and records that it came from a page."""
    settings.LABELER_MAX_LEASES = 10
    make_images(grid_project, 30)
    first = page_ids(grid_project, annotator)
    Assignment.objects.filter(image_id__in=first).update(
        expires_at=timezone.now() - timedelta(seconds=5)
    )
    page_ids(grid_project, annotator, exclude=first)
    body = label(grid_project, annotator, first[0])
    assert body["grid"] is True
    assert Annotation.objects.get(image_id=first[0]).grid


# Reservations


def test_reserved_images_go_on_pages_only_to_whom_they_are_kept_for(
    grid_project, lead, annotator, annotator2, make_images
):
    images = make_images(grid_project, 6)
    kept = [image.pk for image in images[:3]]
    reservations_replace(
        project=grid_project, image_ids=kept, annotator_ids=[annotator2.pk], by=lead
    )
    assert not set(page_ids(grid_project, annotator)) & set(kept)
    assert set(kept) <= set(page_ids(grid_project, annotator2))


# Gold, the qualification test and the pause


def test_gold_is_mixed_into_pages_at_the_gold_rate_and_scored(
    grid_project, lead, annotator, make_images
):
    """Gold rate 1: every gold image the annotator has not seen comes first on the page;
    labelled on a page, they count in the annotator's gold score."""
    Project.objects.filter(pk=grid_project.pk).update(gold_rate=1.0)
    grid_project.refresh_from_db()
    images = make_images(grid_project, 10)
    gold = mark_gold(grid_project, lead, images[-3:])
    ids = page_ids(grid_project, annotator, size=5)
    assert set(ids[:3]) == gold and not set(ids[3:]) & gold
    for image_id, name in zip(ids[:3], ["cat", "cat", "dog"], strict=True):
        assert label(grid_project, annotator, image_id, name)["grid"] is True
    report = client_for(lead).get(url(grid_project, "agreement/")).json()
    [row] = [r for r in report["per_annotator"] if r["annotator"] == annotator.pk]
    assert row["gold_accuracy"]["n_items"] == 3
    assert row["gold_accuracy"]["value"] == pytest.approx(2 / 3)


@pytest.fixture
def tested(grid_project, lead, make_images) -> Project:
    """A 3-image test (pass mark 2 of 3) over 5 gold images; 6 ordinary images."""
    Project.objects.filter(pk=grid_project.pk).update(
        qualification_gold_count=3, qualification_pass_mark=0.6
    )
    grid_project.refresh_from_db()
    images = make_images(grid_project, 11)
    grid_project.gold_ids = mark_gold(grid_project, lead, images[:5])  # type: ignore[attr-defined]
    return grid_project


def test_a_newcomers_page_holds_test_images_only(tested):
    """During the test a page holds only gold images; once passed, ordinary ones."""
    user = member(tested, "new")
    ids = page_ids(tested, user)
    assert set(ids) == tested.gold_ids, "all five gold images, nothing else"
    for image_id, name in zip(ids[:3], ["cat", "cat", "dog"], strict=True):
        label(tested, user, image_id, name)
    after = page_ids(tested, user, exclude=ids)
    assert after and not set(after) & tested.gold_ids


def test_a_newcomer_holding_every_test_image_is_409(tested):
    user = member(tested, "new")
    ids = page_ids(tested, user)
    refused = ask_page(tested, user, exclude=ids)
    assert refused.status_code == 409
    assert refused.json()["code"] == "lease_limit"
    assert ask_next(tested, user, exclude=ids).json()["code"] == "lease_limit"


def test_a_failed_test_closes_pages_as_next(tested):
    user = member(tested, "new")
    for image_id in page_ids(tested, user)[:3]:
        label(tested, user, image_id, "dog")
    before = row_counts()
    refused = ask_page(tested, user)
    assert refused.status_code == 403
    assert refused.json()["code"] == "qualification_failed"
    assert ask_next(tested, user).json()["code"] == "qualification_failed"
    assert row_counts() == before


def test_a_pause_closes_pages_as_next(tested):
    Project.objects.filter(pk=tested.pk).update(
        qualification_gold_count=0, gold_pause_below=0.5, gold_pause_window=2, gold_rate=1.0
    )
    tested.refresh_from_db()
    user = member(tested, "new")
    ids = page_ids(tested, user, size=4)
    assert set(ids[:4]) <= tested.gold_ids
    for image_id in ids[:2]:
        label(tested, user, image_id, "dog")
    refused = ask_page(tested, user)
    assert refused.status_code == 403
    assert refused.json()["code"] == "annotator_paused"
    assert ask_next(tested, user).json()["code"] == "annotator_paused"


# Suggestions held back per tile, and the sway apart for pages


@pytest.fixture
def suggesting(grid_project, make_images):
    """A current model suggesting "dog" for 24 images; half the suggestions held back."""
    Project.objects.filter(pk=grid_project.pk).update(suggestion_holdback=0.5)
    grid_project.refresh_from_db()
    model = ModelVersionFactory(project=grid_project)
    labels = {label.name: label.pk for label in grid_project.labels.all()}
    for image in make_images(grid_project, 24):
        predict(model, image, {str(labels["cat"]): 0.05, str(labels["dog"]): 0.9})
    return model


def test_suggestions_are_held_back_per_tile(grid_project, annotator, suggesting):
    """Each tile's suggestion is shown or held back as next/ decides it for that image and
    annotator; the lease and then the label record which, tile by tile."""
    tiles = ask_page(grid_project, annotator, size=24).json()["images"]
    withheld = {
        tile["image"]["id"]: suggestion_withheld(
            project=grid_project, image_id=tile["image"]["id"], annotator_id=annotator.pk
        )
        for tile in tiles
    }
    assert set(withheld.values()) == {True, False}, "24 draws at 0.5 give both"
    for tile in tiles:
        image_id = tile["image"]["id"]
        lease = Assignment.objects.get(image_id=image_id, annotator=annotator)
        if withheld[image_id]:
            assert tile["suggestion"] is None
            assert tile["suggestion_note"]
            assert (lease.suggestion_withheld, lease.suggested_by_id) == (True, None)
        else:
            assert tile["suggestion"]["model_version"] == suggesting.pk
            assert (lease.suggestion_withheld, lease.suggested_by_id) == (False, suggesting.pk)
    for tile in tiles:
        label(grid_project, annotator, tile["image"]["id"], "dog")
    for annotation in Annotation.objects.filter(annotator=annotator):
        held_back = withheld[annotation.image_id]
        assert (annotation.suggestion_withheld, annotation.suggestion_shown) == (
            held_back,
            not held_back,
        )
        assert annotation.suggestion_accepted is not held_back
        assert annotation.grid


def test_the_sway_is_measured_apart_for_pages(
    grid_project, lead, annotator, annotator2, suggesting
):
    """One annotator labels on pages, taking every suggestion; the other one image at a
    time, always "cat". The final label is "cat": the page's figures show the sway."""
    images = list(Image.objects.filter(project=grid_project).order_by("pk"))
    for image in images:
        image_decide(
            project=grid_project,
            image_id=image.pk,
            labels=["cat"],
            decided_by=lead,
            method="adjudicated",
        )
    Project.objects.filter(pk=grid_project.pk).update(overlap=2)
    grid_project.refresh_from_db()
    Image.objects.filter(project=grid_project).update(is_complete=False)
    paged = page_ids(grid_project, annotator, size=6)
    for image_id in paged:
        label(grid_project, annotator, image_id, "dog")
    for _ in paged:
        response = ask_next(grid_project, annotator2, exclude=[])
        assert response.status_code == 200
        label(grid_project, annotator2, response.json()["image"]["id"], "cat")
    body = client_for(lead).get(url(grid_project, "agreement/suggestion-sway/")).json()
    assert body["labels"] == 12 and body["labels_grid"] == 6
    team = body["team"]
    assert team["grid"]["agreement_shown"]["n"] + team["grid"]["agreement_withheld"]["n"] == 6
    assert team["single"]["agreement_shown"]["n"] + team["single"]["agreement_withheld"]["n"] == 6
    assert team["agreement_shown"]["n"] == (
        team["grid"]["agreement_shown"]["n"] + team["single"]["agreement_shown"]["n"]
    )
    if team["grid"]["agreement_shown"]["n"]:
        assert team["grid"]["agreement_shown"]["value"] == 0.0
        assert team["grid"]["wrong_accepted"]["value"] == 1.0
    if team["single"]["agreement_shown"]["n"]:
        assert team["single"]["agreement_shown"]["value"] == 1.0
    rows = {row["username"]: row for row in body["annotators"]}
    assert rows[annotator.username]["single"]["agreement_shown"]["n"] == 0
    assert rows[annotator2.username]["grid"]["agreement_shown"]["n"] == 0
    assert rows[annotator2.username]["grid"]["agreement_shown"]["value"] is None


# What each label keeps


def test_the_grid_flag_and_the_time_are_kept_as_posted(grid_project, annotator, make_images):
    """A page's label records grid=True and the time the page posted for it; next/'s
    records grid=False."""
    make_images(grid_project, 3)
    [tiled] = page_ids(grid_project, annotator, size=1)
    single = ask_next(grid_project, annotator, exclude=[tiled]).json()["image"]["id"]
    on_grid = label(grid_project, annotator, tiled, time_spent_ms=1234)
    alone = label(grid_project, annotator, single, time_spent_ms=5678)
    assert (on_grid["grid"], on_grid["time_spent_ms"]) == (True, 1234)
    assert (alone["grid"], alone["time_spent_ms"]) == (False, 5678)
    stored = dict(
        Annotation.objects.values_list("image_id", "time_spent_ms").filter(annotator=annotator)
    )
    assert stored == {tiled: 1234, single: 5678}
    assert Annotation.objects.get(image_id=tiled).grid
    assert not Annotation.objects.get(image_id=single).grid


def test_undoing_a_page_label_leases_the_image_back_to_a_page(grid_project, annotator, make_images):
    make_images(grid_project, 2)
    [tiled] = page_ids(grid_project, annotator, size=1)
    annotation = label(grid_project, annotator, tiled)
    response = client_for(annotator).delete(url(grid_project, f"annotations/{annotation['id']}/"))
    assert response.status_code == 204
    assert Assignment.objects.get(image_id=tiled, annotator=annotator).grid
    assert label(grid_project, annotator, tiled, "dog")["grid"] is True
