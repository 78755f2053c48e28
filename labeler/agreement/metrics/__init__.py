"""Agreement metrics as pure functions over rating arrays (numpy, scipy.sparse; no Django).

Single-label ratings come as ``codes``: an integer array with one row per image and one
column per annotator, holding the category index 0..k-1 or -1 where that annotator did not
rate that image. Every metric returns a ``Figure``: a value, or None with the reason it is
undefined (never NaN, never an exception for lack of data). Malformed input raises
ValueError.
"""

from labeler.agreement.metrics.annotators import (
    AnnotatorFigures,
    GroupPairs,
    RawAgreement,
    annotator_figures,
    pairs_by_group,
    per_annotator,
)
from labeler.agreement.metrics.bootstrap import (
    MAX_BOOTSTRAP_ROWS,
    Metric,
    bootstrap_ci,
    with_ci,
)
from labeler.agreement.metrics.counts import Codes, check_codes
from labeler.agreement.metrics.figures import Figure, kappa_band
from labeler.agreement.metrics.groups import GroupSums, Terms, draw_sums, group_sums, terms_of
from labeler.agreement.metrics.labels import (
    LabelFigures,
    confusion_matrix,
    per_label,
    per_label_of,
)
from labeler.agreement.metrics.multi_label import LabelSets, binary_matrices, mean_jaccard
from labeler.agreement.metrics.multi_rater import (
    fleiss_kappa,
    fleiss_kappa_of,
    krippendorff_alpha,
    krippendorff_alpha_of,
    percent_agreement,
    percent_agreement_of,
)
from labeler.agreement.metrics.pairwise import (
    PairCounts,
    PairMatrix,
    cohen_kappa_matrices,
    cohen_kappa_matrix,
    cohen_kappa_mean,
    pair_counts_with_groups,
)
from labeler.agreement.metrics.tallies import Tallies, dense_counts, tally

__all__ = [
    "MAX_BOOTSTRAP_ROWS",
    "AnnotatorFigures",
    "Codes",
    "Figure",
    "GroupPairs",
    "GroupSums",
    "LabelFigures",
    "LabelSets",
    "Metric",
    "PairCounts",
    "PairMatrix",
    "RawAgreement",
    "Tallies",
    "Terms",
    "annotator_figures",
    "binary_matrices",
    "bootstrap_ci",
    "check_codes",
    "cohen_kappa_matrices",
    "cohen_kappa_matrix",
    "cohen_kappa_mean",
    "confusion_matrix",
    "dense_counts",
    "draw_sums",
    "fleiss_kappa",
    "fleiss_kappa_of",
    "group_sums",
    "kappa_band",
    "krippendorff_alpha",
    "krippendorff_alpha_of",
    "mean_jaccard",
    "pair_counts_with_groups",
    "pairs_by_group",
    "per_annotator",
    "per_label",
    "per_label_of",
    "percent_agreement",
    "percent_agreement_of",
    "tally",
    "terms_of",
    "with_ci",
]
