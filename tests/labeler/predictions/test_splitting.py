"""The held-out test split's decisions (pure): stratified per label, stable as a project
grows, near-duplicate groups on one side."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from labeler.predictions.splitting import DEVELOPMENT, MIN_DEVELOPMENT, TEST, sides_plan


def plan(ids, targets, *, stored=None, groups=None, share=0.2, multi_label=False, salt="1"):
    return sides_plan(
        image_ids=ids,
        targets=targets,
        multi_label=multi_label,
        stored=stored or {},
        groups=groups or {},
        share=share,
        salt=salt,
    )


def single(counts: dict[int, int], start: int = 1) -> tuple[list[int], list[list[int]]]:
    ids, targets = [], []
    for label, count in counts.items():
        for _ in range(count):
            ids.append(start + len(ids))
            targets.append([label])
    return ids, targets


def test_each_label_gets_its_share_of_test_images():
    ids, targets = single({1: 100, 2: 50, 3: 10, 4: 5})
    sides = plan(ids, targets, share=0.2)
    tested = Counter(t[0] for i, t in zip(ids, targets, strict=True) if sides[i] == TEST)
    assert tested == {1: 20, 2: 10, 3: 2, 4: 1}
    assert set(sides) == set(ids) and set(sides.values()) == {TEST, DEVELOPMENT}


def test_a_small_label_keeps_its_images_for_training_and_validation():
    """Two images of a label are what a training needs of it: neither goes to test."""
    ids, targets = single({1: 2, 2: 3, 3: 40})
    sides = plan(ids, targets, share=0.5)
    tested = Counter(t[0] for i, t in zip(ids, targets, strict=True) if sides[i] == TEST)
    assert tested[1] == 0 and tested[2] == 3 - MIN_DEVELOPMENT and tested[3] == 20


def test_the_same_images_always_get_the_same_sides_and_the_salt_reshuffles_them():
    ids, targets = single({1: 60, 2: 60})
    assert plan(ids, targets) == plan(list(reversed(ids)), list(reversed(targets)))
    other = plan(ids, targets, salt="2")
    assert other != plan(ids, targets)
    assert Counter(other.values()) == Counter(plan(ids, targets).values())


def test_as_the_project_grows_no_image_changes_side_and_each_label_keeps_its_share():
    """Labels come in batches of random size (seeded); each batch is planned against the
    stored sides: nothing stored moves, and every label stays within one image of its
    share of test images."""
    rng = np.random.default_rng(7)
    stored: dict[int, str] = {}
    ids: list[int] = []
    targets: list[list[int]] = []
    for _ in range(30):
        for _ in range(int(rng.integers(1, 40))):
            ids.append(len(ids) + 1)
            targets.append([int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))])
        before = dict(stored)
        new = plan(ids, targets, stored=stored, share=0.15)
        assert not set(new) & set(before)  # only the new images are decided
        stored.update(new)
        assert {i: stored[i] for i in before} == before
        for label in (1, 2, 3):
            members = [i for i, t in zip(ids, targets, strict=True) if t[0] == label]
            tested = sum(stored[i] == TEST for i in members)
            wanted = min(int(0.15 * len(members) + 0.5), len(members) - MIN_DEVELOPMENT)
            assert max(wanted, 0) - 1 <= tested <= max(wanted, 0) + 1, (label, len(members))


def test_multi_label_images_are_stratified_by_their_rarest_label():
    rng = np.random.default_rng(3)
    n = 600
    y = rng.random((n, 4)) < [0.5, 0.3, 0.1, 0.05]
    ids = list(range(1, n + 1))
    targets = [[j + 1 for j in np.flatnonzero(row)] for row in y]
    sides = plan(ids, targets, share=0.2, multi_label=True)
    tested = np.array([sides[i] == TEST for i in ids])
    for j in range(4):
        share = tested[y[:, j]].mean()
        assert share == pytest.approx(0.2, abs=0.06), (j, share)
    unlabelled = [sides[i] == TEST for i, t in zip(ids, targets, strict=True) if not t]
    assert np.mean(unlabelled) == pytest.approx(0.2, abs=0.06)


def test_a_near_duplicate_group_falls_on_one_side():
    ids, targets = single({1: 50, 2: 50})
    groups = {i: 1000 + i // 3 for i in ids}  # groups of three consecutive images
    sides = plan(ids, targets, groups=groups, share=0.3)
    by_group: dict[int, set[str]] = {}
    for i in ids:
        by_group.setdefault(groups[i], set()).add(sides[i])
    assert all(len(found) == 1 for found in by_group.values())
    assert TEST in sides.values()


def test_new_copies_follow_their_group_and_development_wins_a_straddle():
    ids, targets = single({1: 30})
    stored = {1: TEST, 2: DEVELOPMENT, 3: TEST, 4: DEVELOPMENT}
    groups = {1: 1, 10: 1, 2: 2, 11: 2, 3: 3, 4: 3, 12: 3}
    sides = plan(ids, targets, stored=stored, groups=groups, share=0.1)
    assert sides[10] == TEST  # a copy of a test image is tested with it
    assert sides[11] == DEVELOPMENT
    assert sides[12] == DEVELOPMENT  # its group straddles: never test


def test_a_group_bigger_than_the_test_set_stays_in_development():
    """Twelve copies of one image with a test share of 10%: sending the group to test
    would make the test set the group, and leave nothing to train on."""
    ids, targets = single({1: 6, 2: 6})
    sides = plan(ids, targets, groups=dict.fromkeys(ids, 1), share=0.1)
    assert set(sides.values()) == {DEVELOPMENT}
