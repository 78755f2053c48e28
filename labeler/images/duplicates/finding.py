"""Near-duplicate images by perceptual hash: pure functions over hashes, no database.

An image's pHash (``imagehash.phash``: the signs of the 8x8 lowest frequencies of the
DCT of its 32x32 greyscale; of its framed subject where it has a plain background, see
``labeler.images.pixels.perceptual``) changes by a few bits when the image is resized,
re-encoded, recoloured or cropped a little, and by about 32 between unrelated photos.
Two images are near-duplicates when their hashes differ in at most ``max_distance``
bits, or, for two photos, when one's hash is within as many bits of the other's zoomed
hash (the pHash of its central view, ``perceptual.zoom_phash_of``: a copy cropped a
little is near its original's zoomed view); and, where they carry a 256-bit check (a
framed subject), their checks differ in at most ``CHECK_DISTANCE`` bits
(``checks_pass``); an image with a check is never near one without. Two zoomed hashes
are not compared with each other: two photos whose central views are near have near
hashes too.

Finding them never compares every pair. The 64 bits are cut into four 16-bit bands:
hashes within ``d`` bits agree in at least one band to within ``d // 4`` bits
(pigeonhole), so the candidates of a hash are the images with one band among that
band's few neighbours (multi-index hashing, Norouzi et al. 2012). A database finds them
through one index per band (``neighbour_bands``); a whole project's groups come from
sorting the hashes by each band once, so that a band value's hashes form a run, and
comparing each hash with its own run and the runs of its band's neighbours only
(``near_pairs``; the zoomed hashes sorted with the others and compared with plain ones
only), then joining the pairs into groups (``groups_of``). The check is only compared
on the pairs the 64 bits let through, so it costs nothing where nothing is near.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from labeler.images.pixels.perceptual import CHECK_DISTANCE, ImageHashes

BANDS = 4
BAND_BITS = 16
_BAND_MASK = (1 << BAND_BITS) - 1
_SIGN = 1 << 63


Words = npt.NDArray[np.uint64]


@dataclass(frozen=True)
class Zooms:
    """The images' zoomed hashes, unsigned (``values``; 0 where there is none), and
    which images have one (``present``)."""

    values: npt.NDArray[np.uint64]
    present: npt.NDArray[np.bool_]


def zooms_of(values: Sequence[int | None]) -> Zooms:
    """Zoomed hashes (unsigned or stored signed; None: none) as ``Zooms``."""
    present = np.array([v is not None for v in values], dtype=bool)
    unsigned = [0 if v is None else to_unsigned(v) for v in values]
    return Zooms(np.array(unsigned, dtype=np.uint64), present)


def to_signed(value: int) -> int:
    """An unsigned 64-bit hash as the signed integer a BIGINT column holds."""
    return value - (1 << 64) if value & _SIGN else value


def to_unsigned(value: int) -> int:
    """A stored (signed) hash back to its unsigned 64 bits."""
    return value & ((1 << 64) - 1)


def bands_of(value: int) -> tuple[int, ...]:
    """The hash's four 16-bit bands, the highest first, each 0..65535."""
    value = to_unsigned(value)
    return tuple((value >> (BAND_BITS * (BANDS - 1 - band))) & _BAND_MASK for band in range(BANDS))


def phash_columns(value: int, prefix: str = "phash") -> dict[str, int]:
    """What an image row stores of a 64-bit hash: the signed value and its four bands
    (``phash``, ``phash_band0``...; ``prefix`` "phash_zoom" for the zoomed hash)."""
    columns = {prefix: to_signed(value)}
    columns.update({f"{prefix}_band{band}": part for band, part in enumerate(bands_of(value))})
    return columns


ZOOM_COLUMNS = ("phash_zoom", *(f"phash_zoom_band{band}" for band in range(BANDS)))


def hash_columns(hashes: ImageHashes, version: int) -> dict[str, int | bytes | None]:
    """What an image row stores of its hashes: the 64-bit hash's columns, the zoomed
    hash's (null for a framed subject), the check and the version of the hashing."""
    zoom: dict[str, int | None] = dict.fromkeys(ZOOM_COLUMNS)
    if hashes.zoom is not None:
        zoom.update(phash_columns(hashes.zoom, "phash_zoom"))
    return {
        **phash_columns(hashes.phash),
        **zoom,
        "phash_check": hashes.check,
        "phash_version": version,
    }


def checks_pass(words: Words, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Which of these pairs of rows of ``check_words`` may be near-duplicates: both photos
    (no check), or both framed subjects whose checks are within ``CHECK_DISTANCE`` bits."""
    a, b = words[left], words[right]
    same_kind = a[:, 4] == b[:, 4]
    apart = np.bitwise_count(a[:, :4] ^ b[:, :4]).sum(axis=1)
    return same_kind & ((a[:, 4] == 0) | (apart <= CHECK_DISTANCE))


def distance(a: int, b: int) -> int:
    """How many of the 64 bits differ."""
    return (to_unsigned(a) ^ to_unsigned(b)).bit_count()


def band_radius(max_distance: int) -> int:
    """How far within one band a near-duplicate's band may be (pigeonhole)."""
    return max(0, max_distance) // BANDS


def _flip_masks(radius: int) -> list[int]:
    masks = [0]
    for flips in range(1, radius + 1):
        masks += [sum(1 << bit for bit in bits) for bits in combinations(range(BAND_BITS), flips)]
    return masks


def neighbour_bands(value: int, max_distance: int) -> list[list[int]]:
    """Per band, the band values a near-duplicate of ``value`` may have in it: a hash
    within ``max_distance`` bits has at least one band among these."""
    masks = _flip_masks(band_radius(max_distance))
    return [[band ^ mask for mask in masks] for band in bands_of(value)]


def near_pairs(
    hashes: np.ndarray,
    max_distance: int,
    checks: Words | None = None,
    zooms: Zooms | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of near-duplicates, hashes within ``max_distance`` bits (or one's
    hash within as many of the other's zoomed hash, with ``zooms``) and, with ``checks``
    (rows of ``check_words``), passing ``checks_pass``: pairs that join the same groups as
    all such pairs would, enough to group, never all pairs compared.

    Hashes (with their checks) are first collapsed to their distinct values (an identical
    one pairs with the first image holding it), and so are the zoomed hashes; then all of
    them are compared band by band with the hashes whose band is within
    ``max_distance // 4`` bits of theirs (``_close_entries``), two zoomed hashes never.
    """
    unsigned = np.asarray(hashes).astype(np.uint64)
    if checks is not None and checks[:, 4].any():
        rows = np.column_stack([unsigned, checks])
        distinct_rows, first, inverse = np.unique(
            rows, axis=0, return_index=True, return_inverse=True
        )
        distinct, distinct_checks = distinct_rows[:, 0], distinct_rows[:, 1:]
    else:
        distinct, first, inverse = np.unique(unsigned, return_index=True, return_inverse=True)
        distinct_checks = None
    same_left, same_right = _same_value_pairs(inverse.ravel())
    lefts, rights = [same_left], [same_right]
    holders = _ZoomHolders(zooms)
    plain = len(distinct)
    entries = np.concatenate([distinct, holders.distinct])
    entry_checks = None
    if distinct_checks is not None:  # a zoomed hash is a photo's: no check
        empty = np.zeros((len(holders.distinct), 5), np.uint64)
        entry_checks = np.concatenate([distinct_checks, empty])
    pairs = _close_entries(entries, max_distance, entry_checks, plain)
    # Pairs of distinct values, each back to the first image holding the value; a
    # zoomed value to every image holding it.
    both_plain = pairs[:, pairs[1] < plain]
    lefts.append(first[both_plain[0]])
    rights.append(first[both_plain[1]])
    cross = pairs[:, pairs[1] >= plain]  # sorted: the left one is plain
    image, zoomed = holders.expand(first[cross[0]], cross[1] - plain)
    apart = image != zoomed  # an image's own two hashes
    lefts.append(np.minimum(image, zoomed)[apart])
    rights.append(np.maximum(image, zoomed)[apart])
    return np.concatenate(lefts).astype(np.int64), np.concatenate(rights).astype(np.int64)


class _ZoomHolders:
    """The distinct zoomed hashes and, for each, the images holding it."""

    def __init__(self, zooms: Zooms | None) -> None:
        owners = np.empty(0, np.int64) if zooms is None else np.flatnonzero(zooms.present)
        values = np.empty(0, np.uint64) if zooms is None else zooms.values[owners]
        self.distinct, inverse = np.unique(values, return_inverse=True)
        order = np.argsort(inverse.ravel(), kind="stable")
        self._holders = owners[order]
        self._counts = np.bincount(inverse.ravel(), minlength=len(self.distinct))
        self._starts = np.cumsum(self._counts) - self._counts

    def expand(self, images: np.ndarray, zoomed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each (image, distinct zoomed value) pair as one pair per image holding it."""
        counts = self._counts[zoomed]
        offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        held = self._holders[np.repeat(self._starts[zoomed], counts) + offsets]
        return np.repeat(images, counts), held


def _close_entries(
    values: np.ndarray, max_distance: int, checks: Words | None, plain: int
) -> np.ndarray:
    """Pairs (2 x n, each column sorted, unique) of values within the distance that pass
    the checks, leaving out those of two values past the first ``plain`` (two zoomed).

    Each band is sorted once. Two values within the distance have a band within ``d // 4``
    bits of each other's: the same band value (a run of the sorted order) or one of its
    ``neighbour_bands`` (another run, found by its value), so each value is compared with
    its own run and with the runs of its band's flipped values, never with the rest.
    """
    flips = _flip_masks(band_radius(max_distance))[1:]
    close_left: list[np.ndarray] = []
    close_right: list[np.ndarray] = []
    for band in range(BANDS):
        shift = np.uint64(BAND_BITS * (BANDS - 1 - band))
        # 16-bit keys: numpy sorts them stably by radix, several times faster.
        keys = ((values >> shift) & np.uint64(_BAND_MASK)).astype(np.uint16)
        order = np.argsort(keys, kind="stable")  # in a run, the plain values first
        plain_runs = np.bincount(keys[:plain], minlength=1 << BAND_BITS)
        runs = _Runs(keys[order], values[order], max_distance, order >= plain, plain_runs)
        for at, other in [runs.within(), *(runs.across(mask) for mask in flips)]:
            left, right = order[at], order[other]
            keep = (left < plain) | (right < plain)
            if checks is not None:
                keep &= checks_pass(checks, left, right)
            close_left.append(left[keep])
            close_right.append(right[keep])
    if not close_left:
        return np.empty((2, 0), np.int64)
    pairs = np.stack([np.concatenate(close_left), np.concatenate(close_right)])
    return np.unique(np.sort(pairs, axis=0), axis=1)


class _Runs:
    """Hashes sorted by one band (``keys``): positions of pairs within the distance in a
    run of one band value, or across two runs whose values differ by a flip mask."""

    def __init__(
        self,
        keys: np.ndarray,
        hashes: np.ndarray,
        max_distance: int,
        zoomed: np.ndarray,
        plain_runs: np.ndarray,
    ) -> None:
        self.keys, self.hashes, self.max_distance = keys, hashes, max_distance
        self.wide_keys = keys.astype(np.int64)
        # Which hashes are zoomed ones (each run holds its plain ones first), and how many
        # plain ones each band value's run holds: a zoomed hash is compared with those only.
        self.zoomed, self.plain_runs = zoomed, plain_runs
        # Where each band value's run starts (and, one on, ends) in the sorted order.
        self.bounds = np.searchsorted(keys, np.arange((1 << BAND_BITS) + 1))

    def within(self) -> tuple[np.ndarray, np.ndarray]:
        """Pairs in one run: a hash compared with the one ``offset`` places on, for growing
        offsets, while they share a key: whole arrays at a time while most do, then only
        those still inside their run (a few long runs cost their own pairs, not the
        rest's)."""
        keys, hashes, count = self.keys, self.hashes, len(self.keys)
        lefts, rights = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
        active: np.ndarray | None = None
        offset = 1
        while offset < count:
            if active is None:
                same = keys[offset:] == keys[:-offset]
                apart = np.bitwise_count(hashes[offset:] ^ hashes[:-offset])
                live = np.flatnonzero(same)
                if len(live) < count // 8:
                    active = live
                at = np.flatnonzero(same & (apart <= self.max_distance))
            else:
                active = active[active + offset < count]
                active = active[keys[active + offset] == keys[active]]
                apart = np.bitwise_count(hashes[active] ^ hashes[active + offset])
                at = active[apart <= self.max_distance]
            lefts.append(at)
            rights.append(at + offset)
            if active is not None and not len(active):
                break
            offset += 1
        return np.concatenate(lefts), np.concatenate(rights)

    def across(self, mask: int) -> tuple[np.ndarray, np.ndarray]:
        """Pairs across two runs whose band values differ by ``mask`` (each pair once, from
        the run of the smaller value): each hash compared with the other run's in turn,
        the hashes facing the longest runs first, so that those still comparing at each
        step are the first ones (no array is compacted as runs end)."""
        partner = self.wide_keys ^ mask
        at = np.flatnonzero(self.wide_keys < partner)
        start, end = self.bounds[partner[at]], self.bounds[partner[at] + 1]
        zoomed = self.zoomed[at]
        end[zoomed] = start[zoomed] + self.plain_runs[partner[at][zoomed]]
        longest_first = np.argsort(start - end, kind="stable")
        at, start, length = at[longest_first], start[longest_first], (end - start)[longest_first]
        mine = self.hashes[at]
        # How many face a run longer than each step.
        still = np.searchsorted(-length, -np.arange(int(length[0]) if len(at) else 0))
        lefts, rights = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
        for step, count in enumerate(still.tolist()):
            other = start[:count] + step
            close = np.flatnonzero(
                np.bitwise_count(mine[:count] ^ self.hashes[other]) <= self.max_distance
            )
            lefts.append(at[close])
            rights.append(other[close])
        return np.concatenate(lefts), np.concatenate(rights)


def _same_value_pairs(inverse: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each image with an identical hash paired with the first image holding it."""
    order = np.argsort(inverse, kind="stable")
    ordered = inverse[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]]
    head = order[np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))]
    keep = ~first
    return head[keep], order[keep]


def groups_of(count: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Each of ``count`` items' group (a component of the pairs), -1 for an item alone."""
    if count == 0:
        return np.empty(0, np.int64)
    graph = coo_matrix((np.ones(len(left), np.int8), (left, right)), shape=(count, count))
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    return np.where(sizes[labels] > 1, labels, -1).astype(np.int64)


def duplicate_groups(
    ids: Sequence[int] | np.ndarray,
    hashes: Sequence[int] | np.ndarray,
    max_distance: int,
    checks: Words | None = None,
    zooms: Zooms | None = None,
) -> dict[int, int]:
    """Each image id in a near-duplicate group mapped to its group's smallest image id;
    ``checks``: the images' ``check_words``, None where none has a check; ``zooms``: their
    zoomed hashes, None where none has one."""
    ids = np.asarray(ids, dtype=np.int64)
    unsigned = np.array([to_unsigned(int(h)) for h in hashes], dtype=np.uint64)
    left, right = near_pairs(unsigned, max_distance, checks, zooms)
    labels = groups_of(len(ids), left, right)
    grouped = labels >= 0
    if not grouped.any():
        return {}
    members, group_labels = ids[grouped], labels[grouped]
    smallest = np.full(int(group_labels.max()) + 1, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(smallest, group_labels, members)
    return dict(zip(members.tolist(), smallest[group_labels].tolist(), strict=True))


def pairwise_near_pairs(
    hashes: np.ndarray,
    max_distance: int,
    checks: Words | None = None,
    zooms: Zooms | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The reference: every pair compared (quadratic; for tests and benchmarks only)."""
    unsigned = np.asarray(hashes).astype(np.uint64)
    lefts, rights = [], []
    for start in range(0, len(unsigned), 512):
        block = unsigned[start : start + 512]
        close = np.bitwise_count(block[:, None] ^ unsigned[None, :]) <= max_distance
        if zooms is not None:
            mine = slice(start, start + 512)
            to_zoom = np.bitwise_count(block[:, None] ^ zooms.values[None, :]) <= max_distance
            from_zoom = np.bitwise_count(zooms.values[mine, None] ^ unsigned[None, :])
            close |= to_zoom & zooms.present[None, :]
            close |= (from_zoom <= max_distance) & zooms.present[mine, None]
        i, j = np.nonzero(close)
        i = i + start
        keep = i < j
        if checks is not None:
            keep &= checks_pass(checks, i, j)
        lefts.append(i[keep])
        rights.append(j[keep])
    if not lefts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(lefts), np.concatenate(rights)
