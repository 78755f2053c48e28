"""Kept model inputs in shards: fixed-size records appended to a few large files.

One folder per input shape (``{size}-{mode}``) holds numbered shards, each a pair of
files: ``NNNNNN.u8``, the records (an input's uint8 pixels, all of one length), and
``NNNNNN.keys``, the 32-byte sha256 digest of each record's source file, in the same
order. A pass reads a batch's records into the batch itself, one ``preadv`` for each
run of records that follow one another in a shard (the call releases the GIL): no file
is opened per image.
A file per image, as the inputs were kept before, cost three system calls and a path
look-up each, and 16 threads read no more than 6,700 of them a second on a 16-core GPU
machine, well under what the GPU ran.

- **Writers** (the upload's thumbnail task, a pass that decodes a file not kept yet)
  append under an exclusive ``flock`` on the folder's ``lock`` file: the record first,
  then its key, so a reader that finds a key finds its whole record; a crash between
  the two leaves bytes past the last key, which the next append writes over. A shard
  is full at ``SHARD_BYTES``; the next append starts the next one.
- **Readers** keep an index per process and folder: each key read so far, and the
  first eight bytes of each, sorted, to find it. Keys appended since are read from the
  ends of the key files when a look-up misses. Once a run of records is read, its keys
  are read again from the file: a record whose key is gone does not count.
- **Forgetting** an input (an erasure, a project deleted) overwrites its key, then its
  record, with zeros under the lock, each on the disk before the next; a zero key is
  never found again.
- The folder can be emptied at any time (content never changes under a sha256, so a
  record is never stale): a reader looks for that every few seconds and on each miss,
  and starts over; a place it located before is refused, and the old files are closed
  once no read is in flight.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

SHARD_BYTES = 1 << 30  # a shard's records, at most: 7,133 inputs of 224 px, 349,525 of 32 px
KEY_BYTES = 32
# New keys are looked up in a dict until this many, then merged into the sorted arrays.
_RECENT_MAX = 1 << 16
_IOV_MAX = min(os.sysconf("SC_IOV_MAX"), 1024) if hasattr(os, "sysconf") else 1024
_LOOK_SECONDS = 5.0  # how often a reader that finds everything checks for an emptied folder


class Place(NamedTuple):
    """Where a located record is, and what must be found there for it to be read."""

    data: int  # the shard's records, a descriptor
    offset: int  # of the record in them
    keys: int  # the shard's keys, a descriptor
    row: int
    digest: bytes
    generation: int  # the folder's, when located: a later one refuses the place


@dataclass
class _Shard:
    """One shard's files as a reader holds them, and the keys read from it so far."""

    number: int
    data: int  # a read-only descriptor of the records
    keys: int  # a read-only descriptor of the key file
    digests: bytearray = field(default_factory=bytearray)

    @property
    def loaded(self) -> int:
        return len(self.digests) // KEY_BYTES

    def close(self) -> None:
        os.close(self.data)
        os.close(self.keys)


@dataclass
class Shelf:
    """One folder of shards (one input shape) as this process reads and writes it."""

    folder: Path
    record: int  # bytes a record
    shards: list[_Shard] = field(default_factory=list)
    prefixes: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    places: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    recent: dict[int, list[int]] = field(default_factory=dict)
    first_inode: int = -1
    lock: threading.Lock = field(default_factory=threading.Lock)
    per_shard: int = 0  # records a shard holds: SHARD_BYTES' worth
    # Each start-over (the folder emptied) begins a generation; places of an earlier one
    # are refused, and its shards are closed once no read is in flight.
    generation: int = 0
    retired: list[_Shard] = field(default_factory=list)
    reading: int = 0  # reads in flight
    looked: float = 0.0  # when the folder was last checked for an emptying

    def __post_init__(self) -> None:
        self.per_shard = self.per_shard or max(1, SHARD_BYTES // self.record)

    # --- reading -------------------------------------------------------------------

    def locate(self, keys: Sequence[str]) -> list[Place | None]:
        """Where each key's record is; None where it is not kept."""
        digests = [bytes.fromhex(key) for key in keys]
        with self.lock:
            if time.monotonic() - self.looked > _LOOK_SECONDS:
                self._start_over_if_emptied()
            found = self._find(digests)
            if any(place is None for place in found) and self._refresh():
                found = self._find(digests)
            return [
                None if place is None else self._place(place, digest)
                for place, digest in zip(found, digests, strict=True)
            ]

    def read_into(self, place: Place, out: np.ndarray) -> bool:
        """Read a located record into ``out`` (a C-contiguous uint8 array of the record's
        length); False when it is no longer there whole (erased, or the folder emptied)."""
        return self.read_many([(place, out)])[0]

    def read_many(self, items: Sequence[tuple[Place, np.ndarray]]) -> list[bool]:
        """Read located records into their arrays, records that follow one another in a
        shard with one ``preadv`` for the run (a batch of images stored in the order they
        came is one or a few runs); then the run's keys are read again, and a record whose
        key is gone (erased meanwhile) does not count. True for each that read whole."""
        for _, out in items:
            if not out.flags.c_contiguous or out.nbytes != self.record or out.dtype != np.uint8:
                raise ValueError("out must be a C-contiguous uint8 array of one record's length")
        done = [False] * len(items)
        with self.lock:
            current = [
                i for i, (place, _) in enumerate(items) if place.generation == self.generation
            ]
            self.reading += 1
        try:
            run: list[int] = []
            for position in sorted(current, key=lambda i: items[i][0][:2]):
                if run:
                    last = items[run[-1]][0]
                    place = items[position][0]
                    follows = place.data == last.data and place.row == last.row + 1
                    if not follows or len(run) >= _IOV_MAX:
                        self._read_run(items, run, done)
                        run = []
                run.append(position)
            if run:
                self._read_run(items, run, done)
        finally:
            with self.lock:
                self.reading -= 1
                self._close_retired()
        return done

    def _read_run(
        self, items: Sequence[tuple[Place, np.ndarray]], run: list[int], done: list[bool]
    ) -> None:
        first = items[run[0]][0]
        try:
            buffers = [items[i][1].data.cast("B") for i in run]
            whole = os.preadv(first.data, buffers, first.offset) == self.record * len(run)
            length = KEY_BYTES * len(run)
            keys = os.pread(first.keys, length, first.row * KEY_BYTES)
        except OSError:
            whole, keys = False, b""
        gone = []
        for index, position in enumerate(run):
            kept = keys[index * KEY_BYTES : (index + 1) * KEY_BYTES]
            done[position] = whole and kept == items[position][0].digest
            if whole and not done[position]:
                gone.append(items[position][0])
        if gone:
            self._forget_places(gone)
        if not whole and len(run) > 1:  # cut short somewhere: each on its own
            for position in run:
                self._read_run(items, [position], done)

    def _forget_places(self, places: Sequence[Place]) -> None:
        """Records whose key was found gone (erased by another process): no longer found
        here, so the next look reads the keys appended since (a new copy, say)."""
        with self.lock:
            for place in places:
                for shard in self.shards:
                    if place.generation == self.generation and shard.data == place.data:
                        row = slice(place.row * KEY_BYTES, (place.row + 1) * KEY_BYTES)
                        shard.digests[row] = bytes(KEY_BYTES)

    def _place(self, place: int, digest: bytes) -> Place:
        shard, row = divmod(place, self.per_shard)
        held = self.shards[shard]
        return Place(held.data, row * self.record, held.keys, row, digest, self.generation)

    def _find(self, digests: Sequence[bytes]) -> list[int | None]:
        """Each digest's place (shard * per_shard + row), checked whole; None if absent."""
        if not digests:
            return []
        heads = np.frombuffer(b"".join(d[:8] for d in digests), dtype="<u8")
        at = np.searchsorted(self.prefixes, heads)
        found: list[int | None] = []
        for digest, head, low in zip(digests, heads.tolist(), at.tolist(), strict=True):
            candidates = list(self.recent.get(head, ()))
            high = low
            while high < len(self.prefixes) and int(self.prefixes[high]) == head:
                candidates.append(int(self.places[high]))
                high += 1
            found.append(next((p for p in candidates if self._holds(p, digest)), None))
        return found

    def _holds(self, place: int, digest: bytes) -> bool:
        shard, row = divmod(place, self.per_shard)
        kept = self.shards[shard].digests[row * KEY_BYTES : (row + 1) * KEY_BYTES]
        return digest != bytes(KEY_BYTES) and kept == digest

    def _refresh(self) -> bool:
        """Read the keys appended since the last look; True when there were any. A shard
        that shrank (emptied, or cut short) sends the index back to the start."""
        self._start_over_if_emptied()
        grew = False
        number = max(0, len(self.shards) - 1)
        while True:
            if number >= len(self.shards) and not self._open(number):
                return grew
            shard = self.shards[number]
            complete = os.fstat(shard.data).st_size // self.record
            size = min(os.fstat(shard.keys).st_size // KEY_BYTES, complete)
            if size < shard.loaded:
                self.start_over()
                number = 0
                continue
            if size > shard.loaded:
                offset = shard.loaded * KEY_BYTES
                raw = os.pread(shard.keys, size * KEY_BYTES - offset, offset)
                raw = raw[: len(raw) - len(raw) % KEY_BYTES]
                self._index(number, shard.loaded, raw)
                shard.digests += raw
                grew = grew or bool(raw)
            if shard.loaded < self.per_shard:
                return grew
            number += 1

    def _open(self, number: int) -> bool:
        stem = self.folder / f"{number:06d}"
        try:
            keys = os.open(f"{stem}.keys", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            data = os.open(f"{stem}.u8", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            os.close(keys)
            return False
        if number == 0:
            self.first_inode = os.fstat(keys).st_ino
        self.shards.append(_Shard(number=number, data=data, keys=keys))
        return True

    def _start_over_if_emptied(self) -> None:
        self.looked = time.monotonic()
        if not self.shards:
            return
        try:
            inode = os.stat(self.folder / "000000.keys").st_ino
        except FileNotFoundError:
            inode = -2
        if inode != self.first_inode:
            self.start_over()

    def start_over(self) -> None:
        """Forget the index and let go of the shards: closed once no read is in flight
        (a read located before now is refused: its generation has passed). The next look
        reads the folder afresh."""
        self.retired += self.shards
        self.shards = []
        self.generation += 1
        self._forget_index()
        self._close_retired()

    def _close_retired(self) -> None:
        if self.reading == 0:
            for shard in self.retired:
                shard.close()
            self.retired = []

    def _index(self, number: int, first_row: int, raw: bytes) -> None:
        count = len(raw) // KEY_BYTES
        if not count:
            return
        heads = np.frombuffer(raw, dtype=np.uint8).reshape(count, KEY_BYTES)[:, :8]
        heads = np.ascontiguousarray(heads).view("<u8").ravel()
        base = number * self.per_shard + first_row
        for row, head in enumerate(heads.tolist()):
            self.recent.setdefault(head, []).append(base + row)
        if len(self.recent) > _RECENT_MAX:
            self._merge()

    def _merge(self) -> None:
        heads = [h for h, places in self.recent.items() for _ in places]
        places = [p for places in self.recent.values() for p in places]
        prefixes = np.concatenate([self.prefixes, np.asarray(heads, dtype=np.uint64)])
        where = np.concatenate([self.places, np.asarray(places, dtype=np.int64)])
        order = np.argsort(prefixes, kind="stable")
        self.prefixes, self.places = prefixes[order], where[order]
        self.recent = {}

    def _forget_index(self) -> None:
        self.prefixes = np.empty(0, np.uint64)
        self.places = np.empty(0, np.int64)
        self.recent = {}
        self.first_inode = -1

    # --- writing -------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        _locks_held.add(descriptor)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            with self.lock:
                yield
        finally:
            _locks_held.discard(descriptor)
            os.close(descriptor)  # closing lets the flock go

    def append(self, key: str, pixels: bytes) -> None:
        """Keep one record under its key (nothing when the key is kept already)."""
        if len(pixels) != self.record:
            raise ValueError(f"a record here is {self.record} bytes, not {len(pixels)}")
        digest = bytes.fromhex(key)
        with self._writing():
            self._refresh()
            if self._find([digest])[0] is not None:
                return
            number = max(0, len(self.shards) - 1)
            rows = self.shards[number].loaded if self.shards else 0
            if rows >= self.per_shard:
                number, rows = number + 1, 0
            stem = self.folder / f"{number:06d}"
            for suffix, offset, content in (
                (".u8", rows * self.record, pixels),
                (".keys", rows * KEY_BYTES, digest),
            ):
                descriptor = os.open(f"{stem}{suffix}", os.O_WRONLY | os.O_CREAT, 0o644)
                try:
                    if os.pwrite(descriptor, content, offset) != len(content):
                        raise OSError(f"a short write to {stem}{suffix}")
                finally:
                    os.close(descriptor)
            self._refresh()

    def erase(self, key: str) -> int:
        """Overwrite every record of ``key`` and its key with zeros; returns how many. The
        key goes first, and reaches the disk before the record is zeroed: a reader that
        read the record before checks the key after, and finds it gone."""
        digest = bytes.fromhex(key)
        erased = 0
        with self._writing():
            self._refresh()
            for shard in self.shards:
                kept = np.frombuffer(bytes(shard.digests), np.uint8).reshape(-1, KEY_BYTES)
                rows = np.flatnonzero((kept == np.frombuffer(digest, np.uint8)).all(1)).tolist()
                if not rows:
                    continue
                stem = self.folder / f"{shard.number:06d}"
                for suffix, length in ((".keys", KEY_BYTES), (".u8", self.record)):
                    descriptor = os.open(f"{stem}{suffix}", os.O_WRONLY | os.O_CLOEXEC)
                    try:
                        for row in rows:
                            if os.pwrite(descriptor, bytes(length), row * length) != length:
                                raise OSError(f"a short write to {stem}{suffix}")
                        os.fsync(descriptor)
                    finally:
                        os.close(descriptor)
                for row in rows:
                    shard.digests[row * KEY_BYTES : (row + 1) * KEY_BYTES] = bytes(KEY_BYTES)
                erased += len(rows)
        return erased

    def kept_keys(self) -> list[str]:
        """The sha256 of every record kept, in the order kept (erased ones left out)."""
        with self.lock:
            self._refresh()
            found = []
            for shard in self.shards:
                raw = os.pread(shard.keys, shard.loaded * KEY_BYTES, 0)
                for row in range(len(raw) // KEY_BYTES):
                    digest = raw[row * KEY_BYTES : (row + 1) * KEY_BYTES]
                    if digest != bytes(KEY_BYTES):
                        found.append(digest.hex())
            return found


_shelves: dict[tuple[str, int], Shelf] = {}
_shelves_lock = threading.Lock()


def shelf(folder: Path, record: int) -> Shelf:
    """The process's one ``Shelf`` of this folder (records of ``record`` bytes)."""
    key = (str(folder), record)
    with _shelves_lock:
        found = _shelves.get(key)
        if found is None:
            found = _shelves[key] = Shelf(folder=folder, record=record)
        return found


def release_all() -> None:
    """Let every folder's descriptors and index go, as if the process had just started
    (a benchmark that empties the folder, and wants the next pass to find it empty)."""
    with _shelves_lock:
        for held in _shelves.values():
            with held.lock:
                held.start_over()


_locks_held: set[int] = set()  # descriptors of lock files this process holds a flock on


def _after_fork() -> None:
    """A child's locks start free; a lock file it inherited while a parent's thread held
    its flock is closed in the child, or the flock would last as long as the child."""
    global _shelves_lock
    _shelves_lock = threading.Lock()
    for descriptor in list(_locks_held):
        os.close(descriptor)
    _locks_held.clear()
    for held in _shelves.values():
        held.lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


def shard_folders(root: Path) -> list[tuple[Path, int]]:
    """Each folder of shards under ``root`` with its record length, from its name."""
    folders = []
    for folder in sorted(root.glob("*-*")):
        size, _, mode = folder.name.partition("-")
        if size.isdigit() and mode in ("l", "rgb"):
            folders.append((folder, (1 if mode == "l" else 3) * int(size) ** 2))
    return folders
