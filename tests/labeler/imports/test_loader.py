"""The labels-file loader: bounded reads, inflation refused early, typed fields."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from labeler.imports.reading import loader
from labeler.imports.reading.loader import LabelSourceError, jsonl_parse, labels_bytes_read
from labeler.imports.reading.sources import labels_file_load
from labeler.json_depth import MAX_DEPTH

ROOT = Path(__file__).resolve().parents[3]


def test_a_file_over_the_size_cap_is_refused_without_reading_it_all(monkeypatch):
    monkeypatch.setattr(loader, "MAX_LABELS_FILE_BYTES", 1000)
    stream = io.BytesIO(b"x" * 5000)
    with pytest.raises(LabelSourceError, match="over 1,000 bytes"):
        labels_bytes_read(stream)
    assert stream.tell() <= 1001


def test_a_member_may_inflate_a_hundredfold_past_its_first_megabyte():
    data = b"a" * (3 << 20)
    assert labels_bytes_read(io.BytesIO(data), packed_size=(3 << 20) // 100 + 1) == data
    with pytest.raises(LabelSourceError, match="100 times its packed size"):
        labels_bytes_read(io.BytesIO(data), packed_size=(3 << 20) // 100 - 1)
    assert labels_bytes_read(io.BytesIO(b"a" * (1 << 20)), packed_size=1) == b"a" * (1 << 20)


def _zeros_zip(path: Path, size: int) -> None:
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("labels.json", "w") as member,
    ):
        for _ in range(size >> 20):
            member.write(bytes(1 << 20))


# VmHWM, the peak resident memory of this process's own image (ru_maxrss would count its
# parent's, pytest's, from before the exec).
PEAK_SCRIPT = """
import re, sys, zipfile
from labeler.imports.reading.sources import LabelSourceError, labels_file_load
def peak():
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\\s+(\\d+)", status.read()).group(1))
with zipfile.ZipFile(sys.argv[1]) as zipped:
    info = zipped.getinfo("labels.json")
    before = peak()
    with zipped.open(info) as member:
        try:
            labels_file_load(member, labels_format="coco", packed_size=info.compress_size)
        except LabelSourceError as exc:
            print(exc, file=sys.stderr)
        else:
            sys.exit("read")
    after = peak()
print((after - before) // 1024)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux's /proc")
def test_reading_a_zip_bomb_member_grows_the_process_by_a_few_megabytes(tmp_path):
    """A 256 MB member of zeros (about 250 KB packed) is refused after 25 MB at most: the
    peak resident memory grows by less than 40 MB (it was the whole file, several times)."""
    archive = tmp_path / "bomb.zip"
    _zeros_zip(archive, 256 << 20)
    assert archive.stat().st_size < 300_000
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(archive)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "inflates to more than 100 times" in done.stderr
    grown_mb = int(done.stdout)
    print(f"peak RSS grew by {grown_mb} MB")
    assert grown_mb < 40


def _task(choices: object) -> dict:
    result = [{"type": "choices", "value": {"choices": choices}}]
    return {"data": {"image": "/data/upload/1/ab12cd34-a.png"}, "annotations": [{"result": result}]}


def test_a_label_studio_choice_given_as_one_text_is_one_label():
    data = json.dumps([_task("cat"), _task(["dog", "bird"])]).encode()
    assert labels_file_load(data, labels_format="label-studio") == {
        "ab12cd34-a.png": ["cat", "dog", "bird"]
    }


def test_our_json_and_json_lines_exports_give_their_final_labels():
    images = [
        {"file_name": "a.png", "final_labels": ["cat"]},
        {"file_name": "b.png", "final_labels": None},
        {"file_name": "c.png", "labels": "dog"},
    ]
    expected = {"a.png": ["cat"], "c.png": ["dog"]}
    as_json = json.dumps({"images": images}).encode()
    as_jsonl = "\n".join(json.dumps(image) for image in images).encode()
    assert labels_file_load(as_json, labels_format="json") == expected
    assert labels_file_load(as_jsonl, labels_format="jsonl") == expected


def test_nesting_up_to_the_limit_is_read_and_brackets_in_strings_do_not_count():
    deep = "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2)
    text = json.dumps({"images": [{"file_name": "[[[[" * 20, "labels": ["x"]}], "d": 0})
    text = text.replace('"d": 0', f'"d": {deep}')
    assert labels_file_load(text.encode(), labels_format="json") == {"[[[[" * 20: ["x"]}


@pytest.mark.parametrize("labels_format", ["json", "jsonl", "coco", "label-studio"])
def test_an_unclosed_run_of_escaped_quotes_is_refused_in_linear_time(labels_format):
    # Each quote opens a string the scan of nesting followed to the end of the text and
    # gave up on: 48 kB took seconds (a 128 kB file held a web worker for a minute).
    data = b"[" + b'"\\' * 24_000
    started = time.monotonic()
    with pytest.raises(LabelSourceError, match="line 1: Not valid JSON"):
        labels_file_load(data, labels_format=labels_format)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("labels_format", ["json", "jsonl", "coco", "label-studio"])
def test_a_number_longer_than_python_converts_names_its_line(labels_format):
    # json.loads raised a bare ValueError: the archive import blamed the archive ("Not a
    # readable zip archive", field archive), the command-line import had a traceback.
    data = b"\n" * (labels_format == "jsonl") + b"[" + b"1" * 5000 + b"]"
    line = 2 if labels_format == "jsonl" else 1
    with pytest.raises(LabelSourceError, match=f"^line {line}: A number has more than 4300"):
        labels_file_load(data, labels_format=labels_format)


@pytest.mark.parametrize(
    ("coco", "message"),
    [
        ({"images": [{"id": True, "file_name": "a"}]}, "Image 1: id must be a whole number"),
        ({"images": [], "categories": [], "annotations": [{"image_id": [1]}]}, "Annotation 1"),
        ({"images": [], "categories": [], "annotations": [5]}, "Annotation 1 must be an object"),
    ],
)
def test_coco_ids_of_the_wrong_type_name_their_record(coco, message):
    coco.setdefault("categories", [])
    coco.setdefault("annotations", [])
    with pytest.raises(LabelSourceError, match=message):
        labels_file_load(json.dumps(coco).encode(), labels_format="coco")


def test_a_coco_id_given_twice_is_refused_naming_both_records():
    """Annotations of an id given twice went, silently, to whichever came last."""
    images = [{"id": 1, "file_name": "a.png"}, {"id": 1, "file_name": "b.png"}]
    categories = [{"id": "c", "name": "cat"}, {"id": "d", "name": "dog"}]
    coco = {"images": images, "categories": categories, "annotations": []}
    with pytest.raises(LabelSourceError, match=r"^Image 2: id 1 is image 1's too"):
        labels_file_load(json.dumps(coco).encode(), labels_format="coco")
    images[1]["id"] = 2
    categories[1]["id"] = "c"
    with pytest.raises(LabelSourceError, match=r"^Category 2: id 'c' is category 1's too"):
        labels_file_load(json.dumps(coco).encode(), labels_format="coco")
    categories[1]["id"] = "d"
    coco["annotations"] = [{"image_id": 1, "category_id": "c"}]
    assert labels_file_load(json.dumps(coco).encode(), labels_format="coco") == {"a.png": ["cat"]}


def test_json_lines_end_at_line_feeds_only():
    """U+2028, U+2029 and U+0085 are text inside a JSON string, not line ends."""
    text = '{"file_name": "a\u2028b.png", "final_labels": ["c\u0085t"]}\r\n\n{"x": "\u2029"}\n'
    assert list(jsonl_parse(text)) == [
        (1, {"file_name": "a\u2028b.png", "final_labels": ["c\u0085t"]}),
        (3, {"x": "\u2029"}),
    ]
