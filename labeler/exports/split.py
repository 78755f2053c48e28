"""Seeded, stratified train/val/test splits that come out the same for the same selection.

How many images each split gets is counted over the whole selection (its shares of the
selection's size, rounded by largest remainder), then shared out among the strata (the
images sharing one set of final labels): each stratum gets the whole part of its share
of every split, and the images left over go first to the splits the stratum is not in
yet, so a class with a few images is on as many sides as it has images. Within a
stratum images are ordered by a seeded hash of their content hash and cut at its
counts. Rounding each stratum alone gave 12 images of six classes at 60/20/20 as 6/6/0.
Only the sorted hashes are kept: 8 bytes an image, not the rows.

Near-duplicates (``groups``: content hash -> group) fall in one split together: within a
stratum they share their group's hash, so one rank; a group whose images carry
different labels (strata) follows its first image's split.
"""

from __future__ import annotations

import hashlib
import math
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

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
        sizes = {key: len(values) for key, values in strata.items()}
        counts = split_counts(sizes, shares, seed=seed)
        self._cuts = {key: _cumulative(counted) for key, counted in counts.items()}
        self.asked = tuple(shares)
        self.planned = dict(zip(self.names, targets_of(sum(sizes.values()), shares), strict=False))
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


def _whole(value: float) -> int:
    """The whole part of a share of images, past float noise (0.29 * 100 is 28.999...)."""
    return math.floor(round(value, 9))


def targets_of(n: int, shares: Sequence[float]) -> list[int]:
    """How many of n images each split gets: the whole parts of its share, and the images
    left over one each to the largest fractions (the earlier split on a tie)."""
    counts = [_whole(n * share) for share in shares]
    fractions = sorted(range(len(shares)), key=lambda j: (-(n * shares[j] - counts[j]), j))
    # Fewer left over than splits, but for shares summing to 1 only within float noise.
    for k in range(n - sum(counts)):
        counts[fractions[k % len(fractions)]] += 1
    return counts


def split_counts(
    sizes: Mapping[Stratum, int], shares: Sequence[float], *, seed: int = 0
) -> dict[Stratum, list[int]]:
    """How many images of each stratum go to each split: the splits' totals are those of
    the whole selection (``targets_of``), and each stratum is on as many sides as it can.

    Each stratum first gets the whole part of its share of every split. Its images left
    over (fewer than the splits) go one at a time, first to a split it is not in yet,
    then to the larger fraction, while that split still wants images; strata take turns
    in a seeded order, so which class gives up a side on a tie changes with the seed.
    """
    targets = targets_of(sum(sizes.values()), shares)
    counts = {key: [_whole(n * share) for share in shares] for key, n in sizes.items()}
    wanted = [target - sum(c[j] for c in counts.values()) for j, target in enumerate(targets)]
    left = {key: n - sum(counts[key]) for key, n in sizes.items()}
    turn = {key: split_hash(repr(key), seed) for key in sizes}
    cells = sorted(
        ((key, j) for key in sizes for j in range(len(shares)) if shares[j] > 0),
        key=lambda cell: (
            counts[cell[0]][cell[1]] > 0,  # a side the stratum is not on yet first
            -(sizes[cell[0]] * shares[cell[1]] - counts[cell[0]][cell[1]]),
            turn[cell[0]],
            cell[1],
        ),
    )
    for key, j in cells:
        if left[key] > 0 and wanted[j] > 0:
            counts[key][j] += 1
            left[key] -= 1
            wanted[j] -= 1
    for key in sorted(sizes, key=turn.__getitem__):  # what the sides still want, in turn
        while left[key] > 0:
            j = max(range(len(shares)), key=lambda k: (wanted[k], -k))
            counts[key][j] += 1
            left[key] -= 1
            wanted[j] -= 1
    return counts


def _cumulative(counts: Sequence[int]) -> list[int]:
    cuts, total = [], 0
    for count in counts:
        total += count
        cuts.append(total)
    return cuts


# A side is reported as far from what was asked when its share of the images made is off
# by more than this (in shares of the selection) and by more than one image.
FAR_FROM_ASKED = 0.05


@dataclass(frozen=True)
class SplitReport:
    """What a split made: each side's images, and what a reader should know about it."""

    counts: dict[str, int]
    warnings: list[str]

    def as_dict(self) -> dict[str, object]:
        """The sides as a list, in their order (a JSON object's keys may come back in any)."""
        sides = [{"name": name, "images": images} for name, images in self.counts.items()]
        return {"sides": sides, "warnings": self.warnings}


def split_report(
    asked: Sequence[float] | None, names: Sequence[str], made: Mapping[str, int]
) -> SplitReport:
    """Each side's images as made (``made``: images by split name) and a warning for a
    side asked for that came out empty, or far from its share (``asked``: the shares, in
    the order of ``names``; None for the project's own split, whose sides are its)."""
    counts = {name: int(made.get(name, 0)) for name in names}
    total = sum(counts.values())
    warnings: list[str] = []
    shares: Sequence[float | None] = asked if asked is not None else [None] * len(names)
    for name, share in zip(names, shares, strict=True):
        if share is not None and share <= 0:
            continue
        got = counts[name]
        if got == 0:
            warnings.append(
                f"The {name} side is empty: {total} images cannot give it {share:.0%} "
                f"(more images, or a larger share for {name})."
                if share is not None
                else f"The {name} side is empty: the project's own split has no {name} images "
                "among those selected."
            )
        elif share is None or not total:
            continue
        elif abs(got / total - share) > FAR_FROM_ASKED and abs(got - share * total) > 1:
            warnings.append(
                f"The {name} side holds {got} of {total} images ({got / total:.0%}), "
                f"not the {share:.0%} asked: near-duplicates stay together on one side."
            )
    return SplitReport(counts, warnings)
