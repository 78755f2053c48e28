"""Near-duplicate images by perceptual hash: pure functions over hashes, no database.

An image's pHash (``imagehash.phash``: the signs of the 8x8 lowest frequencies of the
DCT of its 32x32 greyscale; of its framed subject where it has a plain background, see
``labeler.images.perceptual``) changes by a few bits when the image is resized,
re-encoded, recoloured or cropped a little, and by about 32 between unrelated photos.
Two images are near-duplicates when their hashes differ in at most ``max_distance``
bits and, where they carry a 256-bit check (a framed subject), their checks differ in
at most ``CHECK_DISTANCE`` bits (``checks_pass``); an image with a check is never near
one without.

Finding them never compares every pair. The 64 bits are cut into four 16-bit bands:
hashes within ``d`` bits agree in at least one band to within ``d // 4`` bits
(pigeonhole), so the candidates of a hash are the images with one band among that
band's few neighbours (multi-index hashing, Norouzi et al. 2012). A database finds them
through one index per band (``neighbour_bands``); a whole project's groups come from
sorting each band with ``d // 4`` of its bits masked, where neighbours fall together
(``near_pairs``), then joining the pairs into groups (``groups_of``). The check is
only compared on the pairs the 64 bits let through, so it costs nothing where nothing
is near.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import combinations

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from labeler.images.perceptual import CHECK_DISTANCE, ImageHashes

BANDS = 4
BAND_BITS = 16
_BAND_MASK = (1 << BAND_BITS) - 1
_SIGN = 1 << 63


Words = npt.NDArray[np.uint64]


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


def phash_columns(value: int) -> dict[str, int]:
    """What an image row stores of its 64-bit hash: the signed value and its four bands."""
    columns = {"phash": to_signed(value)}
    columns.update({f"phash_band{band}": part for band, part in enumerate(bands_of(value))})
    return columns


def hash_columns(hashes: ImageHashes, version: int) -> dict[str, int | bytes | None]:
    """What an image row stores of its hashes: the 64-bit hash's columns, the check and
    the version of the hashing."""
    return {**phash_columns(hashes.phash), "phash_check": hashes.check, "phash_version": version}


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
    hashes: np.ndarray, max_distance: int, checks: Words | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of hashes within ``max_distance`` bits (and, with ``checks``,
    rows of ``check_words``, passing ``checks_pass``) that join the same groups as all
    such pairs would: enough to group, never all pairs compared.

    Hashes (with their checks) are first collapsed to their distinct values (an identical
    one pairs with the first image holding it), then, for each band and each choice of
    ``max_distance // 4`` of its bits masked to zero, sorted by that masked band: any two
    hashes within the distance share such a key at least once, and only hashes sharing a
    key (a run of the sorted order) are compared.
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
    radius = band_radius(max_distance)
    close_left: list[np.ndarray] = []
    close_right: list[np.ndarray] = []
    for band in range(BANDS):
        shift = np.uint64(BAND_BITS * (BANDS - 1 - band))
        values = ((distinct >> shift) & np.uint64(_BAND_MASK)).astype(np.int32)
        for bits in combinations(range(BAND_BITS), radius):
            masked = values & ~sum(1 << bit for bit in bits)
            for left, right in _key_pairs(masked, distinct, max_distance):
                if distinct_checks is not None:
                    keep = checks_pass(distinct_checks, left, right)
                    left, right = left[keep], right[keep]
                close_left.append(left)
                close_right.append(right)
    if close_left:
        pairs = np.stack([np.concatenate(close_left), np.concatenate(close_right)])
        pairs = np.unique(np.sort(pairs, axis=0), axis=1)
        # Pairs of distinct values, each back to the first image holding the value.
        lefts.append(first[pairs[0]])
        rights.append(first[pairs[1]])
    return np.concatenate(lefts).astype(np.int64), np.concatenate(rights).astype(np.int64)


def _key_pairs(
    keys: np.ndarray, hashes: np.ndarray, max_distance: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Pairs of indexes sharing a key whose hashes are within the distance.

    In key order, a hash is compared with the one ``offset`` places on, for growing
    offsets, while they share a key: whole arrays at a time while most do, then only
    those still inside their run (a few long runs cost their own pairs, not the rest's).
    """
    order = np.argsort(keys, kind="stable")
    ordered, values = keys[order], hashes[order]
    count = len(ordered)
    active: np.ndarray | None = None
    offset = 1
    while offset < count:
        if active is None:
            same = ordered[offset:] == ordered[:-offset]
            close = same & (np.bitwise_count(values[offset:] ^ values[:-offset]) <= max_distance)
            live = np.flatnonzero(same)
            if len(live) < count // 8:
                active = live
            at = np.flatnonzero(close)
        else:
            active = active[active + offset < count]
            active = active[ordered[active + offset] == ordered[active]]
            close = np.bitwise_count(values[active] ^ values[active + offset]) <= max_distance
            at = active[close]
        if len(at):
            yield order[at], order[at + offset]
        if active is not None and not len(active):
            return
        offset += 1


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
) -> dict[int, int]:
    """Each image id in a near-duplicate group mapped to its group's smallest image id;
    ``checks``: the images' ``check_words``, None where none has a check."""
    ids = np.asarray(ids, dtype=np.int64)
    unsigned = np.array([to_unsigned(int(h)) for h in hashes], dtype=np.uint64)
    left, right = near_pairs(unsigned, max_distance, checks)
    labels = groups_of(len(ids), left, right)
    grouped = labels >= 0
    if not grouped.any():
        return {}
    members, group_labels = ids[grouped], labels[grouped]
    smallest = np.full(int(group_labels.max()) + 1, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(smallest, group_labels, members)
    return dict(zip(members.tolist(), smallest[group_labels].tolist(), strict=True))


def pairwise_near_pairs(
    hashes: np.ndarray, max_distance: int, checks: Words | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The reference: every pair compared (quadratic; for tests and benchmarks only)."""
    unsigned = np.asarray(hashes).astype(np.uint64)
    lefts, rights = [], []
    for start in range(0, len(unsigned), 512):
        block = unsigned[start : start + 512]
        close = np.bitwise_count(block[:, None] ^ unsigned[None, :]) <= max_distance
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
