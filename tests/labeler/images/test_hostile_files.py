"""Hostile uploads through the real endpoints: every one refused, nothing of it stored.

Decompression bombs of every accepted format, strips of huge dimensions, SVG, HTML and
PostScript under image names, corrupt and truncated images, zip bombs (deflate, bzip2,
LZMA, lying sizes, ZIP64, overlapping entries), unsafe archive paths and symbolic links
are each refused with a reason naming what is wrong, never a 500; the good files of the
same request are stored as usual, and storage holds exactly the files of the rows.
Polyglots (an image with HTML or a zip after its end) are valid images: they are stored
as validated and only ever served as that image type, unsniffable and sandboxed.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework.test import APIClient

from labeler.images.delivery.links import file_link
from labeler.images.models import Image
from tests.api.test_images import assert_nothing_stored, assert_storage_matches_rows, images_url
from tests.factories import image_bytes
from tests.labeler.images import hostile, samples

pytestmark = pytest.mark.django_db

BOMB = "too large to decode safely"
NOT_IMAGE = "Not an image file"
CORRUPT = "truncated or corrupt"

# (file name, builder of its bytes, what the refusal says). Builders run in the test.
HOSTILE_FILES: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "png-header-bomb": ("bomb.png", lambda: samples.png_claiming(100_000, 100_000), BOMB),
    "png-real-bomb": ("black.png", hostile.png_real_bomb, "the limit is 100,000,000 pixels"),
    "png-text-bomb": ("text.png", hostile.png_text_bomb, CORRUPT),
    "gif-bomb": ("bomb.gif", lambda: hostile.gif_claiming(65_535, 65_535), BOMB),
    "gif-over-cap": ("big.gif", lambda: hostile.gif_claiming(12_000, 10_000), "12000x10000"),
    "jpeg-bomb": ("bomb.jpg", lambda: hostile.jpeg_claiming(65_500, 65_500), BOMB),
    "bmp-bomb": ("bomb.bmp", lambda: hostile.bmp_claiming(100_000, 100_000), BOMB),
    "bmp-negative": ("neg.bmp", lambda: hostile.bmp_claiming(-5, 100_000), BOMB),
    "tiff-bomb": ("bomb.tif", lambda: hostile.tiff_claiming(65_535, 65_535), BOMB),
    "webp-bomb": ("bomb.webp", lambda: hostile.webp_claiming(16_384, 16_384), BOMB),
    "wide-strip": ("wide.png", lambda: hostile.png_strip(100_000, 1), "30,000 pixels a side"),
    "tall-strip": ("tall.png", lambda: hostile.png_strip(1, 100_000), "30,000 pixels a side"),
    "svg-as-png": ("cat.png", lambda: samples.SVG, NOT_IMAGE),
    "svg-xml-as-jpg": ("cat.jpg", lambda: hostile.SVG_XML_PROLOG, NOT_IMAGE),
    "svgz-as-png": ("cat.png", hostile.gzip_svg, NOT_IMAGE),
    "svg-named-svg": ("cat.svg", lambda: samples.SVG, NOT_IMAGE),
    "html-as-png": ("cat.png", lambda: samples.HTML, NOT_IMAGE),
    "html-bom-as-gif": ("cat.gif", lambda: hostile.HTML_WITH_BOM, NOT_IMAGE),
    "html-then-png": ("cat.png", lambda: hostile.HTML_BEFORE_PNG + image_bytes(), NOT_IMAGE),
    "text-as-png": ("cat.png", lambda: samples.TEXT, NOT_IMAGE),
    "eps-as-png": ("cat.png", hostile.eps, "EPS format is not accepted"),
    "empty": ("cat.png", lambda: b"", "File is empty."),
    "png-signature-only": ("cat.png", lambda: b"\x89PNG\r\n\x1a\n", NOT_IMAGE),
    "jpeg-markers-only": ("cat.jpg", lambda: b"\xff\xd8\xff\xd9", NOT_IMAGE),
    "random-bytes": ("cat.png", lambda: bytes(range(256)) * 8, NOT_IMAGE),
    "png-corrupt-pixels": ("cat.png", hostile.png_corrupt_pixels, CORRUPT),
    **{
        f"truncated-{fmt.lower()}": (
            f"half.{fmt.lower()}",
            lambda fmt=fmt: samples.truncated(image_bytes(fmt, size=(64, 64))),
            CORRUPT,
        )
        for fmt in ("PNG", "JPEG", "GIF", "WEBP", "TIFF")
    },
    "zip-truncated": (
        "a.zip",
        lambda: samples.truncated(samples.zip_of({"a.png": image_bytes()})),
        "Not a readable zip archive",
    ),
    "zip-garbage": ("a.zip", lambda: b"PK\x03\x04" + bytes(100), "Not a readable zip archive"),
    "zip-needs-future-version": (
        "a.zip",
        lambda: samples.zip_needing_version(99),
        "Not a readable zip archive",
    ),
}


def good_and(entries: dict[str, bytes]) -> bytes:
    """A zip of the hostile entries and one good image."""
    return hostile.zip_of({"good.png": image_bytes(), **entries})


# (builder of a zip holding one good image and hostile entries, what each refusal says).
HOSTILE_ARCHIVES: dict[str, tuple[Callable[[], bytes], str]] = {
    **{
        f"path-{i}": (lambda name=name: good_and({name: image_bytes()}), "Unsafe path")
        for i, name in enumerate(
            [
                "../evil.png",
                "batch/../../evil.png",
                "..\\..\\evil.png",
                "/etc/evil.png",
                "\\evil.png",
                "C:\\evil.png",
                "C:/evil.png",
                "c:evil.png",
                "a/../../../evil.png",
            ]
        )
    },
    "symlink": (
        lambda: hostile.zip_symlink("link.png", "../../../../etc/passwd"),
        "Symbolic links in archives are not followed",
    ),
    "nested-zip": (
        lambda: good_and({"inner.zip": samples.zip_of({"a.png": image_bytes()})}),
        "Archives inside archives",
    ),
    "nested-zip-named-png": (
        lambda: good_and({"inner.png": samples.zip_of({"a.png": image_bytes()})}),
        NOT_IMAGE,
    ),
    "bomb-in-zip": (lambda: good_and({"bomb.png": hostile.png_real_bomb()}), "pixels"),
    "svg-in-zip": (lambda: good_and({"cat.png": samples.SVG}), NOT_IMAGE),
    "macosx": (lambda: good_and({"__MACOSX/._good.png": image_bytes()}), "metadata"),
    "deflate-bomb": (samples.zip_bomb, "looks like a zip bomb"),
    "bzip2-bomb": (lambda: hostile.zip_bomb(zipfile.ZIP_BZIP2), "looks like a zip bomb"),
    "lzma-bomb": (lambda: hostile.zip_bomb(zipfile.ZIP_LZMA), "looks like a zip bomb"),
    "size-understated": (lambda: samples.zip_lying_about_size(1000), "Bad CRC-32"),
    "size-understated-crc-forged": (
        lambda: samples.zip_lying_about_size(1000, crc_of_prefix=True),
        NOT_IMAGE,
    ),
    "zip64-claims-1-tib": (lambda: hostile.zip64_claiming(2**40), "the limit is"),
    "zip64-claims-10-bytes": (lambda: hostile.zip64_claiming(10), "Bad CRC-32"),
    "overlapping-entries": (lambda: hostile.zip_overlapping(20), "differ"),
    "encrypted": (samples.zip_marked_encrypted, "Encrypted archive entries"),
    "corrupt-deflate": (samples.zip_with_corrupt_data, "Entry cannot be read"),
}

UNSAFE_UPLOAD_NAMES = [
    "../../../evil.png",
    "..\\..\\evil.png",
    "/etc/evil.png",
    "C:\\Windows\\evil.png",
    "<img src=x onerror=alert(1)>.png",
    "a" * 400 + ".png",
    "evil.png\r\nX-Injected: 1",
    "\ufe52\ufe52\uff0fevil.png",
    "evil\x00.png",
]


@pytest.fixture
def client(api_as: Callable[..., APIClient], lead: object) -> APIClient:
    return api_as(lead)


BOUNDARY = "hostile-boundary"


def multipart(files: list[tuple[str, bytes]], content_type: str) -> bytes:
    """The files in the field 'files', under exactly the names given.

    Written by hand: Django's test client keeps only the base name of a file's name,
    where an attacker's client sends whatever it likes.
    """
    body = b""
    for name, data in files:
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        body += (
            (
                f"--{BOUNDARY}\r\n"
                f'Content-Disposition: form-data; name="files"; filename="{quoted}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    return body + f"--{BOUNDARY}--\r\n".encode()


def post(
    client: APIClient, project, files: list[tuple[str, bytes]], content_type: str = "image/png"
) -> object:
    """POST the files to the upload endpoint as a browser or script would."""
    return client.post(
        images_url(project),
        multipart(files, content_type),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )


def assert_nothing_outside(media_root: Path, *names: str) -> None:
    """No file of these names was written anywhere near the test's folders."""
    base = Path(media_root).parent.parent
    for path in base.rglob("*"):
        assert path.name not in names, path


@pytest.mark.parametrize("case", HOSTILE_FILES, ids=list(HOSTILE_FILES))
def test_hostile_file_is_refused_with_its_reason(client, project, media_root, case):
    """A lone hostile file answers 400 with a reason naming the problem; nothing is stored."""
    name, build, reason = HOSTILE_FILES[case]

    response = post(client, project, [(name, build())])

    assert response.status_code == 400, response.content
    [result] = response.json()["results"]
    assert (result["name"], result["status"]) == (name, "rejected")
    assert reason in result["reason"], result["reason"]
    assert_nothing_stored(media_root)


@pytest.mark.parametrize("case", HOSTILE_ARCHIVES, ids=list(HOSTILE_ARCHIVES))
def test_hostile_archive_entries_are_refused_and_good_ones_kept(client, project, media_root, case):
    """Every hostile entry is rejected with its reason; the archive's good image is stored."""
    build, reason = HOSTILE_ARCHIVES[case]

    response = post(client, project, [("batch.zip", build())])

    assert response.status_code in (200, 201, 400), response.content
    results = response.json()["results"]
    good = [r for r in results if r["name"] == "good.png"]
    bad = [r for r in results if r["name"] != "good.png"]
    assert bad and all(r["status"] == "rejected" and r["archive"] for r in bad), results
    assert any(reason in r["reason"] for r in bad), results
    assert all(r["status"] == "created" for r in good)
    assert Image.objects.count() == len(good) + sum(r["status"] == "created" for r in bad)
    assert_storage_matches_rows(media_root)
    assert_nothing_outside(media_root, "evil.png", "passwd")


def test_hostile_files_beside_good_ones_leave_the_good_ones_stored(
    client, project, media_root, django_capture_on_commit_callbacks
):
    """One request of every hostile file and archive plus two images stores the two only."""
    files = [(name, build()) for name, build, _ in HOSTILE_FILES.values()]
    files += [(f"{case}.zip", build()) for case, (build, _) in HOSTILE_ARCHIVES.items()
              if not case.startswith("path-")]  # fmt: skip
    files.insert(5, ("first.png", image_bytes()))
    files.append(("last.jpg", image_bytes("JPEG")))

    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, project, files)

    assert response.status_code == 201, response.content
    created = {r["name"] for r in response.json()["results"] if r["status"] == "created"}
    assert created == {"first.png", "last.jpg", "good.png"}
    stored = set(Image.objects.values_list("original_name", flat=True))
    assert {"first.png", "last.jpg"} <= stored
    assert_storage_matches_rows(media_root)


@pytest.mark.parametrize("name", UNSAFE_UPLOAD_NAMES, ids=range(len(UNSAFE_UPLOAD_NAMES)))
def test_unsafe_upload_name_never_chooses_where_the_file_goes(client, project, media_root, name):
    """The file is stored under its hash; the name kept is a bare file name, at most 255 long."""
    data = image_bytes()

    response = post(client, project, [(name, data)])

    assert response.status_code == 201, response.content
    image = Image.objects.get()
    assert image.file.name.startswith(f"images/{project.pk}/")
    assert image.sha256 in image.file.name
    assert "/" not in image.original_name and "\\" not in image.original_name
    assert image.original_name != ".." and len(image.original_name) <= 255
    assert (Path(media_root) / image.file.name).read_bytes() == data
    assert_storage_matches_rows(media_root)
    assert_nothing_outside(media_root, "evil.png")


# A part with an empty file name is a text field: its bytes are refused as text
# (tests/api/test_parsers.py).
@pytest.mark.parametrize("name", ["\x00", "../", "/", ".."], ids=range(4))
def test_upload_named_nothing_at_all_is_not_a_file(client, project, media_root, name):
    """A part whose file name is empty once made safe is no file: 400 naming the field."""
    response = post(client, project, [(name, image_bytes())])

    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {
        "files": ["No files: send them in the multipart field 'files'."]
    }
    assert_nothing_stored(media_root)


def test_declared_svg_content_type_does_not_make_a_file_an_svg(client, project, media_root):
    """The client's content type is ignored: SVG bytes are refused, a PNG is stored as PNG."""
    files = [("a.svg", samples.SVG), ("b.svg", image_bytes())]

    response = post(client, project, files, content_type="image/svg+xml")

    assert response.status_code == 201, response.content
    first, second = response.json()["results"]
    assert (first["status"], second["status"]) == ("rejected", "created")
    image = Image.objects.get()
    assert (image.format, image.file.name[-4:]) == ("PNG", ".png")


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("page.png", hostile.appended(image_bytes(), hostile.HTML_TAIL), "image/png"),
        ("page.html", hostile.appended(image_bytes(), hostile.HTML_TAIL), "image/png"),
        ("photo.jpg", hostile.appended(image_bytes("JPEG"), samples.zip_of({"x.html": b"<b>"})),
         "image/jpeg"),
        ("gif.gif", hostile.appended(image_bytes("GIF"), b"/*<script>alert(1)</script>*/"),
         "image/gif"),
    ],
    ids=["png+html", "png+html-named-html", "jpeg+zip", "gif+js"],
)  # fmt: skip
def test_polyglot_is_served_only_as_its_image_type(
    client, project, lead, media_root, name, data, content_type
):
    """An image with a payload after its end is stored as validated and served as an image.

    Both the signed address and the API send its image type, nosniff, a sandboxing CSP and
    an inline disposition with a plain file name: a browser never renders it as a page.
    """
    response = post(client, project, [(name, data)])
    assert response.status_code == 201, response.content
    image = Image.objects.get()

    for served in (
        client.get(file_link(image.file.name, user_id=lead.pk)),
        client.get(f"{images_url(project)}{image.pk}/file/"),
    ):
        assert served.status_code == 200
        assert served["Content-Type"] == content_type
        assert served["X-Content-Type-Options"] == "nosniff"
        assert served["Content-Security-Policy"] == "default-src 'none'; sandbox"
        extension = image.file.name.rsplit(".", 1)[1]
        assert served["Content-Disposition"] == (f'inline; filename="{image.sha256}.{extension}"')
        assert b"".join(served.streaming_content) == data


@pytest.mark.parametrize(
    "name", ["../../labeler/settings.py", "images/1/ab/../../../../etc/passwd", "/etc/passwd"]
)
def test_file_address_with_traversal_reads_nothing(client, lead, media_root, name):
    """A traversing name answers 404, unsigned or even signed (as no stored name ever is):
    it lies in no project's image folder, so the storage is never asked to open it."""
    issued = file_link("images/1/x.png", user_id=lead.pk).split("/")[2]
    assert client.get(f"/files/{issued}/x/{name}").status_code == 404
    signed = client.get(file_link(name, user_id=lead.pk))
    assert signed.status_code == 404
    assert b"SECRET_KEY" not in signed.content and b"root:" not in signed.content


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize(
    "exif",
    [0, 9, 65_535, hostile.EXIF_GARBAGE, hostile.EXIF_LOOP],
    ids=["zero", "nine", "huge", "garbage-ifd", "looping-ifd"],
)
def test_odd_exif_orientation_is_stored_as_is(client, project, media_root, exif):
    """Orientation values out of range and broken EXIF blocks turn nothing and break nothing."""
    data = hostile.jpeg_with_exif(exif)

    response = post(client, project, [("odd.jpg", data)])

    assert response.status_code == 201, response.content
    image = Image.objects.get()
    assert (image.width, image.height) == (40, 20)
    assert (Path(media_root) / image.file.name).read_bytes() == data


def test_turned_image_at_the_pixel_cap_is_turned_within_it(client, project, settings):
    """An EXIF turn swaps the sides but keeps the pixel count: the cap holds after turning."""
    settings.LABELER_MAX_IMAGE_PIXELS = 40 * 20

    response = post(client, project, [("turned.jpg", hostile.jpeg_with_exif(6))])

    assert response.status_code == 201, response.content
    image = Image.objects.get()
    assert (image.width, image.height) == (20, 40)


def test_import_endpoint_refuses_hostile_files_alike(client, project, media_root):
    """POST /imports/ checks files as uploads do: bombs and disguises rejected, none stored."""
    files = [
        SimpleUploadedFile("bomb.png", samples.png_claiming(100_000, 100_000)),
        SimpleUploadedFile("../../svg.png", samples.SVG),
        SimpleUploadedFile("wide.png", hostile.png_strip(100_000, 1)),
    ]
    response = client.post(
        f"/api/v1/projects/{project.pk}/imports/",
        {"files": files, "labels": ["cat", "dog", "cat"], "create_labels": "true"},
        format="multipart",
    )

    assert response.status_code in (200, 400), response.content
    assert [r["status"] for r in response.json()["results"]] == ["rejected"] * 3
    assert_nothing_stored(media_root)


@pytest.mark.parametrize("source", ["csv", "label-studio"])
def test_label_file_references_outside_the_folder_import_nothing_from_there(
    project, tmp_path, media_root, source
):
    """A label file naming ../, absolute or backslash paths imports only the folder's files.

    Its references only pick labels for files found under the folder; a file beside the
    folder, named by the label file, is never read.
    """
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.png").write_bytes(image_bytes())
    (tmp_path / "evil.png").write_bytes(image_bytes())
    references = ["../evil.png", str(tmp_path / "evil.png"), "..\\evil.png", "a.png"]
    if source == "csv":
        labels = tmp_path / "labels.csv"
        labels.write_text("filename,label\n" + "".join(f"{ref},cat\n" for ref in references))
        option = "--labels-csv"
    else:
        labels = tmp_path / "export.json"
        tasks = [
            {"data": {"image": f"/data/local-files/?d={ref}"},
             "annotations": [{"result": [{"type": "choices", "value": {"choices": ["cat"]}}]}]}
            for ref in references
        ]  # fmt: skip
        labels.write_text(json.dumps(tasks))
        option = "--label-studio"

    call_command(
        "import_images", str(project.pk), str(folder), option, str(labels), "--create-labels",
        stdout=io.StringIO(),
    )  # fmt: skip

    image = Image.objects.get()
    assert image.original_name == "a.png"
    assert_storage_matches_rows(media_root)
