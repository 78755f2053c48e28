"""Kept model inputs in shards: fixed-size records appended to a few large files.

One folder per input shape (``{size}-{mode}``) holds numbered shards, each a pair of
files: ``NNNNNN.u8``, the records (an input's uint8 pixels, all of one length), and
``NNNNNN.keys``, the 32-byte sha256 digest of each record's source file, in the same
order. A pass reads a batch's records with one ``preadv`` each into the batch itself,
on the decode pool's threads (the call releases the GIL): no file is opened per image.
A file per image, as the inputs were kept before, cost three system calls and a path
look-up each, and 16 threads read no more than 6,700 of them a second on a 16-core GPU
machine, well under what the GPU ran.

- **Writers** (the upload's thumbnail task, a pass that decodes a file not kept yet)
  append under an exclusive ``flock`` on the folder's ``lock`` file: the record first,
  then its key, so a reader that finds a key finds its whole record; a crash between
  the two leaves bytes past the last key, which the next append writes over. A shard
  is full at ``SHARD_BYTES``; the next append starts the next one.
- **Readers** keep an index per process and folder: the first eight bytes of each key,
  sorted, and where its record is. Keys appended since are read from the ends of the
  key files when a look-up misses. A found key is checked whole against the key file
  (through a read-only map of it) before its record is read.
- **Forgetting** an input (an erasure, a project deleted) overwrites its record and its
  key with zeros under the lock; a zero key is never found again.
- The folder can be emptied at any time (content never changes under a sha256, so a
  record is never stale): a reader that finds its first shard replaced starts over.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

SHARD_BYTES = 1 << 30  # a shard's records, at most: 7,133 inputs of 224 px, 349,525 of 32 px
KEY_BYTES = 32
# New keys are looked up in a dict until this many, then merged into the sorted arrays.
_RECENT_MAX = 1 << 16
_IOV_MAX = min(os.sysconf("SC_IOV_MAX"), 1024) if hasattr(os, "sysconf") else 1024
_SHARD_NAME = re.compile(r"^(\d{6})\.keys$")


@dataclass
class _Shard:
    """One shard's files as a reader holds them."""

    number: int
    data: int  # a read-only descriptor of the records
    keys: int  # a read-only descriptor of the key file
    loaded: int = 0  # keys read into the index so far
    keys_map: mmap.mmap | None = None
    mapped: int = 0  # keys covered by keys_map

    def key_at(self, row: int) -> bytes:
        """The key kept at ``row`` (read through a map that grows with the file)."""
        if row >= self.mapped:
            if self.keys_map is not None:
                self.keys_map.close()
            self.keys_map = mmap.mmap(self.keys, 0, prot=mmap.PROT_READ)
            self.mapped = len(self.keys_map) // KEY_BYTES
        if row >= self.mapped or self.keys_map is None:
            return b""
        return self.keys_map[row * KEY_BYTES : (row + 1) * KEY_BYTES]

    def close(self) -> None:
        if self.keys_map is not None:
            self.keys_map.close()
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
    # Shards let go when the folder was emptied, closed one emptying later: a read on
    # another thread may still hold one of their descriptors.
    retired: list[_Shard] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.per_shard = self.per_shard or max(1, SHARD_BYTES // self.record)

    # --- reading -------------------------------------------------------------------

    def locate(self, keys: Sequence[str]) -> list[tuple[int, int] | None]:
        """Where each key's record is, as (descriptor, offset); None where it is not kept."""
        digests = [bytes.fromhex(key) for key in keys]
        with self.lock:
            found = self._find(digests)
            if any(place is None for place in found) and self._refresh():
                found = self._find(digests)
            return [None if place is None else self._where(place) for place in found]

    def read_into(self, where: tuple[int, int], out: np.ndarray) -> bool:
        """Read a located record into ``out`` (a C-contiguous uint8 array of the record's
        length); False when it came up short (a folder emptied meanwhile)."""
        if not out.flags.c_contiguous or out.nbytes != self.record or out.dtype != np.uint8:
            raise ValueError("out must be a C-contiguous uint8 array of one record's length")
        descriptor, offset = where
        try:
            return os.preadv(descriptor, [out.data.cast("B")], offset) == self.record
        except OSError:
            return False

    def read_many(self, items: Sequence[tuple[tuple[int, int], np.ndarray]]) -> list[bool]:
        """Read located records into their arrays (as ``read_into``), records that follow
        one another in a shard with one ``preadv`` for the run (a batch of images stored in
        the order they came is one or a few runs); True for each that read whole."""
        for _, out in items:
            if not out.flags.c_contiguous or out.nbytes != self.record or out.dtype != np.uint8:
                raise ValueError("out must be a C-contiguous uint8 array of one record's length")
        order = sorted(range(len(items)), key=lambda i: items[i][0])
        done = [False] * len(items)
        run: list[int] = []
        for position in order:
            descriptor, offset = items[position][0]
            if run:
                last_descriptor, last_offset = items[run[-1]][0]
                follows = descriptor == last_descriptor and offset == last_offset + self.record
                if not follows or len(run) >= _IOV_MAX:
                    self._read_run(items, run, done)
                    run = []
            run.append(position)
        if run:
            self._read_run(items, run, done)
        return done

    def _read_run(
        self, items: Sequence[tuple[tuple[int, int], np.ndarray]], run: list[int], done: list[bool]
    ) -> None:
        descriptor, offset = items[run[0]][0]
        buffers = [items[i][1].data.cast("B") for i in run]
        try:
            whole = os.preadv(descriptor, buffers, offset) == self.record * len(run)
        except OSError:
            whole = False
        if whole:
            for position in run:
                done[position] = True
            return
        for position in run:  # cut short somewhere: each on its own
            done[position] = self.read_into(items[position][0], items[position][1])

    def _where(self, place: int) -> tuple[int, int]:
        shard, row = divmod(place, self.per_shard)
        return self.shards[shard].data, row * self.record

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
        return digest != bytes(KEY_BYTES) and self.shards[shard].key_at(row) == digest

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
                self._start_over()
                number = 0
                continue
            if size > shard.loaded:
                offset = shard.loaded * KEY_BYTES
                raw = os.pread(shard.keys, size * KEY_BYTES - offset, offset)
                self._index(number, shard.loaded, raw)
                shard.loaded += len(raw) // KEY_BYTES
                grew = True
            if shard.loaded < self.per_shard:
                return grew
            number += 1

    def _open(self, number: int) -> bool:
        stem = self.folder / f"{number:06d}"
        try:
            keys = os.open(f"{stem}.keys", os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            data = os.open(f"{stem}.u8", os.O_RDONLY)
        except FileNotFoundError:
            os.close(keys)
            return False
        if number == 0:
            self.first_inode = os.fstat(keys).st_ino
        self.shards.append(_Shard(number=number, data=data, keys=keys))
        return True

    def _start_over_if_emptied(self) -> None:
        if not self.shards:
            return
        try:
            inode = os.stat(self.folder / "000000.keys").st_ino
        except FileNotFoundError:
            inode = -2
        if inode != self.first_inode:
            self._start_over()

    def _start_over(self) -> None:
        """Forget the index and let go of the shards (closed one start-over later: a read
        on another thread may still hold one of their descriptors)."""
        for shard in self.retired:
            shard.close()
        self.retired, self.shards = self.shards, []
        self._forget_index()

    def _index(self, number: int, first_row: int, raw: bytes) -> None:
        count = len(raw) // KEY_BYTES
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

    def close(self) -> None:
        """Let go of every descriptor and forget the index (read again on the next look)."""
        for shard in self.shards + self.retired:
            shard.close()
        self.shards, self.retired = [], []
        self._forget_index()

    def _forget_index(self) -> None:
        self.prefixes = np.empty(0, np.uint64)
        self.places = np.empty(0, np.int64)
        self.recent = {}
        self.first_inode = -1

    # --- writing -------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            with self.lock:
                yield
        finally:
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
        """Overwrite every record of ``key`` and its key with zeros; returns how many."""
        digest = bytes.fromhex(key)
        erased = 0
        with self._writing():
            self._refresh()
            for shard in self.shards:
                raw = os.pread(shard.keys, shard.loaded * KEY_BYTES, 0)
                kept = np.frombuffer(raw, np.uint8).reshape(-1, KEY_BYTES)
                rows = np.flatnonzero((kept == np.frombuffer(digest, np.uint8)).all(1))
                if not len(rows):
                    continue
                stem = self.folder / f"{shard.number:06d}"
                data = os.open(f"{stem}.u8", os.O_WRONLY)
                keys = os.open(f"{stem}.keys", os.O_WRONLY)
                try:
                    for row in rows.tolist():
                        os.pwrite(data, bytes(self.record), row * self.record)
                        os.pwrite(keys, bytes(KEY_BYTES), row * KEY_BYTES)
                        erased += 1
                    os.fsync(data)
                finally:
                    os.close(data)
                    os.close(keys)
        return erased

    def kept_keys(self) -> list[str]:
        """The sha256 of every record kept, in the order kept (erased ones left out)."""
        with self.lock:
            self._refresh()
            found = []
            for shard in self.shards:
                raw = os.pread(shard.keys, shard.loaded * KEY_BYTES, 0)
                for row in range(shard.loaded):
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
                held.close()


def _after_fork() -> None:  # a child's locks start free; its descriptors are its parent's
    global _shelves_lock
    _shelves_lock = threading.Lock()
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


def has_shards(folder: Path) -> bool:
    return any(_SHARD_NAME.match(path.name) for path in folder.glob("*.keys"))
