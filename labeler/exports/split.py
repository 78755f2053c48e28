"""Seeded, stratified train/val/test splits that come out the same for the same selection.

Within each stratum (the images sharing one set of final labels) images are ordered by
a seeded hash of their content hash and cut at the exact cumulative shares, so every
split of every stratum is within one image of its share. Only the sorted hashes are
kept: 8 bytes an image, not the rows.

Near-duplicates (``groups``: content hash -> group) fall in one split together: within a
stratum they share their group's hash, so one rank; a group whose images carry
different labels (strata) follows its first image's split.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence

Stratum = tuple[str, ...]


def split_hash(sha256: str, seed: int) -> int:
    """A 64-bit hash of the image's content hash, different for every seed."""
    digest = hashlib.blake2b(f"{seed}:{sha256}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class SplitPlan:
    """Which split each image of a selection falls in."""

    def __init__(
        self,
        items: Iterable[tuple[str, Stratum]],
        *,
        shares: Sequence[float],
        names: Sequence[str],
        seed: int,
        groups: Mapping[str, int] | None = None,
    ) -> None:
        self.seed = seed
        self.names = tuple(names)
        self._groups = dict(groups or {})
        first: dict[int, Stratum] = {}  # each group's first image's stratum
        strata: dict[Stratum, array[int]] = {}
        for sha256, stratum in items:
            strata.setdefault(stratum, array("Q")).append(self._hash(sha256))
            if sha256 in self._groups:
                first.setdefault(self._groups[sha256], stratum)
        self._sorted = {key: array("Q", sorted(values)) for key, values in strata.items()}
        self._cuts = {key: cuts_of(len(values), shares) for key, values in strata.items()}
        self._group_split = {
            group: self._ranked_split(f"group:{group}", stratum) for group, stratum in first.items()
        }

    def _hash(self, sha256: str) -> int:
        group = self._groups.get(sha256)
        return split_hash(sha256 if group is None else f"group:{group}", self.seed)

    def split_of(self, sha256: str, stratum: Stratum) -> str:
        """The split of one image of the selection the plan was made from."""
        group = self._groups.get(sha256)
        if group is not None and group in self._group_split:
            return self._group_split[group]
        return self._ranked_split(sha256, stratum)

    def _ranked_split(self, key: str, stratum: Stratum) -> str:
        rank = bisect_left(self._sorted[stratum], split_hash(key, self.seed))
        for name, cut in zip(self.names, self._cuts[stratum], strict=False):
            if rank < cut:
                return name
        return self.names[-1]


def cuts_of(n: int, shares: Sequence[float]) -> list[int]:
    """Where each split ends among n ordered images: rounded cumulative shares."""
    cuts, total = [], 0.0
    for share in shares:
        total += share
        cuts.append(round(n * total))
    cuts[-1] = n
    return cuts
