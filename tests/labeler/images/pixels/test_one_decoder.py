"""One decoder owns pixels: every path that decodes an image goes through
``labeler.images.pixels.decoding``, which refuses, before decoding, what would hold more than
LABELER_MAX_DECODE_BYTES or what holds larger frames than its header says.

The bombs: a 10000 x 10000 RGBA PNG with an eXIf chunk (400 KB; 400 MB and more decoded
whole by Pillow, shrunk by libvips as its rows stream past instead), a 2 KB AVIF whose
header says 64 x 64 holding a 16384 x 16384 frame (380 MB and more decoded), and a lossy
WebP of 16383 x 6103 (270 KB; Pillow decodes it with 1.5 GB, libwebp at a reduced scale
with a few MB). Peak memory is this process's VmHWM, reset before each path
(``/proc/self/clear_refs``): Pillow's memory is C allocations, which tracemalloc does not
see.
"""

from __future__ import annotations

import ast
import functools
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http.response import HttpResponseBase
from drf_spectacular.generators import SchemaGenerator
from PIL import Image as PILImage
from rest_framework.test import APIClient

from bench.uploads_files import png_rgba_turned, webp_at_cap
from labeler import flows
from labeler.images.models import Image
from labeler.images.pixels.conversion import image_converted
from labeler.images.pixels.decoding import DecodeRefused, image_decode_upright
from labeler.images.pixels.files import RejectedFile, image_check, previews_render
from labeler.images.pixels.formats import image_extensions
from labeler.images.pixels.model_inputs import prepare_bytes
from labeler.images.pixels.private_metadata import metadata_strip
from labeler.images.services import image_prepare
from labeler.imports.reading.sources import IMAGE_EXTENSIONS
from tests.ast_parse import ast_parse
from tests.factories import image_bytes

ROOT = Path(__file__).resolve().parents[4]
MIB = 1024 * 1024
# What one path may add to the process's peak with a bomb: a reduced decode of the WebP
# holds a few MB, the PNG's previews through libvips about 90 MB (some 2,000 rows of 40 KB
# and the 2048-pixel display copy); any of the bombs decoded whole holds 380 MB or more.
PEAK_GROWTH_BOUND = 160 * MIB
# The one module that opens images with Pillow.
OWNER = "labeler/images/pixels/decoding.py"
# The decoder's libvips half: the only module that imports pyvips, imported by OWNER alone.
VIPS_OWNER = "labeler/images/pixels/vips.py"


def lying_avif() -> bytes:
    """An AVIF whose ``ispe`` header says 64 x 64, its AV1 data a 16384 x 16384 frame.

    Made once (Pillow encoding a blank 16384 x 16384 "L" image as AVIF at speed 10,
    then its ``ispe`` width and height set to 64): encoding it again takes 3 GB.
    """
    return (Path(__file__).parent / "data" / "lying.avif").read_bytes()


BOMBS: dict[str, Callable[[], bytes]] = {
    "png-10000-exif.png": png_rgba_turned,
    "lying.avif": lying_avif,
    "cap.webp": webp_at_cap,
}
# The bombs every decoding path refuses; the WebP and the PNG are decoded reduced instead
# (all but a whole decode: the upright copy refuses them at the cap).
REFUSED = {"lying.avif"}


def _kib(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))


def peak_growth(run: Callable[[], object]) -> tuple[str, int, object]:
    """Run ``run``; its outcome ("done" or "refused"), how far the peak grew (bytes) and
    what it returned."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # the peak (VmHWM) starts again from what is resident now
    before = _kib("VmRSS:")
    result = None
    try:
        result = run()
        outcome = "done"
    except (DecodeRefused, RejectedFile):
        outcome = "refused"
    return outcome, (_kib("VmHWM:") - before) * 1024, result


# Each path that decodes, as the code calls it.
DECODING_PATHS: dict[str, Callable[[bytes], object]] = {
    "upload check": image_check,
    "previews and thumbnail": lambda data: previews_render(
        data, display_size=2048, thumbnail_size=256
    ),
    "model inputs": lambda data: prepare_bytes(data, image_size=224, grayscale=False),
    "upright copy (metadata strip of other formats)": image_decode_upright,
    # Decoded whole as the HEIC or AVIF it is named (its header says what it is).
    "converted copy (exports' HEIC, AVIF and GIF)": lambda data: image_converted(data, "AVIF"),
}
# Paths that strip metadata: nothing decoded for PNG, JPEG and WebP.
STRIPPING_PATHS: dict[str, Callable[[bytes], object]] = {
    "strip on ingest and exports": lambda data: metadata_strip(data, _format(data)),
}


def _format(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "PNG"
    return "WEBP" if data.startswith(b"RIFF") else "AVIF"


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return {name: build() for name, build in BOMBS.items()}


@pytest.mark.slow
def test_every_path_that_decodes_refuses_the_bombs_in_bounded_memory(bombs, settings):
    """Each decoding path refuses the lying AVIF before decoding (a 4xx or a recorded
    problem follows), decodes the WebP and the PNG reduced (the whole decodes of an
    upright or converted copy refuse them at the cap), and stays under the bound."""
    settings.LABELER_MAX_DECODE_BYTES = 256 * MIB
    for path, run in {**DECODING_PATHS, **STRIPPING_PATHS}.items():
        for name, data in bombs.items():
            run(image_bytes(size=(64, 48)))  # warm: the decoders' libraries are loaded
            outcome, growth, _ = peak_growth(functools.partial(run, data))
            if path in DECODING_PATHS:
                # A whole decode (the upright copy) refuses the WebP at the cap too.
                whole = path.startswith(("upright", "converted"))
                expected = "refused" if name in REFUSED or whole else "done"
                assert outcome == expected, (path, name)
            assert growth < PEAK_GROWTH_BOUND, f"{path}, {name}: peak grew {growth / MIB:.0f} MB"


def test_the_lying_avif_is_refused_by_what_its_frames_hold_not_its_header():
    """The header says 64 x 64: the refusal names both the header and the real pixels."""
    with pytest.raises(RejectedFile, match=r"header says 64x64 pixels but its data holds"):
        image_check(lying_avif())


def _binary_routes() -> list[tuple[str, dict[str, Any]]]:
    """Every API operation that takes a file, from the OpenAPI schema: (path, form)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    routes = []
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            form = content.get("multipart/form-data", {}).get("schema", {})
            if "$ref" in form:
                form = components[form["$ref"].rsplit("/", 1)[-1]]
            if any(_is_binary(field) for field in form.get("properties", {}).values()):
                routes.append((path, form))
    return routes


def _is_binary(field: dict[str, Any]) -> bool:
    return "binary" in (field.get("format"), field.get("items", {}).get("format"))


def _payload(form: dict[str, Any], name: str, data: bytes) -> dict[str, Any]:
    """The form with the bomb in its image field (zipped for an archive), the other
    required fields filled in (an enum's "none" where it has one)."""
    payload: dict[str, Any] = {}
    for field, spec in form["properties"].items():
        if field == "archive":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr(name, data)
            payload[field] = SimpleUploadedFile("bombs.zip", buffer.getvalue())
        elif _is_binary(spec) and field != "labels_file":
            payload[field] = [SimpleUploadedFile(name, data)]
        elif field in form.get("required", []) and "enum" in spec:
            payload[field] = "none" if "none" in spec["enum"] else spec["enum"][0]
    return payload


@pytest.mark.slow
def test_every_route_that_takes_files_refuses_the_bombs(bombs, api_as, lead, project, settings):
    """Each route taking a file (from the schema: a route added later is covered) answers
    the lying AVIF with a refusal that says why and stores nothing of it, takes the large
    PNG (its previews are shrunk while streamed), and stays under the memory bound; the
    strip-on-ingest project's too."""
    project.strip_metadata_on_ingest = True
    project.save()
    client: APIClient = api_as(lead)
    routes = _binary_routes()
    assert {path.rsplit("{project_pk}/", 1)[-1] for path, _ in routes} >= {
        "images/",
        "imports/",
        "imports/archive/",
    }
    for path, form in routes:
        url = path.replace("{project_pk}", str(project.pk))
        for name in REFUSED:
            payload = _payload(form, name, bombs[name])
            post = functools.partial(client.post, url, payload, format="multipart")
            _, growth, response = peak_growth(post)
            assert isinstance(response, HttpResponseBase)
            assert response.status_code < 500, (path, name, response.content)
            body = response.content.decode()
            assert "Decoding this" in body or "header says 64x64" in body, (path, name, body)
            assert not Image.objects.filter(original_name__endswith=name).exists()
            assert growth < PEAK_GROWTH_BOUND, f"{path}, {name}: peak grew {growth / MIB:.0f} MB"
        name = "png-10000-exif.png"
        payload = _payload(form, name, bombs[name])
        post = functools.partial(client.post, url, payload, format="multipart")
        _, growth, response = peak_growth(post)
        assert isinstance(response, HttpResponseBase)
        assert response.status_code < 300, (path, response.content)
        assert "Decoding this" not in response.content.decode(), path
        assert growth < PEAK_GROWTH_BOUND, f"{path}, {name}: peak grew {growth / MIB:.0f} MB"
    assert Image.objects.filter(original_name__endswith=name, width=10_000).exists()


def _opens_images(tree: ast.AST) -> list[int]:
    """Lines that open or decode an image with Pillow: ``Image.open``, ``ImageOps``,
    ``ImageFile``, ``.draft(``."""
    pil_image = set()
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "PIL":
            for alias in node.names:
                if alias.name == "Image":
                    pil_image.add(alias.asname or alias.name)
                if alias.name in ("ImageOps", "ImageFile"):
                    lines.append(node.lineno)
        elif isinstance(node, ast.Import):
            lines += [node.lineno for a in node.names if a.name in ("PIL.ImageOps", "PIL.Image")]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            named = isinstance(target, ast.Name) and target.id in pil_image
            if (node.func.attr == "open" and named) or node.func.attr == "draft":
                lines.append(node.lineno)
    return lines


def _imports_vips(tree: ast.AST) -> set[str]:
    """The libvips modules a module imports: ``pyvips`` and the decoder's
    ``labeler.images.pixels.vips`` (``from labeler.images.pixels import vips`` too)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "pyvips":
                found.add("pyvips")
            elif name == "labeler.images.pixels.vips" or name.startswith(
                "labeler.images.pixels.vips."
            ):
                found.add("labeler.images.pixels.vips")
    return found


def test_no_module_but_the_decoder_opens_images_with_pyvips():
    """libvips opens images too: only ``labeler/images/pixels/vips.py`` imports pyvips, and only
    the decoder imports that module, so every libvips decode passes the decoder's caps."""
    found = {}
    for package in ("labeler", "api", "worker"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            allowed = {"pyvips"} if relative == VIPS_OWNER else set()
            if relative == OWNER:
                allowed = {"labeler.images.pixels.vips"}
            imported = _imports_vips(ast_parse(path.read_text(), relative)) - allowed
            if imported:
                found[relative] = imported
    assert found == {}


def test_the_vips_guard_sees_pyvips_and_the_decoders_vips_module():
    """The walk above finds each way of importing them (else it proves nothing)."""
    code = (
        "import pyvips\nfrom pyvips import Image\nfrom labeler.images.pixels import vips\n"
        "from labeler.images.pixels.vips import vips_reduce\n"
        "import labeler.images.pixels.vips_other\n"
    )
    assert _imports_vips(ast_parse(code)) == {"pyvips", "labeler.images.pixels.vips"}
    assert _imports_vips(ast_parse("import labeler.images.pixels.vips as v")) == {
        "labeler.images.pixels.vips"
    }


def test_no_module_but_the_decoder_opens_images_with_pillow():
    """Outside ``labeler/images/pixels/decoding.py`` no module of the web process or the worker
    opens an image with Pillow: they ask the decoder, which holds the cap."""
    found = {}
    for package in ("labeler", "api", "worker"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative == OWNER or "/migrations/" in relative:
                continue
            lines = _opens_images(ast_parse(path.read_text(), relative))
            if lines:
                found[relative] = lines
    assert found == {}


def test_the_guard_sees_an_image_opened_elsewhere():
    """The walk above finds the ways an image gets opened (else it proves nothing)."""
    code = "from PIL import Image as P, ImageOps\nP.open(b).draft('RGB', (8, 8))\n"
    assert _opens_images(ast_parse(code)) == [1, 2, 2]


def test_imports_take_every_format_the_decoder_accepts():
    """A folder or archive import takes .heic and .avif files as images, as uploads do."""
    assert image_extensions() <= IMAGE_EXTENSIONS
    assert {".heic", ".avif", ".jpg", ".png", ".webp"} <= image_extensions()


@pytest.mark.django_db
def test_the_worker_notes_an_image_it_may_not_decode_and_keeps_the_file(
    project, media_root, settings, django_capture_on_commit_callbacks
):
    """An image stored under a higher cap (or before it) that the worker's previews may
    not decode now: noted in ``Image.problem`` with what the decode would take, never
    decoded; its file stays as it was."""
    with django_capture_on_commit_callbacks(execute=True):
        [result] = flows.images_ingest(
            project=project, files=[SimpleUploadedFile("a.png", image_bytes(size=(600, 400)))]
        )
    image = Image.objects.get(pk=result.image_id)
    stored = image.file.read()
    settings.LABELER_MAX_DECODE_BYTES = MIB

    image_prepare(image_id=image.pk, input_specs=(), again=True)

    image.refresh_from_db()
    assert image.problem.startswith("The image cannot be decoded: Decoding this 600x400 PNG")
    assert Path(media_root, image.file.name).read_bytes() == stored


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_a_photo_whose_coded_frame_outgrows_its_header_is_refused(fmt):
    """A HEIC's HEVC parameter set, like an AVIF's AV1 sequence header, says the size the
    decoder will decode: a header (``ispe``) claiming less is refused before decoding."""
    buffer = io.BytesIO()
    PILImage.new("RGB", (1000, 600), (10, 20, 30)).save(buffer, format=fmt, quality=10)
    honest = buffer.getvalue()
    lying = bytearray(honest)
    at = lying.index(b"ispe")
    lying[at + 8 : at + 16] = (8).to_bytes(4, "big") * 2

    assert image_check(honest).width == 1000
    with pytest.raises(RejectedFile, match=r"header says 8x8 pixels but its data holds 600,000"):
        image_check(bytes(lying))
