"""Uploading and serving images through /api/v1/projects/{id}/images/, with token clients.

Every bad upload answers a 4xx JSON error or a per-file "rejected" result with a reason,
and leaves storage and database exactly as they were: no row without its file, no file
without its row.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import FileResponse
from PIL import Image as PILImage
from rest_framework.response import Response
from rest_framework.test import APIClient

from labeler.images.models import STORED_FILE_FIELDS, Image
from labeler.projects.models import Project, Role
from tests.factories import ProjectFactory, add_member, image_bytes
from tests.labeler.images import samples


def images_url(project: Project) -> str:
    return f"/api/v1/projects/{project.pk}/images/"


def upload(client: APIClient, project: Project, *files: tuple[str, bytes]) -> Response:
    """POST the files in the multipart field `files`."""
    payload = {"files": [SimpleUploadedFile(name, data) for name, data in files]}
    return client.post(images_url(project), payload, format="multipart")


def stored_files(media_root: Path) -> set[str]:
    """Every file under MEDIA_ROOT, as storage names."""
    root = Path(media_root)
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def assert_storage_matches_rows(media_root: Path) -> None:
    """Each image row has its file and each stored file belongs to a row."""
    names: set[str] = set()
    for image in Image.objects.all():
        stored = (getattr(image, field).name for field in STORED_FILE_FIELDS)
        names.update(name for name in stored if name)
    assert stored_files(media_root) == names


def assert_nothing_stored(media_root: Path) -> None:
    assert Image.objects.count() == 0
    assert stored_files(media_root) == set()


def read(response: FileResponse) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def client(api_as: Callable[..., APIClient], lead: object) -> APIClient:
    return api_as(lead)


def test_upload_stores_image_under_its_hash_and_thumbnails_it_on_commit(
    client, project, media_root, django_capture_on_commit_callbacks
):
    """The file is stored as uploaded, named by its sha256; the thumbnail follows the commit."""
    data = image_bytes(size=(600, 300))
    sha256 = hashlib.sha256(data).hexdigest()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = upload(client, project, ("cat.png", data))

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["created"], body["duplicates"], body["rejected"]) == (1, 0, 0)
    assert body["results"] == [
        {"name": "cat.png", "status": "created", "image_id": body["results"][0]["image_id"],
         "reason": "", "archive": None}
    ]  # fmt: skip
    image = Image.objects.get(pk=body["results"][0]["image_id"])
    assert (image.sha256, image.original_name, image.width, image.height) == (
        sha256, "cat.png", 600, 300
    )  # fmt: skip
    assert sha256 in image.file.name
    assert (Path(media_root) / image.file.name).read_bytes() == data
    assert len(callbacks) == 1
    assert image.thumbnail.name.endswith(f"{sha256}.jpg")
    thumbnail = PILImage.open(Path(media_root) / image.thumbnail.name)
    assert (thumbnail.format, thumbnail.size) == ("JPEG", (256, 128))
    assert_storage_matches_rows(media_root)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("notes.png", samples.TEXT, "Not an image file"),
        ("page.png", samples.HTML, "Not an image file"),
        ("drawing.png", samples.SVG, "Not an image file"),
        ("empty.png", b"", "File is empty."),
        ("half.png", samples.truncated(image_bytes("PNG", size=(64, 64))), "truncated or corrupt"),
        ("half.jpg", samples.truncated(image_bytes("JPEG", size=(64, 64))), "truncated or corrupt"),
        ("bomb.png", samples.png_claiming(30_000, 30_000), "too large to decode safely"),
        ("inner.zip", b"PK\x03\x04 not a zip", "Not a readable zip archive"),
        ("empty.zip", samples.zip_of({}), "Archive holds no files."),
        ("future.zip", samples.zip_needing_version(99), "Not a readable zip archive"),
    ],
    ids=["text", "html", "svg", "empty", "truncated-png", "truncated-jpeg", "bomb",
         "corrupt-zip", "empty-zip", "future-zip"],
)  # fmt: skip
def test_bad_file_is_rejected_with_its_reason_and_nothing_stored(
    client, project, media_root, name, data, reason
):
    """A lone bad file answers 400 with the file's own reason; nothing is written."""
    response = upload(client, project, (name, data))

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"] == "No file was accepted; see each file's reason."
    assert (body["created"], body["duplicates"], body["rejected"]) == (0, 0, 1)
    [result] = body["results"]
    assert (result["name"], result["status"], result["image_id"]) == (name, "rejected", None)
    assert reason in result["reason"]
    assert_nothing_stored(media_root)


def test_file_over_the_size_cap_is_rejected(client, project, media_root, settings):
    """A file above LABELER_MAX_IMAGE_BYTES is rejected with its size and the limit."""
    data = image_bytes()
    settings.LABELER_MAX_IMAGE_BYTES = 100

    response = upload(client, project, ("big.png", data))

    assert response.status_code == 400, response.content
    reason = response.json()["results"][0]["reason"]
    assert reason == f"File is {len(data):,} bytes; the limit is 100."
    assert_nothing_stored(media_root)


def test_image_over_the_pixel_cap_is_rejected(client, project, media_root, settings):
    """An image above LABELER_MAX_IMAGE_PIXELS is rejected with its size and the limit."""
    settings.LABELER_MAX_IMAGE_PIXELS = 10_000

    response = upload(client, project, ("wide.png", image_bytes(size=(200, 100))))

    assert response.status_code == 400, response.content
    reason = response.json()["results"][0]["reason"]
    assert reason == "Image is 200x100 pixels; the limit is 10,000 pixels."
    assert_nothing_stored(media_root)


def test_archive_over_the_archive_cap_is_rejected(client, project, media_root, settings):
    """An archive above LABELER_MAX_ARCHIVE_BYTES is rejected unopened."""
    settings.LABELER_MAX_ARCHIVE_BYTES = 100

    response = upload(client, project, ("pics.zip", samples.zip_of({"a.png": image_bytes()})))

    assert response.status_code == 400, response.content
    assert response.json()["results"][0]["reason"] == "Archive is over 100 bytes."
    assert_nothing_stored(media_root)


def test_archive_with_too_many_members_is_rejected(client, project, media_root, settings):
    """Above LABELER_MAX_ARCHIVE_MEMBERS the whole archive is one rejection."""
    settings.LABELER_MAX_ARCHIVE_MEMBERS = 2
    data = samples.zip_of({f"{i}.png": image_bytes() for i in range(3)})

    response = upload(client, project, ("pics.zip", data))

    assert response.status_code == 400, response.content
    result = response.json()["results"][0]
    assert (result["name"], result["reason"]) == (
        "pics.zip", "Archive holds 3 files; the limit is 2."
    )  # fmt: skip
    assert_nothing_stored(media_root)


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        ({"../evil.png": image_bytes()}, "Unsafe path in archive"),
        ({"/abs.png": image_bytes()}, "Unsafe path in archive"),
        ({"C:\\x.png": image_bytes()}, "Unsafe path in archive"),
        ({"__MACOSX/._a.png": image_bytes()}, "Hidden or system metadata file"),
        ({".DS_Store": b"\0\0\0\1Bud1"}, "Hidden or system metadata file"),
        ({"inner.zip": samples.zip_of({"a.png": image_bytes()})}, "Archives inside archives"),
        ({"notes.txt": samples.TEXT}, "Not an image file"),
        ({"half.jpg": samples.truncated(image_bytes("JPEG", (64, 64)))}, "truncated or corrupt"),
    ],
    ids=["dotdot", "absolute", "drive", "macosx", "dotfile", "nested-zip", "text", "truncated"],
)
def test_bad_archive_entry_is_rejected_by_name(client, project, media_root, entries, reason):
    """Each refused entry is reported under its name and its archive; nothing is written."""
    [name] = entries

    response = upload(client, project, ("pics.zip", samples.zip_of(entries)))

    assert response.status_code == 400, response.content
    [result] = response.json()["results"]
    assert (result["name"], result["archive"], result["status"]) == (name, "pics.zip", "rejected")
    assert reason in result["reason"]
    assert_nothing_stored(media_root)


@pytest.mark.parametrize(
    ("archive", "reason"),
    [
        (samples.zip_bomb, "looks like a zip bomb"),
        (lambda: samples.zip_lying_about_size(1000), "Bad CRC-32"),
        (lambda: samples.zip_lying_about_size(1000, crc_of_prefix=True), "Not an image file"),
        (samples.zip_with_corrupt_data, "Entry cannot be read from the archive"),
        (samples.zip_marked_encrypted, "Encrypted archive entries are not supported."),
    ],
    ids=["bomb", "lying-size", "lying-size-and-crc", "corrupt-data", "encrypted"],
)
def test_hostile_archive_entry_is_rejected(client, project, media_root, archive, reason):
    """Bombs, lying headers and corrupt streams are rejected entries, never a 500."""
    response = upload(client, project, ("pics.zip", archive()))

    assert response.status_code == 400, response.content
    [result] = response.json()["results"]
    assert result["status"] == "rejected"
    assert reason in result["reason"]
    assert_nothing_stored(media_root)


def test_mixed_upload_creates_the_good_and_rejects_the_bad(client, project, media_root):
    """Good files and entries are created; each bad one is rejected with its reason."""
    archive = samples.zip_of(
        {
            "batch/good.jpg": image_bytes("JPEG"),
            "../evil.png": image_bytes(),
            "__MACOSX/batch/._good.jpg": b"\0\5\26\7",
            "bomb.png": bytes(5_000_000),
        }
    )

    response = upload(
        client,
        project,
        ("good.png", image_bytes()),
        ("notes.png", samples.TEXT),
        ("pics.zip", archive),
        ("half.png", samples.truncated(image_bytes(size=(64, 64)))),
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["created"], body["duplicates"], body["rejected"]) == (2, 0, 5)
    expected = {
        "good.png": ("created", ""),
        "notes.png": ("rejected", "Not an image file (or a format we cannot read)."),
        "batch/good.jpg": ("created", ""),
        "../evil.png": ("rejected", "Unsafe path in archive (absolute or with '..')"),
        "__MACOSX/batch/._good.jpg": ("rejected", "Hidden or system metadata file"),
        "bomb.png": ("rejected", "looks like a zip bomb"),
        "half.png": ("rejected", "Image file is truncated or corrupt"),
    }
    assert [r["name"] for r in body["results"]] == list(expected)
    for result in body["results"]:
        status, reason = expected[result["name"]]
        assert result["status"] == status
        assert reason in result["reason"]
    created = {r["image_id"] for r in body["results"] if r["status"] == "created"}
    assert set(Image.objects.values_list("pk", flat=True)) == created
    assert_storage_matches_rows(media_root)


@pytest.mark.parametrize("budget", [10, 2_000, 128 * 1024 * 1024])
def test_uploads_spilled_to_disk_are_read_alike(client, project, media_root, settings, budget):
    """Past LABELER_UPLOAD_MEMORY_BYTES a request's files go to temporary files, however
    many of them fit before: same results."""
    settings.LABELER_UPLOAD_MEMORY_BYTES = budget
    archive = samples.zip_of({"b.png": image_bytes(), "../evil.png": image_bytes()})

    response = upload(client, project, ("a.png", image_bytes()), ("pics.zip", archive))

    assert response.status_code == 201, response.content
    statuses = [(r["name"], r["status"]) for r in response.json()["results"]]
    assert statuses == [("a.png", "created"), ("b.png", "created"), ("../evil.png", "rejected")]
    assert_storage_matches_rows(media_root)


def test_exif_rotated_jpeg_is_stored_as_sent_and_shown_upright(
    client, project, media_root, settings, django_capture_on_commit_callbacks
):
    """Orientation 6: width and height are swapped at once; the stored file is the upload,
    byte for byte (the request never decodes a whole image, nor does the worker encode it
    again), and what the page shows is an upright copy; sending it again is a duplicate."""
    settings.LABELER_DISPLAY_SIZE = 30  # the sample is 40 pixels long: a copy is made
    data = samples.jpeg_turned()

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, project, ("phone.jpg", data))

    assert response.status_code == 201, response.content
    image = Image.objects.get()
    assert (image.width, image.height) == (20, 40)
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    assert (Path(media_root) / image.file.name).read_bytes() == data
    body = client.get(f"{images_url(project)}{image.pk}/").json()
    assert body["display_url"] != body["file_url"]
    shown = PILImage.open(io.BytesIO(read(client.get(body["display_url"]))))
    assert shown.size == (15, 30) and shown.format == "JPEG"
    assert_storage_matches_rows(media_root)
    again = upload(client, project, ("again.jpg", data))
    assert again.json()["results"][0]["status"] == "duplicate"


def test_duplicates_within_a_request_point_at_the_first_image(client, project, media_root):
    """The same bytes twice, once inside a zip: one image, the others are its duplicates."""
    data = image_bytes()

    response = upload(
        client,
        project,
        ("a.png", data),
        ("b.png", data),
        ("pics.zip", samples.zip_of({"c.png": data})),
    )

    assert response.status_code == 201, response.content
    body = response.json()
    first = body["results"][0]["image_id"]
    assert [(r["status"], r["image_id"]) for r in body["results"]] == [
        ("created", first), ("duplicate", first), ("duplicate", first)
    ]  # fmt: skip
    assert Image.objects.count() == 1
    assert_storage_matches_rows(media_root)


def test_duplicate_of_an_earlier_request_is_not_stored_again(client, project, media_root):
    """Uploading known bytes again answers 200 with the existing image's id."""
    data = image_bytes()
    first = upload(client, project, ("a.png", data)).json()["results"][0]["image_id"]

    response = upload(client, project, ("again.png", data))

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["duplicates"], body["rejected"]) == (0, 1, 0)
    assert body["results"][0]["image_id"] == first
    assert Image.objects.count() == 1
    assert_storage_matches_rows(media_root)


def test_same_bytes_in_another_project_are_a_new_image(client, project, lead, media_root):
    """Duplicates are per project: another project stores its own copy."""
    other = ProjectFactory()
    add_member(other, lead, Role.LEAD)
    data = image_bytes()
    upload(client, project, ("a.png", data))

    response = upload(client, other, ("a.png", data))

    assert response.status_code == 201, response.content
    assert Image.objects.count() == 2
    assert_storage_matches_rows(media_root)


@pytest.mark.parametrize(
    "payload",
    [{}, {"file": SimpleUploadedFile("a.png", b"x")}, {"files": "not a file"}],
    ids=["nothing", "wrong-field", "text-field"],
)
def test_request_without_files_names_the_field(client, project, media_root, payload):
    """No file in `files` answers 400 with the field named in the message and the errors."""
    response = client.post(images_url(project), payload, format="multipart")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert "'files'" in body["detail"]
    assert list(body["errors"]) == ["files"]
    assert_nothing_stored(media_root)


def test_json_body_is_refused_as_unsupported(client, project, media_root):
    """Uploads are multipart: a JSON body answers 415 with a JSON error."""
    response = client.post(images_url(project), {"files": ["a.png"]}, format="json")

    assert response.status_code == 415, response.content
    assert response.json()["code"] == "unsupported_media_type"
    assert_nothing_stored(media_root)


def test_too_many_files_in_one_request_are_refused(client, project, media_root, settings):
    """Above LABELER_MAX_FILES_PER_REQUEST the request answers 400 and stores nothing."""
    settings.LABELER_MAX_FILES_PER_REQUEST = 2

    response = upload(client, project, *[(f"{i}.png", image_bytes()) for i in range(3)])

    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"files": ["At most 2 files per request."]}
    assert_nothing_stored(media_root)


def test_more_files_than_django_parses_answer_413(client, project, media_root, settings):
    """Above DATA_UPLOAD_MAX_NUMBER_FILES the parser refuses with a JSON 413."""
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2

    response = upload(client, project, *[(f"{i}.png", image_bytes()) for i in range(3)])

    assert response.status_code == 413, response.content
    assert response.json()["code"] == "too_large"
    assert_nothing_stored(media_root)


def test_annotator_cannot_upload(api_as, annotator, project, media_root):
    """Annotators read images but only leads and admins upload: 403."""
    response = upload(api_as(annotator), project, ("a.png", image_bytes()))

    assert response.status_code == 403, response.content
    assert response.json() == {
        "detail": "Only the project's leads and admins can do this.",
        "code": "permission_denied",
    }
    assert_nothing_stored(media_root)


def test_non_member_cannot_upload_nor_learn_the_project_exists(
    api_as, outsider, project, media_root
):
    """A non-member gets 404, as for a project that does not exist."""
    response = upload(api_as(outsider), project, ("a.png", image_bytes()))

    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"
    assert_nothing_stored(media_root)


def test_anonymous_upload_is_refused(project, media_root):
    """Without a token the answer is 401."""
    response = upload(APIClient(), project, ("a.png", image_bytes()))

    assert response.status_code == 401, response.content
    assert_nothing_stored(media_root)


def test_file_and_thumbnail_are_served_to_members_only(
    client, api_as, annotator, outsider, project, django_capture_on_commit_callbacks
):
    """Members get the bytes; non-members get 404 for the file and the thumbnail alike."""
    data = image_bytes(size=(64, 48))
    with django_capture_on_commit_callbacks(execute=True):
        image_id = upload(client, project, ("a.png", data)).json()["results"][0]["image_id"]
    base = f"{images_url(project)}{image_id}"

    member = api_as(annotator)
    response = member.get(f"{base}/file/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert read(response) == data
    response = member.get(f"{base}/thumbnail/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert PILImage.open(io.BytesIO(read(response))).size == (64, 48)

    stranger = api_as(outsider)
    for kind in ("file", "thumbnail"):
        response = stranger.get(f"{base}/{kind}/")
        assert response.status_code == 404, response.content
        assert response.json()["code"] == "not_found"


def test_thumbnail_not_made_yet_answers_404(client, project):
    """Before the background task has run, the thumbnail is a clear 404."""
    image_id = upload(client, project, ("a.png", image_bytes())).json()["results"][0]["image_id"]

    response = client.get(f"{images_url(project)}{image_id}/thumbnail/")

    assert response.status_code == 404
    assert response.json()["detail"] == "The thumbnail is not ready yet."


@pytest.mark.parametrize("image_id", ["1", "99999999999999999999"], ids=["absent", "huge"])
def test_unknown_image_answers_404(client, project, image_id):
    """Ids that are no image of the project, even beyond the database's integers, answer 404."""
    for kind in ("", "file/", "thumbnail/"):
        response = client.get(f"{images_url(project)}{image_id}/{kind}")
        assert response.status_code == 404, response.content


def test_image_of_another_project_is_not_served(client, project, lead):
    """An image id from another project answers 404 under this project's URL."""
    other = ProjectFactory()
    add_member(other, lead, Role.LEAD)
    image_id = upload(client, other, ("a.png", image_bytes())).json()["results"][0]["image_id"]

    response = client.get(f"{images_url(project)}{image_id}/file/")

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("fmt", "extension", "copy"), [("HEIF", "heic", True), ("AVIF", "avif", False)]
)
def test_phone_formats_are_accepted_and_shown_in_any_browser(
    client, project, media_root, fmt, extension, copy, django_capture_on_commit_callbacks
):
    """HEIC (the iPhone's default) and AVIF are stored as sent; a browser that cannot show
    HEIC gets a JPEG display copy, AVIF (which browsers show) is shown as it is."""
    data = samples.photo(fmt, (48, 36))
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, project, (f"IMG_0001.{extension}", data))

    assert response.json()["results"][0]["status"] == "created", response.content
    image = Image.objects.get()
    assert (image.format, image.width, image.height) == (fmt, 48, 36)
    assert image.file.name.endswith(f".{extension}")
    assert (Path(media_root) / image.file.name).read_bytes() == data
    body = client.get(f"{images_url(project)}{image.pk}/").json()
    assert (body["display_url"] != body["file_url"]) is copy
    shown = client.get(body["display_url"])
    assert shown["Content-Type"] == ("image/jpeg" if copy else f"image/{extension}")
    assert PILImage.open(io.BytesIO(read(shown))).size == (48, 36)
    assert_storage_matches_rows(media_root)


def test_a_photo_the_worker_cannot_decode_is_listed_with_its_problem(
    client, project, media_root, django_capture_on_commit_callbacks
):
    """The upload answers once a photo is stored; the lead finds the ones the worker
    could not decode, each with why, and no others."""
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(
            client, project, ("broken.jpg", samples.jpeg_undecodable()),
            ("fine.jpg", image_bytes("JPEG")),
        )  # fmt: skip
    broken, fine = (result["image_id"] for result in response.json()["results"])

    listed = client.get(images_url(project), {"has_problem": "true"}).json()["results"]
    assert [row["id"] for row in listed] == [broken]
    assert listed[0]["problem"].startswith("The image cannot be decoded: broken data stream")
    healthy = client.get(images_url(project), {"has_problem": "false"}).json()["results"]
    assert [(row["id"], row["problem"]) for row in healthy] == [(fine, "")]
    refused = client.get(images_url(project), {"has_problem": "perhaps"})
    assert refused.status_code == 400 and "has_problem" in refused.json()["errors"]


def test_a_requests_new_files_are_looked_up_in_one_query(client, project, media_root):
    """Five new photos and one already stored: the stored contents among them are found
    by one query, not one a file; the known one is a duplicate, the rest created."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    stored = image_bytes(size=(20, 20))
    upload(client, project, ("old.png", stored))
    files = [(f"n{i}.png", image_bytes(size=(20 + i, 21))) for i in range(5)]
    with CaptureQueriesContext(connection) as queries:
        response = upload(client, project, *files, ("old-again.png", stored))
    assert response.status_code == 201, response.content
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses == ["created"] * 5 + ["duplicate"]
    lookups = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith("SELECT")
        and "images_image" in q["sql"]
        and "sha256" in q["sql"].split("WHERE", 1)[-1]
    ]
    assert len(lookups) == 2, lookups  # the request's hashes, then the duplicate's row
    assert_storage_matches_rows(media_root)


def test_a_requests_new_files_are_written_in_one_insert_in_the_order_sent(
    client, project, media_root
):
    """Seven new photos, a twin among them: their rows are one INSERT, their ids follow
    the order they were sent, and the twin points at the first."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    files = [(f"n{i}.png", image_bytes(size=(20 + i, 21))) for i in range(7)]
    files.insert(3, ("twin.png", files[1][1]))
    with CaptureQueriesContext(connection) as queries:
        response = upload(client, project, *files)

    assert response.status_code == 201, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created"] * 3 + ["duplicate"] + ["created"] * 4
    assert results[3]["image_id"] == results[1]["image_id"]
    created = [r["image_id"] for r in results if r["status"] == "created"]
    assert created == sorted(created)
    inserts = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith('INSERT INTO "IMAGES_IMAGE"')
    ]
    assert len(inserts) == 1, inserts
    assert_storage_matches_rows(media_root)


def test_a_file_stored_meanwhile_by_another_request_is_its_duplicate(
    client, project, media_root, monkeypatch
):
    """The request's lookup found none of its files, but one was stored since (by another
    request): the insert of them all fails on the unique constraint, each is then written
    on its own; that one is a duplicate of the stored image, its copy removed, the others
    created."""
    from labeler.images import services

    meanwhile = image_bytes(size=(30, 30))
    earlier = upload(client, project, ("first.png", meanwhile)).json()["results"][0]["image_id"]
    monkeypatch.setattr(services, "_stored_hashes", lambda project, checked: set())

    response = upload(
        client,
        project,
        ("a.png", image_bytes(size=(31, 30))),
        ("again.png", meanwhile),
        ("b.png", image_bytes(size=(32, 30))),
    )

    assert response.status_code == 201, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "duplicate", "created"]
    assert results[1]["image_id"] == earlier
    assert Image.objects.count() == 3
    assert_storage_matches_rows(media_root)
