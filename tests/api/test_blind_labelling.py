"""Blind labelling: nothing an annotator can open tells them an image's file name, folder
or metadata (labeler.annotations.blind), while leads and reviewers see them all.

The routes come from the URL conf (``tests.api.test_permission_matrix.routes``), so a new
page or endpoint is walked as soon as it exists: every one is asked for by the annotator,
with the ids of a project whose images are named like an ImageFolder dataset
(``kitten/DSC_1_kitten.png``), one of them read in place from a folder of that name. Whatever
it answers (a 403 too), its body, its headers and every image address in it are searched
for the names and metadata; every image address found is then followed, and its answer's
headers searched too.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from labeler.annotations.queue import queue_next_image
from labeler.annotations.services import skip_create
from labeler.images.models import FieldValue, Image, ImageTag
from tests.api.test_permission_matrix import RULES, Rule, path_of, routes
from tests.api.test_permission_matrix import world as world
from tests.conftest import client_for
from tests.factories import UserFactory, add_member, annotation_submit, image_bytes

pytestmark = pytest.mark.django_db

ROOT = "blind-mnt-root"  # the mounted folder's name: its path must not reach annotators
# The class the names carry ("kitten": no label's name, nor in any help text), and the
# rest of what came with the files.
SECRETS = ("kitten", "Kitten", "DSC_", ROOT)
METADATA = (
    "KittenCam",
    "kitten-licence",
    "from-kitten-folder",
    "kitten/DSC",
    "kitten-origin",
    "kitten-site",
)
# Where the photos were taken, as the API (JSON) and the pages (5 places) write it: for
# the project's leads and admins only.
POSITION = ("12.3456", "65.4321")
FILE_ADDRESS = re.compile(r"""(?:https?://testserver)?/files/\d+/[^/"'\s<>]+/[^"'\s<>]+""")


@pytest.fixture
def dataset(
    world, project, lead, annotator, settings, tmp_path, django_capture_on_commit_callbacks
):
    """The shared world's images renamed and described as an ImageFolder dataset's, and one
    more read in place from a folder ``kitten/``; the annotator holds a lease on it."""
    for number, image in enumerate(Image.objects.filter(project=project).order_by("pk"), 1):
        image.original_name = f"DSC_{number}_kitten.png"
        image.source, image.source_key = "import", f"kitten/DSC_{number}_kitten.png"
        image.camera, image.licence = "KittenCam 3000", "kitten-licence"
        image.origin = "kitten-origin"
        image.gps_latitude, image.gps_longitude = 12.3456789, -65.4321
        image.save()
        ImageTag.objects.create(image=image, name="from-kitten-folder")
        FieldValue.objects.create(field_id=world["ids"]["field"], image=image, text="kitten-site")
    folder = tmp_path / ROOT / "kitten"
    folder.mkdir(parents=True)
    (folder / "DSC_9_kitten.png").write_bytes(image_bytes(size=(40, 30)))
    settings.LABELER_REFERENCE_ROOTS = [str(tmp_path / ROOT)]
    with django_capture_on_commit_callbacks(execute=True):
        registered = client_for(lead).post(
            f"/api/v1/projects/{project.pk}/references/",
            {"kind": "folder", "path": str(folder)},
            format="json",
        )
    assert registered.status_code == 202, registered.content
    in_place = Image.objects.get(project=project, source="folder")
    assert ROOT in in_place.file.name and "DSC_9_kitten" in in_place.file.name
    others = Image.objects.filter(project=project).exclude(pk=in_place.pk)
    exclude = ",".join(str(pk) for pk in others.values_list("pk", flat=True))
    leased = client_for(annotator).get(f"/api/v1/projects/{project.pk}/next/?exclude={exclude}")
    assert leased.json()["image"]["id"] == in_place.pk
    return {**world, "in_place": in_place}


def answer_text(response: Any) -> tuple[str, bytes]:
    """The headers as text, and the body (an image's bytes are not searched: they are pixels)."""
    headers = "\n".join(f"{name}: {value}" for name, value in response.items())
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)
        return headers, b"" if response["Content-Type"].startswith("image/") else body
    return headers, response.content


def route_path(route: Any, dataset: dict[str, Any]) -> str:
    """The route's path with the world's ids, as the permission matrix fills it. A route
    without its rule there yet (that test fails for it) gets the project's id for any
    parameter the defaults do not name."""
    rule = RULES.get(route.rule_key)
    if rule is None:
        names = re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", route.pattern)
        rule = Rule({}, ids={a or b: "project" for a, b in names if (a or b) != "project_pk"})
    return path_of(route, rule, dataset)


def walk(
    dataset: dict[str, Any], user: Any, secrets: tuple[str, ...] = SECRETS
) -> tuple[dict[str, int], list[str], set[str]]:
    """Every route of the URL conf asked for (GET) by ``user``: the status of each, which
    of ``secrets`` showed where, and the image addresses found in the answers."""

    def leaks(text: str) -> list[str]:
        return [secret for secret in secrets if secret in text]

    api, page = client_for(user), Client()
    page.force_login(user)
    statuses: dict[str, int] = {}
    leaked: list[str] = []
    addresses: set[str] = set()
    for route in routes():
        if route.name.startswith("admin:") or route.name == "image-file-link":
            continue  # the admin site is staff's; file addresses are followed below
        path = route_path(route, dataset)
        client = api if route.name.startswith(("api:", "rest_framework:")) else page
        cache.clear()
        response = client.get(path)
        statuses[route.name] = response.status_code
        headers, body = answer_text(response)
        text = headers + "\n" + body.decode("utf-8", "replace")
        leaked += [f"{route.name} {path}: {secret}" for secret in leaks(text)]
        addresses |= set(FILE_ADDRESS.findall(text.replace("\\/", "/")))
    for address in sorted(addresses):
        response = page.get(address)
        headers, _ = answer_text(response)
        leaked += [f"{address} ({response.status_code}): {s}" for s in leaks(address + headers)]
        statuses.setdefault(f"file {response.status_code}", 0)
    return statuses, leaked, addresses


# Routes whose answers carry an annotator's images: the walk must reach them, or it
# proves nothing.
IMAGE_ROUTES = (
    "label",
    "api:next-image",
    "api:history",
    "api:image-list",
    "api:image-detail",
    "api:image-file",
    "api:image-thumbnail",
)


def test_an_annotator_meets_no_file_name_folder_or_metadata_anywhere(dataset, annotator):
    """Every page and API answer an annotator can open, and every image address in them,
    without the names, paths, folder, camera, tags or licence of the images."""
    statuses, leaked, addresses = walk(dataset, annotator)
    assert not leaked, "\n".join(leaked)
    assert all(statuses[name] == 200 for name in IMAGE_ROUTES), {
        name: statuses[name] for name in IMAGE_ROUTES
    }
    assert len(addresses) >= 3  # the queue's, the history's, the images' files
    assert "file 200" in statuses  # the addresses by id serve


def test_leads_and_reviewers_see_names_and_metadata(dataset, project, lead):
    """The same images as a lead or a reviewer sees them: names, the import path, camera."""
    reviewer = UserFactory(username="looker")
    add_member(project, reviewer, "reviewer")
    image = dataset["in_place"]
    for user in (lead, reviewer):
        body = client_for(user).get(f"/api/v1/projects/{project.pk}/images/{image.pk}/").json()
        assert body["original_name"] == "DSC_9_kitten.png"
        assert body["source_key"].endswith("DSC_9_kitten.png")
        described = Image.objects.filter(project=project, source="import").first()
        url = f"/api/v1/projects/{project.pk}/images/{described.pk}/"
        assert client_for(user).get(url).json()["camera"] == "KittenCam 3000"
    page = Client()
    page.force_login(lead)
    assert "DSC_9_kitten.png" in page.get(f"/projects/{project.pk}/images/").content.decode()
    _, leaked, _ = walk(dataset, lead)
    assert leaked  # the walk finds them where they are shown
    _, leaked, _ = walk(dataset, lead, secrets=METADATA)
    assert leaked


def test_reviewers_meet_no_position_anywhere_and_leads_do(dataset, project, lead):
    """Where a photo was taken is for leads and admins: no page or answer a reviewer opens
    (the images, the slices, the exports they may read...) holds it."""
    reviewer = UserFactory(username="looker")
    add_member(project, reviewer, "reviewer")
    statuses, leaked, _ = walk(dataset, reviewer, secrets=POSITION)
    assert not leaked, "\n".join(leaked)
    assert statuses["api:image-detail"] == statuses["api:slices"] == 200
    _, leaked, _ = walk(dataset, lead, secrets=POSITION)
    assert leaked  # the walk reaches them where they are shown


def test_with_the_setting_on_annotators_see_file_names_but_no_metadata(dataset, project, annotator):
    project.annotators_see_file_names = True
    project.save(update_fields=["annotators_see_file_names"])
    client = client_for(annotator)
    image = dataset["in_place"]
    body = client.get(f"/api/v1/projects/{project.pk}/images/{image.pk}/").json()
    assert body["original_name"] == "DSC_9_kitten.png"
    history = client.get(f"/api/v1/projects/{project.pk}/history/").json()
    assert {item["image_name"] for item in history} <= {f"DSC_{n}_kitten.png" for n in range(1, 4)}
    assert any(item["image_name"] for item in history)
    _, names, _ = walk(dataset, annotator, secrets=("DSC_",))
    assert names  # the names, and the addresses that carry the folder's path
    _, leaked, _ = walk(dataset, annotator, secrets=METADATA)
    assert not leaked, "\n".join(leaked)


def test_an_address_by_id_serves_its_user_only_under_a_numbered_name(dataset, project, annotator):
    """The images' addresses name the image by id; they serve the annotator, under a name
    made of the id, not another member, and nothing once the image is gone."""
    image = dataset["in_place"]
    body = client_for(annotator).get(f"/api/v1/projects/{project.pk}/images/{image.pk}/").json()
    assert body["file_url"].endswith(f"/image/{project.pk}/{image.pk}/file")
    assert body["display_url"] == body["file_url"]  # no display copy: the file itself
    browser = Client()
    browser.force_login(annotator)
    served = browser.get(body["file_url"])
    assert served.status_code == 200
    assert served["Content-Disposition"] == f'inline; filename="image-{image.pk}.png"'
    assert b"".join(served.streaming_content).startswith(b"\x89PNG")
    other = Client()
    other.force_login(dataset["users"]["reviewer"])
    assert other.get(body["file_url"]).status_code == 404  # signed for the annotator
    thumbnail = browser.get(body["thumbnail_url"])
    assert body["thumbnail_url"].endswith(f"/image/{project.pk}/{image.pk}/thumbnail")
    assert thumbnail["Content-Disposition"] == f'inline; filename="image-{image.pk}-thumbnail.jpg"'
    api_file = client_for(annotator).get(f"/api/v1/projects/{project.pk}/images/{image.pk}/file/")
    assert api_file["Content-Disposition"] == f'inline; filename="image-{image.pk}.png"'
    Image.objects.filter(pk=image.pk).delete()
    assert browser.get(body["file_url"]).status_code == 404


def test_a_lead_turns_file_names_on_over_rest_and_a_bad_value_is_refused(
    project, lead, annotator, make_images
):
    (image,) = make_images(project, 1)
    url = f"/api/v1/projects/{project.pk}/"
    image_url = f"/api/v1/projects/{project.pk}/images/{image.pk}/"
    assert client_for(lead).get(url).json()["annotators_see_file_names"] is False
    assert client_for(annotator).get(image_url).json()["original_name"] == ""
    refused = client_for(lead).patch(url, {"annotators_see_file_names": "maybe"}, format="json")
    assert refused.status_code == 400
    assert "annotators_see_file_names" in refused.content.decode()
    denied = client_for(annotator).patch(url, {"annotators_see_file_names": True}, format="json")
    assert denied.status_code == 403
    changed = client_for(lead).patch(url, {"annotators_see_file_names": True}, format="json")
    assert changed.status_code == 200 and changed.json()["annotators_see_file_names"] is True
    assert client_for(annotator).get(image_url).json()["original_name"] == image.original_name


def test_the_settings_page_asks_for_it_ticked_as_it_is(project, lead):
    page = Client()
    page.force_login(lead)
    url = f"/projects/{project.pk}/settings/"
    unticked = page.get(url).content.decode()
    box = re.search(r'<input type="checkbox" name="annotators_see_file_names"[^>]*>', unticked)
    assert box is not None and "checked" not in box.group()
    project.annotators_see_file_names = True
    project.save(update_fields=["annotators_see_file_names"])
    ticked = page.get(url).content.decode()
    box = re.search(r'<input type="checkbox" name="annotators_see_file_names"[^>]*>', ticked)
    assert box is not None and "checked" in box.group()


def test_an_annotators_image_listing_shows_only_the_images_handed_to_them(
    project, lead, annotator, annotator2, make_images
):
    """An annotator lists the images the queue handed them (a lease, a label, a skip),
    not the rest of the project nor another annotator's; a lead lists every image."""
    images = make_images(project, 6)
    handed = []
    for _ in range(3):
        lease = queue_next_image(project=project, annotator=annotator, exclude=handed)
        handed.append(lease.image_id)
    annotation_submit(project=project, annotator=annotator, image_id=handed[0], labels=["cat"])
    skip_create(project=project, annotator=annotator, image_id=handed[1])
    theirs = queue_next_image(project=project, annotator=annotator2, exclude=handed).image_id

    def listed(user) -> set[int]:
        body = client_for(user).get(f"/api/v1/projects/{project.pk}/images/").json()
        return {item["id"] for item in body["results"]}

    assert listed(annotator) == set(handed)
    assert theirs not in listed(annotator) and listed(annotator2) == {theirs}
    assert listed(lead) == {image.pk for image in images}
