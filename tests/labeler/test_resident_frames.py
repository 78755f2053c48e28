"""How a call reaches the resident child: a JSON line, then its arguments' bytes as they are."""

from __future__ import annotations

import io
import json

import pytest

from labeler.resident import BLOB, bytes_replaced, call_frame, call_read

pytestmark = pytest.mark.embedded


def test_bytes_anywhere_in_the_arguments_come_back_as_they_were_sent():
    jpeg = bytes(range(256)) * 40 + b"\n\r\n{"  # newlines and JSON's own marks inside
    args = [{"items": [{"name": "a.jpg", "content": jpeg}, {"name": "b", "content": b""}]}, 7]
    frame = call_frame(3, "serve", args)
    head = json.loads(frame[0])
    # The line holds marks, not base64: the bytes follow it as they are.
    assert head["args"][0]["items"][0]["content"] == {BLOB: 0}
    assert head["blobs"] == [len(jpeg), 0] and frame[1:] == [jpeg, b""]
    stream = io.BytesIO(b"".join(frame) + b"".join(call_frame(4, "other", ["x"])))
    assert call_read(stream) == {"id": 3, "task": "serve", "args": args}
    assert call_read(stream) == {"id": 4, "task": "other", "args": ["x"]}
    assert call_read(stream) is None


def test_a_line_that_is_no_call_is_skipped_and_an_input_cut_inside_the_bytes_ends_it():
    whole = b"".join(call_frame(1, "serve", [b"0123456789"]))
    stream = io.BytesIO(b"not json\n[1, 2]\n" + whole + whole[:-3])
    assert call_read(stream) == {"id": 1, "task": "serve", "args": [b"0123456789"]}
    assert call_read(stream) is None  # the second call's bytes end early: the input ended


def test_the_broker_gets_base64_text_in_the_same_places():
    args = [{"items": [{"content": b"\xff\xd8"}], "n": 1}, (b"a", "b")]
    assert bytes_replaced(args, lambda blob: blob.hex()) == [
        {"items": [{"content": "ffd8"}], "n": 1},
        ["61", "b"],
    ]
