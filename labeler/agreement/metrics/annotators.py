"""Agreement figures for each annotator: with the others, with the consensus, with gold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labeler.agreement.metrics.counts import (
    TIED,
    Codes,
    Counts,
    Floats,
    check_codes,
    check_reference,
)
from labeler.agreement.metrics.figures import Figure, defined, undefined
from labeler.agreement.metrics.pairwise import (
    PairCounts,
    PairMatrix,
    kappas,
    pair_counts,
    pair_counts_by_group,
    pair_matrix,
)

ALONE = "this annotator rated no image that another annotator also rated"
ALL_TIED = (
    "every image this annotator rated tied among its raters: there is no consensus "
    "category to compute kappa against"
)
NO_DEFINED_OTHER = (
    "kappa with every other annotator is undefined: on the images each pair shares, both "
    "used one and the same category throughout"
)


@dataclass(frozen=True)
class AnnotatorFigures:
    """How one annotator (a codes column) agrees with the others and with references.

    ``kappa_with_others`` is the mean of the defined Cohen's kappas with each other
    annotator; ``agreement_with_others`` pools every image this annotator shares with each
    other annotator (one comparison per other annotator) and gives the share of matching
    categories. The consensus and gold figures compare with that label on the images this
    annotator rated and the reference has (not -1): accuracy is the share that match, and
    kappa is Cohen's kappa treating the reference as a second rater. An image whose raters
    tied (``TIED`` in the consensus) counts for the accuracy as rated and not agreeing
    (``consensus_ties`` says how many of its ``n_items`` tied): left out, a pair of
    annotators who disagree would both agree with the consensus 100 % of the time. Kappa
    needs a category to compare with, so it is over the images with one. A consensus
    computed from this annotator's own ratings flatters them; that is the caller's choice.
    """

    annotator: int
    n_rated: int
    kappa_with_others: Figure
    agreement_with_others: Figure
    consensus_accuracy: Figure
    consensus_kappa: Figure
    gold_accuracy: Figure
    gold_kappa: Figure
    consensus_ties: int = 0


@dataclass(frozen=True)
class RawAgreement:
    """One annotator's raw agreement over one group of images.

    ``with_others`` and ``with_reference`` are ``AnnotatorFigures``' ``agreement_with_others``
    and ``consensus_accuracy`` (against whatever reference is given, its ties counted as
    not agreeing) on the group's images.
    """

    n_rated: int
    with_others: Figure
    with_reference: Figure


@dataclass(frozen=True)
class GroupPairs:
    """One group's Cohen's kappa matrix and each annotator column's raw agreement."""

    matrix: PairMatrix
    annotators: list[RawAgreement]


@dataclass(frozen=True)
class _Reference:
    """A reference labelling (consensus or gold) and the words for when it says nothing."""

    column: int | None
    missing: str
    none_rated: str
    one_category: str
    # Per annotator column: the images they rated whose raters tied (a consensus only).
    ties: Counts | None = None


@dataclass(frozen=True)
class _Pairs:
    """Pair counts and kappas over the annotator columns, then any reference columns."""

    counts: PairCounts
    kappa: Floats
    n_annotators: int


def per_annotator(
    codes: Codes,
    k: int,
    consensus: Codes | None = None,
    gold: Codes | None = None,
) -> list[AnnotatorFigures]:
    """Figures for each annotator column of ``codes``, in column order.

    ``consensus`` and ``gold`` hold one code per image, -1 where the image has none (and
    ``TIED`` in the consensus where its raters tied); either may be None, which leaves its
    figures undefined.
    """
    return annotator_figures(codes, k, consensus, gold)[1]


def annotator_figures(
    codes: Codes,
    k: int,
    consensus: Codes | None = None,
    gold: Codes | None = None,
    counts: PairCounts | None = None,
) -> tuple[PairMatrix, list[AnnotatorFigures]]:
    """``cohen_kappa_matrix(codes, k)`` and ``per_annotator``, from one count of the pairs.

    ``counts``, where given, are ``pair_counts(codes, k)`` counted already (as
    ``pair_counts_with_groups`` gives them with each group's), not counted again.
    """
    check_codes(codes, k)
    if counts is None:
        counts = pair_counts(codes, k)
    stacked, consensus_ref, gold_ref = _with_references(codes, k, counts, consensus, gold)
    size = codes.shape[1]
    pairs = _Pairs(counts=stacked, kappa=kappas(stacked), n_annotators=size)
    rated = codes >= 0
    twice = np.count_nonzero(rated, axis=1) >= 2
    with_others = np.count_nonzero(rated & twice[:, np.newaxis], axis=0)
    figures = [
        _annotator_figures(pairs, i, int(with_others[i]), consensus_ref, gold_ref)
        for i in range(size)
    ]
    return pair_matrix(counts, int(np.count_nonzero(twice))), figures


def pairs_by_group(
    codes: Codes,
    k: int,
    reference: Codes,
    groups: Counts,
    n_groups: int,
    counts: list[PairCounts] | None = None,
) -> list[GroupPairs]:
    """Each group's Cohen's kappa matrix and raw agreement per annotator, from one count.

    Image (row) i is in group ``groups[i]`` (-1: none). The matrices are those of
    ``cohen_kappa_matrices``; each annotator column's raw agreement is as
    ``per_annotator`` gives it on the group's images, with ``reference`` (one code per
    image, -1: none, ``TIED``: its raters tied) in the place of the consensus. The pair
    counts serve both; what they lack (images rated by an annotator and someone else,
    matches with the reference) comes from a few bincounts over the ratings. ``counts``,
    where given, are ``pair_counts_by_group``'s counted already.
    """
    check_codes(codes, k)
    check_reference(reference, codes.shape[0], k, "reference")
    size = codes.shape[1]
    cells = np.flatnonzero(codes >= 0)
    row = cells // size
    width = np.bincount(row, minlength=codes.shape[0])
    inside = groups[row] >= 0
    row, cells = row[inside], cells[inside]
    key = groups[row] * size + cells - row * size
    per_cell = n_groups * size
    wanted = reference[row]
    judged = (wanted >= 0) | (wanted == TIED)  # a tie: judged, never matching
    tallies = {
        "rated": np.bincount(key, minlength=per_cell),
        "paired": np.bincount(key[width[row] >= 2], minlength=per_cell),
        "judged": np.bincount(key[judged], minlength=per_cell),
        "matching": np.bincount(
            key[judged & (codes.reshape(-1)[cells] == wanted)], minlength=per_cell
        ),
    }
    by_cell = {name: values.reshape(n_groups, size) for name, values in tallies.items()}
    twice = (groups >= 0) & (width >= 2)
    shared_items = np.bincount(groups[twice], minlength=n_groups).tolist()
    if counts is None:
        counts = pair_counts_by_group(codes, k, groups, n_groups)
    return [
        GroupPairs(
            matrix=pair_matrix(counts[g], shared_items[g]),
            annotators=_raw_agreement(counts[g], {n: v[g] for n, v in by_cell.items()}),
        )
        for g in range(n_groups)
    ]


def _raw_agreement(counts: PairCounts, tallies: dict[str, Counts]) -> list[RawAgreement]:
    """Each column's raw agreement with the other columns and with the reference."""
    diagonal = np.diag_indices(counts.shared.shape[0])
    agreeing = counts.agreeing.sum(axis=1) - counts.agreeing[diagonal]
    compared = counts.shared.sum(axis=1) - counts.shared[diagonal]
    words = _consensus(0)
    return [
        RawAgreement(
            n_rated=int(tallies["rated"][i]),
            with_others=defined(int(agreeing[i]) / int(compared[i]), tallies["paired"][i])
            if tallies["paired"][i]
            else undefined(ALONE, 0),
            with_reference=defined(
                int(tallies["matching"][i]) / int(tallies["judged"][i]), tallies["judged"][i]
            )
            if tallies["judged"][i]
            else undefined(words.none_rated, 0),
        )
        for i in range(agreeing.size)
    ]


def _with_references(
    codes: Codes, k: int, counts: PairCounts, consensus: Codes | None, gold: Codes | None
) -> tuple[PairCounts, _Reference, _Reference]:
    """The annotators' pair counts with the consensus and gold as extra columns, where
    given: each annotator's counts with a reference come from one bincount of their
    ratings by (annotator, category, the reference's category) on the images it decided
    (a tie has no category: out of these counts, counted apart below). Counts between the
    references themselves are left at 0: no figure reads them."""
    n_items, size = codes.shape
    references = []
    for name, reference in (("consensus", consensus), ("gold", gold)):
        if reference is not None:
            check_reference(reference, n_items, k, name)
            references.append(reference)
    total = size + len(references)
    shared, agreeing, chance = (np.zeros((total, total), dtype=np.int64) for _ in range(3))
    shared[:size, :size] = counts.shared
    agreeing[:size, :size] = counts.agreeing
    chance[:size, :size] = counts.chance
    if references:
        cells = np.flatnonzero(codes >= 0)
        row = cells // size
        rating = (cells - row * size) * k + codes.reshape(-1)[cells]
    for column, reference in enumerate(references, start=size):
        wanted = reference[row]
        decided = wanted >= 0
        table = np.bincount(rating[decided] * k + wanted[decided], minlength=size * k * k).reshape(
            size, k, k
        )
        given, taken = table.sum(axis=2), table.sum(axis=1)
        for target, value in (
            (shared, given.sum(axis=1)),
            (agreeing, np.einsum("icc->i", table)),
            (chance, np.einsum("ic,ic->i", given, taken)),
        ):
            target[:size, column] = target[column, :size] = value
    consensus_column = None if consensus is None else size
    gold_column = None if gold is None else size + int(consensus is not None)
    ties = None
    if consensus is not None:
        ties = np.count_nonzero((codes >= 0) & (consensus == TIED)[:, np.newaxis], axis=0)
    return (
        PairCounts(shared=shared, agreeing=agreeing, chance=chance),
        _consensus(consensus_column, ties),
        _gold(gold_column),
    )


def _annotator_figures(
    pairs: _Pairs, i: int, n_with_others: int, consensus: _Reference, gold: _Reference
) -> AnnotatorFigures:
    consensus_accuracy, consensus_kappa = _with_reference(pairs, i, consensus)
    gold_accuracy, gold_kappa = _with_reference(pairs, i, gold)
    kappa_with_others, agreement_with_others = _with_others(pairs, i, n_with_others)
    return AnnotatorFigures(
        annotator=i,
        n_rated=int(pairs.counts.shared[i, i]),
        kappa_with_others=kappa_with_others,
        agreement_with_others=agreement_with_others,
        consensus_accuracy=consensus_accuracy,
        consensus_kappa=consensus_kappa,
        gold_accuracy=gold_accuracy,
        gold_kappa=gold_kappa,
        consensus_ties=0 if consensus.ties is None else int(consensus.ties[i]),
    )


def _with_others(pairs: _Pairs, i: int, n_items: int) -> tuple[Figure, Figure]:
    """Mean kappa and pooled raw agreement of column i with the other annotator columns."""
    if n_items == 0:
        return undefined(ALONE, 0), undefined(ALONE, 0)
    size = pairs.n_annotators
    others = np.arange(size) != i
    shared = int(pairs.counts.shared[i, :size][others].sum())
    agreeing = int(pairs.counts.agreeing[i, :size][others].sum())
    values = pairs.kappa[i, :size][others]
    values = values[~np.isnan(values)]
    agreement = defined(agreeing / shared, n_items)
    if values.size == 0:
        return undefined(NO_DEFINED_OTHER, n_items), agreement
    return defined(values.mean(), n_items), agreement


def _with_reference(pairs: _Pairs, i: int, reference: _Reference) -> tuple[Figure, Figure]:
    """Accuracy and Cohen's kappa of column i against a reference column."""
    if reference.column is None:
        return undefined(reference.missing, 0), undefined(reference.missing, 0)
    decided = int(pairs.counts.shared[i, reference.column])
    n_items = decided + (0 if reference.ties is None else int(reference.ties[i]))
    if n_items == 0:
        return undefined(reference.none_rated, 0), undefined(reference.none_rated, 0)
    accuracy = defined(int(pairs.counts.agreeing[i, reference.column]) / n_items, n_items)
    if decided == 0:
        return accuracy, undefined(ALL_TIED, 0)
    value = pairs.kappa[i, reference.column]
    if np.isnan(value):
        return accuracy, undefined(reference.one_category, decided)
    return accuracy, defined(value, decided)


def _consensus(column: int | None, ties: Counts | None = None) -> _Reference:
    return _Reference(
        column=column,
        ties=ties,
        missing="no consensus labels were given",
        none_rated="this annotator rated no image that has a consensus label",
        one_category=(
            "on the images with a consensus label, this annotator and the consensus used one "
            "and the same category throughout, so chance agreement is 1 and kappa is undefined"
        ),
    )


def _gold(column: int | None) -> _Reference:
    return _Reference(
        column=column,
        missing="no gold labels were given",
        none_rated="this annotator rated no gold image",
        one_category=(
            "on the gold images this annotator rated, the annotator and the gold labels used "
            "one and the same category throughout, so chance agreement is 1 and kappa is "
            "undefined"
        ),
    )
