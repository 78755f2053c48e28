"""Kept model inputs in shard files: every route that writes, reads, erases or empties them."""

from __future__ import annotations

import hashlib
import multiprocessing
import shutil
from pathlib import Path

import numpy as np
import pytest

from labeler.images.pixels import input_shards
from labeler.images.pixels.input_shards import Shelf
from labeler.images.pixels.model_inputs import InputCache

SIZE = 4  # 4 x 4 RGB: 48-byte records


def key(number: int) -> str:
    return hashlib.sha256(str(number).encode()).hexdigest()


def pixels(number: int) -> np.ndarray:
    return np.random.default_rng(number).integers(0, 256, (3, SIZE, SIZE), dtype=np.uint8)


@pytest.fixture
def small_shards(monkeypatch):
    """Shards of five records, so that a few puts fill several."""
    monkeypatch.setattr(input_shards, "SHARD_BYTES", 5 * 3 * SIZE * SIZE)


def other_process(cache: InputCache) -> Shelf:
    """The same folder as another process sees it: an index of its own."""
    shelf = cache.shelf(SIZE, False)
    return Shelf(folder=shelf.folder, record=shelf.record)


def read(shelf: Shelf, number: int) -> np.ndarray | None:
    (where,) = shelf.locate([key(number)])
    if where is None:
        return None
    out = np.empty((3, SIZE, SIZE), np.uint8)
    return out if shelf.read_into(where, out) else None


def test_records_fill_shard_after_shard_and_read_back_from_any_process(tmp_path, small_shards):
    cache = InputCache(tmp_path)
    for number in range(23):
        cache.put(key(number), SIZE, False, pixels(number))
    folder = tmp_path / "v2" / f"{SIZE}-rgb"
    assert sorted(p.name for p in folder.glob("*.keys")) == [f"00000{n}.keys" for n in range(5)]
    reader = other_process(cache)
    for number in range(23):
        assert np.array_equal(cache.get(key(number), SIZE, False), pixels(number))
        assert np.array_equal(read(reader, number), pixels(number))
    assert cache.get(key(99), SIZE, False) is None
    assert read(reader, 99) is None


def test_a_reader_finds_what_was_appended_after_it_looked(tmp_path):
    cache = InputCache(tmp_path)
    cache.put(key(1), SIZE, False, pixels(1))
    reader = other_process(cache)
    assert read(reader, 2) is None
    cache.put(key(2), SIZE, False, pixels(2))
    assert np.array_equal(read(reader, 2), pixels(2))


def test_the_same_input_is_kept_once(tmp_path):
    cache = InputCache(tmp_path)
    for _ in range(3):
        cache.put(key(1), SIZE, False, pixels(1))
    assert cache.kept() == [f"{SIZE}-rgb/{key(1)}"]


def _writer(root: str, first: int) -> None:
    cache = InputCache(Path(root))
    for number in range(first, first + 40):
        cache.put(key(number), SIZE, False, pixels(number))


def test_processes_appending_at_once_lose_nothing(tmp_path, small_shards):
    """Four processes append 40 inputs each to the same folder: the lock keeps every
    record whole and under its own key."""
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_writer, args=(str(tmp_path), 40 * n)) for n in range(4)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(60)
        assert process.exitcode == 0
    cache = InputCache(tmp_path)
    assert sorted(cache.kept()) == sorted(f"{SIZE}-rgb/{key(n)}" for n in range(160))
    for number in range(160):
        assert np.array_equal(cache.get(key(number), SIZE, False), pixels(number))


def test_forgetting_erases_the_pixels_for_every_reader(tmp_path, small_shards):
    """An erased input's bytes are gone from the shard, and a reader whose index still
    points at it finds nothing: the key there is zeros."""
    cache = InputCache(tmp_path)
    for number in range(7):
        cache.put(key(number), SIZE, False, pixels(number))
    cache.put(key(3), 8, True, np.full((1, 8, 8), 7, np.uint8))
    legacy = tmp_path / "v1" / "32-rgb" / key(3)[:2] / f"{key(3)}.u8"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"old format")
    reader = other_process(cache)
    assert np.array_equal(read(reader, 3), pixels(3))

    assert cache.forget(key(3)) == 3  # the 4-pixel and 8-pixel records and the old file

    assert not legacy.exists()
    assert cache.get(key(3), SIZE, False) is None and cache.get(key(3), 8, True) is None
    assert read(reader, 3) is None
    stored = b"".join(p.read_bytes() for p in sorted((tmp_path / "v2").rglob("*.u8")))
    assert pixels(3).tobytes() not in stored
    assert all(np.array_equal(read(reader, n), pixels(n)) for n in (0, 1, 2, 4, 5, 6))
    cache.put(key(3), SIZE, False, pixels(3))  # kept again on its next decode
    assert np.array_equal(read(reader, 3), pixels(3))


def test_an_emptied_folder_is_read_afresh(tmp_path, monkeypatch):
    """Emptied while a reader holds its files: the reader's next look finds the folder
    new, reads what is kept now, refuses a place it located before, and closes the old
    files (a reader that finds every key looks every few seconds)."""
    monkeypatch.setattr(input_shards, "_LOOK_SECONDS", 0.0)
    cache = InputCache(tmp_path)
    reader = other_process(cache)
    cache.put(key(1), SIZE, False, pixels(1))
    (before,) = reader.locate([key(1)])
    assert before is not None
    shutil.rmtree(tmp_path / "v2")
    cache.put(key(2), SIZE, False, pixels(2))
    assert read(reader, 1) is None
    assert np.array_equal(read(reader, 2), pixels(2))
    assert not reader.read_into(before, np.empty((3, SIZE, SIZE), np.uint8))
    assert reader.retired == []  # closed: no read was in flight
    assert cache.kept() == [f"{SIZE}-rgb/{key(2)}"]


def test_a_read_of_an_input_erased_after_it_was_located_fails(tmp_path):
    cache = InputCache(tmp_path)
    for number in range(3):
        cache.put(key(number), SIZE, False, pixels(number))
    reader = other_process(cache)
    places = reader.locate([key(n) for n in range(3)])
    assert cache.forget(key(1)) == 1
    outs = [np.empty((3, SIZE, SIZE), np.uint8) for _ in range(3)]
    assert reader.read_many(list(zip(places, outs, strict=True))) == [True, False, True]
    assert np.array_equal(outs[2], pixels(2))


def test_a_key_file_cut_short_is_read_afresh(tmp_path):
    cache = InputCache(tmp_path)
    for number in range(3):
        cache.put(key(number), SIZE, False, pixels(number))
    reader = other_process(cache)
    (place,) = reader.locate([key(2)])
    (keys,) = (tmp_path / "v2" / f"{SIZE}-rgb").glob("*.keys")
    with open(keys, "r+b") as handle:
        handle.truncate(40)  # the first key and a piece of the second
    assert not reader.read_into(place, np.empty((3, SIZE, SIZE), np.uint8))
    assert read(reader, 2) is None
    assert np.array_equal(read(reader, 0), pixels(0))
    cache.put(key(2), SIZE, False, pixels(2))  # kept again after the first
    assert np.array_equal(read(other_process(cache), 2), pixels(2))


def test_a_record_written_without_its_key_is_written_over(tmp_path):
    """A writer that died between the record and its key left bytes past the last key:
    the next append writes over them, and every key reads its own pixels."""
    cache = InputCache(tmp_path)
    cache.put(key(1), SIZE, False, pixels(1))
    (records,) = (tmp_path / "v2" / f"{SIZE}-rgb").glob("*.u8")
    with open(records, "ab") as handle:
        handle.write(b"\xff" * 30)
    cache.put(key(2), SIZE, False, pixels(2))
    reader = other_process(cache)
    assert np.array_equal(read(reader, 1), pixels(1))
    assert np.array_equal(read(reader, 2), pixels(2))


def test_read_into_wants_a_whole_contiguous_record(tmp_path):
    cache = InputCache(tmp_path)
    cache.put(key(1), SIZE, False, pixels(1))
    (where,) = cache.locate([key(1)], SIZE, False)
    assert where is not None
    with pytest.raises(ValueError, match="C-contiguous"):  # a copy would be read into
        cache.read_into(where, SIZE, False, np.empty((3, SIZE, SIZE * 2), np.uint8)[:, :, ::2])


def test_records_read_in_runs_land_in_their_own_places(tmp_path, small_shards):
    """Asked in any order, across shards and with gaps, each record reaches its own array;
    one cut short is reported and the rest still read."""
    cache = InputCache(tmp_path)
    for number in range(12):
        cache.put(key(number), SIZE, False, pixels(number))
    wanted = [7, 0, 1, 2, 9, 5, 6, 11, 3]
    places = cache.locate([key(n) for n in wanted], SIZE, False)
    outs = [np.zeros((3, SIZE, SIZE), np.uint8) for _ in wanted]
    items = [(where, out) for where, out in zip(places, outs, strict=True) if where]
    assert cache.read_many(SIZE, False, items) == [True] * len(wanted)
    assert all(np.array_equal(out, pixels(n)) for out, n in zip(outs, wanted, strict=True))

    last = sorted((tmp_path / "v2" / f"{SIZE}-rgb").glob("*.u8"))[-1]  # records 10 and 11
    with open(last, "r+b") as handle:
        handle.truncate(3 * SIZE * SIZE + 5)
    outs = [np.zeros((3, SIZE, SIZE), np.uint8) for _ in wanted]
    items = [(where, out) for where, out in zip(places, outs, strict=True) if where]
    read = cache.read_many(SIZE, False, items)
    assert read == [n != 11 for n in wanted]
    assert all(
        np.array_equal(out, pixels(n)) for out, n in zip(outs, wanted, strict=True) if n != 11
    )
