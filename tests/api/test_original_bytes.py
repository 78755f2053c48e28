"""Only leads and admins are ever served an original; everyone else gets a copy without metadata.

The routes are not listed by hand: every GET route of the URL conf is asked for a project
holding two private photos (one located by GPS, which gets a display copy, and one not,
shown as it is), and those answering ``image/*`` are the routes that serve image bytes;
every image address found in any answer (``file_url``, ``display_url``, ``next/``, the
pages' ``/files/`` links) is followed too. A route added later is covered as it comes.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import ExifTags
from PIL import Image as PILImage

from labeler import flows
from labeler.images.file_deletes import storage_delete_files
from labeler.images.models import Image
from labeler.projects.models import Role
from tests.api.test_permission_matrix import Route, routes
from tests.factories import UserFactory, add_member

pytestmark = pytest.mark.django_db

OWNER, SERIAL, COMMENT = "Jane Owner", "SN-0042-PRIVATE", b"taken at 12 Home Street"
ROLES = ["admin", "lead", "reviewer", "annotator", "stranger"]
SEES_ORIGINALS = {"admin", "lead"}
FILE_LINK = re.compile(r"/files/\d+/[^/\"'\s]+/[^\"'\s<>]+")


def private_photo(*, located: bool, size: tuple[int, int] = (48, 32)) -> bytes:
    """A JPEG holding its owner's name, camera serial, XMP, a comment and maybe a position."""
    image = PILImage.new("RGB", size, (200, 90, 40) if located else (40, 90, 200))
    exif = image.getexif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Artist] = OWNER
    private = exif.get_ifd(ExifTags.IFD.Exif)
    private[ExifTags.Base.CameraOwnerName] = OWNER
    private[ExifTags.Base.BodySerialNumber] = SERIAL
    if located:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps.update({1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)})
    buffer = io.BytesIO()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>' + OWNER.encode() + b"</dc:creator>"
    image.save(buffer, format="JPEG", quality=90, exif=exif, comment=COMMENT, xmp=xmp + b"</x>")
    return buffer.getvalue()


def leaks(data: bytes) -> list[str]:
    """What private metadata these image bytes carry (empty: none)."""
    found = []
    with PILImage.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        if exif.get_ifd(ExifTags.IFD.GPSInfo):
            found.append("GPS")
        if set(exif) - {ExifTags.Base.Orientation, ExifTags.Base.ExifOffset}:
            found.append(f"EXIF tags {sorted(exif)}")
        if exif.get_ifd(ExifTags.IFD.Exif):
            found.append("EXIF sub-IFD")
        if image.info.get("comment") or image.info.get("xmp"):
            found.append("comment or XMP")
    for marker in (OWNER.encode(), SERIAL.encode(), COMMENT, b"http://ns.adobe.com/xap"):
        if marker in data:
            found.append(f"bytes {marker!r}")
    if re.search(rb"\xff\xfe", data.split(b"\xff\xda", 1)[0]):
        found.append("a JPEG COM segment")
    return found


@pytest.fixture
def world(project, lead, annotator, outsider, admin_user, django_capture_on_commit_callbacks):
    reviewer = UserFactory(username="reviewer")
    add_member(project, reviewer, Role.REVIEWER)
    files = [
        SimpleUploadedFile("located.jpg", private_photo(located=True)),
        SimpleUploadedFile("plain.jpg", private_photo(located=False)),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        results = flows.images_ingest(project=project, files=files)
    images = list(Image.objects.filter(pk__in=[r.image_id for r in results]).order_by("pk"))
    assert [bool(i.display) for i in images] == [True, False]  # shown as it is: the original
    assert all(i.thumbnail for i in images)
    users = {
        "admin": admin_user,
        "lead": lead,
        "reviewer": reviewer,
        "annotator": annotator,
        "stranger": outsider,
    }
    return {"project": project, "images": images, "users": users}


def browser(user: Any) -> Client:
    # A route that fails is another test's finding; here it serves no bytes.
    client = Client(raise_request_exception=False)
    client.force_login(user)
    client.get("/")  # the session in the cache, as after a first page
    return client


def get_routes() -> list[Route]:
    return [r for r in routes() if not r.name.startswith("admin:") and r.name != "image-file-link"]


def path_for(route: Route, project_id: int, image_id: int) -> str | None:
    """The route's path for the project and image; None where a parameter is not an id."""
    unfilled = False

    def value(match: re.Match[str]) -> str:
        nonlocal unfilled
        converter, name = match.group(1) or "", match.group(2)
        if converter not in ("int:", "") or name in ("format", "uidb64", "token"):
            unfilled = True
        return str(project_id if name.startswith("project") else image_id)

    path = route.pattern.replace("<drf_format_suffix:format>", "")
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", path)
    path = re.sub(r"<(\w+:)?(\w+)>", value, path)
    path = path.replace("^", "").replace("$", "").replace("\\.", ".").replace("/?", "/")
    return None if unfilled else "/" + path


def content(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def is_image(response: Any) -> bool:
    return response.status_code == 200 and response["Content-Type"].startswith("image/")


def image_answers(client: Client, world: dict[str, Any]) -> dict[str, Any]:
    """Every image-bytes answer a user reaches: routes answering image/* and links found."""
    project_id = world["project"].pk
    answers: dict[str, Any] = {}
    links: set[str] = set()
    for image in world["images"]:
        for route in get_routes():
            path = path_for(route, project_id, image.pk)
            if path is None or path in answers:
                continue
            response = client.get(path)
            if is_image(response):
                answers[path] = response
            elif not getattr(response, "streaming", False):
                links.update(FILE_LINK.findall(response.content.decode("utf-8", "replace")))
    for link in sorted(links):
        answers[link] = client.get(link.replace("\\/", "/"))
    return answers


@pytest.mark.slow
def test_only_leads_and_admins_are_ever_served_an_original(world):
    """Every route serving image bytes and every image address found, for every role:
    strangers are refused, reviewers and annotators get bytes without any metadata,
    leads and admins get the original."""
    lead_answers = image_answers(browser(world["users"]["lead"]), world)
    image_routes = {p for p in lead_answers if not p.startswith("/files/")}
    assert any(p.endswith("/file/") for p in image_routes), sorted(lead_answers)
    assert any(p.startswith("/files/") for p in lead_answers), "no image address found"
    originals = {i.file.read() for i in world["images"]}
    assert originals & {content(r) for r in lead_answers.values() if is_image(r)}

    for role in ROLES:
        client = browser(world["users"][role])
        answers = image_answers(client, world) if role != "stranger" else {}
        if role == "stranger":  # what the lead was served, asked by a non-member
            answers = {path: client.get(path) for path in lead_answers}
        for path, response in answers.items():
            if role == "stranger":
                assert response.status_code in (403, 404), (role, path, response.status_code)
                continue
            assert is_image(response), (role, path, response.status_code)
            data = content(response)
            if role in SEES_ORIGINALS:
                continue
            assert not leaks(data), (role, path, leaks(data))
            assert data not in originals, (role, path)
        if role not in SEES_ORIGINALS and role != "stranger":
            assert {p for p in answers if not p.startswith("/files/")} == image_routes, role


def test_the_stripped_copy_is_the_full_picture_upright(world, annotator):
    """An annotator's copy has the original's size and pixels (a JPEG's scans copied)."""
    image = world["images"][1]
    client = browser(annotator)
    response = client.get(f"/api/v1/projects/{world['project'].pk}/images/{image.pk}/file/")
    data = content(response)
    original = image.file.read()
    with PILImage.open(io.BytesIO(data)) as copy, PILImage.open(io.BytesIO(original)) as first:
        assert copy.size == first.size
        assert copy.tobytes() == first.tobytes()
    assert data.split(b"\xff\xda", 1)[1] == original.split(b"\xff\xda", 1)[1]


def test_the_stripped_copy_is_made_once_and_goes_with_its_original(world, annotator, media_root):
    """Kept under stripped/ after its first request, served from there, deleted with it."""
    image = world["images"][1]
    url = f"/api/v1/projects/{world['project'].pk}/images/{image.pk}/file/"
    client = browser(annotator)
    first = content(client.get(url))
    (kept,) = (media_root / "stripped").rglob("*.jpg")
    modified = kept.stat().st_mtime_ns
    assert content(client.get(url)) == first  # served from the copy, not made again
    assert kept.stat().st_mtime_ns == modified

    storage_delete_files(names=[image.file.name])

    assert not kept.exists()


def test_a_copy_made_before_the_copies_changed_is_made_again(world, annotator, media_root):
    """A copy kept from an earlier version (its ICC profile whole) is neither served nor
    left behind: the request makes the current one, and deleting the original both."""
    from labeler.images.delivery import served

    image = world["images"][1]
    url = f"/api/v1/projects/{world['project'].pk}/images/{image.pk}/file/"
    earlier = media_root / (served._stripped_base(image.file.name, version=1) + "jpg")
    earlier.parent.mkdir(parents=True, exist_ok=True)
    earlier.write_bytes(b"an earlier copy")
    assert content(browser(annotator).get(url)) != b"an earlier copy"
    assert len(list((media_root / "stripped").rglob("*.jpg"))) == 2

    storage_delete_files(names=[image.file.name])

    assert not list((media_root / "stripped").rglob("*.jpg"))


@pytest.mark.slow
def test_with_faces_blurred_no_route_hands_others_an_original(world):
    """In a project that blurs faces, every route and address serves reviewers and
    annotators a copy made anew (never the original's bytes, nor its stripped copy); while
    the faces are not found, none serves them image bytes at all."""
    project = world["project"]
    type(project).objects.filter(pk=project.pk).update(blur_faces=True)
    Image.objects.filter(project=project).update(faces_state="done")
    originals = {i.file.read() for i in world["images"]}
    for role in ("reviewer", "annotator"):
        answers = image_answers(browser(world["users"][role]), world)
        assert answers
        for path, response in answers.items():
            assert is_image(response), (role, path, response.status_code)
            data = content(response)
            assert data not in originals and not leaks(data), (role, path)
    Image.objects.filter(project=project).update(faces_state="pending")
    for role in ("reviewer", "annotator"):
        answers = image_answers(browser(world["users"][role]), world)
        assert not [p for p, r in answers.items() if is_image(r)], role
        assert all(r.status_code == 409 for r in answers.values()), role
