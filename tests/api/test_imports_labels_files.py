"""Every labels file is read by one loader, whichever route and way it comes in.

The routes are found, not listed: every URL whose view module calls the loader (through
``archive_read`` or ``labels_file_load``) is fed every bad labels file of every format,
sent beside the archive and inside it; ``manage.py import_images`` reads the same files
from a folder. Each answers 400 (the command an error) naming the record and what is
wrong with it, and nothing is stored.
"""

from __future__ import annotations

import inspect
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from labeler.annotations.models import FinalLabel
from labeler.images.models import Image
from labeler.imports.reading.archive import LABEL_FORMATS
from labeler.imports.reading.sources import LABEL_FILE_SUFFIX
from labeler.json_depth import MAX_DEPTH
from tests.factories import image_bytes

pytestmark = pytest.mark.django_db

DEEP = b"[" * 5000 + b"]" * 5000


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def _task(image: object = "/data/upload/1/ab12cd34-a.png", choices: object = ("cat",)) -> dict:
    result = [{"type": "choices", "value": {"choices": choices}}]
    return {"data": {"image": image}, "annotations": [{"result": result}]}


def _coco(image_id: object = 1, category_name: object = "cat") -> dict:
    return {
        "images": [{"id": image_id, "file_name": "a.png"}],
        "categories": [{"id": 1, "name": category_name}],
        "annotations": [{"image_id": 1, "category_id": 1}],
    }


# format -> [(case, file, what the message says: the record, then what is wrong)]
BAD_FILES: dict[str, list[tuple[str, bytes, str]]] = {
    "csv": [
        ("no file column", b"name,label\na.png,cat\n", "line 1: The header has no file"),
        ("NUL", b"file,label\na.png,c\x00t\n", "line 2: The NUL character"),
        ("not UTF-8", b"file,label\na.png,\xff\n", "line 2: The file is not UTF-8"),
    ],
    "json": [
        ("nested 5,000 deep", DEEP, f"line 1: Arrays and objects nest more than {MAX_DEPTH}"),
        (
            "file name a list",
            _json({"images": [{"file_name": ["a.png"], "final_labels": ["cat"]}]}),
            "Image 1: file_name must be text, not a list",
        ),
        (
            "labels numbers",
            _json({"images": [{"file_name": "a.png", "final_labels": [3]}]}),
            "Image 1: final_labels[0] must be text, not the number 3",
        ),
        (
            "lone surrogate",
            b'{"images": [{"file_name": "a.png", "final_labels": ["\\ud800"]}]}',
            "Image 1: final_labels[0] holds a lone surrogate",
        ),
    ],
    "jsonl": [
        ("nested 5,000 deep", b'{"file_name": "a.png"}\n' + DEEP, "line 2: Arrays and objects"),
        (
            "file name an object",
            b'{"file_name": "a.png"}\n{"file_name": {"a": 1}, "labels": ["cat"]}\n',
            "line 2: file_name must be text, not an object",
        ),
        (
            "labels numbers",
            b'{"file_name": "a.png", "final_labels": 7}\n',
            "line 1: final_labels must be a list of label names, not the number 7",
        ),
    ],
    "label-studio": [
        ("nested 5,000 deep", b"[\n" + DEEP + b"\n]", "line 2: Arrays and objects nest"),
        ("image a list", _json([_task(image=["a.png"])]), "Task 1: data.image must be text"),
        (
            "choices numbers",
            _json([_task(), _task(choices=[7])]),
            "Task 2: annotation 1: result 1 choices[0] must be text, not the number 7",
        ),
        (
            "malformed URL",
            _json([_task(image="http://[::1")]),
            "Task 1: data.image 'http://[::1' is not a valid URL",
        ),
        ("NUL", _json([_task(choices=["c\x00t"])]), "choices[0] holds the NUL character"),
    ],
    "tsv": [
        ("no file column", b"name\tlabel\na.png\tcat\n", "line 1: The header has no file"),
        (
            "a CSV file",
            b'"file","label"\n"a.png","cat"\n',
            "line 1: a quoted cell goes on after its closing quote instead of ending at a tab",
        ),
    ],
    "label-studio-csv": [
        (
            "a TSV file",
            b'"annotation_id"\t"annotator"\t"choice"\t"image"\n',
            "line 1: a quoted cell goes on after its closing quote instead of ending at a comma: "
            "is this a TSV file? Use labels_format=label-studio-tsv.",
        ),
        ("no annotator", b"image,choice\na.png,cat\n", "line 1: The header has no annotator"),
        (
            "a date that is none",
            b"annotator,image,choice,created_at\n1,/data/upload/1/ab12cd34-a.png,cat,today\n",
            "line 2: created_at: 'today' is not a date and time",
        ),
    ],
    "label-studio-tsv": [
        (
            "a CSV file",
            b'"annotation_id","annotator","choice","image"\n',
            "is this a CSV file? Use labels_format=label-studio-csv.",
        ),
        (
            "lead time not a number",
            b"annotator\timage\tchoice\tlead_time\n1\ta.png\tcat\tslow\n",
            "line 2: lead_time 'slow' is not a number of seconds",
        ),
    ],
    "cvat-xml": [
        ("unclosed", b"<annotations><image name='a.png'><tag label='cat'", "Not valid XML"),
        (
            "entities",
            b"<!DOCTYPE x [<!ENTITY a 'b'>]><annotations/>",
            "declares a document type or entities",
        ),
        ("no name", b"<annotations><image><tag label='c'/></image></annotations>", "has no name"),
    ],
    "labelbox-ndjson": [
        ("not JSON", b"not json\n", "line 1: Not valid JSON"),
        (
            "data row a number",
            b'{"data_row": {"external_id": "a.png"}}\n{"data_row": 5}\n',
            "line 2: data_row must be an object, not the number 5",
        ),
    ],
    "fiftyone": [
        ("a list", b"[1, 2]", "A FiftyOne labels.json is an object"),
        (
            "index past the classes",
            b'{"classes": ["cat"], "labels": {"a": 5}}',
            "class index 5 is not one of the 1 classes",
        ),
    ],
    "csv-annotators": [
        ("no file column", b"name,alice\na.png,cat\n", "line 1: The header has no file column"),
        ("a nameless column", b"file,,bob\na.png,cat,dog\n", "Column 2 has no header"),
    ],
    "coco": [
        ("nested 5,000 deep", DEEP, "line 1: Arrays and objects nest"),
        ("image id a list", _json(_coco(image_id=[1])), "Image 1: id must be a whole number"),
        ("image id an object", _json(_coco(image_id={"a": 1})), "not an object"),
        ("category name a number", _json(_coco(category_name=5)), "Category 1: name must be"),
    ],
}
CASES = [(fmt, *case) for fmt, cases in BAD_FILES.items() for case in cases]


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _walk(
    patterns: list, prefix: str = "", converters: tuple[str, ...] = ()
) -> Iterator[tuple[str, URLPattern, tuple[str, ...]]]:
    """Every named route, with the names of the arguments its address takes (those of
    the prefixes it is included under too)."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            inner = converters + tuple(getattr(pattern.pattern, "converters", {}))
            yield from _walk(pattern.url_patterns, namespace, inner)
        elif pattern.name:
            own = tuple(getattr(pattern.pattern, "converters", {}))
            yield f"{prefix}{pattern.name}", pattern, converters + own


def labels_file_routes() -> list[str]:
    """Every route whose view calls the loader (``archive_read``, ``labels_file_load``),
    itself or through a function of its own module (a page's steps)."""
    found = set()
    for name, pattern, _ in _walk(get_resolver().url_patterns):
        callback = inspect.unwrap(pattern.callback)
        view = getattr(callback, "view_class", None) or getattr(callback, "cls", callback)
        functions = [view] if inspect.isfunction(view) else list(vars(view).values())
        called = _names_called(f for f in functions if inspect.isfunction(f))
        module = vars(inspect.getmodule(view))
        steps = [module[n] for n in called if inspect.isfunction(module.get(n))]
        called |= _names_called(f for f in steps if f.__module__ == view.__module__)
        if {"archive_read", "labels_file_load"} & called:
            found.add(name)
    return sorted(found)


def _names_called(functions: Iterator) -> set[str]:
    return {
        called for function in functions for called in inspect.unwrap(function).__code__.co_names
    }


ROUTES = labels_file_routes()


def test_the_routes_that_read_labels_files_are_found():
    """The API's archive import and the import page; a new route is fed below by itself."""
    assert ROUTES == ["api:imports-archive", "project-import"]
    assert set(BAD_FILES) == set(LABEL_FILE_SUFFIX) <= set(LABEL_FORMATS)


def post(client: Client, route: str, project, archive: bytes, fmt: str, sent: bytes | None):
    fields = {
        "archive": SimpleUploadedFile("data.zip", archive, "application/zip"),
        "labels_format": fmt,
        "labels_as": "final",
    }
    if sent is not None:
        fields["labels_file"] = SimpleUploadedFile("labels" + LABEL_FILE_SUFFIX[fmt], sent)
    arguments = {name: names for name, _, names in _walk(get_resolver().url_patterns)}[route]
    kwargs = dict.fromkeys(arguments, project.pk)
    return client.post(reverse(route, kwargs=kwargs), fields)


def assert_refused(response, message: str) -> None:
    assert response.status_code == 400, response.content[:500]
    assert message in response.content.decode(), response.content[:1000]
    assert not Image.objects.exists() and not FinalLabel.objects.exists()


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("way", ["sent beside", "archive member"])
@pytest.mark.parametrize(("fmt", "case", "data", "message"), CASES, ids=lambda v: str(v)[:20])
def test_every_bad_labels_file_is_a_400_naming_its_record(
    client, lead, project, media_root, route, way, fmt, case, data, message
):
    client.force_login(lead)
    files = {"a.png": image_bytes()}
    if way == "archive member":
        files["labels" + LABEL_FILE_SUFFIX[fmt]] = data
    response = post(
        client, route, project, zipped(files), fmt, data if way == "sent beside" else None
    )
    assert_refused(
        response, message.replace("'", "&#x27;") if route == "project-import" else message
    )


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("fmt", list(BAD_FILES))
def test_a_member_inflating_past_the_cap_is_refused_unread(
    client, lead, project, media_root, route, fmt
):
    """80 MB of zeros packed into about 78 KB stops at a hundred times its packed size."""
    client.force_login(lead)
    archive = zipped({"a.png": image_bytes(), "labels" + LABEL_FILE_SUFFIX[fmt]: bytes(80 << 20)})
    assert len(archive) < 100_000
    response = post(client, route, project, archive, fmt, None)
    assert_refused(response, "inflates to more than 100 times its packed size")


@pytest.mark.parametrize(("fmt", "case", "data", "message"), CASES, ids=lambda v: str(v)[:20])
def test_the_command_refuses_the_same_files_from_a_folder(
    project, media_root, tmp_path: Path, fmt, case, data, message
):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(image_bytes())
    labels = tmp_path / ("labels" + LABEL_FILE_SUFFIX[fmt])
    labels.write_bytes(data)
    with pytest.raises(CommandError, match=None) as refused:
        call_command(
            "import_images",
            project.pk,
            str(tmp_path / "images"),
            "--labels-file",
            str(labels),
            "--labels-format",
            fmt,
            stdout=io.StringIO(),
        )
    assert message in str(refused.value)
    assert not Image.objects.exists()
