"""The suggestions' sway on annotators, read from the labels given with and without one.

Each annotation records whether the queue showed the model's suggestion with its image or
held it back on purpose (``Project.suggestion_holdback``, a random share of image and
annotator pairs). Labels of images with a final label are compared with it, and a shown
suggestion's own labels are recomputed from the stored prediction of the model version that
made it (as the queue computed them). The figures are ``agreement.metrics.sway``'s: for
every label, and apart for labels given one image at a time (``single``) and on grid pages
(``grid``, the annotation's ``grid`` flag).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import Q

from labeler.agreement.metrics.figures import Figure
from labeler.agreement.metrics.sway import SURFACES, SwayFigures, sway_by_surface, sway_figures
from labeler.annotations.models import Annotation, FinalLabel
from labeler.predictions.models import ModelVersion, Prediction
from labeler.predictions.selectors import suggested_labels
from labeler.projects.models import Project

CHUNK = 2000  # ids per IN list


def suggestion_sway(project: Project) -> dict[str, Any]:
    """The team's and each annotator's sway figures, as the dashboard and the API show them;
    each also apart by surface (``single``, ``grid``), and ``labels_grid`` the labels given
    on grid pages."""
    rows = list(
        Annotation.objects.filter(project=project, image__final_label__isnull=False)
        .filter(Q(suggestion_shown=True) | Q(suggestion_withheld=True))
        .order_by("pk")
        .values_list(
            "pk", "annotator_id", "image_id", "suggested_by_id", "suggestion_shown", "grid"
        )
    )
    given = _label_sets(Annotation.labels.through.objects, "annotation_id", [r[0] for r in rows])
    final = _label_sets(
        FinalLabel.labels.through.objects, "finallabel__image_id", [r[2] for r in rows]
    )
    suggested = _suggested(project, [(r[3], r[2]) for r in rows if r[4] and r[3] is not None])
    columns = [_entry(row[:5], given, final, suggested) for row in rows]
    arrays = [
        np.array([entry[i] for entry in columns], dtype=dtype) for i, dtype in enumerate(_DTYPES)
    ]
    grid = np.array([row[5] for row in rows], dtype=bool)
    team, each = sway_figures(*arrays)
    who, shown, agrees, right, took = arrays
    surfaces = sway_by_surface(who, shown, agrees, right, took, grid)
    names = dict(
        get_user_model()
        .objects.filter(pk__in=[f.annotator for f in each])
        .values_list("pk", "username")
    )
    apart = {surface: {f.annotator: f for f in surfaces[surface][1]} for surface in SURFACES}
    return {
        "holdback": project.suggestion_holdback,
        "labels": len(rows),
        "labels_grid": int(grid.sum()),
        "team": {
            **_figures(team, None),
            **{surface: _figures(surfaces[surface][0], None) for surface in SURFACES},
        },
        "annotators": sorted(
            (
                {
                    **_figures(f, names.get(f.annotator, "")),
                    **{
                        surface: _figures(apart[surface][f.annotator], None) for surface in SURFACES
                    },
                }
                for f in each
            ),
            key=lambda item: item["username"],
        ),
    }


_DTYPES = (np.int64, bool, bool, bool, bool)


def _entry(
    row: tuple[int, int, int, int | None, bool],
    given: dict[int, frozenset[int]],
    final: dict[int, frozenset[int]],
    suggested: dict[tuple[int, int], frozenset[int]],
) -> tuple[int, bool, bool, bool, bool]:
    pk, annotator, image, model, shown = row
    labels, truth = given.get(pk, frozenset()), final.get(image, frozenset())
    suggestion = suggested.get((model, image)) if model is not None else None
    if not shown or suggestion is None:
        # Held back, or a suggestion whose prediction is gone: it counts in the agreement
        # figures only, never as a wrong suggestion.
        return annotator, shown, labels == truth, True, False
    return annotator, True, labels == truth, suggestion == truth, labels == suggestion


def _label_sets(manager: Any, key: str, ids: list[int]) -> dict[int, frozenset[int]]:
    sets: dict[int, set[int]] = defaultdict(set)
    for chunk in _chunks(sorted(set(ids))):
        for owner, label in manager.filter(**{f"{key}__in": chunk}).values_list(key, "label_id"):
            sets[owner].add(label)
    return {owner: frozenset(labels) for owner, labels in sets.items()}


def _suggested(
    project: Project, pairs: list[tuple[int, int]]
) -> dict[tuple[int, int], frozenset[int]]:
    """The labels each (model version, image) suggested, as the queue computed them."""
    wanted = set(pairs)
    if not wanted:
        return {}
    versions = {
        v.pk: v for v in ModelVersion.objects.filter(project=project, pk__in={m for m, _ in wanted})
    }
    valid = set(project.labels.values_list("pk", flat=True))
    found: dict[tuple[int, int], frozenset[int]] = {}
    for chunk in _chunks(sorted({image for _, image in wanted})):
        predictions = Prediction.objects.filter(
            model_version_id__in=list(versions), image_id__in=chunk
        ).values_list("model_version_id", "image_id", "probabilities")
        for model, image, stored in predictions:
            if (model, image) not in wanted:
                continue
            probabilities = {
                int(k): float(p) for k, p in stored.items() if str(k).isdigit() and int(k) in valid
            }
            if probabilities:
                labels, _ = suggested_labels(
                    probabilities,
                    multi_label=project.multi_label,
                    thresholds=versions[model].metrics.get("thresholds") or {},
                )
                found[(model, image)] = frozenset(labels)
    return found


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _figures(figures: SwayFigures, username: str | None) -> dict[str, Any]:
    item: dict[str, Any] = (
        {}
        if username is None
        else {
            "annotator": figures.annotator,
            "username": username,
        }
    )
    item.update(
        agreement_shown=_figure(figures.agreement_shown),
        agreement_withheld=_figure(figures.agreement_withheld),
        difference=figures.difference,
        wrong_accepted=_figure(figures.wrong_accepted),
    )
    return item


def _figure(figure: Figure) -> dict[str, Any]:
    out = asdict(figure)
    out["n"] = out.pop("n_items")
    return out
