"""The lease gate: every route that can end in a lease or a label goes through one gate.

The routes are read from the URLconf: every method that writes (and next/'s GET) on a
path about annotations, the queue, skips, undo or qualification must be classified in
``ROUTES``, so a route added later fails here until it is. Each classified route is then
tried by an annotator still taking the qualification test, one who failed it, one paused
and one at the lease cap: none obtains a lease on an image other than a test image, nor
a label, and a refusal is a 4xx that writes nothing. An image complete from an import or
flagged as a problem is never leased, whichever route asks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone

from labeler.agreement.services import image_decide
from labeler.annotations.models import (
    Annotation,
    AnnotatorStanding,
    Assignment,
    FinalLabel,
    FinalLabelMethod,
    Skip,
    StandingStatus,
)
from labeler.annotations.queue import lease_cap
from labeler.annotations.submit import annotation_record
from labeler.images.models import Image
from labeler.projects.models import Project
from tests.conftest import client_for
from tests.rows import row_counts

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]

# A path with one of these words may lead to a lease or a label.
WORDS = {"next", "annotations", "annotation", "assignment", "skips", "skip", "undo"}
WORDS |= {"qualification", "label", "labels", "lease", "leases", "queue"}
WRITES = {"post", "put", "patch", "delete"}

# Every such (route name, method), and what it is to the gate.
ROUTES = {
    ("api:next-image", "get"): "next",  # leases through the gate
    ("api:next-page", "get"): "page-next",  # a grid page: leases each image through it
    ("api:annotation-list", "post"): "label",  # a new label takes a slot through the gate
    ("api:annotation-detail", "delete"): "label-undo",  # leases the image back through it
    ("api:skip-list", "post"): "skip",  # leases nothing; no skip of a test image
    ("api:skip-detail", "delete"): "skip-undo",  # leases the image back through the gate
    ("api:standing-action", "post"): "lead",  # a lead's decision: no lease, no label
    ("standing-action", "post"): "lead",  # the same, from the dashboard's form
    ("label", "post"): "page",
    # A lead sends a model's labels to review or confirms them as final: no annotator's.
    ("api:machine-labels-send", "post"): "machine",
    (
        "api:machine-labels-review",
        "post",
    ): "machine",  # the labelling page (GET only): it labels through the API
    # The admin shows leases, labels and final labels but adds or changes none.
    ("admin:annotations_annotation_add", "post"): "admin",
    ("admin:annotations_annotation_change", "post"): "admin",
    ("admin:annotations_annotation_delete", "post"): "admin",
    ("admin:annotations_assignment_add", "post"): "admin",
    ("admin:annotations_assignment_change", "post"): "admin",
    ("admin:annotations_assignment_delete", "post"): "admin",  # frees a slot, leases nothing
    ("admin:annotations_finallabel_add", "post"): "admin",
    ("admin:annotations_finallabel_change", "post"): "admin",
    ("admin:annotations_finallabel_delete", "post"): "admin",
}
ADMIN_READS = re.compile(r"admin:(app_list|.*_(changelist|history))$|admin:$")


def _walk(patterns: list[Any], prefix: str = "", ns: str = "") -> Iterator[tuple[str, str, Any]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            space = f"{ns}{pattern.namespace}:" if pattern.namespace else ns
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), space)
        else:
            yield prefix + str(pattern.pattern), ns + (pattern.name or ""), pattern.callback


def _methods(callback: Any) -> set[str]:
    """The methods a view answers: a viewset's actions, a class's handlers; a function
    view may write whatever it declares, so it counts as taking POST."""
    if getattr(callback, "actions", None):
        return set(callback.actions)
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view is not None:
        return {name for name in view.http_method_names if hasattr(view, name)}
    return {"post"}


def routes_to_the_gate() -> set[tuple[str, str]]:
    """Every (name, method) of the URLconf that writes (or is next/) on a path about
    leases or labels, the admin's read-only pages aside."""
    found = set()
    for route, name, callback in _walk(get_resolver().url_patterns):
        if not set(re.findall(r"[a-z]+", route)) & WORDS or ADMIN_READS.match(name):
            continue
        for method in _methods(callback):
            if method in WRITES or (name, method) in ROUTES:
                found.add((name, method))
    return found


def test_every_route_to_a_lease_or_a_label_is_classified():
    """A new route of this kind fails here until it is added to ROUTES (and so tried)."""
    assert routes_to_the_gate() == set(ROUTES)


@dataclass
class World:
    project: Project
    user: Any
    lead: Any
    admin: Any
    gold: list[Image]
    real: list[Image]
    skip: Skip
    annotation: Annotation
    late: Assignment


STATES = ["qualifying", "failed", "paused", "at-cap"]
CAP = 2


@pytest.fixture
def world(project, lead, annotator, admin_user, make_images, settings) -> World:
    """A project with a 2-image test and a pause, 2 gold and 6 real images. The annotator
    has a skip (real 0), a label (real 1) and an expired lease (real 2)."""
    settings.LABELER_MAX_LEASES = CAP
    Project.objects.filter(pk=project.pk).update(
        gold_rate=0.0,
        qualification_gold_count=2,
        qualification_pass_mark=0.5,
        gold_pause_below=0.5,
        gold_pause_window=2,
    )
    project.refresh_from_db()
    images = make_images(project, 8)
    gold, real = images[:2], images[2:]
    for image in gold:
        image_decide(
            project=project, image_id=image.pk, labels=["cat"], decided_by=lead, method="gold"
        )
    written = annotation_record(
        project=project, annotator=annotator, image_id=real[1].pk, labels=["cat"]
    )
    past = timezone.now() - timedelta(minutes=1)
    return World(
        project=project,
        user=annotator,
        lead=lead,
        admin=admin_user,
        gold=gold,
        real=real,
        skip=Skip.objects.create(project=project, image=real[0], annotator=annotator),
        annotation=written.annotation,
        late=Assignment.objects.create(
            project=project, image=real[2], annotator=annotator, expires_at=past
        ),
    )


def put_in_state(world: World, state: str) -> None:
    status = {
        "qualifying": StandingStatus.QUALIFYING,
        "failed": StandingStatus.FAILED,
        "paused": StandingStatus.PAUSED,
        "at-cap": StandingStatus.QUALIFIED,
    }[state]
    AnnotatorStanding.objects.create(
        project=world.project, annotator=world.user, status=status, changed_at=timezone.now()
    )
    if state == "at-cap":  # live leases on two other real images
        for image in world.real[4:6]:
            Assignment.objects.create(
                project=world.project,
                image=image,
                annotator=world.user,
                expires_at=timezone.now() + timedelta(minutes=5),
            )


def _api(world: World, user: Any = None) -> Any:
    return client_for(user or world.user)


def _browser(user: Any) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def _try(world: World, kind: str, name: str) -> list[Any]:
    """Take the route as its caller would; the answers."""
    base = f"/api/v1/projects/{world.project.pk}"
    client = _api(world)
    if kind == "next":
        return [client.get(f"{base}/next/")]
    if kind == "page-next":
        return [client.get(f"{base}/queue/page/")]
    if kind == "label":  # after a skip, and on a lease that ran out
        return [
            client.post(
                f"{base}/annotations/", {"image": image.pk, "labels": ["dog"]}, format="json"
            )
            for image in (world.real[0], world.real[2])
        ]
    if kind == "label-undo":
        return [client.delete(f"{base}/annotations/{world.annotation.pk}/")]
    if kind == "skip":
        return [
            client.post(f"{base}/skips/", {"image": image.pk}, format="json")
            for image in (world.gold[0], world.real[3])
        ]
    if kind == "skip-undo":
        return [client.delete(f"{base}/skips/{world.skip.pk}/")]
    if kind == "lead":
        path = {
            "api:standing-action": f"{base}/qualification/{world.user.pk}/",
            "standing-action": f"/projects/{world.project.pk}/qualification/{world.user.pk}/",
        }[name]
        if name.startswith("api:"):
            return [_api(world, world.lead).post(path, {"action": "resume"}, format="json")]
        return [_browser(world.lead).post(path, {"action": "resume"})]
    if kind == "machine":
        path = f"{base}/machine-labels/{name.rsplit('-', 1)[1]}/"
        return [_api(world, world.lead).post(path, {}, format="json")]
    if kind == "page":
        return [_browser(world.user).post(f"/projects/{world.project.pk}/label/")]
    return [_admin(world, name)]


def _admin(world: World, name: str) -> Any:
    model, verb = name.removeprefix("admin:annotations_").rsplit("_", 1)
    row = {"annotation": world.annotation, "assignment": world.late}.get(model)
    row_id = row.pk if row else FinalLabel.objects.get(image=world.gold[0]).pk
    path = f"/admin/annotations/{model}/" + ("add/" if verb == "add" else f"{row_id}/{verb}/")
    data = {"image": world.real[3].pk, "annotator": world.user.pk, "project": world.project.pk}
    data |= {"expires_at_0": "2100-01-01", "expires_at_1": "00:00:00", "post": "yes"}
    return _browser(world.admin).post(path, data)


def _live_real_leases(world: World) -> set[int]:
    live = Assignment.objects.filter(annotator=world.user, expires_at__gt=timezone.now())
    return set(live.exclude(image__in=world.gold).values_list("image_id", flat=True))


def _real_labels(world: World) -> set[int]:
    mine = Annotation.objects.filter(annotator=world.user).exclude(image__in=world.gold)
    return set(mine.values_list("image_id", flat=True))


def _fill_to_the_grid_cap(world: World, make_images: Any) -> int:
    """A grid page's leases have a cap of their own (two pages): the annotator at the cap
    holds that many live leases. Returns the cap."""
    Project.objects.filter(pk=world.project.pk).update(grid_size=12)
    world.project.refresh_from_db()
    cap = lease_cap(world.project, grid=True)
    held = Assignment.objects.filter(annotator=world.user, expires_at__gt=timezone.now())
    for image in make_images(world.project, cap - held.count()):
        Assignment.objects.create(
            project=world.project,
            image=image,
            annotator=world.user,
            expires_at=timezone.now() + timedelta(minutes=5),
            grid=True,
        )
    return cap


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda route: f"{route[0]}-{route[1]}")
def test_no_route_leases_or_labels_past_the_gate(world, state, route, make_images):
    """Whatever the route, the annotator gains no lease on a real (non-test) image and no
    label of one; a refusal is a 4xx that changed nothing, never a 500."""
    put_in_state(world, state)
    cap = CAP
    if state == "at-cap" and ROUTES[route] == "page-next":
        cap = _fill_to_the_grid_cap(world, make_images)
    leases, labels = _live_real_leases(world), _real_labels(world)
    for response in _try(world, ROUTES[route], route[0]):
        assert response.status_code < 500, response.content[:500]
    assert _live_real_leases(world) <= leases, "a real image was leased past the gate"
    assert _real_labels(world) <= labels, "a real image was labelled past the gate"
    if state == "at-cap":
        live = Assignment.objects.filter(annotator=world.user, expires_at__gt=timezone.now())
        assert live.count() <= cap


@pytest.mark.parametrize("kind", ["label-undo", "skip-undo", "label"])
@pytest.mark.parametrize("state", STATES)
def test_a_refused_undo_or_label_keeps_everything_as_it_was(world, state, kind):
    """The undo and the label are refused whole: the skip, the label, the lease remain."""
    put_in_state(world, state)
    before = row_counts()
    responses = _try(world, kind, "")
    for response in responses:
        assert 400 <= response.status_code < 500, response.content
        body = response.json()
        assert body["detail"], body
    assert row_counts() == before


def _open_world(world: World) -> dict[str, Image]:
    """Rules off; real 0 imported (complete, 0 labels), real 2 flagged as a problem, and
    the project blurs faces with real 3's not blurred yet (the others' are)."""
    Project.objects.filter(pk=world.project.pk).update(
        qualification_gold_count=0, gold_pause_below=0.0, blur_faces=True
    )
    world.project.refresh_from_db()
    imported, problem, hidden = world.real[0], world.real[2], world.real[3]
    final = FinalLabel.objects.create(image=imported, method=FinalLabelMethod.IMPORTED)
    final.labels.set(world.project.labels.filter(name="cat"))
    Image.objects.filter(pk=imported.pk).update(is_complete=True)
    Image.objects.filter(pk=problem.pk).update(problem="unreadable")
    Image.objects.update(faces_state="done")
    Image.objects.filter(pk=hidden.pk).update(faces_state="pending")
    Image.objects.exclude(pk__in=[imported.pk, problem.pk, hidden.pk]).delete()
    return {"imported": imported, "problem": problem, "faces": hidden}


def test_images_complete_from_an_import_or_flagged_are_never_leased(world):
    """Nor an image whose faces are not blurred yet in a project that blurs them: next/,
    labelling after a skip or a lease that ran out, undoing the skip and undoing
    a label of the image: none leases or labels either image."""
    images = _open_world(world)
    other = world.annotation.image_id
    base = f"/api/v1/projects/{world.project.pk}"
    client = _api(world)
    assert client.get(f"{base}/next/").status_code == 204
    for name, image in images.items():
        skip = Skip.objects.filter(
            image=image, annotator=world.user
        ).first() or Skip.objects.create(project=world.project, image=image, annotator=world.user)
        response = client.post(
            f"{base}/annotations/", {"image": image.pk, "labels": ["dog"]}, format="json"
        )
        assert response.status_code == 409, response.content
        codes = {"imported": "image_full", "problem": "image_problem"}
        assert response.json()["code"] == codes.get(name, "faces_not_blurred"), name
        assert client.delete(f"{base}/skips/{skip.pk}/").status_code == 204
        Assignment.objects.update_or_create(
            image=image,
            annotator=world.user,
            defaults={
                "project": world.project,
                "expires_at": timezone.now() - timedelta(minutes=1),
            },
        )
        late = client.post(
            f"{base}/annotations/", {"image": image.pk, "labels": ["dog"]}, format="json"
        )
        assert late.status_code == 409, late.content
        assert late.json()["code"] == codes.get(name, "faces_not_blurred"), name
        Assignment.objects.filter(image=image).delete()
    assert other not in images.values()
    assert not Assignment.objects.filter(image__in=images.values()).exists()
    assert not Annotation.objects.filter(image__in=images.values()).exists()


def test_undoing_a_label_of_an_imported_image_leases_nothing(world, lead):
    """The image stays complete (its imported label decides it) and is not leased back."""
    images = _open_world(world)
    imported = images["imported"]
    note = annotation_record(
        project=world.project, annotator=world.user, image_id=imported.pk, labels=["cat"]
    ).annotation
    base = f"/api/v1/projects/{world.project.pk}"
    assert _api(world).delete(f"{base}/annotations/{note.pk}/").status_code == 204
    imported.refresh_from_db()
    assert imported.is_complete
    assert not Assignment.objects.filter(image=imported).exists()
