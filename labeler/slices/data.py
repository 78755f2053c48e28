"""What a slice report is computed from, read once as arrays: the ratings, the final labels,
the labels' names, and each image's agreement with its final label.

Slices come as image ids; ``Rows`` turns them into a mask over one of these arrays'
images (those rated, those with a final label, the test images) by binary search, so a
slice costs its own size, not a pass over the project.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from django.contrib.auth.models import User

from labeler.agreement import metrics
from labeler.agreement.metrics.linearised import FleissTerms, fleiss_terms, fleiss_terms_stacked
from labeler.agreement.ratings import Ratings, ratings_load
from labeler.annotations.models import FinalLabel
from labeler.projects.models import Project
from labeler.slices.dimensions import IdList, id_values

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Rows:
    """A sorted array of image ids, the rows of some per-image arrays."""

    ids: Ints

    def mask(self, image_ids: Ints) -> Mask:
        """Which rows are among ``image_ids``."""
        chosen = np.zeros(self.ids.size, dtype=bool)
        if self.ids.size == 0 or image_ids.size == 0:
            return chosen
        found = np.searchsorted(self.ids, image_ids).clip(0, self.ids.size - 1)
        chosen[found[self.ids[found] == image_ids]] = True
        return chosen


@dataclass(frozen=True)
class FinalLabels:
    """Each final-labelled image's label: an index into the project's labels (single
    label), or a row of ``labels`` yes/no (multi-label)."""

    rows: Rows
    codes: Ints  # (n,) single label; (n, L) 0/1 multi-label

    def counts(self, chosen: Mask, n_labels: int) -> Ints:
        """Images per label among the rows ``chosen``."""
        if self.codes.ndim == 2:
            return self.codes[chosen].sum(axis=0).astype(np.int64)
        return np.bincount(self.codes[chosen], minlength=n_labels).astype(np.int64)


@dataclass(frozen=True)
class ProjectData:
    """Everything but the model that a slice report needs, as arrays."""

    label_ids: list[int]
    label_names: list[str]
    multi_label: bool
    ratings: Ratings
    rated: Rows
    usernames: dict[int, str]
    finals: FinalLabels
    kappa_terms: FleissTerms
    # Per rated image: ratings that equal its final label, and ratings it has if it has one.
    final_matches: Floats
    final_judged: Floats

    def kappa_mask(self, chosen: Mask) -> Mask:
        """A mask over rated images as the kappa terms take it (repeated per label when
        multi-label: one yes/no row per image and label)."""
        return np.tile(chosen, len(self.label_ids)) if self.multi_label else chosen


def project_data(project: Project) -> ProjectData:
    """Read the project's ratings and final labels (call ``final_labels_fresh`` first)."""
    labels = list(project.labels.order_by("position", "id").values_list("pk", "name"))
    label_ids = [pk for pk, _ in labels]
    ratings = ratings_load(project)
    finals = final_labels_load(project, label_ids)
    matches, judged = _final_agreement(ratings, finals)
    usernames = dict(
        User.objects.filter(pk__in=ratings.annotator_ids.tolist()).values_list("pk", "username")
    )
    return ProjectData(
        label_ids=label_ids,
        label_names=[name for _, name in labels],
        multi_label=project.multi_label,
        ratings=ratings,
        rated=Rows(ratings.image_ids),
        usernames=usernames,
        finals=finals,
        kappa_terms=_kappa_terms(ratings),
        final_matches=matches,
        final_judged=judged,
    )


def final_labels_load(project: Project, label_ids: list[int]) -> FinalLabels:
    """The project's final labels, two grouped strings and numpy (no row per label)."""
    through = FinalLabel.labels.through
    pairs = through.objects.filter(label_id__in=label_ids).aggregate(
        images=IdList("finallabel__image_id"), labels=IdList("label_id")
    )
    images, labels = id_values(pairs["images"]), id_values(pairs["labels"])
    order = np.argsort(np.asarray(label_ids, dtype=np.int64))
    sorted_ids = np.asarray(label_ids, dtype=np.int64)[order]
    index = order[np.searchsorted(sorted_ids, labels).clip(0, max(len(label_ids) - 1, 0))]
    if not project.multi_label:
        ids, first = np.unique(images, return_index=True)  # one label each
        return FinalLabels(Rows(ids), index[first].astype(np.int64))
    # Multi-label: images whose final answer is "none of the labels" count too.
    every = FinalLabel.objects.filter(image__project=project).aggregate(ids=IdList("image_id"))
    ids = np.unique(np.concatenate([id_values(every["ids"]), images]))
    codes = np.zeros((ids.size, len(label_ids)), dtype=np.int64)
    codes[np.searchsorted(ids, images), index] = 1
    return FinalLabels(Rows(ids), codes)


def _kappa_terms(ratings: Ratings) -> FleissTerms:
    """Fleiss' kappa's terms: over the labels (single label), or over every yes/no decision
    on every label, clustered by image (multi-label)."""
    if ratings.label_sets is None or ratings.k == 0:
        return fleiss_terms(ratings.codes, max(ratings.k, 1))
    return fleiss_terms_stacked(metrics.binary_matrices(ratings.label_sets), 2)


def _final_agreement(ratings: Ratings, finals: FinalLabels) -> tuple[Floats, Floats]:
    """Per rated image, its ratings equal to its final label, and its ratings (0 without one).

    Multi-label: a rating agrees when its set of labels is the final set exactly.
    """
    n_images = ratings.image_ids.size
    if finals.rows.ids.size == 0:
        return np.zeros(n_images), np.zeros(n_images)
    position = np.searchsorted(finals.rows.ids, ratings.image_ids).clip(0, finals.rows.ids.size - 1)
    found = finals.rows.ids[position] == ratings.image_ids
    if ratings.label_sets is None:
        rated = ratings.codes >= 0
        final = np.where(found, finals.codes[position], -1)
        same = rated & (ratings.codes == final[:, np.newaxis])
    else:
        rated = ratings.label_sets[:, :, 0] >= 0
        final_sets = finals.codes[position]
        same = rated & (ratings.label_sets == final_sets[:, np.newaxis, :]).all(axis=2)
    judged = np.where(found, rated.sum(axis=1), 0).astype(np.float64)
    matches = np.where(found, same.sum(axis=1), 0).astype(np.float64)
    return matches, judged
