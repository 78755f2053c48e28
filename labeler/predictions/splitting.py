"""The held-out test split: which final-labelled images are test images (pure).

Images are decided once, as they get a final label, and the decision is kept for good
(``labeler.predictions.test_split`` stores it): an image in the test set stays there, and
an image once used for development never moves into it. Each decision is made per
stratum (a single-label image's label; a multi-label image's rarest label, or "none"), so
every label with enough images gets its share of test images:

- a stratum of ``n`` images (decided and new) wants ``round(share * n)`` test images,
  but keeps at least ``MIN_DEVELOPMENT`` for training and validation; the new images
  fill the gap between that and the test images it has, the lowest by a hash of the
  project and the image id first (so the same state always gives the same answer);
- a near-duplicate group stays on one side: where some of its images are decided, the new
  ones follow them (development where any is in development); otherwise the whole group
  follows its smallest image (by id: the hash ranks picked the test images, so following
  the lowest-ranked image instead would pull groups into the test set), unless it is
  larger than the test set's share of all the images, which would tip the test set over
  on its own: then it stays in development.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence

from labeler.predictions.evaluation import rarest_label_keys

TEST = "test"
DEVELOPMENT = "development"
SIDES = (TEST, DEVELOPMENT)
# Images of a stratum kept out of the test set: one to train on, one to validate with.
MIN_DEVELOPMENT = 2


def stratum_keys(targets: Sequence[Sequence[int]], *, multi_label: bool) -> list[Hashable]:
    """What each image is stratified by: its label, or its rarest label (multi-label;
    "none" for an image without labels), as the validation split does."""
    if not multi_label:
        return [int(t[0]) for t in targets]
    return rarest_label_keys(targets)


def sides_plan(
    *,
    image_ids: Sequence[int],
    targets: Sequence[Sequence[int]],
    multi_label: bool,
    stored: Mapping[int, str],
    groups: Mapping[int, int],
    share: float,
    salt: str,
) -> dict[int, str]:
    """The side of each image of ``image_ids`` that ``stored`` has none for.

    ``targets``: each image's label ids; ``stored``: the sides decided before (images not
    in ``image_ids`` are ignored); ``groups``: each grouped image's near-duplicate group;
    ``salt``: what the hash ranks by beside the id (the project). Sides are ``TEST`` or
    ``DEVELOPMENT``.
    """
    if len(image_ids) != len(targets):
        raise ValueError("image_ids and targets must have the same length")
    keys = stratum_keys(targets, multi_label=multi_label)
    total: Counter[Hashable] = Counter(keys)
    tested: Counter[Hashable] = Counter()
    fresh: dict[Hashable, list[int]] = defaultdict(list)
    for image_id, key in zip(image_ids, keys, strict=True):
        if image_id in stored:
            tested[key] += stored[image_id] == TEST
        else:
            fresh[key].append(image_id)
    picked: set[int] = set()
    for key, members in fresh.items():
        wanted = min(math.floor(share * total[key] + 0.5), total[key] - MIN_DEVELOPMENT)
        wanted = max(0, min(wanted - tested[key], len(members)))
        picked.update(sorted(members, key=lambda i: _rank(i, salt))[:wanted])
    sides = {i: TEST if i in picked else DEVELOPMENT for key in fresh for i in fresh[key]}
    return _groups_together(sides, stored, groups, share * len(image_ids))


def _groups_together(
    sides: dict[int, str], stored: Mapping[int, str], groups: Mapping[int, int], test_size: float
) -> dict[int, str]:
    """``sides`` with each near-duplicate group's new images on one side (see the module)."""
    members: dict[int, list[int]] = defaultdict(list)
    for image_id, group in groups.items():
        if image_id in sides or image_id in stored:
            members[group].append(image_id)
    for ids in members.values():
        new = [i for i in ids if i in sides]
        if not new:
            continue
        decided = {stored[i] for i in ids if i in stored}
        if decided:
            side = DEVELOPMENT if DEVELOPMENT in decided else TEST
        elif len(ids) > max(1.0, test_size):
            side = DEVELOPMENT
        else:  # its smallest image's side: drawn with the stratum's share, whatever its size
            side = sides[min(new)]
        sides.update(dict.fromkeys(new, side))
    return sides


def _rank(image_id: int, salt: str) -> bytes:
    return hashlib.sha256(f"test:{salt}:{image_id}".encode()).digest()
